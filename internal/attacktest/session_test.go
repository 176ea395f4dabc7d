package attacktest

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/apptest"
)

// TestSessionFixation plants a session cookie in the victim's browser before login (one the
// site issued to the attacker, and one the attacker made up): after login the victim's
// cookie must differ and the planted value must stay anonymous.
func TestSessionFixation(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[tls]
		t.Run(name, func(t *testing.T) {
			env := apptest.New(t, apptest.Options{TLS: tls})
			env.CreateUser(t, "alice", alicePW, false)
			cookie := env.Settings.SessionCookieName

			// The attacker gets a real anonymous session: a flash message makes the site
			// store one (GET of the second step without a pending login).
			attacker := env.Client(t)
			attacker.Get("/accounts/login/2fa")
			issued := cookieValue(attacker, env.URL, cookie)
			if issued == "" {
				t.Fatalf("no anonymous session cookie %q was issued; the fixation case needs one", cookie)
			}
			cases := []struct {
				name, planted string
			}{
				{"session ID the site issued to the attacker", issued},
				{"session ID the attacker made up", "attacker-chosen-session-id-0123456789abcdef"},
			}
			for _, tc := range cases {
				t.Run(tc.name+": login must issue a new ID and leave the planted one anonymous", func(t *testing.T) {
					victim := env.Client(t)
					setCookie(victim, env.URL, cookie, tc.planted)
					victim.Login("alice", alicePW)
					got := cookieValue(victim, env.URL, cookie)
					if got == "" || got == tc.planted {
						t.Fatalf("session cookie after login = %q, want a new value", got)
					}
					if !loggedIn(t, victim) {
						t.Fatal("victim not logged in")
					}
					fixer := env.Client(t)
					setCookie(fixer, env.URL, cookie, tc.planted)
					if loggedIn(t, fixer) {
						t.Fatal("the planted session ID is logged in as the victim")
					}
				})
			}
			count("session fixation", len(cases))
		})
	}
}

// TestCookieTampering flips bytes of a logged-in session cookie: every variant must be
// anonymous (never another user, never a 500), and the untouched cookie still works.
func TestCookieTampering(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.CreateUser(t, "alice", alicePW, false)
	c := env.Client(t)
	c.Login("alice", alicePW)
	name := env.Settings.SessionCookieName
	good := cookieValue(c, env.URL, name)
	if good == "" {
		t.Fatal("no session cookie")
	}
	variants := tamperings(good)
	for i := range good {
		if i%7 == 3 { // more flips, at other offsets than tamperings uses
			b := []byte(good)
			b[i] ^= 0x01
			if b[i] > 0x20 && b[i] < 0x7f && b[i] != ';' && b[i] != '"' && b[i] != '\\' && b[i] != ',' {
				variants = append(variants, string(b))
			}
		}
	}
	for _, v := range variants {
		x := env.Client(t)
		setCookie(x, env.URL, name, v)
		r := x.Get("/accounts/sessions")
		if r.StatusCode != http.StatusSeeOther {
			t.Errorf("tampered session cookie %q: status %d, want 303 to login (anonymous)", v, r.StatusCode)
		}
		if r := x.Get("/"); r.StatusCode != http.StatusOK || strings.Contains(r.Body, "alice") {
			t.Errorf("tampered session cookie %q: home status %d or shows alice", v, r.StatusCode)
		}
	}
	count("session-cookie tamperings", len(variants))
	if !loggedIn(t, c) {
		t.Fatal("the untouched session cookie stopped working")
	}
}

// TestLoginCSRF: a cross-site page must not log the victim's browser into the attacker's
// account (login CSRF), whatever it sends.
func TestLoginCSRF(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.CreateUser(t, "mallory", bobPW, false)
	victim := env.Client(t)
	victim.Get("/accounts/login")
	tok := victim.Token()
	creds := func(token string) url.Values {
		v := url.Values{"username": {"mallory"}, "password": {bobPW}}
		if token != "" {
			v.Set("csrf_token", token)
		}
		return v
	}
	cases := []struct {
		name  string
		hdr   map[string]string
		token string
	}{
		{"cross-site form post with the victim's token", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, tok},
		{"cross-site form post without token", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, ""},
		{"no headers, no token (old browser)", nil, ""},
		{"Origin null (sandboxed iframe) with the victim's token", map[string]string{"Origin": "null"}, tok},
		{"foreign Origin without Sec-Fetch-Site", map[string]string{"Origin": "https://evil.example"}, tok},
	}
	for _, tc := range cases {
		t.Run(tc.name+" must be refused with 403", func(t *testing.T) {
			r := postRaw(t, victim, env.URL, "/accounts/login", creds(tc.token), tc.hdr)
			if r.StatusCode != http.StatusForbidden || loggedIn(t, victim) {
				t.Fatalf("status %d (logged in: %v), want 403 and anonymous", r.StatusCode, loggedIn(t, victim))
			}
		})
	}
	count("login csrf", len(cases))
	// Legit: the same browser logs in from the site's own form.
	victim.Login("mallory", bobPW)
}

var resetLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/accounts/reset/([^\s"<>]+)`)

// requestReset asks for a reset link for email and returns the link from the outbox.
func requestReset(t *testing.T, env *apptest.Env, c *apptest.Client, email string) string {
	t.Helper()
	env.Stack.Outbox.Reset()
	r := c.Post("/accounts/reset", "/accounts/reset", url.Values{"email": {email}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset request: status %d", r.StatusCode)
	}
	msgs := env.Stack.Outbox.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d reset mails, want 1", len(msgs))
	}
	link := resetLinkRE.FindString(msgs[0].Body)
	if link == "" {
		t.Fatalf("no reset link in mail: %q", msgs[0].Body)
	}
	return link
}

// useReset opens a reset link and submits a new password; it reports whether the link
// offered the form and the post was accepted.
func useReset(t *testing.T, c *apptest.Client, link, pw string) bool {
	t.Helper()
	path := apptest.Path(link)
	r := c.Get(path)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("reset link: status %d", r.StatusCode)
	}
	if !strings.Contains(r.Body, `name="new_password1"`) {
		if !strings.Contains(r.Body, "This reset link is invalid or has already been used.") {
			t.Fatalf("reset page neither offers the form nor says the link is invalid")
		}
		// Post anyway with a token from elsewhere: the server must refuse too.
		r = c.Post("/accounts/reset", path, url.Values{"new_password1": {pw}, "new_password2": {pw}})
		if r.StatusCode == http.StatusSeeOther {
			t.Fatalf("an invalid reset link accepted a new password")
		}
		return false
	}
	r = c.Post("", path, url.Values{"new_password1": {pw}, "new_password2": {pw}, "csrf_token": {c.Token()}})
	return r.StatusCode == http.StatusSeeOther && apptest.Path(r.Header.Get("Location")) == "/accounts/login"
}

// TestPasswordResetTokens: a reset link works once; it dies when used, when the user logs in,
// when the password changes; tampered links never work; unknown addresses get the same
// answer and no mail.
func TestPasswordResetTokens(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	cheapHashing(env)
	env.CreateUser(t, "alice", alicePW, false)
	c := env.Client(t)
	pw := []string{"first new passphrase 11", "second new passphrase 22", "third new passphrase 33"}
	current := alicePW

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"a fresh link sets the password once and ends the user's other sessions", func(t *testing.T) {
			other := env.Client(t)
			other.Login("alice", current)
			link := requestReset(t, env, c, "alice@example.test")
			if !useReset(t, c, link, pw[0]) {
				t.Fatal("fresh reset link refused")
			}
			current = pw[0]
			if loggedIn(t, other) {
				t.Fatal("a session from before the reset survived it")
			}
			env.Client(t).Login("alice", current)
			// Reuse of the same link: invalid now.
			if useReset(t, env.Client(t), link, pw[1]) {
				t.Fatal("a used reset link worked a second time")
			}
			env.Client(t).Login("alice", current) // unchanged by the refused reuse
			count("reset token reuse", 1)
		}},
		{"a link dies when the user logs in before using it", func(t *testing.T) {
			env.Clock.Advance(2 * time.Second) // last login must move past the token's timestamp resolution
			link := requestReset(t, env, c, "alice@example.test")
			env.Clock.Advance(2 * time.Second)
			env.Client(t).Login("alice", current)
			if useReset(t, env.Client(t), link, pw[1]) {
				t.Fatal("reset link still worked after a login")
			}
			count("reset token after login", 1)
		}},
		{"a link dies when the password changes by other means", func(t *testing.T) {
			env.Clock.Advance(2 * time.Second)
			link := requestReset(t, env, c, "alice@example.test")
			u := env.Client(t)
			u.Login("alice", current)
			r := u.Post("/accounts/password", "/accounts/password", url.Values{"old_password": {current}, "new_password1": {pw[1]}, "new_password2": {pw[1]}})
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("password change: %d", r.StatusCode)
			}
			current = pw[1]
			if useReset(t, env.Client(t), link, pw[2]) {
				t.Fatal("reset link still worked after a password change")
			}
		}},
		{"tampered links are invalid", func(t *testing.T) {
			env.Clock.Advance(2 * time.Second)
			link := requestReset(t, env, c, "alice@example.test")
			tok := resetLinkRE.FindStringSubmatch(link)[1]
			prefix := strings.TrimSuffix(link, tok)
			n := 0
			for _, v := range tamperings(tok) {
				if v == "" || strings.ContainsAny(v, "/?#%") {
					continue
				}
				n++
				if useReset(t, env.Client(t), prefix+v, pw[2]) {
					t.Fatalf("tampered token %q worked", v)
				}
			}
			count("reset token tamperings", n)
			// The genuine link still works afterwards (the refusals were about the changes).
			if !useReset(t, c, link, pw[2]) {
				t.Fatal("genuine link refused after tampering attempts")
			}
			current = pw[2]
		}},
		{"an unknown address gets the same answer and no mail (no account enumeration)", func(t *testing.T) {
			env.Stack.Outbox.Reset()
			known := c.Post("/accounts/reset", "/accounts/reset", url.Values{"email": {"alice@example.test"}})
			unknown := c.Post("/accounts/reset", "/accounts/reset", url.Values{"email": {"nobody@example.test"}})
			if known.StatusCode != unknown.StatusCode || known.Header.Get("Location") != unknown.Header.Get("Location") {
				t.Fatalf("known %d %q vs unknown %d %q", known.StatusCode, known.Header.Get("Location"), unknown.StatusCode, unknown.Header.Get("Location"))
			}
			if n := len(env.Stack.Outbox.Messages()); n != 1 {
				t.Fatalf("%d mails, want 1 (only the known address)", n)
			}
			env.Client(t).Login("alice", current)
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}
