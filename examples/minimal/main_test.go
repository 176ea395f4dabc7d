package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TestMinimalInChromium builds this example, runs it as a real server process on SQLite, and
// drives it with Chromium as a user would: register, turn on two-factor, log out, log in with
// the password and a TOTP code, log in a second browser with a backup code, be asked for the
// password again once the login is no longer recent (sudo mode), change the password, and see
// the second browser's session gone.
func TestMinimalInChromium(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "minimal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	srv := exec.Command(bin)
	srv.Env = append(os.Environ(),
		"RAMPART_INSECURE_DEV=1",
		"RAMPART_SECRET_KEY=minimal-example-test-key-0b7f3c9e2a41d856-not-for-production",
		"RAMPART_DATABASE_URL=sqlite://"+filepath.Join(dir, "minimal.db"),
		"RAMPART_ADDR="+addr,
		"RAMPART_ALLOWED_HOSTS=127.0.0.1",
		"RAMPART_RECENT_AUTH=3s", // so the test reaches the sudo prompt in seconds
	)
	srv.Dir = dir
	logf, _ := os.Create(filepath.Join(dir, "server.log"))
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Logf("server log:\n%s", b)
		}
	})
	base := "http://" + addr
	waitUp(t, base)

	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	const pw, newPW = "correct horse battery staple 9", "a different long passphrase 7"
	me := &tab{t: t, ctx: ctx}
	me.open(base + "/accounts/register")
	me.fill(map[string]string{"username": "alice", "email": "alice@example.test", "password1": pw, "password2": pw})
	me.submit(`form[action$="/register"] button[type="submit"]`)
	if text := me.text("body"); !strings.Contains(text, "Hello, alice") {
		t.Fatalf("after registering: %q", text)
	}
	me.open(base + "/accounts/2fa")
	secret := me.text("#secret")
	me.fill(map[string]string{"code": code(t, secret, time.Now())})
	me.submit(`form[action$="/2fa"] button[type="submit"]`)
	backup := strings.TrimSpace(me.text("#backup-codes li"))
	me.submit("#logout")
	me.fill(map[string]string{"username": "alice", "password": pw})
	me.submit(`form[action*="/login"] button[type="submit"]`)
	// The second step takes the next code: the enrolment's is spent (replay refused).
	me.fill(map[string]string{"code": code(t, secret, time.Now().Add(30*time.Second))})
	me.submit(`form[action*="/login/2fa"] button[type="submit"]`)
	if text := me.text("body"); !strings.Contains(text, "Hello, alice") {
		t.Fatalf("after the second step: %q", text)
	}

	// A second browser (its own cookie jar), logged in with a backup code.
	otherCtx, cancelOther := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelOther()
	if err := chromedp.Do(otherCtx); err != nil { // the tab lives as long as otherCtx, not one step
		t.Fatalf("second browser: %v", err)
	}
	other := &tab{t: t, ctx: otherCtx}
	other.open(base + "/accounts/login")
	other.fill(map[string]string{"username": "alice", "password": pw})
	other.submit(`form[action*="/login"] button[type="submit"]`)
	other.fill(map[string]string{"code": backup})
	other.submit(`form[action*="/login/2fa"] button[type="submit"]`)
	if text := other.text("body"); !strings.Contains(text, "Hello, alice") {
		t.Fatalf("second browser: %q", text)
	}

	// Sudo mode: once the login is older than RAMPART_RECENT_AUTH, the vault asks again. The
	// server is a real process with a real clock: poll it, within a deadline.
	deadline := time.Now().Add(20 * time.Second)
	for {
		me.open(base + "/vault")
		if loc := me.location(); strings.Contains(loc, "/accounts/confirm") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the vault never asked for the password again")
		}
		time.Sleep(500 * time.Millisecond)
	}
	me.fill(map[string]string{"password": pw})
	me.submit(`#confirm-password button[type="submit"]`)
	if text := me.text("body"); !strings.Contains(text, "The vault is open.") {
		t.Fatalf("after confirming: %q", text)
	}

	me.open(base + "/accounts/password")
	me.fill(map[string]string{"old_password": pw, "new_password1": newPW, "new_password2": newPW})
	me.submit(`form[action$="/password"] button[type="submit"]`)
	if text := me.text("body"); !strings.Contains(text, "Hello, alice") {
		t.Fatalf("after changing the password: %q", text)
	}
	other.open(base + "/")
	if loc := other.location(); !strings.Contains(loc, "/accounts/login") {
		t.Fatalf("the other browser after the password change is at %s, want the login page", loc)
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

// submit clicks a button and waits for the page it leads to.
func (b *tab) submit(button string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		b.t.Fatalf("click %s: %v", button, err)
	}
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
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
