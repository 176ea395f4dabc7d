package browsertest

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/apptest"
)

const alicePassword = "correct horse battery staple 9"

// path returns the path of an absolute URL the browser ended on.
func path(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("url %q: %v", raw, err)
	}
	return u.Path
}

// login fills the login form; it returns the path the browser ends on.
func (b *tab) login(base, username, password string) string {
	b.t.Helper()
	if st := b.open(base + "/accounts/login"); st != 200 {
		b.t.Fatalf("GET /accounts/login: %d", st)
	}
	b.fill(map[string]string{"username": username, "password": password})
	st, u := b.submit(`main form button[type=submit]`)
	if st != 200 {
		b.t.Fatalf("login %s: final status %d at %s", username, st, u)
	}
	return path(b.t, u)
}

// secondFactor enters a code on the 2FA step; it returns the path the browser ends on.
func (b *tab) secondFactor(code string) string {
	b.t.Helper()
	b.fill(map[string]string{"code": code})
	_, u := b.submit(`main form button[type=submit]`)
	return path(b.t, u)
}

// logout clicks the header's logout button and checks the home page no longer knows the user.
func (b *tab) logout() {
	b.t.Helper()
	if st, u := b.submit(`#logout`); st != 200 || path(b.t, u) != "/" {
		b.t.Fatalf("logout: %d %s", st, u)
	}
	if h := b.text("h1"); h != "Welcome" {
		b.t.Fatalf("after logout h1 = %q", h)
	}
}

func (b *tab) welcome() string {
	b.t.Helper()
	return b.text("h1")
}

