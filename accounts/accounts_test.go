package accounts_test

import (
	"context"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

const testKey = "accounts-test-4f9c2b7e1d8a6035-rampart-secret-key-for-tests-xyz"

// site is an adopter's application: the default stack, the accounts package under a prefix,
// and pages of its own behind the guards.
type site struct {
	srv    *httptest.Server
	stack  *rampart.Stack
	acc    *accounts.Accounts
	now    *time.Time
	mu     sync.Mutex
	events []string
}

func (s *site) clock() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return *s.now }
func (s *site) advance(d time.Duration) {
	s.mu.Lock()
	*s.now = s.now.Add(d)
	s.mu.Unlock()
}

func newSite(t testing.TB, opts accounts.Options) *site {
	t.Helper()
	env := map[string]string{"RAMPART_SECRET_KEY": testKey, "RAMPART_INSECURE_DEV": "1", "RAMPART_ALLOWED_HOSTS": "127.0.0.1",
		"RAMPART_RATE": "1000000000/s"} // the benchmark sends millions of requests from one address
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	st := &site{now: &now}
	stack, err := rampart.New(context.Background(), s, rampart.Options{Store: memory.New(), Now: st.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	stack.Accounts.Hasher().Argon2.MemoryKiB = 64 // cheap hashes: these tests are about flows
	stack.Accounts.Hasher().Argon2.Time = 1
	opts.Now = st.clock
	hook := opts.OnEvent
	opts.OnEvent = func(r *http.Request, e store.Event) {
		st.mu.Lock()
		st.events = append(st.events, e.Kind)
		st.mu.Unlock()
		if hook != nil {
			hook(r, e)
		}
	}
	acc, err := accounts.New(stack, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	hello := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+accounts.User(r).Username) }
	mux.Handle("GET /private", acc.RequireLogin(http.HandlerFunc(hello)))
	mux.Handle("GET /staff", acc.RequireStaff(http.HandlerFunc(hello)))
	mux.Handle("GET /mfa", acc.RequireSecondFactor(http.HandlerFunc(hello)))
	mux.Handle("POST /danger", acc.RequireRecentAuth(http.HandlerFunc(hello)))
	who := template.Must(template.New("who").Funcs(accounts.FuncMap).Parse(`{{with currentUser .}}{{.Username}}{{else}}anonymous{{end}}`))
	mux.HandleFunc("GET /who", func(w http.ResponseWriter, r *http.Request) { _ = who.Execute(w, r) })
	// A login page of the application's own: it reads its form and calls Login.
	mux.HandleFunc("POST /my-login", func(w http.ResponseWriter, r *http.Request) {
		if acc.Login(w, r, r.PostFormValue("user"), r.PostFormValue("pass")) == accounts.LoginWrong {
			http.Error(w, "try again", http.StatusOK)
		}
	})
	st.srv = httptest.NewServer(stack.Handler(acc.Handler(mux)))
	t.Cleanup(st.srv.Close)
	st.stack, st.acc = stack, acc
	if _, err := stack.Accounts.CreateUser(context.Background(), "ann", "ann@example.test", "correct horse battery staple 9", false); err != nil {
		t.Fatal(err)
	}
	return st
}

type browser struct {
	t    *testing.T
	s    *site
	http *http.Client
}

func (s *site) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, s: s, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.s.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.s.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i]) // a browser without Fetch Metadata
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

