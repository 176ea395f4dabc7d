package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGinInChromium builds the example, runs it on SQLite, and drives it with Chromium: the
// guarded page sends a logged-out browser to the login page, the login brings it back, the
// note form posts with its CSRF token, and the same form forged on another site is refused.
func TestGinInChromium(t *testing.T) {
	browser := chromium(t)
	base := startExample(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	register(t, ctx, base, "alice")

	me := &tab{t: t, ctx: ctx}
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

	status, text := crossSitePost(me, base+"/notes", map[string]string{"text": "forged"})
	if status != http.StatusForbidden || !strings.Contains(text, "cross-site request forgery") {
		t.Fatalf("a cross-site post got %d: %q, want 403 from the CSRF protection", status, text)
	}
	me.open(base + "/")
	if notes := me.text("#notes"); notes != "buy milk" {
		t.Fatalf("notes after the forged post: %q", notes)
	}
}
