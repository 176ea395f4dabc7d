package app_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
)

// TestRegistrationDoesNotNameTakenEmail: registering with a taken e-mail address must not say
// that the address is taken (it would tell anyone which addresses have accounts); a taken
// username may be named, as Django does.
func TestRegistrationDoesNotNameTakenEmail(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.CreateUser(t, "alice", "correct horse battery staple 9", false) // alice@example.test
	pw := "another long passphrase 42"
	cases := []struct {
		name, username, email string
		want                  string
	}{
		{"taken e-mail", "newcomer", "alice@example.test", "could not be created with these details"},
		{"taken e-mail, other case", "newcomer2", "ALICE@example.test", "could not be created with these details"},
		{"taken username", "Alice", "fresh@example.test", "A user with that username already exists."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Client(t).Post("/accounts/register", "/accounts/register", url.Values{
				"username": {tc.username}, "email": {tc.email}, "password1": {pw}, "password2": {pw}})
			body := html.UnescapeString(r.Body)
			if r.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d, want 200 with %q", r.StatusCode, tc.want)
			}
			for _, leak := range []string{"e-mail address already", "email already", "address is taken"} {
				if strings.Contains(strings.ToLower(body), leak) {
					t.Fatalf("the page says %q", leak)
				}
			}
		})
	}
}

// TestVaryCookieOnce: a response that sets both the session and the CSRF cookie (a first
// visit, and the register response that logs in) lists Cookie in Vary once.
func TestVaryCookieOnce(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	c := env.Client(t)
	first := c.Get("/accounts/register")
	pw := "correct horse battery staple 9"
	reg := c.Post("", "/accounts/register", url.Values{
		"username": {"vera"}, "email": {"vera@example.test"}, "password1": {pw}, "password2": {pw}})
	if reg.StatusCode != http.StatusSeeOther {
		t.Fatalf("register: %d", reg.StatusCode)
	}
	for name, r := range map[string]*apptest.Response{"first visit": first, "register": reg} {
		n := 0
		for _, line := range r.Header.Values("Vary") {
			for _, item := range strings.Split(line, ",") {
				if strings.EqualFold(strings.TrimSpace(item), "Cookie") {
					n++
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: Vary %q lists Cookie %d times, want once", name, r.Header.Values("Vary"), n)
		}
	}
}
