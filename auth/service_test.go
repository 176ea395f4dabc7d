package auth

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/password"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

var (
	key1 = bytes.Repeat([]byte("k"), 32)
	key2 = bytes.Repeat([]byte("n"), 32)
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	s      *Service
	users  *memory.Store
	clk    *clock
	outbox *mail.Outbox
}

func newEnv(t *testing.T, keys ...[]byte) *env {
	t.Helper()
	if len(keys) == 0 {
		keys = [][]byte{key1}
	}
	e := &env{users: memory.New(), clk: &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}, outbox: &mail.Outbox{}}
	s, err := New(e.users, Options{Hasher: fast(), Now: e.clk.now, Keys: keys, Mailer: e.outbox})
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	return e
}

const goodPW = "correct horse battery staple"

func (e *env) user(t *testing.T, name string) store.User {
	t.Helper()
	u, err := e.s.CreateUser(ctx, name, name+"@Example.COM", goodPW, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNewRequiresKeys(t *testing.T) {
	for _, keys := range [][][]byte{nil, {[]byte("short")}, {key1, []byte("short")}} {
		if _, err := New(memory.New(), Options{Keys: keys}); !errors.Is(err, ErrNoKeys) {
			t.Errorf("%d keys: %v", len(keys), err)
		}
	}
	if _, err := New(nil, Options{Keys: [][]byte{key1}}); err == nil {
		t.Error("nil users accepted")
	}
}

func TestUsernameValidation(t *testing.T) {
	// Django's UsernameValidatorsTests (Unicode validator).
	for _, ok := range []string{"joe", "René", "ᴮᴵᴳᴮᴵᴿᴰ", "أحمد", "a.b@c+d-e_f", strings.Repeat("x", 150)} {
		if err := ValidateUsername(ok); err != nil {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"o'connell", "عبد ال", "zerowidth\u200Bspace", "nbsp\u00A0char", "en\u2013dash", "trailingnewline\n", "", strings.Repeat("x", 151), "a<b", "\xff"} {
		if err := ValidateUsername(bad); !errors.Is(err, ErrInvalidUsername) {
			t.Errorf("%q accepted", bad)
		}
	}
	tests := []struct{ in, want string }{
		{"ᴮᴵᴳᴮᴵᴿᴰ", "BIGBIRD"},
		{"  joe\n", "joe"},
		{"ﬁx", "fix"},
		{"Ｊｏｅ", "Joe"},
	}
	for _, tc := range tests {
		if got, err := NormalizeUsername(tc.in); err != nil || got != tc.want {
			t.Errorf("NormalizeUsername(%q) = %q, %v", tc.in, got, err)
		}
	}
	if _, err := NormalizeUsername("a\u00A0b"); err == nil { // NFKC turns NBSP into a space
		t.Error("inner NBSP accepted")
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  Joe@Example.COM ", "Joe@example.com"},
	}
	for _, tc := range tests {
		if got, err := NormalizeEmail(tc.in); err != nil || got != tc.want {
			t.Errorf("%q: %q %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"joe", "@x.com", "joe@", "a@b@c", "a b@c.d", "a@c..d", "x@y.com\r\nBcc: z@w", "a@.b", "<a@b.c>"} {
		if _, err := NormalizeEmail(bad); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	u, err := e.s.CreateUser(ctx, " ᴮᴵᴳᴮᴵᴿᴰ ", "Big@Bird.ORG", goodPW, true)
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "BIGBIRD" || u.Email != "Big@bird.org" || !u.IsActive || !u.IsStaff || u.ID == "" ||
		!u.DateJoined.Equal(e.clk.now()) || !strings.HasPrefix(u.PasswordHash, "argon2$argon2id$") {
		t.Errorf("user %+v", u)
	}
	// Same account after normalisation and case folding.
	if _, err := e.s.CreateUser(ctx, "bigbird", "", goodPW, false); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate: %v", err)
	}
	// Validators run, with the user's attributes.
	_, err = e.s.CreateUser(ctx, "someone", "", "password", false)
	var ve *password.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 2 {
		t.Errorf("weak password: %v", err)
	}
	_, err = e.s.CreateUser(ctx, "testclient-longname", "", "testclient-longname", false)
	if !errors.As(err, &ve) || ve.Errors[0].Code != "password_too_similar" {
		t.Errorf("similar password: %v", err)
	}
	if _, err := e.s.CreateUser(ctx, "bad name", "", goodPW, false); !errors.Is(err, ErrInvalidUsername) {
		t.Errorf("bad username: %v", err)
	}
	if _, err := e.s.CreateUser(ctx, "okname", "nope", goodPW, false); !errors.Is(err, ErrInvalidEmail) {
		t.Errorf("bad email: %v", err)
	}
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "alice")
	lim := e.s.hasher.pool()

	got, err := e.s.Authenticate(ctx, "ALICE", goodPW)
	if err != nil || got.ID != u.ID {
		t.Fatalf("login: %+v %v", got, err)
	}
	cases := []struct {
		name, user, pw string
	}{
		{"wrong password", "alice", goodPW + "x"},
		{"unknown user", "nobody", goodPW},
		{"invalid username", "no body\n", goodPW},
		{"empty", "", ""},
	}
	for _, c := range cases {
		before := lim.started.Load()
		_, err := e.s.Authenticate(ctx, c.user, c.pw)
		if err != ErrInvalidCredentials {
			t.Errorf("%s: %v", c.name, err)
		}
		if n := lim.started.Load() - before; n != 1 {
			t.Errorf("%s: %d hash computations, want exactly 1", c.name, n)
		}
	}
	// Unusable password: same answer, same work.
	if _, err := e.s.SetUnusablePassword(ctx, u); err != nil {
		t.Fatal(err)
	}
	before := lim.started.Load()
	if _, err := e.s.Authenticate(ctx, "alice", goodPW); err != ErrInvalidCredentials || lim.started.Load()-before != 1 {
		t.Errorf("unusable: %v", err)
	}
}

func TestAuthenticateInactive(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "bob")
	u.IsActive = false
	if err := e.users.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.Authenticate(ctx, "bob", goodPW)
	if !errors.Is(err, ErrInactive) || !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("inactive: %v", err)
	}
	if _, err := e.s.Authenticate(ctx, "bob", "wrong"); err != ErrInvalidCredentials {
		t.Errorf("inactive, wrong password must not reveal inactivity: %v", err)
	}
}

func TestAuthenticateUpgradesHash(t *testing.T) {
	e := newEnv(t)
	legacy := []string{
		"pbkdf2_sha256$600000$seasalt$OAXyhAQ/4ZDA9V5RMExt3C1OwQdUpLZ99vm1McFlLRA=", // Django import
		"argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
	}
	pws := []string{"lètmein", "secret"}
	for i, h := range legacy {
		u, err := e.users.CreateUser(ctx, store.User{Username: "legacy" + string(rune('a'+i)), PasswordHash: h, IsActive: true})
		if err != nil {
			t.Fatal(err)
		}
		// A wrong password never upgrades.
		if _, err := e.s.Authenticate(ctx, u.Username, "nope"); err != ErrInvalidCredentials {
			t.Fatal(err)
		}
		if cur, _ := e.users.UserByID(ctx, u.ID); cur.PasswordHash != h {
			t.Error("upgraded on a wrong password")
		}
		if _, err := e.s.Authenticate(ctx, u.Username, pws[i]); err != nil {
			t.Fatal(err)
		}
		cur, _ := e.users.UserByID(ctx, u.ID)
		if !strings.HasPrefix(cur.PasswordHash, "argon2$argon2id$v=19$m=64,t=1,p=1$") || e.s.hasher.NeedsUpgrade(cur.PasswordHash) {
			t.Errorf("not upgraded: %s", cur.PasswordHash)
		}
		if _, err := e.s.Authenticate(ctx, u.Username, pws[i]); err != nil {
			t.Errorf("login after upgrade: %v", err)
		}
	}
	// Parameter change: a stronger Hasher re-hashes a current-format hash.
	u := e.user(t, "carol")
	s2, _ := New(e.users, Options{Hasher: &Hasher{Argon2: Argon2Params{MemoryKiB: 128, Time: 1}}, Keys: [][]byte{key1}})
	if _, err := s2.Authenticate(ctx, "carol", goodPW); err != nil {
		t.Fatal(err)
	}
	if cur, _ := e.users.UserByID(ctx, u.ID); !strings.Contains(cur.PasswordHash, "m=128,") {
		t.Errorf("params not upgraded: %s", cur.PasswordHash)
	}
}

// failingUsers fails every call: the service must report the failure, not "invalid credentials".
type failingUsers struct{ store.Users }

var errDown = errors.New("backend down")

func (failingUsers) UserByUsername(context.Context, string) (store.User, error) {
	return store.User{}, errDown
}
func (failingUsers) UserByEmail(context.Context, string) (store.User, error) {
	return store.User{}, errDown
}
func (failingUsers) UserByID(context.Context, string) (store.User, error) {
	return store.User{}, errDown
}

func TestStoreErrorsFailClosed(t *testing.T) {
	s, _ := New(failingUsers{}, Options{Hasher: fast(), Keys: [][]byte{key1}, Mailer: &mail.Outbox{}})
	if _, err := s.Authenticate(ctx, "alice", goodPW); !errors.Is(err, errDown) || errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("Authenticate: %v", err)
	}
	if err := s.SendPasswordReset(ctx, "a@b.c", func(string) string { return "" }); !errors.Is(err, errDown) {
		t.Errorf("SendPasswordReset: %v", err)
	}
	if _, err := s.ResetPassword(ctx, "MQ.1.00000000000000000000000000000000", goodPW); !errors.Is(err, errDown) {
		t.Errorf("ResetPassword: %v", err)
	}
}

func TestPasswordChange(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "dave")
	sess := e.s.SessionAuthHash(u)
	if _, err := e.s.ChangePassword(ctx, u, "wrong", "another fine passphrase"); err != ErrInvalidCredentials {
		t.Errorf("wrong old: %v", err)
	}
	var ve *password.ValidationError
	if _, err := e.s.ChangePassword(ctx, u, goodPW, "short"); !errors.As(err, &ve) {
		t.Errorf("weak new: %v", err)
	}
	u2, err := e.s.ChangePassword(ctx, u, goodPW, "another fine passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if e.s.CheckSessionAuthHash(u2, sess) {
		t.Error("old session hash still valid after password change")
	}
	if !e.s.CheckSessionAuthHash(u2, e.s.SessionAuthHash(u2)) {
		t.Error("new session hash invalid")
	}
	if _, err := e.s.Authenticate(ctx, "dave", goodPW); err != ErrInvalidCredentials {
		t.Error("old password still works")
	}
	if _, err := e.s.Authenticate(ctx, "dave", "another fine passphrase"); err != nil {
		t.Error(err)
	}
	// A stale user value cannot be used to bypass the old-password check.
	if _, err := e.s.ChangePassword(ctx, u, goodPW, "yet another passphrase"); err != ErrInvalidCredentials {
		t.Errorf("stale user: %v", err)
	}
}

