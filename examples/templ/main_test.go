package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestTemplHTMXInChromium builds the example, runs it on SQLite, and drives it with Chromium:
// the guarded page sends a logged-out browser to the login page and the login brings it back;
// htmx runs under the nonce-only CSP; its post carries the CSRF token from hx-headers and
// appends the answer; a client without Fetch Metadata gets in with that header and not
// without it; and the form forged on another site is refused.
func TestTemplHTMXInChromium(t *testing.T) {
	browser := chromium(t)
	base := startExample(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	register(t, ctx, base, "alice")

	me := &tab{t: t, ctx: ctx}
	me.watchCSP()
	loginThroughGuard(me, base, "/", "alice")
	if h := me.text("h1"); h != "Hello, alice" {
		t.Fatalf("the guarded page says %q", h)
	}
	// The nonce let the script run: htmx is there. Each request's headers are kept as htmx
	// built them, to see the token hx-headers adds.
	if ok := get(me, "htmx loaded", chromedp.Evaluate[bool](`typeof htmx === "object" && htmx.version.startsWith("2.")`)); !ok {
		t.Fatal("htmx did not load: the script was blocked")
	}
	me.do("watch requests", chromedp.Evaluate[chromedp.Void](`document.body.addEventListener("htmx:configRequest", e => { window.sentToken = e.detail.headers["X-CSRF-Token"] })`))

	me.fill(map[string]string{"text": "buy milk"})
	me.do("add a note", chromedp.Click(chromedp.CSS(`form[hx-post="/notes"] button[type="submit"]`)))
	me.waitText("#notes", "buy milk")
	me.noCSPViolations()
	token := get(me, "the token htmx sent", chromedp.Evaluate[string](`window.sentToken`))
	if token == "" {
		t.Fatal("htmx sent no X-CSRF-Token header")
	}
	me.open(base + "/") // kept on the server, not only in the page
	if notes := me.text("#notes"); notes != "buy milk" {
		t.Fatalf("notes after reloading: %q", notes)
	}

	// Without Fetch Metadata (an older browser), the header hx-headers adds is what lets a
	// post in: the same post is refused without it, and answered with the fragment with it.
	form := "application/x-www-form-urlencoded"
	if status, body := postWithoutFetchMetadata(me, base+"/notes", form, "text=no+token", map[string]string{"HX-Request": "true"}); status != http.StatusForbidden {
		t.Fatalf("an htmx post without the header got %d: %s", status, body)
	}
	status, body := postWithoutFetchMetadata(me, base+"/notes", form, "text=with+token", map[string]string{"HX-Request": "true", "X-CSRF-Token": token})
	if status != http.StatusOK || body != "<li>with token</li>" {
		t.Fatalf("an htmx post with the header got %d: %q", status, body)
	}

	status, text := crossSitePost(me, base+"/notes", map[string]string{"text": "forged"})
	if status != http.StatusForbidden || !strings.Contains(text, "cross-site request forgery") {
		t.Fatalf("a cross-site post got %d: %q, want 403 from the CSRF protection", status, text)
	}
	me.open(base + "/")
	if notes := me.text("#notes"); notes != "buy milk\nwith token" {
		t.Fatalf("notes after the refused posts: %q", notes)
	}
}

// TestGeneratedCodeIsCurrent regenerates notes_templ.go with the templ version go.mod pins
// (its tool directive) and compares it with the committed file: CI does not regenerate, so a
// .templ edit without go generate would otherwise ship stale pages.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if out, err := exec.Command("go", "tool", "templ", "generate", "-check").CombinedOutput(); err != nil {
		t.Fatalf("the committed *_templ.go files are not what the .templ files generate (run go generate and commit): %v\n%s", err, out)
	}
}
