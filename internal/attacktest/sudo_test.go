package attacktest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/internal/apptest"
)

// TestStolenSessionNeedsRecentAuth: a session cookie alone, once the login is older than the
// recent-authentication window, cannot turn minutes of access into lasting access: it cannot
// see the enrolment secret or turn two-factor on, make backup codes, turn two-factor off, add
// or remove a passkey, or end the owner's other sessions. Each is sent to the confirm page
// (JSON requests get 403), where password guesses count toward the lockout like a login's.
// After the right password everything works again.
func TestStolenSessionNeedsRecentAuth(t *testing.T) {
	env := bruteEnv(t, nil)
	env.CreateUser(t, "alice", alicePW, false)
	env.CreateUser(t, "bob", bobPW, false)

	// bob has two-factor on; alice does not.
	bobOwner := env.Client(t)
	bobOwner.Login("bob", bobPW)
	secret, _ := enroll(t, env, bobOwner, env.Clock.Now())
	env.Clock.Advance(30 * time.Second) // the next code (the enrolment's is spent)
	other := env.Client(t)              // bob's second browser, which "end other sessions" would log out
	passwordStep(t, other, "bob", bobPW)
	if r := submitCode(other, apptest.TOTP(t, secret, env.Clock.Now()), nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("bob's second login: %d", r.StatusCode)
	}
	thiefA := env.Client(t)
	thiefA.Login("alice", alicePW)
	env.Clock.Advance(accounts.DefaultRecentAuth + time.Minute)

	confirmFor := func(t *testing.T, r *apptest.Response, next string) {
		t.Helper()
		loc := r.Header.Get("Location")
		if r.StatusCode != http.StatusSeeOther || apptest.Path(loc) != "/accounts/confirm?next="+url.QueryEscape(next) {
			t.Fatalf("status %d Location %q, want 303 to /accounts/confirm?next=%s", r.StatusCode, loc, next)
		}
	}
	t.Run("enrolment page and enable", func(t *testing.T) {
		confirmFor(t, thiefA.Get("/accounts/2fa"), "/accounts/2fa")
		r := thiefA.Post("", "/accounts/2fa", url.Values{"action": {"enable"}, "code": {"123456"}})
		confirmFor(t, r, "/accounts/2fa")
		if mustUser(t, env, "alice").TOTPEnabled {
			t.Fatal("two-factor turned on by a stale session")
		}
	})
	t.Run("passkey ceremony", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/accounts/passkeys/begin-register", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		r := thiefA.Do(req)
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "reauthenticate") {
			t.Fatalf("begin-register: %d %s, want 403 asking to reauthenticate", r.StatusCode, r.Body)
		}
		confirmFor(t, thiefA.Post("/accounts/passkeys", "/accounts/passkeys", url.Values{"id": {"AAAA"}}), "/accounts/passkeys")
	})

	// The same stale session of bob's (two-factor on): codes, disable, end other sessions.
	thiefB := bobOwner
	for _, action := range []string{"backup", "disable", "forget-devices"} {
		t.Run(action, func(t *testing.T) {
			r := thiefB.Post("", "/accounts/2fa", url.Values{"action": {action}, "password": {bobPW}})
			confirmFor(t, r, "/accounts/2fa")
			if !mustUser(t, env, "bob").TOTPEnabled {
				t.Fatal("two-factor turned off by a stale session")
			}
		})
	}
	t.Run("end other sessions", func(t *testing.T) {
		confirmFor(t, thiefB.Post("", "/accounts/sessions", url.Values{"all": {"1"}}), "/accounts/sessions")
		if !loggedIn(t, other) {
			t.Fatal("a stale session ended the owner's other session")
		}
	})

	// Guessing the password on the confirm page locks like a login and is audited.
	t.Run("confirm guesses count", func(t *testing.T) {
		before, _ := env.Stack.Audit.Recent(t.Context(), 1000)
		for i := range lockoutLimit - 1 {
			r := thiefA.Post("/accounts/confirm?next=/accounts/2fa", "/accounts/confirm?next=/accounts/2fa", url.Values{"password": {"guess-" + strconv.Itoa(i)}})
			if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "entered incorrectly") {
				t.Fatalf("guess %d: %d", i, r.StatusCode)
			}
		}
		if r := thiefA.Post("", "/accounts/confirm", url.Values{"password": {"guess-last"}}); r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("guess at the limit: %d, want 429", r.StatusCode)
		}
		if r := thiefA.Post("", "/accounts/confirm", url.Values{"password": {alicePW}}); r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("right password once locked: %d, want 429", r.StatusCode)
		}
		after, _ := env.Stack.Audit.Recent(t.Context(), 1000)
		failures := 0
		for _, e := range after[:len(after)-len(before)] {
			if e.Kind == audit.KindLoginFailure && e.Username == "alice" && strings.Contains(e.Detail, "re-authentication") {
				failures++
			}
		}
		if failures != lockoutLimit {
			t.Fatalf("%d re-authentication failures audited, want %d", failures, lockoutLimit)
		}
	})

	// The owner, with the password (bob) or a code, gets the window back.
	t.Run("confirm opens the window", func(t *testing.T) {
		r := thiefB.Post("/accounts/confirm?next=/accounts/2fa", "/accounts/confirm?next=/accounts/2fa", url.Values{"password": {bobPW}})
		if r.StatusCode != http.StatusSeeOther || apptest.Path(r.Header.Get("Location")) != "/accounts/2fa" {
			t.Fatalf("confirm: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		if r := thiefB.Get("/accounts/2fa"); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "Two-factor authentication is <strong>on</strong>") {
			t.Fatalf("2FA page after confirming: %d", r.StatusCode)
		}
	})
}