func TestSessionAuthHash(t *testing.T) {
	e := newEnv(t)
	u := store.User{ID: "7", PasswordHash: "argon2$x"}
	// Independent computation (Python hmac/hashlib, length-prefixed fields).
	if got := e.s.SessionAuthHash(u); got != "6d64fb439df964359fa9d9f3520c640e0fb20d3328f0adfdaecc6d9ead9d7c1c" {
		t.Errorf("vector: %s", got)
	}
	h := e.s.SessionAuthHash(u)
	rotated := newEnv(t, key2, key1)
	if !rotated.s.CheckSessionAuthHash(u, h) {
		t.Error("fallback key not accepted")
	}
	if rotated.s.SessionAuthHash(u) == h {
		t.Error("new key must sign")
	}
	if newEnv(t, key2).s.CheckSessionAuthHash(u, h) {
		t.Error("removed key still accepted")
	}
	for _, bad := range []string{"", "zz", h[:62], h + "00"} {
		if e.s.CheckSessionAuthHash(u, bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if e.s.CheckSessionAuthHash(store.User{ID: "8", PasswordHash: "argon2$x"}, h) {
		t.Error("hash of another user accepted")
	}
}

func TestResetTokenVector(t *testing.T) {
	e := newEnv(t)
	e.clk.t = resetEpoch.Add(100 * time.Second)
	u := store.User{ID: "7", PasswordHash: "argon2$x", Email: "A@example.com"}
	if got := e.s.ResetToken(u); got != "Nw.2s.df1207888161fec47ffaa5e78209700f" {
		t.Errorf("vector: %s", got)
	}
}

func TestResetTokenLifecycle(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "erin")
	tok := e.s.ResetToken(u)
	if !e.s.CheckResetToken(u, tok) {
		t.Fatal("fresh token refused")
	}
	// Expiry: valid at exactly 3 days, dead one second later.
	e.clk.add(DefaultResetTimeout)
	if !e.s.CheckResetToken(u, tok) {
		t.Error("refused at the limit")
	}
	e.clk.add(time.Second)
	if e.s.CheckResetToken(u, tok) {
		t.Error("expired token accepted")
	}
	e.clk.add(-DefaultResetTimeout - time.Second)

	// Key rotation: a token made under the old key still works; dropped key fails.
	rot := newEnv(t, key2, key1)
	rot.clk = e.clk
	rot.s.now = e.clk.now
	if !rot.s.CheckResetToken(u, tok) {
		t.Error("fallback key refused")
	}
	only2 := newEnv(t, key2)
	only2.s.now = e.clk.now
	if only2.s.CheckResetToken(u, tok) {
		t.Error("dropped key accepted")
	}

	// Dies when last login, e-mail or password change.
	loggedIn, _ := e.s.RecordLogin(ctx, u)
	if e.s.CheckResetToken(loggedIn, tok) {
		t.Error("token survived a login")
	}
	changedMail := u
	changedMail.Email = "new@example.com"
	if e.s.CheckResetToken(changedMail, tok) {
		t.Error("token survived an e-mail change")
	}
	other := e.user(t, "frank")
	if e.s.CheckResetToken(other, tok) {
		t.Error("token valid for another user")
	}
	// Malformed and tampered tokens.
	parts := strings.Split(tok, ".")
	for _, bad := range []string{"", ".", "..", tok + "0", parts[0] + "." + parts[1], parts[0] + ".+1." + parts[2],
		parts[0] + ".0" + parts[1] + "." + parts[2], parts[0] + "." + parts[1] + "." + strings.ToUpper(parts[2]),
		"Zm9v." + parts[1] + "." + parts[2], parts[0] + ".zzzzzzzzzzzzzzz." + parts[2], parts[0] + ".-1." + parts[2]} {
		if e.s.CheckResetToken(u, bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if e.s.CheckResetToken(store.User{}, tok) {
		t.Error("empty user accepted")
	}
}

func TestPasswordResetFlow(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "gina")
	link := func(tok string) string { return "https://app.example/accounts/reset/" + tok }
	if err := e.s.SendPasswordReset(ctx, "GINA@example.com", link); err != nil {
		t.Fatal(err)
	}
	msgs := e.outbox.Messages()
	if len(msgs) != 1 || msgs[0].To != u.Email {
		t.Fatalf("messages %+v", msgs)
	}
	i := strings.Index(msgs[0].Body, "/accounts/reset/")
	if i < 0 {
		t.Fatal("no link in body")
	}
	tok := strings.Fields(msgs[0].Body[i+len("/accounts/reset/"):])[0]
	if got, err := e.s.UserForResetToken(ctx, tok); err != nil || got.ID != u.ID {
		t.Fatalf("UserForResetToken: %v", err)
	}
	var ve *password.ValidationError
	if _, err := e.s.ResetPassword(ctx, tok, "gina"); !errors.As(err, &ve) {
		t.Errorf("weak reset password: %v", err)
	}
	if _, err := e.s.ResetPassword(ctx, tok, "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ResetPassword(ctx, tok, "and another passphrase"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("second use: %v", err)
	}
	if _, err := e.s.Authenticate(ctx, "gina", "a brand new passphrase"); err != nil {
		t.Error(err)
	}

	// No mail and no error for unknown addresses, inactive users, unusable passwords.
	e.outbox.Reset()
	inactive := e.user(t, "hank")
	inactive.IsActive = false
	e.users.UpdateUser(ctx, inactive)
	unusable, _ := e.s.SetUnusablePassword(ctx, e.user(t, "ivy"))
	for _, addr := range []string{"nobody@example.com", inactive.Email, unusable.Email, "", "not-an-address"} {
		if err := e.s.SendPasswordReset(ctx, addr, link); err != nil {
			t.Errorf("%q: %v", addr, err)
		}
	}
	if n := len(e.outbox.Messages()); n != 0 {
		t.Errorf("%d messages sent", n)
	}
	// A valid token for a user deactivated afterwards is refused.
	tokInactive := e.s.ResetToken(inactive)
	if _, err := e.s.UserForResetToken(ctx, tokInactive); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("inactive: %v", err)
	}
	for _, bad := range []string{"", "!!.1.x", "OTk5.1.00000000000000000000000000000000"} {
		if _, err := e.s.UserForResetToken(ctx, bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzResetToken: hostile tokens never panic and never verify.
func FuzzResetToken(f *testing.F) {
	e := &env{clk: &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	s, _ := New(memory.New(), Options{Hasher: fast(), Now: e.clk.now, Keys: [][]byte{key1}})
	u := store.User{ID: "42", PasswordHash: "argon2$x"}
	good := s.ResetToken(u)
	f.Add(good)
	f.Add("NDI.1.0")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		ok := s.CheckResetToken(u, tok)
		if ok && tok != good {
			t.Fatalf("forged token %q accepted", tok)
		}
		_, _ = resetTokenUserID(tok)
	})
}

// The timing-equalisation pair: compare ns/op of these two (unknown user vs wrong password);
// they run the same argon2id work and should be within a few percent.
func benchAuth(b *testing.B, username string) {
	s, _ := New(memory.New(), Options{Keys: [][]byte{key1}, InsecureSkipValidation: true})
	if _, err := s.CreateUser(ctx, "known", "", goodPW, false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, username, "wrong password"); err != ErrInvalidCredentials {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticateWrongPassword(b *testing.B) { benchAuth(b, "known") }
func BenchmarkAuthenticateUnknownUser(b *testing.B)   { benchAuth(b, "unknown") }

func BenchmarkResetTokenCheck(b *testing.B) {
	s, _ := New(memory.New(), Options{Keys: [][]byte{key1, key2}})
	u := store.User{ID: "42", PasswordHash: "argon2$x", Email: "a@b.c"}
	tok := s.ResetToken(u)
	b.ReportAllocs()
	for b.Loop() {
		if !s.CheckResetToken(u, tok) {
			b.Fatal("refused")
		}
	}
}

// rejectAll is a password validator that refuses everything.
type rejectAll struct{}

func (rejectAll) Validate(context.Context, string, password.UserAttrs) error {
	return &password.Error{Code: "never", Message: "never"}
}
func (rejectAll) HelpText() string { return "never" }

// Without Validators the Django defaults apply (a common password is refused); with
// Validators exactly those apply.
func TestValidatorsOption(t *testing.T) {
	e := newEnv(t)
	if _, err := e.s.CreateUser(ctx, "erin", "", "password", false); err == nil {
		t.Error("the default validators accepted \"password\"")
	}
	s, err := New(memory.New(), Options{Hasher: fast(), Keys: [][]byte{key1}, Mailer: &mail.Outbox{}, Validators: []password.Validator{rejectAll{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "erin", "", goodPW, false); err == nil {
		t.Error("a configured validator was not applied")
	}
}

// updateFails is a user store whose writes fail.
type updateFails struct{ store.Users }

func (updateFails) UpdateUser(context.Context, store.User) error { return errDown }

// RecordLogin stores the login time and reports a store failure.
func TestRecordLogin(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "fay")
	got, err := e.s.RecordLogin(ctx, u)
	if err != nil || !got.LastLogin.Equal(e.clk.now()) {
		t.Fatalf("RecordLogin = %v, %v", got.LastLogin, err)
	}
	if stored, _ := e.users.UserByID(ctx, u.ID); !stored.LastLogin.Equal(e.clk.now()) {
		t.Errorf("stored LastLogin %v", stored.LastLogin)
	}
	s, _ := New(updateFails{e.users}, Options{Hasher: fast(), Keys: [][]byte{key1}, Mailer: &mail.Outbox{}})
	if _, err := s.RecordLogin(ctx, u); !errors.Is(err, errDown) {
		t.Errorf("RecordLogin with the store down: %v", err)
	}
}

// Length limits at their edges: a username of MaxUsernameLen characters (four-byte ones too,
// with surrounding spaces to trim) is valid and one more is not; an e-mail address of 254
// bytes is valid and 255 is not; invalid UTF-8 is never an address.
func TestUsernameAndEmailLimits(t *testing.T) {
	wide := strings.Repeat("𝒜", MaxUsernameLen) // 4 bytes each: 600 bytes, NFKC → "A"
	for _, c := range []struct {
		in string
		ok bool
	}{
		{strings.Repeat("a", MaxUsernameLen), true},
		{strings.Repeat("a", MaxUsernameLen+1), false},
		{strings.Repeat("ж", MaxUsernameLen), true},
		{wide, true},
		{strings.Repeat(" ", 32) + wide + strings.Repeat(" ", 32), true}, // 664 bytes
		{strings.Repeat(" ", 33) + wide + strings.Repeat(" ", 32), false},
	} {
		if _, err := NormalizeUsername(c.in); (err == nil) != c.ok {
			t.Errorf("NormalizeUsername(%d bytes) = %v, want ok=%v", len(c.in), err, c.ok)
		}
	}
	local := strings.Repeat("a", 254-len("@example.com"))
	for _, c := range []struct {
		in string
		ok bool
	}{
		{local + "@example.com", true},
		{local + "a@example.com", false},
		{"a\xff@example.com", false},
		{"a@ex\xffample.com", false},
	} {
		if _, err := NormalizeEmail(c.in); (err == nil) != c.ok {
			t.Errorf("NormalizeEmail(%.20q…, %d bytes) = %v, want ok=%v", c.in, len(c.in), err, c.ok)
		}
	}
}

// A reset token works for a user ID whose encoding fills the 512 bytes the token's ID part
// may take.
func TestResetTokenLongUserID(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "gus")
	u.ID = strings.Repeat("i", 384) // base64url: exactly 512 characters
	tok := e.s.ResetToken(u)
	if id, _, _ := strings.Cut(tok, "."); len(id) != 512 {
		t.Fatalf("test setup: ID part of %d bytes", len(id))
	}
	if !e.s.CheckResetToken(u, tok) {
		t.Error("a reset token with a 512-byte ID part does not verify")
	}
	u.ID += "ii"
	if e.s.CheckResetToken(u, e.s.ResetToken(u)) {
		t.Error("a reset token with an ID part over 512 bytes verifies")
	}
}

// One identity for a username: the key lockout counts a raw login-form name under
// (store.UsernameKey of what was typed) is the key the store finds the account by (the key of
// the normalised name). Were they ever to differ, a spelling could reach an account while
// counting its failures elsewhere.
func FuzzUsernameIdentity(f *testing.F) {
	for _, s := range []string{"Bob", " ＢＯＢ\t", "ᴮᴵᴳᴮᴵᴿᴰ", "ﬁx", "Straße", "\u212Aelvin", "a.b@c+d-e_f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeUsername(s)
		if err != nil {
			return
		}
		if raw, stored := store.UsernameKey(s), store.UsernameKey(n); raw != stored {
			t.Fatalf("%q: lockout counts under %q, the store looks up %q", s, raw, stored)
		}
		if n2, err := NormalizeUsername(n); err != nil || n2 != n {
			t.Fatalf("NormalizeUsername not idempotent on %q: %q, %v", n, n2, err)
		}
	})
}
