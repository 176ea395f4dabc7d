package twofactor

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var key = []byte("0123456789abcdef0123456789abcdef-test-key")

func setup(t *testing.T) (*Manager, Store, *clock, store.User) {
	t.Helper()
	st := memory.New()
	clk := &clock{t: time.Date(2026, 11, 26, 12, 0, 5, 0, time.UTC)}
	m, err := New(st, Options{Keys: [][]byte{key}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(context.Background(), store.User{Username: "alice", Email: "a@example.com", PasswordHash: "argon2$x", IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	return m, st, clk, u
}

func codeAt(t *testing.T, secretB32 string, at time.Time) string {
	t.Helper()
	c, err := hotp.GenerateCodeCustom(secretB32, uint64(at.Unix()/30), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func enroll(t *testing.T, m *Manager, st Store, clk *clock, u store.User) (store.User, string, []string) {
	t.Helper()
	ctx := context.Background()
	e, err := m.Begin(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	u, _ = st.UserByID(ctx, u.ID)
	codes, err := m.Confirm(ctx, u, codeAt(t, e.Secret, clk.Now()))
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	u, _ = st.UserByID(ctx, u.ID)
	return u, e.Secret, codes
}

func TestEnrollment(t *testing.T) {
	m, st, clk, u := setup(t)
	ctx := context.Background()
	e1, err := m.Begin(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e1.URI, "otpauth://totp/rampart:alice?") || !strings.Contains(e1.URI, "secret="+e1.Secret) {
		t.Errorf("URI = %q", e1.URI)
	}
	if !strings.HasPrefix(e1.QRDataURL, "data:image/png;base64,iVBOR") {
		t.Errorf("QR is not a PNG data URL: %.40q", e1.QRDataURL)
	}
	if raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e1.Secret); len(raw) != 20 {
		t.Errorf("secret has %d bytes, want 20", len(raw))
	}
	u, _ = st.UserByID(ctx, u.ID)
	if u.TOTPEnabled {
		t.Fatal("enabled before confirmation")
	}
	if strings.Contains(string(u.TOTPSecret), e1.Secret) || len(u.TOTPSecret) < 20+28 {
		t.Fatal("secret must be stored sealed")
	}
	// Reloading the page shows the same secret.
	e2, err := m.Begin(ctx, u)
	if err != nil || e2.Secret != e1.Secret {
		t.Fatalf("Begin again: %v, secret changed: %v", err, e2.Secret != e1.Secret)
	}
	// A wrong first code does not enable.
	if _, err := m.Confirm(ctx, u, "000000"); !errors.Is(err, ErrInvalidCode) && codeAt(t, e1.Secret, clk.Now()) != "000000" {
		t.Fatalf("wrong confirm code: %v", err)
	}
	codes, err := m.Confirm(ctx, u, codeAt(t, e1.Secret, clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("got %d backup codes", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Errorf("bad or duplicate backup code %q", c)
		}
		seen[c] = true
	}
	u, _ = st.UserByID(ctx, u.ID)
	if !u.TOTPEnabled {
		t.Fatal("not enabled after confirmation")
	}
	if _, err := m.Begin(ctx, u); !errors.Is(err, ErrAlreadyEnabled) {
		t.Fatalf("Begin when enabled: %v", err)
	}
	if n, _ := m.BackupCodesLeft(ctx, u); n != 10 {
		t.Fatalf("backup codes left = %d", n)
	}
}

func TestVerifyTOTPWindowAndReplay(t *testing.T) {
	m, st, clk, u := setup(t)
	ctx := context.Background()
	u, secret, _ := enroll(t, m, st, clk, u)
	// The confirmation code's step is used: the same code again is a replay.
	if _, err := m.Verify(ctx, u, codeAt(t, secret, clk.Now())); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay of enrollment code: %v", err)
	}
	clk.Add(10 * time.Minute) // new steps, past any throttle
	base := clk.Now()
	m.opts.Now = func() time.Time { return base }
	cases := []struct {
		name string
		at   time.Duration
		want error
	}{
		{"previous step accepted", -30 * time.Second, nil},
		{"current step accepted", 0, nil},
		{"same step again refused", 0, ErrReplay},
		{"older step refused", -30 * time.Second, ErrReplay},
		{"next step accepted", 30 * time.Second, nil},
		{"two steps ahead refused", 60 * time.Second, ErrInvalidCode},
	}
	for _, c := range cases {
		_ = m.st.DeleteCounter(ctx, throttleKey(u.ID)) // isolate cases from throttling
		method, err := m.Verify(ctx, u, codeAt(t, secret, base.Add(c.at)))
		if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if err == nil && method != MethodTOTP {
			t.Errorf("%s: method %q", c.name, method)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a", "abcdef", strings.Repeat("9", 1000)} {
		_ = m.st.DeleteCounter(ctx, throttleKey(u.ID))
		if _, err := m.Verify(ctx, u, bad); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("Verify(%.12q) = %v, want ErrInvalidCode", bad, err)
		}
	}
}

// TestConcurrentReplay: many goroutines (as if on several instances) submit the same valid
// code at once; exactly one is accepted.
func TestConcurrentReplay(t *testing.T) {
	m, st, clk, u := setup(t)
	ctx := context.Background()
	u, secret, _ := enroll(t, m, st, clk, u)
	clk.Add(time.Minute)
	m2, err := New(st, Options{Keys: [][]byte{key}, Now: clk.Now, ThrottleFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	m.opts.ThrottleFactor = -1
	code := codeAt(t, secret, clk.Now())
	var ok, replay atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(mm *Manager) {
			defer wg.Done()
			_, err := mm.Verify(ctx, u, code)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrReplay):
				replay.Add(1)
			default:
				t.Errorf("unexpected %v", err)
			}
		}([]*Manager{m, m2}[i%2])
	}
	wg.Wait()
	if ok.Load() != 1 || replay.Load() != 31 {
		t.Fatalf("accepted %d, replays %d; want exactly one acceptance", ok.Load(), replay.Load())
	}
}

func TestBackupCodes(t *testing.T) {
	m, st, clk, u := setup(t)
	ctx := context.Background()
	u, _, codes := enroll(t, m, st, clk, u)
	// Case and separators are forgiven.
	method, err := m.Verify(ctx, u, strings.ToUpper(strings.ReplaceAll(codes[0], "-", " ")))
	if err != nil || method != MethodBackup {
		t.Fatalf("backup code: %v %q", err, method)
	}
	clk.Add(time.Hour)
	if _, err := m.Verify(ctx, u, codes[0]); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("reused backup code: %v", err)
	}
	if n, _ := m.BackupCodesLeft(ctx, u); n != 9 {
		t.Fatalf("left = %d, want 9", n)
	}
	// Regeneration invalidates the old set.
	fresh, err := m.NewBackupCodes(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if _, err := m.Verify(ctx, u, codes[1]); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("old-generation code accepted: %v", err)
	}
	clk.Add(time.Hour)
	if _, err := m.Verify(ctx, u, fresh[3]); err != nil {
		t.Fatalf("new code refused: %v", err)
	}
	// Codes survive a key rotation: the new key first, the old one as fallback.
	m2, _ := New(st, Options{Keys: [][]byte{[]byte("another key of enough length for hmac use"), key}, Now: clk.Now})
	clk.Add(time.Hour)
	if _, err := m2.Verify(ctx, u, fresh[4]); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

func TestThrottle(t *testing.T) {
	m, st, clk, u := setup(t)
	ctx := context.Background()
	u, secret, _ := enroll(t, m, st, clk, u)
	clk.Add(time.Minute)
	wrong := "000000"
	if codeAt(t, secret, clk.Now()) == wrong {
		wrong = "000001"
	}
	if _, err := m.Verify(ctx, u, wrong); !errors.Is(err, ErrInvalidCode) {
		t.Fatal(err)
	}
	// 1 failure: 1 s back-off.
	_, err := m.Verify(ctx, u, codeAt(t, secret, clk.Now()))
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != time.Second {
		t.Fatalf("after 1 failure: %v", err)
	}
	clk.Add(time.Second)
	if _, err := m.Verify(ctx, u, wrong); !errors.Is(err, ErrInvalidCode) {
		t.Fatal(err)
	}
	clk.Add(time.Second) // 2 failures: 2 s
	if _, err := m.Verify(ctx, u, wrong); !errors.As(err, &te) || te.RetryAfter != time.Second {
		t.Fatalf("after 2 failures: %v", err)
	}
	clk.Add(time.Second)
	if _, err := m.Verify(ctx, u, codeAt(t, secret, clk.Now())); err != nil {
		t.Fatalf("after the back-off the right code works: %v", err)
	}
	if c, _ := st.GetCounter(ctx, throttleKey(u.ID), clk.Now()); c.N != 0 {
		t.Fatalf("throttle not reset on success: %d", c.N)
	}
}

func TestDisable(t *testing.T) {
	m, st, clk, u := setup(t)
	ctx := context.Background()
	u, _, codes := enroll(t, m, st, clk, u)
	remember := m.RememberCookie(u)
	u, err := m.Disable(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	u, _ = st.UserByID(ctx, u.ID)
	if u.TOTPEnabled || len(u.TOTPSecret) != 0 {
		t.Fatal("still enabled")
	}
	if n, _ := st.CountBackupCodes(ctx, u.ID); n != 0 {
		t.Fatalf("%d backup codes left", n)
	}
	if _, err := m.Verify(ctx, u, codes[0]); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("verify after disable: %v", err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(remember)
	if m.Remembered(r, u) {
		t.Fatal("remembered device survived disable")
	}
}

func TestRememberDevice(t *testing.T) {
	m, _, clk, u := setup(t)
	u.ID = "42"
	c := m.RememberCookie(u)
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Name != "__Host-rampart-2fa" || c.Path != "/" {
		t.Fatalf("cookie flags: %+v", c)
	}
	req := func(v string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: c.Name, Value: v})
		return r
	}
	if !m.Remembered(req(c.Value), u) {
		t.Fatal("fresh cookie not accepted")
	}
	other := u
	other.ID = "43"
	pwChanged := u
	pwChanged.PasswordHash = "argon2$changed"
	forgotten := ForgetDevices(u)
	tampered := []byte(c.Value)
	tampered[len(tampered)-3] ^= 1
	cases := []struct {
		name  string
		value string
		user  store.User
	}{
		{"other user", c.Value, other},
		{"password changed", c.Value, pwChanged},
		{"devices forgotten", c.Value, forgotten},
		{"tampered mac", string(tampered), u},
		{"garbage", "v1.....", u},
		{"empty", "", u},
		{"huge", strings.Repeat("A", 5000), u},
	}
	for _, tc := range cases {
		if m.Remembered(req(tc.value), tc.user) {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	clk.Add(30*24*time.Hour + time.Second)
	if m.Remembered(req(c.Value), u) {
		t.Fatal("expired cookie accepted")
	}
}

type failingStore struct {
	Store
	fail bool
}

func (f *failingStore) ClaimStep(ctx context.Context, d string, s int64) (bool, error) {
	if f.fail {
		return false, errors.New("backend down")
	}
	return f.Store.ClaimStep(ctx, d, s)
}

func (f *failingStore) GetCounter(ctx context.Context, k string, now time.Time) (store.Counter, error) {
	if f.fail {
		return store.Counter{}, errors.New("backend down")
	}
	return f.Store.GetCounter(ctx, k, now)
}

func TestStoreOutageFailsClosed(t *testing.T) {
	_, st, clk, u := setup(t)
	fs := &failingStore{Store: st}
	m, _ := New(fs, Options{Keys: [][]byte{key}, Now: clk.Now})
	u, secret, _ := enroll(t, m, st, clk, u)
	clk.Add(time.Minute)
	fs.fail = true
	if _, err := m.Verify(context.Background(), u, codeAt(t, secret, clk.Now())); err == nil {
		t.Fatal("verification succeeded with the store down")
	}
	fs.fail = false
	if _, err := m.Verify(context.Background(), u, codeAt(t, secret, clk.Now())); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func FuzzVerifyCode(f *testing.F) {
	for _, s := range []string{"123456", "abcde-fghjk", "", "v1.a.b.c.d", "\x00\xff", "99999999999999999999"} {
		f.Add(s)
	}
	st := memory.New()
	m, _ := New(st, Options{Keys: [][]byte{key}, ThrottleFactor: -1})
	u, _ := st.CreateUser(context.Background(), store.User{Username: "f", IsActive: true})
	e, _ := m.Begin(context.Background(), u)
	_ = e
	u, _ = st.UserByID(context.Background(), u.ID)
	u.TOTPEnabled = true
	f.Fuzz(func(t *testing.T, code string) {
		_, _ = m.Verify(context.Background(), u, code)
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "__Host-rampart-2fa", Value: code})
		if m.Remembered(r, u) {
			t.Fatalf("forged remember cookie %q accepted", code)
		}
	})
}

// gateStore holds every reader of the throttle counter until each of n racers has either
// read it or finished: the worst interleaving for a read-then-count throttle, made certain.
type gateStore struct {
	Store
	mu            sync.Mutex
	cond          *sync.Cond
	n, in, passed int
}

func (g *gateStore) GetCounter(ctx context.Context, k string, now time.Time) (store.Counter, error) {
	c, err := g.Store.GetCounter(ctx, k, now)
	if strings.HasPrefix(k, "2fa:fail:") {
		// The value is read first and handed back only once every racer has read too.
		g.mu.Lock()
		g.in++
		g.cond.Broadcast()
		for g.in+g.passed < g.n {
			g.cond.Wait()
		}
		g.mu.Unlock()
	}
	return c, err
}

func (g *gateStore) finished() {
	g.mu.Lock()
	g.passed++
	g.cond.Broadcast()
	g.mu.Unlock()
}

// TestConcurrentGuessesThrottled: a burst of wrong codes for one user, all sent together,
// gets one code checked; every other guess is refused as throttled, on any instance.
func TestConcurrentGuessesThrottled(t *testing.T) {
	_, st, clk, u := setup(t)
	const n = 50
	gs := &gateStore{Store: st, n: n}
	gs.cond = sync.NewCond(&gs.mu)
	m1, _ := New(gs, Options{Keys: [][]byte{key}, Now: clk.Now})
	m2, _ := New(gs, Options{Keys: [][]byte{key}, Now: clk.Now})
	u, secret, _ := enroll(t, m1, st, clk, u)
	clk.Add(time.Minute)
	wrong := "000000"
	if codeAt(t, secret, clk.Now()) == wrong {
		wrong = "000001"
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked, throttled := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer gs.finished()
			m := m1
			if i%2 == 1 {
				m = m2
			}
			_, err := m.Verify(context.Background(), u, wrong)
			mu.Lock()
			defer mu.Unlock()
			var te *ThrottledError
			switch {
			case errors.Is(err, ErrInvalidCode):
				checked++
			case errors.As(err, &te):
				throttled++
			default:
				t.Errorf("Verify = %v", err)
			}
		}()
	}
	wg.Wait()
	c, _ := st.GetCounter(context.Background(), throttleKey(u.ID), clk.Now())
	if checked != 1 || throttled != n-1 || c.N != 1 {
		t.Fatalf("%d concurrent guesses: %d checked, %d throttled, %d failures counted; want 1, %d, 1", n, checked, throttled, c.N, n-1)
	}
	// The slot is free again: after the back-off the right code works.
	clk.Add(time.Second)
	if _, err := m2.Verify(context.Background(), u, codeAt(t, secret, clk.Now())); err != nil {
		t.Fatalf("after the burst: %v", err)
	}
}

// The remember cookie lives exactly RememberFor, in the browser (Max-Age) as on the server;
// a request without the cookie, or with a value of the wrong shape, is simply not remembered
// (never a panic), and values are read up to 512 bytes.
func TestRememberCookieEdges(t *testing.T) {
	m, _, clk, u := setup(t)
	c := m.RememberCookie(u)
	if c.MaxAge != int((30*24*time.Hour)/time.Second) {
		t.Errorf("Max-Age %d, want 30 days", c.MaxAge)
	}
	m2, _ := New(memory.New(), Options{Keys: [][]byte{key}, Now: clk.Now, RememberFor: 90 * time.Minute})
	if c2 := m2.RememberCookie(u); c2.MaxAge != 5400 {
		t.Errorf("RememberFor 90m: Max-Age %d", c2.MaxAge)
	}
	if m.Remembered(httptest.NewRequest("GET", "/", nil), u) {
		t.Error("a request without the cookie is remembered")
	}
	req := func(v string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: c.Name, Value: v})
		return r
	}
	parts := strings.Split(c.Value, ".")
	for _, v := range []string{"v1", "v1.x", "v1.x.0", "v1.x.0.1", c.Value + ".x", "v2." + strings.Join(parts[1:], ".")} {
		if m.Remembered(req(v), u) {
			t.Errorf("malformed value %q remembered", v)
		}
	}
	// A user ID of 339 bytes makes the value exactly 512 bytes; 340 makes it 514.
	for _, c := range []struct {
		idLen int
		ok    bool
	}{{339, true}, {340, false}} {
		long := u
		long.ID = strings.Repeat("i", c.idLen)
		v := m.RememberCookie(long).Value
		if (len(v) <= 512) != c.ok {
			t.Fatalf("test setup: a %d-byte ID gives a %d-byte value", c.idLen, len(v))
		}
		if got := m.Remembered(req(v), long); got != c.ok {
			t.Errorf("value of %d bytes: remembered = %v, want %v", len(v), got, c.ok)
		}
	}
}

// A remember cookie expires at its stated second: valid one second before, not at it.
func TestRememberCookieExpiresOnTheSecond(t *testing.T) {
	m, _, clk, u := setup(t)
	clk.Add(-clk.Now().Sub(clk.Now().Truncate(time.Second))) // a whole second
	c := m.RememberCookie(u)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	clk.Add(30*24*time.Hour - time.Second)
	if !m.Remembered(r, u) {
		t.Fatal("not remembered one second before expiry")
	}
	clk.Add(time.Second)
	if m.Remembered(r, u) {
		t.Fatal("remembered at the expiry second")
	}
}

// busyReleaseFails fails only the release of the verification slot.
type busyReleaseFails struct{ Store }

func (b busyReleaseFails) DeleteCounter(ctx context.Context, key string) error {
	if strings.HasPrefix(key, "2fa:busy:") {
		return errors.New("backend down")
	}
	return b.Store.DeleteCounter(ctx, key)
}

// Without a sealed secret there is nothing to confirm or verify: Confirm and Verify answer
// ErrNotEnrolled for any code (a user row flagged enabled but holding no secret included),
// and a failure to release the verification slot after a correct code is reported, not
// hidden behind the success.
func TestNoSecretAndSlotRelease(t *testing.T) {
	m, st, clk, u := setup(t)
	ctx := context.Background()
	if _, err := m.Confirm(ctx, u, "123456"); !errors.Is(err, ErrNotEnrolled) {
		t.Errorf("Confirm without Begin: %v", err)
	}
	flagged := u
	flagged.TOTPEnabled = true
	for _, code := range []string{"123456", "000000"} {
		if _, err := m.Verify(ctx, flagged, code); !errors.Is(err, ErrNotEnrolled) {
			t.Errorf("Verify(%s) with no secret: %v", code, err)
		}
	}
	u, secret, _ := enroll(t, m, st, clk, u)
	clk.Add(time.Minute)
	m2, _ := New(busyReleaseFails{st}, Options{Keys: [][]byte{key}, Now: clk.Now})
	if method, err := m2.Verify(ctx, u, codeAt(t, secret, clk.Now())); err == nil || method != "" {
		t.Errorf("slot release failed after a correct code: %q, %v; want the error", method, err)
	}
}

// A sealed secret is read only whole: every truncation is an error, never a panic, and an
// empty secret sealed on its own opens to nothing.
func TestOpenTruncatedSealedSecret(t *testing.T) {
	m, _, _, _ := setup(t)
	sealed, err := m.sealSecret([]byte("12345678901234567890"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(sealed); n++ {
		if pt, err := m.open(sealed[:n]); err == nil {
			t.Errorf("a sealed secret cut to %d bytes opened to %q", n, pt)
		}
	}
	if pt, err := m.open(sealed); err != nil || string(pt) != "12345678901234567890" {
		t.Errorf("whole sealed secret: %q, %v", pt, err)
	}
	empty, _ := m.sealSecret(nil)
	if pt, err := m.open(empty); err != nil || len(pt) != 0 {
		t.Errorf("sealed empty secret (%d bytes): %q, %v", len(empty), pt, err)
	}
}

// Backup codes are drawn without modulo bias: with a known random stream each character is
// backupAlphabet[b % 31] for exactly the bytes below 248 (the largest multiple of 31 that
// fits in a byte), in order; the bytes from 248 up are skipped.
func TestBackupCodesRejectionSampling(t *testing.T) {
	m, _, _, u := setup(t)
	ctx := context.Background()
	if len(backupAlphabet) != 31 {
		t.Fatalf("alphabet of %d letters; update this test", len(backupAlphabet))
	}
	checked := 0
	for seed := uint64(0); seed < 2000 && checked < 3; seed++ {
		cryptotest.SetGlobalRandom(t, seed)
		raw := make([]byte, 4096)
		if _, err := rand.Read(raw); err != nil {
			t.Fatal(err)
		}
		var want []byte
		skipped := false
		for _, b := range raw {
			if len(want) == 10*backupLen {
				break
			}
			if b >= 248 {
				skipped = true
				continue
			}
			want = append(want, backupAlphabet[int(b)%31])
		}
		if !skipped {
			continue
		}
		cryptotest.SetGlobalRandom(t, seed)
		codes, err := m.NewBackupCodes(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.ReplaceAll(strings.Join(codes, ""), "-", "")
		if got != string(want) {
			t.Errorf("seed %d: codes %q, rejection sampling gives %q", seed, got, want)
		}
		checked++
	}
	if checked < 3 {
		t.Fatal("no stream with a skipped byte found")
	}
}
