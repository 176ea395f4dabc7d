package browsertest

import (
	"bytes"
	"context"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/rampart-go/rampart/internal/apptest"
)

// screenshotDir is docs/screenshots at the repository root.
var screenshotDir = filepath.Join("..", "..", "docs", "screenshots")

// TestScreenshots renders the main pages at 1200x900 and checks the stylesheet applied under
// the strict CSP. It writes full-page PNGs to docs/screenshots when RAMPART_SCREENSHOTS=1 or
// when a file is missing, so ordinary runs leave the committed images alone.
func TestScreenshots(t *testing.T) {
	browser(t) // skip (or fail) before any setup when there is no Chromium
	env := apptest.New(t, apptest.Options{})
	env.Grant(t, env.CreateUser(t, "ada", alicePassword, true), "security.view", "security.change")
	env.CreateUser(t, "bob", alicePassword, false)
	refresh := os.Getenv("RAMPART_SCREENSHOTS") == "1"
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}

	// Some history for the sessions and security pages: ada also logged in elsewhere, bob
	// posted, and someone guessed passwords for bob.
	other := env.Client(t)
	other.Login("ada", alicePassword)
	bob := env.Client(t)
	bob.Login("bob", alicePassword)
	bob.Post("/comments", "/comments", url.Values{"body": {`Sanitised HTML stays readable: <b>bold</b>, <i>italic</i>, <a href="https://example.com/">a link</a>. <script>alert(1)</script>`}})
	guesser := env.Client(t)
	for range 6 {
		guesser.Post("/accounts/login", "/accounts/login", url.Values{"username": {"bob"}, "password": {"guess"}})
	}

	b := newTab(t)
	b.do("viewport", chromedp.EmulateViewport(1200, 900))
	shot := func(name, path string) {
		t.Helper()
		if st := b.open(env.URL + path); st != 200 {
			t.Fatalf("%s: status %d", path, st)
		}
		// The header's dark background comes from /static/app.css: the stylesheet loaded
		// under the CSP (style-src 'self').
		if bg := eval[string](b, `getComputedStyle(document.querySelector("header.top")).backgroundColor`); bg != "rgb(13, 27, 42)" {
			t.Fatalf("%s: header background %q, stylesheet not applied", path, bg)
		}
		file := filepath.Join(screenshotDir, name+".png")
		if _, err := os.Stat(file); err == nil && !refresh {
			return
		}
		img := get(b, "screenshot "+path, chromedp.FullScreenshot(100))
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil || cfg.Width != 1200 || cfg.Height < 600 {
			t.Fatalf("%s: screenshot %dx%d: %v", path, cfg.Width, cfg.Height, err)
		}
		if err := os.WriteFile(file, img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%dx%d, %d KB)", file, cfg.Width, cfg.Height, len(img)/1024)
	}

	shot("home", "/")
	shot("register", "/accounts/register")
	shot("login", "/accounts/login")
	if p := b.login(env.URL, "ada", alicePassword); p != "/" {
		t.Fatalf("login ended on %s", p)
	}
	b.open(env.URL + "/comments")
	b.fill(map[string]string{"body": "Posted from Chromium. <i>Formatting</i> works, <img src=x onerror=alert(1)> does not run."})
	b.submit(`main form button[type=submit]`)
	shot("home-logged-in", "/")
	shot("comments", "/comments")
	shot("twofactor-enrol", "/accounts/2fa")
	if w := eval[int](b, `document.querySelector("#qr").naturalWidth`); w == 0 {
		t.Fatal("QR code image not rendered")
	}
	shot("sessions", "/accounts/sessions")
	// The attack chart (inline SVG) draws under the strict CSP: its colours are SVG
	// attributes, not styles, and the page breaks no directive.
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = []; document.addEventListener("securitypolicyviolation", e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`}); err != nil {
		t.Fatal(err)
	}
	shot("admin-security", "/admin/security")
	if n := eval[int](b, `document.querySelectorAll("svg.attacks rect").length`); n == 0 {
		t.Fatal("attack chart has no bars")
	}
	if fill := eval[string](b, `getComputedStyle(document.querySelector("svg.attacks rect")).fill`); fill != "rgb(247, 144, 9)" {
		t.Fatalf("attack chart bar fill %q, want the failed-login orange", fill)
	}
	if h := eval[float64](b, `document.querySelector("svg.attacks").getBoundingClientRect().height`); h < 100 {
		t.Fatalf("attack chart %v px high", h)
	}
	if v := eval[[]string](b, `window.cspViolations`); len(v) != 0 {
		t.Fatalf("CSP violations on /admin/security: %q", v)
	}
}
