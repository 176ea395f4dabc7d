package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
)

// A body over RAMPART_MAX_BODY_BYTES is refused before any layer acts on it, even on the
// token path where csrf itself parses the form (no Origin, no Sec-Fetch-Site).
func TestBodyCapBeforeCSRF(t *testing.T) {
	env := apptest.New(t, apptest.Options{Env: map[string]string{"RAMPART_MAX_BODY_BYTES": "4096"}})
	c := env.Client(t)
	c.Origin, c.Site = "", ""
	big := url.Values{"username": {strings.Repeat("a", 8000)}, "password": {"x"}}
	r := c.Post("/accounts/login", "/accounts/login", big)
	if r.StatusCode == http.StatusOK || r.StatusCode == http.StatusSeeOther {
		t.Fatalf("oversized body accepted: %d", r.StatusCode)
	}
	small := url.Values{"username": {"nobody"}, "password": {"x"}}
	if r := c.Post("/accounts/login", "/accounts/login", small); r.StatusCode != http.StatusOK {
		t.Fatalf("normal body on the token path: %d", r.StatusCode)
	}
}

// TestOversizedFormsAnswer413: a browser-like form (Origin and Sec-Fetch-Site sent, so csrf
// reads no body) over the cap gets 413 at login and register, and nothing is audited: before,
// it answered 200 "wrong password" and recorded a failed login with an empty username.
func TestOversizedFormsAnswer413(t *testing.T) {
	env := apptest.New(t, apptest.Options{Env: map[string]string{"RAMPART_MAX_BODY_BYTES": "4096"}})
	env.CreateUser(t, "alice", "correct horse battery staple 9", false)
	big := strings.Repeat("a", 8000)
	cases := []struct {
		path string
		form url.Values
	}{
		{"/accounts/login", url.Values{"username": {"alice"}, "password": {big}}},
		{"/accounts/register", url.Values{"username": {"bob"}, "email": {"b@example.test"}, "password1": {big}, "password2": {big}}},
		{"/accounts/reset", url.Values{"email": {big}}},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			ctx := t.Context()
			before, err := env.Stack.Audit.Recent(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			c := env.Client(t)
			r := c.Post(tc.path, tc.path, tc.form)
			if r.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("oversized form: status %d, want 413", r.StatusCode)
			}
			after, err := env.Stack.Audit.Recent(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Fatalf("oversized form audited: %+v", after[:len(after)-len(before)])
			}
		})
	}
	// The same form under the cap still works.
	env.Client(t).Login("alice", "correct horse battery staple 9")
}
