// Package apptest starts the reference app in-process for end-to-end tests: the real default
// stack (rampart.New) over a real store, an httptest server, and a client that behaves like a
// browser (cookie jar, Origin and Sec-Fetch-Site on form posts, no automatic redirects).
package apptest

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/internal/app"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/sqlite"
)

// TestKey is the secret key of test environments (long and varied enough for production rules).
const TestKey = "apptest-4f9c2b7e1d8a6035-rampart-reference-app-secret-key-xyz"

// Clock is a settable clock shared by every layer of an Env.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Options configure New.
type Options struct {
	// Store is the backend; nil means a fresh SQLite file in t.TempDir().
	Store store.Store
	// TLS serves HTTPS (production settings: Secure cookies, HSTS); otherwise the app runs
	// with RAMPART_INSECURE_DEV=1 on plain HTTP.
	TLS bool
	// Env adds or overrides RAMPART_* settings.
	Env map[string]string
	// RealClock uses time.Now instead of a settable clock (for multi-instance tests).
	RealClock bool
}

// Env is a running reference app.
type Env struct {
	URL      string
	Server   *httptest.Server
	Stack    *rampart.Stack
	App      *app.App
	Clock    *Clock
	Settings settings.Settings
}

// New starts the app and stops it when the test ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	env := map[string]string{
		"RAMPART_SECRET_KEY":    TestKey,
		"RAMPART_ALLOWED_HOSTS": "127.0.0.1,localhost",
		"RAMPART_RATE":          "100000/m",
		"RAMPART_LOGIN_RATE":    "100000/m",
	}
	if !o.TLS {
		env["RAMPART_INSECURE_DEV"] = "1"
	}
	for k, v := range o.Env {
		env[k] = v
	}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatalf("apptest settings: %v", err)
	}
	st := o.Store
	if st == nil {
		sq, err := sqlite.Open(t.TempDir() + "/app.db")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sq.Close() })
		st = sq
	}
	clock := &Clock{t: time.Now().UTC().Truncate(time.Second)}
	now := clock.Now
	if o.RealClock {
		now = time.Now
	}
	stack, err := rampart.New(context.Background(), s, rampart.Options{Store: st, Now: now})
	if err != nil {
		t.Fatalf("rampart.New: %v", err)
	}
	a, err := app.New(stack, app.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	if o.TLS {
		srv = httptest.NewTLSServer(stack.Handler(a))
	} else {
		srv = httptest.NewServer(stack.Handler(a))
	}
	t.Cleanup(srv.Close)
	return &Env{URL: srv.URL, Server: srv, Stack: stack, App: a, Clock: clock, Settings: s}
}

// CreateUser makes an active user directly through the account service.
func (e *Env) CreateUser(t testing.TB, username, password string, staff bool) store.User {
	t.Helper()
	u, err := e.Stack.Accounts.CreateUser(context.Background(), username, username+"@example.test", password, staff)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// Grant gives u the permissions directly (the store must keep permissions).
func (e *Env) Grant(t testing.TB, u store.User, perms ...string) {
	t.Helper()
	ps, ok := e.Stack.Store.(store.Permissions)
	if !ok {
		t.Fatalf("the store %T keeps no permissions", e.Stack.Store)
	}
	for _, p := range perms {
		if err := ps.GrantUserPerm(context.Background(), u.ID, p); err != nil {
			t.Fatalf("grant %s to %s: %v", p, u.Username, err)
		}
	}
}

// Client is a browser-like client of one Env.
type Client struct {
	t      testing.TB
	env    *Env
	HTTP   *http.Client
	Origin string // sent on POSTs; "" sends none
	Site   string // Sec-Fetch-Site on POSTs; "" sends none
	IP     string // X-Forwarded-For (only believed when the env trusts loopback proxies)
	Last   *Response
}

// Response is a read response.
type Response struct {
	*http.Response
	Body string
}

// Client returns a new browser-like client with an empty cookie jar.
func (e *Env) Client(t testing.TB) *Client {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if e.Server.TLS != nil {
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.Server.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}}
	}
	return &Client{t: t, env: e, HTTP: hc, Origin: e.URL, Site: "same-origin"}
}

// Do sends req and reads the whole body.
func (c *Client) Do(req *http.Request) *Response {
	c.t.Helper()
	if c.IP != "" {
		req.Header.Set("X-Forwarded-For", c.IP)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.Last = &Response{Response: resp, Body: string(b)}
	return c.Last
}

// Get fetches path.
func (c *Client) Get(path string) *Response {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.env.URL+path, nil)
	return c.Do(req)
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// Token returns the CSRF token of the last page fetched, or "".
func (c *Client) Token() string {
	if c.Last == nil {
		return ""
	}
	m := tokenRE.FindStringSubmatch(c.Last.Body)
	if m == nil {
		return ""
	}
	return m[1]
}

// Post submits a form like a browser would from a page of the same site: it GETs formPage
// first (when not empty) to pick up the CSRF token, adds it, and sends Origin/Sec-Fetch-Site.
func (c *Client) Post(formPage, path string, form url.Values) *Response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if formPage != "" {
		c.Get(formPage)
		if tok := c.Token(); tok != "" && form.Get("csrf_token") == "" {
			form.Set("csrf_token", tok)
		}
	}
	req, _ := http.NewRequest("POST", c.env.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.Origin != "" {
		req.Header.Set("Origin", c.Origin)
	}
	if c.Site != "" {
		req.Header.Set("Sec-Fetch-Site", c.Site)
	}
	return c.Do(req)
}

// Login logs in with a password (no second factor) and fails the test unless it redirects.
func (c *Client) Login(username, password string) *Response {
	c.t.Helper()
	r := c.Post("/accounts/login", "/accounts/login", url.Values{"username": {username}, "password": {password}})
	if r.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %q: status %d", username, r.StatusCode)
	}
	return r
}

// TOTP computes the 6-digit code of a base32 secret at a time.
func TOTP(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	code, err := hotp.GenerateCodeCustom(secret, uint64(at.Unix()/30), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

var secretRE = regexp.MustCompile(`<code id="secret">([A-Z2-7]+)</code>`)

// SecretFrom extracts the manual-entry TOTP secret from the 2FA enrollment page.
func SecretFrom(body string) string {
	m := secretRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// Path returns the path of an absolute Location (or the value unchanged).
func Path(loc string) string {
	if u, err := url.Parse(loc); err == nil && u.Host != "" {
		return u.RequestURI()
	}
	return loc
}