// TestMountedUnderPrefix: an adopter mounts the whole account system under its own prefix;
// the pages' forms and redirects follow it, and its guards and custom login page work.
func TestMountedUnderPrefix(t *testing.T) {
	s := newSite(t, accounts.Options{Prefix: "/auth"})
	b := s.browser(t)
	resp, _ := b.do("GET", "/private", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/auth/login?next=%2Fprivate" {
		t.Fatalf("anonymous /private: %d %q", resp.StatusCode, loc)
	}
	resp, body := b.do("GET", "/auth/login?next=/private", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/auth/login?next=%2fprivate"`) {
		t.Fatalf("login page: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := b.do("GET", "/accounts/login", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the default prefix still answers: %d", resp.StatusCode)
	}
	resp, _ = b.do("POST", "/auth/login?next=/private", url.Values{"username": {"ann"}, "password": {"correct horse battery staple 9"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/private" {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := b.do("GET", "/private", nil); resp.StatusCode != http.StatusOK || body != "hello ann" {
		t.Fatalf("/private after login: %d %q", resp.StatusCode, body)
	}
	if _, body := b.do("GET", "/who", nil); body != "ann" {
		t.Fatalf("currentUser in a template: %q", body)
	}
	if resp, _ := b.do("GET", "/staff", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("/staff for a non-staff user: %d", resp.StatusCode)
	}
	// No second factor in this login: sent to enrol.
	if resp, _ := b.do("GET", "/mfa", nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/2fa?next=") {
		t.Fatalf("/mfa without a second factor: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := b.do("GET", "/mfa", nil, "Accept", "application/json"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Two-factor") {
		t.Fatalf("/mfa as JSON: %d %s", resp.StatusCode, body)
	}
	// Recent authentication: fresh after login, stale ten minutes later.
	if resp, _ := b.do("POST", "/danger", url.Values{}); resp.StatusCode != http.StatusOK {
		t.Fatalf("/danger right after login: %d", resp.StatusCode)
	}
	s.advance(accounts.DefaultRecentAuth + time.Second)
	if resp, _ := b.do("POST", "/danger", url.Values{}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/auth/confirm?next=%2Fdanger" {
		t.Fatalf("/danger with a stale login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = b.do("POST", "/auth/confirm?next=/danger", url.Values{"password": {"correct horse battery staple 9"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/danger" {
		t.Fatalf("confirm: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := b.do("POST", "/danger", url.Values{}); resp.StatusCode != http.StatusOK {
		t.Fatalf("/danger after confirming: %d", resp.StatusCode)
	}
	// JSON clients get 401 instead of the login redirect.
	if resp, _ := s.browser(t).do("GET", "/private", nil, "Accept", "application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous JSON /private: %d", resp.StatusCode)
	}
}

// TestCustomLoginPage: an application's own login form gets every step through Login: a
// wrong password is left to the page, counted by the lockout and reported to OnEvent; the
// right one ends in the session login and the checked next destination; a locked account is
// answered 429 by Login itself.
func TestCustomLoginPage(t *testing.T) {
	s := newSite(t, accounts.Options{})
	b := s.browser(t)
	resp, body := b.do("POST", "/my-login?next=/private", url.Values{"user": {"ann"}, "pass": {"wrong"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "try again") {
		t.Fatalf("wrong password: %d %q", resp.StatusCode, body)
	}
	resp, _ = b.do("POST", "/my-login?next=https://evil.example/", url.Values{"user": {"ann"}, "pass": {"correct horse battery staple 9"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("right password with an off-site next: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := b.do("GET", "/private", nil); resp.StatusCode != http.StatusOK || body != "hello ann" {
		t.Fatalf("/private: %d %q", resp.StatusCode, body)
	}
	other := s.browser(t)
	for range 5 {
		other.do("POST", "/my-login", url.Values{"user": {"ann"}, "pass": {"wrong"}})
	}
	if resp, _ := other.do("POST", "/my-login", url.Values{"user": {"ann"}, "pass": {"correct horse battery staple 9"}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right password from a locked address pair: %d, want 429", resp.StatusCode)
	}
	s.mu.Lock()
	got := strings.Join(s.events, " ")
	s.mu.Unlock()
	for _, want := range []string{audit.KindLoginFailure, audit.KindLoginSuccess, audit.KindLockout} {
		if !strings.Contains(got, want) {
			t.Fatalf("OnEvent saw %q, missing %q", got, want)
		}
	}
}

// TestTemplatesOverride: an application replaces one page (or the layout) by file name; the
// others keep the embedded defaults. A broken override is refused at New.
func TestTemplatesOverride(t *testing.T) {
	s := newSite(t, accounts.Options{Templates: fstest.MapFS{
		"login.html": {Data: []byte(`{{define "content"}}<h1 id="custom">Sign in to Example</h1><form method="post" action="{{.Prefix}}/login">{{.CSRFField}}</form>{{end}}`)},
	}})
	b := s.browser(t)
	if _, body := b.do("GET", "/accounts/login", nil); !strings.Contains(body, `<h1 id="custom">Sign in to Example</h1>`) || !strings.Contains(body, `name="csrf_token"`) {
		t.Fatalf("overridden login page:\n%s", body)
	}
	if _, body := b.do("GET", "/accounts/register", nil); !strings.Contains(body, `name="password2"`) {
		t.Fatalf("default register page:\n%s", body)
	}
	_, err := accounts.New(s.stack, accounts.Options{Templates: fstest.MapFS{"login.html": {Data: []byte(`{{define "content"}}{{.Nope`)}}})
	if err == nil || !strings.Contains(err.Error(), "login.html") {
		t.Fatalf("broken template: %v", err)
	}
	if _, err := accounts.New(s.stack, accounts.Options{Prefix: "accounts"}); err == nil {
		t.Fatal("a prefix without a leading slash was accepted")
	}
}

// normalise drops what differs between any two responses: CSRF tokens and CSP nonces.
var (
	tokenRE = regexp.MustCompile(`value="[A-Za-z0-9]{64}"|content="[A-Za-z0-9]{64}"`)
	nonceRE = regexp.MustCompile(`nonce="[^"]*"`)
)

func normalise(s string) string {
	return nonceRE.ReplaceAllString(tokenRE.ReplaceAllString(s, "TOKEN"), "NONCE")
}

// TestRegistrationWithoutEnumeration: with VerifyMandatory, registering a taken e-mail
// address and a new one give byte-identical answers apart from tokens and nonces; the owner
// of the taken address is mailed instead; the new account stays inactive until its link is
// confirmed by a POST (a GET only shows the form), and the link works once.
func TestRegistrationWithoutEnumeration(t *testing.T) {
	s := newSite(t, accounts.Options{EmailVerification: accounts.VerifyMandatory})
	pw := "another long passphrase 42"
	register := func(username, email string) (int, string) {
		resp, body := s.browser(t).do("POST", "/accounts/register", url.Values{
			"username": {username}, "email": {email}, "password1": {pw}, "password2": {pw}})
		return resp.StatusCode, body
	}
	codeTaken, taken := register("newcomer", "ann@example.test")
	codeFresh, fresh := register("newcomer2", "fresh@example.test")
	taken = strings.ReplaceAll(taken, "ann@example.test", "ADDRESS")
	fresh = strings.ReplaceAll(fresh, "fresh@example.test", "ADDRESS")
	if codeTaken != http.StatusOK || codeFresh != http.StatusOK || normalise(taken) != normalise(fresh) || !strings.Contains(fresh, `id="register-done"`) {
		t.Fatalf("taken and fresh addresses answered differently:\n%d %s\n---\n%d %s", codeTaken, taken, codeFresh, fresh)
	}
	msgs := s.stack.Outbox.Messages()
	if len(msgs) != 2 || msgs[0].To != "ann@example.test" || !strings.Contains(msgs[0].Subject, "tried to register") ||
		msgs[1].To != "fresh@example.test" || !strings.Contains(msgs[1].Body, "/accounts/confirm-email/") {
		t.Fatalf("mail: %+v", msgs)
	}
	// A taken username is named.
	if code, body := register("ann", "other@example.test"); code != http.StatusOK || !strings.Contains(body, "A user with that username already exists.") {
		t.Fatalf("taken username: %d", code)
	}
	// Not active before confirming: the password does not log in.
	b := s.browser(t)
	if resp, _ := b.do("POST", "/accounts/login", url.Values{"username": {"newcomer2"}, "password": {pw}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("login before confirming: %d, want the form again", resp.StatusCode)
	}
	link := regexp.MustCompile(`/accounts/confirm-email/\S+`).FindString(msgs[1].Body)
	if resp, body := b.do("GET", link, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="confirm-email"`) {
		t.Fatalf("confirmation page: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/accounts/login", url.Values{"username": {"newcomer2"}, "password": {pw}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("a GET of the link activated the account: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", link, url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirming: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/accounts/login", url.Values{"username": {"newcomer2"}, "password": {pw}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after confirming: %d", resp.StatusCode)
	}
	if _, body := b.do("GET", link, nil); !strings.Contains(body, `id="confirm-invalid"`) {
		t.Fatal("the link worked twice")
	}
	for _, bad := range []string{"/accounts/confirm-email/x", link + "x", strings.Replace(link, "confirm-email/", "confirm-email/A", 1)} {
		if _, body := b.do("GET", bad, nil); !strings.Contains(body, `id="confirm-invalid"`) {
			t.Fatalf("tampered link %q accepted", bad)
		}
	}
	// Expired links are refused.
	register("late", "late@example.test")
	late := regexp.MustCompile(`/accounts/confirm-email/\S+`).FindString(s.stack.Outbox.Messages()[2].Body)
	s.advance(accounts.DefaultConfirmMaxAge + time.Second)
	if _, body := s.browser(t).do("GET", late, nil); !strings.Contains(body, `id="confirm-invalid"`) {
		t.Fatal("an expired link was accepted")
	}
}

// TestJSONAnswers: a client that asks for JSON (an SPA, htmx) gets the same answers as data:
// errors of a wrong login, {"redirect": ...} instead of a 303, and a page's data.
func TestJSONAnswers(t *testing.T) {
	s := newSite(t, accounts.Options{})
	b := s.browser(t)
	js := []string{"Accept", "application/json"}
	resp, body := b.do("POST", "/accounts/login", url.Values{"username": {"ann"}, "password": {"wrong"}}, js...)
	var page struct {
		Errors   []string `json:"errors"`
		Redirect string   `json:"redirect"`
		Token    string   `json:"csrf_token"`
		User     string   `json:"user"`
		Data     []struct {
			Current bool
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &page); resp.StatusCode != http.StatusOK || err != nil || len(page.Errors) != 1 || !strings.Contains(page.Errors[0], "correct username and password") {
		t.Fatalf("wrong login as JSON: %d %s (%v)", resp.StatusCode, body, err)
	}
	resp, body = b.do("POST", "/accounts/login?next=/private", url.Values{"username": {"ann"}, "password": {"correct horse battery staple 9"}}, js...)
	page.Errors = nil
	if err := json.Unmarshal([]byte(body), &page); resp.StatusCode != http.StatusOK || err != nil || page.Redirect != "/private" || len(page.Token) != 64 {
		t.Fatalf("login as JSON: %d %s", resp.StatusCode, body)
	}
	// The token the login answered with is the session's new one: a POST without Fetch
	// Metadata (so the token decides) is accepted with it.
	if resp, _ := b.do("POST", "/danger", url.Values{"csrf_token": {page.Token}}, "Sec-Fetch-Site", "", "Origin", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST with the login's new token: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/danger", url.Values{"csrf_token": {strings.Repeat("a", 64)}}, "Sec-Fetch-Site", "", "Origin", ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with a made-up token: %d, want 403", resp.StatusCode)
	}
	resp, body = b.do("GET", "/accounts/sessions", nil, js...)
	if err := json.Unmarshal([]byte(body), &page); resp.StatusCode != http.StatusOK || err != nil || page.User != "ann" || len(page.Data) != 1 || !page.Data[0].Current {
		t.Fatalf("sessions as JSON: %d %s", resp.StatusCode, body)
	}
}

// TestForcedEnrolment: with RequireTwoFactor, a covered user without a device reaches only
// the account routes until two-factor is on; others are not held.
func TestForcedEnrolment(t *testing.T) {
	for _, tc := range []struct {
		policy   accounts.TwoFactorPolicy
		held     bool
		annStaff bool
	}{
		{accounts.TwoFactorOptional, false, false},
		{accounts.TwoFactorStaff, false, false},
		{accounts.TwoFactorStaff, true, true},
		{accounts.TwoFactorEveryone, true, false},
	} {
		s := newSite(t, accounts.Options{RequireTwoFactor: tc.policy})
		if tc.annStaff {
			u, _ := s.stack.Store.UserByUsername(context.Background(), "ann")
			u.IsStaff = true
			if err := s.stack.Store.UpdateUser(context.Background(), u); err != nil {
				t.Fatal(err)
			}
		}
		b := s.browser(t)
		b.do("POST", "/accounts/login", url.Values{"username": {"ann"}, "password": {"correct horse battery staple 9"}})
		resp, _ := b.do("GET", "/private", nil)
		if held := resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/accounts/2fa"; held != tc.held {
			t.Fatalf("policy %d, staff %v: /private answered %d %q; held=%v, want %v", tc.policy, tc.annStaff, resp.StatusCode, resp.Header.Get("Location"), held, tc.held)
		}
		if resp, _ := b.do("GET", "/accounts/2fa", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("policy %d: the enrolment page answered %d", tc.policy, resp.StatusCode)
		}
	}
}

func TestFuncMap(t *testing.T) {
	tmpl := template.Must(template.New("p").Funcs(accounts.FuncMap).Parse(`{{with currentUser .}}{{.Username}}{{else}}anonymous{{end}}`))
	var buf strings.Builder
	if err := tmpl.Execute(&buf, httptest.NewRequest("GET", "/", nil)); err != nil || buf.String() != "anonymous" {
		t.Fatalf("anonymous: %q %v", buf.String(), err)
	}
}
