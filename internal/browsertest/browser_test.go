package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeouts bound every browser interaction, so a hung Chromium fails the test instead of
// stalling CI until the global go test timeout.
const (
	stepTimeout    = 30 * time.Second
	browserTimeout = 9 * time.Minute
)

var (
	browserOnce   sync.Once
	browserCtx    context.Context
	browserErr    error
	browserCancel = func() {}
	browserSkip   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	browserCancel()
	os.Exit(code)
}

// chromiumPath finds the browser: RAMPART_TEST_CHROMIUM names it, else PATH is searched. The
// second result says whether a missing browser must fail (the variable was set) or skip.
func chromiumPath() (path string, required bool, err error) {
	if p := os.Getenv("RAMPART_TEST_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", true, fmt.Errorf("RAMPART_TEST_CHROMIUM=%q: %w", p, err)
		}
		return p, true, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, false, nil
		}
	}
	return "", false, errors.New("no chromium on PATH")
}

// browser returns the context of one headless Chromium shared by the package's tests (a
// start costs about a second; each test isolates its cookies with its own browser context).
func browser(t *testing.T) context.Context {
	t.Helper()
	browserOnce.Do(func() {
		path, required, err := chromiumPath()
		if err != nil {
			if required {
				browserErr = err
			} else {
				browserSkip = "browser tests skipped: " + err.Error() + " (install chromium or set RAMPART_TEST_CHROMIUM)"
			}
			return
		}
		dir, err := os.MkdirTemp("", "rampart-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.UserDataDir(dir),
			chromedp.WindowSize(1200, 900),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-default-apps", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
			chromedp.Flag("metrics-recording-only", true),
			chromedp.Flag("password-store", "basic"),
			chromedp.Flag("force-color-profile", "srgb"),
			chromedp.Flag("hide-scrollbars", true),
			// Hermetic: payload URLs name hosts on the internet; they must fail at once and
			// never leave the machine. Loopback (the app and the attacker origin) resolves.
			chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2, EXCLUDE localhost"),
		}
		root, cancelRoot := context.WithTimeout(context.Background(), browserTimeout)
		alloc, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		browserCancel = func() { cancelCtx(); cancelAlloc(); cancelRoot(); os.RemoveAll(dir) }
		if err := chromedp.Do(ctx); err != nil {
			browserErr = fmt.Errorf("start %s: %w", path, err)
			return
		}
		browserCtx = ctx
	})
	if browserSkip != "" {
		t.Skip(browserSkip)
	}
	if browserErr != nil {
		t.Fatalf("chromium: %v", browserErr)
	}
	return browserCtx
}

// tab is one page in its own browser context (its own cookie jar), like a separate browser
// profile: two tabs logged in as the same user are two sessions.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	return &tab{t: t, ctx: ctx}
}

// do runs actions with a deadline.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action with a value and a deadline.
func get[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open navigates and waits for the load event; it returns the document's status.
func (b *tab) open(url string) int64 {
	b.t.Helper()
	resp := get(b, "open "+url, chromedp.NavigateResponse(url))
	if resp == nil {
		b.t.Fatalf("open %s: no response", url)
	}
	return resp.Status
}

// fill types into form fields like a user (key events, not value assignment).
func (b *tab) fill(fields map[string]string) {
	b.t.Helper()
	for name, v := range fields {
		sel := chromedp.CSS(fmt.Sprintf(`main form [name=%q]`, name))
		b.do("wait for "+name, chromedp.WaitVisible(sel))
		if get(b, "value of "+name, chromedp.Value(sel)) != "" {
			b.do("clear "+name, chromedp.Clear(sel))
		}
		b.do("type into "+name, chromedp.SendKeys(sel, v))
	}
}

// submit clicks a button and waits for the page the form leads to (after redirects); it
// returns the final document's status and URL.
func (b *tab) submit(button string) (int64, string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		b.t.Fatalf("click %s: %v", button, err)
	}
	return resp.Status, resp.URL
}

// text returns the visible text of the first element matching a CSS selector.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return get(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// eval evaluates JavaScript in the page (awaiting promises).
func eval[T any](b *tab, js string) T {
	b.t.Helper()
	return get(b, "eval", chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// corporaDir finds the shared corpora: RAMPART_CORPORA, else ../../shared/corpora relative
// to this package (the repository's sibling directory in the team layout).
func corporaDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RAMPART_CORPORA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "corpora")
		if _, err := os.Stat(dir); err != nil {
			dir = filepath.Join("..", "..", "shared", "corpora")
		}
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("RAMPART_REQUIRE_CORPORA") == "1" {
			t.Fatalf("corpora not found at %s (set RAMPART_CORPORA): %v", dir, err)
		}
		t.Skipf("corpora not found at %s (set RAMPART_CORPORA to shared/corpora)", dir)
	}
	return dir
}

func chromedpLocation() chromedp.Action[string] { return chromedp.Location() }

func itoa(n int) string { return fmt.Sprint(n) }
