package attacktest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/audit"
)

// TestReauthPasswordGuessingLocked: a stolen session guessing the account password on the
// two-factor settings page (its "backup" and "disable" actions check it) is stopped by the
// lockout like a login, every wrong guess is audited, and once locked the right password is
// refused too. Before, 25 wrong guesses in a second were answered "incorrect" one by one and
// the right one was accepted.
func TestReauthPasswordGuessingLocked(t *testing.T) {
	for _, action := range []string{"backup", "disable"} {
		t.Run(action, func(t *testing.T) {
			env := bruteEnv(t, nil)
			env.CreateUser(t, "alice", alicePW, false)
			thief := env.Client(t)
			thief.Login("alice", alicePW)
			enroll(t, env, thief, env.Clock.Now())

			ctx := t.Context()
			before, err := env.Stack.Audit.Recent(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			statuses := map[int]int{}
			for i := range 25 {
				r := thief.Post("/accounts/2fa", "/accounts/2fa", url.Values{"action": {action}, "password": {"guess-" + strconv.Itoa(i)}})
				statuses[r.StatusCode]++
				switch {
				case i < lockoutLimit-1: // the guess that reaches the limit is answered 429, as at login
					if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "Your password was entered incorrectly") {
						t.Fatalf("guess %d: status %d, want 200 with the error", i, r.StatusCode)
					}
				default:
					if r.StatusCode != http.StatusTooManyRequests {
						t.Fatalf("guess %d (pair limit %d): status %d, want 429", i, lockoutLimit, r.StatusCode)
					}
				}
			}
			r := thief.Post("/accounts/2fa", "/accounts/2fa", url.Values{"action": {action}, "password": {alicePW}})
			if r.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("right password after the lock: status %d, want 429", r.StatusCode)
			}
			after, err := env.Stack.Audit.Recent(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			failures, lockouts := 0, 0
			for _, e := range after[:len(after)-len(before)] {
				switch e.Kind {
				case audit.KindLoginFailure:
					failures++
					if e.Username != "alice" || !strings.Contains(e.Detail, "two-factor") {
						t.Fatalf("failure event %+v", e)
					}
				case audit.KindLockout:
					lockouts++
				}
			}
			if failures != lockoutLimit || lockouts != 1 {
				t.Fatalf("audited %d failures and %d lockouts, want %d and 1 (statuses %v)", failures, lockouts, lockoutLimit, statuses)
			}
			// The second factor is still on: neither action went through.
			if u := mustUser(t, env, "alice"); !u.TOTPEnabled {
				t.Fatal("two-factor was disabled by guessing")
			}
		})
	}
}
