package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/apptest"
)

// postJSON sends a same-origin fetch-like POST.
func postJSON(c *apptest.Client, env *apptest.Env, path, body string) *apptest.Response {
	req, _ := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.Origin != "" {
		req.Header.Set("Origin", c.Origin)
	}
	if c.Site != "" {
		req.Header.Set("Sec-Fetch-Site", c.Site)
	}
	return c.Do(req)
}

// TestPasskeyRoutesErrors checks the refusals of the passkey JSON routes (the successful
// ceremonies run in Chromium, internal/browsertest/passkey_test.go).
func TestPasskeyRoutesErrors(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	ipURL := env.URL
	env.URL = strings.Replace(env.URL, "://127.0.0.1:", "://localhost:", 1) // an RP ID is a domain
	env.CreateUser(t, "alice", "correct horse battery staple 9", false)
	tests := []struct {
		name     string
		login    bool
		run      func(c *apptest.Client) *apptest.Response
		status   int
		contains string
	}{
		{"register needs login", false, func(c *apptest.Client) *apptest.Response {
			return postJSON(c, env, "/accounts/passkeys/begin-register", "{}")
		}, 401, "log in"},
		{"finish register needs login", false, func(c *apptest.Client) *apptest.Response {
			return postJSON(c, env, "/accounts/passkeys/finish-register", "{}")
		}, 401, "log in"},
		{"login finish without begin", false, func(c *apptest.Client) *apptest.Response {
			return postJSON(c, env, "/accounts/login/passkey/finish", "{}")
		}, 400, "expired"},
		{"login bad JSON", false, func(c *apptest.Client) *apptest.Response {
			if r := postJSON(c, env, "/accounts/login/passkey/begin", "{}"); r.StatusCode != 200 || !strings.Contains(r.Body, `"challenge"`) {
				t.Fatalf("begin: %d %s", r.StatusCode, r.Body)
			}
			return postJSON(c, env, "/accounts/login/passkey/finish", `{"id":`)
		}, 400, "not valid"},
		{"login ceremony expired", false, func(c *apptest.Client) *apptest.Response {
			postJSON(c, env, "/accounts/login/passkey/begin", "{}")
			env.Clock.Advance(6 * time.Minute)
			return postJSON(c, env, "/accounts/login/passkey/finish", "{}")
		}, 400, "expired"},
		{"cross-site begin refused by CSRF", false, func(c *apptest.Client) *apptest.Response {
			c.Site, c.Origin = "cross-site", "https://evil.example"
			return postJSON(c, env, "/accounts/login/passkey/begin", "{}")
		}, 403, ""},
		{"site reached by IP address", false, func(c *apptest.Client) *apptest.Response {
			req, _ := http.NewRequest(http.MethodPost, ipURL+"/accounts/login/passkey/begin", strings.NewReader("{}"))
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			return c.Do(req)
		}, 400, "domain name"},
		{"register garbage", true, func(c *apptest.Client) *apptest.Response {
			r := postJSON(c, env, "/accounts/passkeys/begin-register", "{}")
			if r.StatusCode != 200 || !strings.Contains(r.Body, `"residentKey":"required"`) || !strings.Contains(r.Body, `"userVerification":"required"`) {
				t.Fatalf("begin-register: %d %s", r.StatusCode, r.Body)
			}
			return postJSON(c, env, "/accounts/passkeys/finish-register?name=x", `{"id":"AA","type":"public-key","response":{}}`)
		}, 400, "not valid"},
		{"register finish twice", true, func(c *apptest.Client) *apptest.Response {
			postJSON(c, env, "/accounts/passkeys/begin-register", "{}")
			postJSON(c, env, "/accounts/passkeys/finish-register", `{}`)
			return postJSON(c, env, "/accounts/passkeys/finish-register", `{}`)
		}, 400, "expired"},
		{"delete unknown passkey", true, func(c *apptest.Client) *apptest.Response {
			return c.Post("/accounts/passkeys", "/accounts/passkeys", url.Values{"id": {"AAAA"}})
		}, 404, ""},
		{"delete malformed id", true, func(c *apptest.Client) *apptest.Response {
			return c.Post("/accounts/passkeys", "/accounts/passkeys", url.Values{"id": {"!!"}})
		}, 400, ""},
		{"page loads the script with the nonce", true, func(c *apptest.Client) *apptest.Response {
			return c.Get("/accounts/passkeys")
		}, 200, `src="/accounts/static/passkeys.js"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := env.Client(t)
			if tc.login {
				c.Login("alice", "correct horse battery staple 9")
			}
			r := tc.run(c)
			if r.StatusCode != tc.status || !strings.Contains(r.Body, tc.contains) {
				t.Fatalf("%d %q, want %d containing %q", r.StatusCode, r.Body, tc.status, tc.contains)
			}
		})
	}
	// The script tag carries this response's CSP nonce.
	c := env.Client(t)
	r := c.Get("/accounts/login/passkey")
	csp := r.Header.Get("Content-Security-Policy")
	i := strings.Index(r.Body, `<script nonce="`)
	if r.StatusCode != 200 || i < 0 {
		t.Fatalf("login page: %d %s", r.StatusCode, r.Body)
	}
	nonce, _, _ := strings.Cut(r.Body[i+len(`<script nonce="`):], `"`)
	if nonce == "" || !strings.Contains(csp, "'nonce-"+nonce+"'") {
		t.Fatalf("script nonce %q not in CSP %q", nonce, csp)
	}
}