// TestAccountFlows walks a user through the app in Chromium with real typing and clicks:
// register, log out and in, turn on 2FA from the page's secret, log in with a TOTP (and see
// the same code refused a second time), post a comment, end another browser's session from
// the sessions page, and log in with a single-use backup code.
func TestAccountFlows(t *testing.T) {
	browser(t) // skip (or fail) before any setup when there is no Chromium
	env := apptest.New(t, apptest.Options{})
	base := env.URL
	a := newTab(t)

	// Register: the form logs the new user in.
	if st := a.open(base + "/accounts/register"); st != 200 {
		t.Fatalf("GET register: %d", st)
	}
	a.fill(map[string]string{"username": "alice", "email": "alice@example.test", "password1": alicePassword, "password2": alicePassword})
	if st, u := a.submit(`main form button[type=submit]`); st != 200 || path(t, u) != "/" {
		t.Fatalf("register: %d %s", st, u)
	}
	if h := a.welcome(); h != "Welcome, alice" {
		t.Fatalf("after register h1 = %q", h)
	}
	a.logout()

	// A wrong password stays on the form with the generic message.
	if p := a.login(base, "alice", "not the password"); p != "/accounts/login" {
		t.Fatalf("wrong password ended on %s", p)
	}
	if e := a.text("main .error"); !strings.Contains(e, "Please enter a correct username and password") {
		t.Fatalf("wrong password message = %q", e)
	}
	if p := a.login(base, "alice", alicePassword); p != "/" || a.welcome() != "Welcome, alice" {
		t.Fatalf("password login ended on %s (%q)", p, a.welcome())
	}

	// Enrol in 2FA: the QR image must load under the CSP (img-src data:), the secret is read
	// from the page like a user copying it by hand.
	if st := a.open(base + "/accounts/2fa"); st != 200 {
		t.Fatalf("GET 2fa: %d", st)
	}
	if w := eval[int](a, `document.querySelector("#qr").naturalWidth`); w == 0 {
		t.Logf("qr: %s", eval[string](a, `JSON.stringify({src: document.querySelector("#qr").src.slice(0,80), c: document.querySelector("#qr").complete})`))
		t.Fatal("QR image did not load (blocked by CSP?)")
	}
	secret := a.text("#secret")
	if len(secret) < 16 {
		t.Fatalf("secret %q", secret)
	}
	a.fill(map[string]string{"code": apptest.TOTP(t, secret, env.Clock.Now())})
	if st, _ := a.submit(`main form button[type=submit]`); st != 200 {
		t.Fatalf("enable 2fa: %d", st)
	}
	backup := eval[[]string](a, `[...document.querySelectorAll('#backup-codes code')].map(e => e.textContent)`)
	if len(backup) < 5 {
		t.Fatalf("backup codes shown: %v", backup)
	}
	if !strings.Contains(a.text("main"), "Two-factor authentication is on") {
		t.Fatalf("2fa page after enable: %q", a.text("main"))
	}
	a.logout()

	// Password alone now leads to the second step; the code used for enrolment is spent
	// (replay), the next step's code works.
	if p := a.login(base, "alice", alicePassword); p != "/accounts/login/2fa" {
		t.Fatalf("password login with 2fa ended on %s", p)
	}
	if p := a.secondFactor(apptest.TOTP(t, secret, env.Clock.Now())); p != "/accounts/login/2fa" {
		t.Fatalf("replayed TOTP accepted: ended on %s", p)
	}
	if e := a.text("main .error"); !strings.Contains(e, "not valid") {
		t.Fatalf("replay message = %q", e)
	}
	env.Clock.Advance(31 * time.Second)
	if p := a.secondFactor(apptest.TOTP(t, secret, env.Clock.Now())); p != "/" || a.welcome() != "Welcome, alice" {
		t.Fatalf("TOTP login ended on %s (%q)", p, a.welcome())
	}

	// Post comments through the form; formatting survives, script does not.
	for _, body := range []string{`First from Chromium: <b>bold</b> and <i>italic</i>`, `Second <script>window.__xss=1</script>kept text`} {
		a.open(base + "/comments")
		a.fill(map[string]string{"body": body})
		if st, u := a.submit(`main form button[type=submit]`); st != 200 || path(t, u) != "/comments" {
			t.Fatalf("post comment: %d %s", st, u)
		}
	}
	if n := eval[int](a, `document.querySelectorAll('#comments li.comment').length`); n != 2 {
		t.Fatalf("comments listed = %d, want 2", n)
	}
	if b := a.text("#comments li.comment:nth-child(2) .body b"); b != "bold" {
		t.Fatalf("bold text = %q", b)
	}
	if got := a.text("#comments li.comment:nth-child(1) .body"); got != "Second kept text" || eval[bool](a, `document.querySelector('#comments script') !== null || window.__xss === 1`) {
		t.Fatalf("script comment rendered as %q or ran", got)
	}

	// A second browser logs in as alice: two sessions. The first ends the other from the
	// sessions page, and the second browser is logged out.
	b := newTab(t)
	if p := b.login(base, "alice", alicePassword); p != "/accounts/login/2fa" {
		t.Fatalf("second browser: %s", p)
	}
	env.Clock.Advance(31 * time.Second)
	if p := b.secondFactor(apptest.TOTP(t, secret, env.Clock.Now())); p != "/" {
		t.Fatalf("second browser TOTP login ended on %s", p)
	}
	a.open(base + "/accounts/sessions")
	if n := eval[int](a, `document.querySelectorAll('main tbody tr').length`); n != 2 {
		t.Fatalf("sessions listed = %d, want 2", n)
	}
	if n := eval[int](a, `document.querySelectorAll('main tbody tr.current').length`); n != 1 {
		t.Fatalf("current sessions marked = %d, want 1", n)
	}
	if st, u := a.submit(`main tbody tr:not(.current) button`); st != 200 || path(t, u) != "/accounts/sessions" {
		t.Fatalf("end session: %d %s", st, u)
	}
	if f := a.text("main .flash"); !strings.Contains(f, "session was ended") {
		t.Fatalf("end session flash = %q", f)
	}
	if n := eval[int](a, `document.querySelectorAll('main tbody tr').length`); n != 1 {
		t.Fatalf("sessions after ending one = %d, want 1", n)
	}
	b.open(base + "/")
	if h := b.welcome(); h != "Welcome" {
		t.Fatalf("ended browser still logged in: h1 = %q", h)
	}
	b.open(base + "/accounts/sessions")
	if p := path(t, get(b, "location", chromedpLocation())); p != "/accounts/login" {
		t.Fatalf("ended browser reached %s", p)
	}
	if h := a.open(base + "/"); h != 200 || a.welcome() != "Welcome, alice" {
		t.Fatalf("first browser lost its session: %q", a.welcome())
	}

	// A backup code logs in once.
	a.logout()
	a.login(base, "alice", alicePassword)
	if p := a.secondFactor(backup[0]); p != "/" || a.welcome() != "Welcome, alice" {
		t.Fatalf("backup code login ended on %s (%q)", p, a.welcome())
	}
	a.open(base + "/accounts/2fa")
	if m := a.text("main p"); !strings.Contains(m, itoa(len(backup)-1)+" unused backup codes") {
		t.Fatalf("2fa page after backup login: %q", m)
	}
	a.logout()
	a.login(base, "alice", alicePassword)
	if p := a.secondFactor(backup[0]); p != "/accounts/login/2fa" {
		t.Fatalf("used backup code accepted again: ended on %s", p)
	}
	t.Logf("account flows: register, login, 2FA enrol, TOTP login (replay refused), 2 comments, 2 sessions (1 ended), backup code login (reuse refused)")
}
