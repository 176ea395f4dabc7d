package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestGinInChromium builds the example, runs it on SQLite, and drives it with Chromium: the
// guarded page sends a logged-out browser to the login page, the login brings it back, the
// note form posts, a client without Fetch Metadata gets in with the form's CSRF token and
// not without it, and the same form forged on another site is refused.
func TestGinInChromium(t *testing.T) {
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
	me.fill(map[string]string{"text": "buy milk"})
	if status := me.submit(`form[action="/notes"] button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("posting a note: status %d", status)
	}
	if notes := me.text("#notes"); notes != "buy milk" {
		t.Fatalf("notes after posting: %q", notes)
	}
	me.noCSPViolations()

	// Without Fetch Metadata (an older browser), the form's token is what lets a post in.
	token := get(me, "token", chromedp.Value(chromedp.CSS(`form[action="/notes"] [name="csrf_token"]`)))
	form := "application/x-www-form-urlencoded"
	if status, body := postWithoutFetchMetadata(me, base+"/notes", form, "text=no+token", nil); status != http.StatusForbidden {
		t.Fatalf("a post without the token got %d: %s", status, body)
	}
	if status, body := postWithoutFetchMetadata(me, base+"/notes", form, "text=with+token&csrf_token="+token, nil); status != http.StatusSeeOther {
		t.Fatalf("a post with the form's token got %d: %s", status, body)
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
