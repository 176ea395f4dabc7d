package main

// The browser harness shared by the framework examples: the same file in each example's
// module (each is its own module, so that a copied example keeps its test).

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

const testPassword = "correct horse battery staple 9"

// startExample builds this example, runs it as a real server process on SQLite on a free
// port, and returns its base URL. The process is killed when the test ends; its log is
// printed when the test failed.
func startExample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "example")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	srv := exec.Command(bin)
	srv.Env = append(os.Environ(),
		"RAMPART_INSECURE_DEV=1",
		"RAMPART_SECRET_KEY=framework-example-test-key-5d1e8a0c7b3f4962-not-for-production",
		"RAMPART_DATABASE_URL=sqlite://"+filepath.Join(dir, "example.db"),
		"RAMPART_ADDR="+addr,
		"RAMPART_ALLOWED_HOSTS=127.0.0.1",
	)
	srv.Dir = dir
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Logf("server log:\n%s", b)
		}
	})
	base := "http://" + addr
	waitUp(t, base)
	return base
}

// register creates an account through the accounts pages, in a browser of its own (its own
// cookie jar), so the test's main browser starts logged out.
func register(t *testing.T, browser context.Context, base, username string) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("registration browser: %v", err)
	}
	b := &tab{t: t, ctx: ctx}
	b.open(base + "/accounts/register")
	b.fill(map[string]string{"username": username, "email": username + "@example.test", "password1": testPassword, "password2": testPassword})
	if status := b.submit(`form[action$="/register"] button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("registering %s: status %d", username, status)
	}
}

// loginThroughGuard opens the guarded page logged out, checks that the guard sends the
// browser to the login page with the page as next, logs in there and checks that the
// browser is back on the guarded page.
//
//lint:ignore U1000 the harness is one file for all examples; the single-page app logs in from its own page.
func loginThroughGuard(b *tab, base, guarded, username string) {
	b.t.Helper()
	b.open(base + guarded)
	if loc := b.location(); !strings.HasPrefix(loc, base+"/accounts/login?next=") {
		b.t.Fatalf("logged out, %s led to %s, want the login page", guarded, loc)
	}
	b.fill(map[string]string{"username": username, "password": testPassword})
	b.submit(`form[action*="/login"] button[type="submit"]`)
	if loc := b.location(); loc != base+guarded {
		b.t.Fatalf("after logging in the browser is at %s, want %s", loc, base+guarded)
	}
}

// crossSitePost has the user's browser post fields to target from a page on another site
// (http://localhost:port, while the example is http://127.0.0.1:port), as a forged form on a
// hostile page would, and returns the status and the text of the page it led to.
func crossSitePost(b *tab, target string, fields map[string]string) (int, string) {
	b.t.Helper()
	var inputs strings.Builder
	for k, v := range fields {
		fmt.Fprintf(&inputs, `<input type="hidden" name=%q value=%q>`, k, v)
	}
	page := `<!doctype html><title>Win a prize</title><form method="post" action="` + target + `">` +
		inputs.String() + `<button id="go" type="submit">Claim</button></form>`
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprint(w, page)
	}))
	defer evil.Close()
	_, port, _ := net.SplitHostPort(evil.Listener.Addr().String())
	b.open("http://localhost:" + port + "/")
	status := b.submit("#go")
	if loc := b.location(); loc != target {
		b.t.Fatalf("the forged form led to %s, want %s", loc, target)
	}
	return status, b.text("body")
}

// postWithoutFetchMetadata posts body to url with the tab's cookies from a plain HTTP client,
// with no Origin and no Sec-Fetch-Site header: as an older browser would, which leaves the
// CSRF token (form field or header) as the only proof that the request is the site's own.
// It returns the status and body of the answer.
func postWithoutFetchMetadata(b *tab, url, contentType, body string, header map[string]string) (int, string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	jar, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		b.t.Fatalf("cookies: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, c := range jar.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		b.t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("POST %s: %v", url, err)
	}
	return resp.StatusCode, string(got)
}

// watchCSP has every page the tab loads from now on record the Content Security Policy
// violations it sees (a DevTools script, itself exempt from the policy), for noCSPViolations.
func (b *tab) watchCSP() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	src := `window.cspViolations = []; document.addEventListener("securitypolicyviolation", e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: src}); err != nil {
		b.t.Fatalf("watching CSP violations: %v", err)
	}
}

// noCSPViolations fails the test if the current page broke its policy (a script without the
// nonce, an inline style), after watchCSP.
func (b *tab) noCSPViolations() {
	b.t.Helper()
	if v := get(b, "CSP violations", chromedp.Evaluate[[]string](`window.cspViolations`)); len(v) != 0 {
		b.t.Fatalf("the page at %s broke its Content Security Policy: %q", b.location(), v)
	}
}

// tab is one browser tab with its own cookie jar.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func get[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *tab) open(url string) { b.t.Helper(); get(b, "open "+url, chromedp.NavigateResponse(url)) }

func (b *tab) location() string { b.t.Helper(); return get(b, "location", chromedp.Location()) }

func (b *tab) text(sel string) string {
	b.t.Helper()
	return get(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// fill types into the page's fields like a user.
func (b *tab) fill(fields map[string]string) {
	b.t.Helper()
	for name, v := range fields {
		sel := chromedp.CSS(fmt.Sprintf(`form [name=%q]`, name))
		b.do("wait for "+name, chromedp.WaitVisible(sel))
		b.do("type into "+name, chromedp.SendKeys(sel, v))
	}
}

// submit clicks a button, waits for the page it leads to and returns that page's status.
func (b *tab) submit(button string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		b.t.Fatalf("click %s: %v", button, err)
	}
	if resp == nil {
		b.t.Fatalf("click %s: no page", button)
	}
	return int(resp.Status)
}

// waitText polls the element's text until it contains want: the page changes it from a
// script (htmx, the single-page app), so there is no navigation to wait for.
//
//lint:ignore U1000 the harness is one file for all examples; the plain form examples navigate instead.
func (b *tab) waitText(sel, want string) string {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil && strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("text of %s is %q (err %v), want it to contain %q", sel, got, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitUp polls the new server until it answers (a real process: there is no event to wait on).
func waitUp(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the example did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// chromium starts a headless Chromium for the test, or skips when there is none (CI sets
// RAMPART_TEST_CHROMIUM, and then a missing browser fails the test).
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("RAMPART_TEST_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Skip("browser test skipped: no chromium on PATH (set RAMPART_TEST_CHROMIUM)")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("RAMPART_TEST_CHROMIUM=%q: %v", path, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}
