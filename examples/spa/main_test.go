package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestSPAInChromium builds the example, runs it on SQLite, and drives its single-page front
// end with Chromium: the notes API answers 401 to a logged-out browser; a wrong password
// shows the JSON login's error; the right one logs in; a note is posted through the API with
// the CSRF header and is there after a reload; a client without Fetch Metadata gets in with
// the header's token and not without it; the API posted from another site is refused; and
// logging out closes the API again.
func TestSPAInChromium(t *testing.T) {
	browser := chromium(t)
	base := startExample(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	register(t, ctx, base, "alice")

	me := &tab{t: t, ctx: ctx}
	me.watchCSP()
	me.open(base + "/")
	me.do("the login form", chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if status := notesStatus(me); status != http.StatusUnauthorized {
		t.Fatalf("logged out, the notes API answered %d, want 401", status)
	}

	me.fill(map[string]string{"username": "alice", "password": "not the password"})
	me.do("log in", chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)))
	me.waitText("#errors", "Please enter a correct username and password.")
	me.fill(map[string]string{"password": testPassword}) // the page emptied the password field
	me.do("log in", chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)))
	me.waitText("#hello", "Hello, alice")
	if errs := me.text("#errors"); errs != "" {
		t.Fatalf("errors shown after logging in: %q", errs)
	}

	me.fill(map[string]string{"text": "buy milk"})
	me.do("add a note", chromedp.Click(chromedp.CSS(`#note-form button[type="submit"]`)))
	me.waitText("#notes", "buy milk")
	me.noCSPViolations()
	me.open(base + "/") // kept on the server, not only in the page
	me.waitText("#notes", "buy milk")

	// Without Fetch Metadata (an older browser), the header's token is what lets a post in.
	token := get(me, "the page's token", chromedp.Evaluate[string](`csrfToken`))
	if token == "" {
		t.Fatal("the page has no CSRF token")
	}
	api := base + "/api/notes"
	jsonHeader := map[string]string{"Accept": "application/json"}
	if status, body := postWithoutFetchMetadata(me, api, "application/json", `{"text":"no token"}`, jsonHeader); status != http.StatusForbidden {
		t.Fatalf("an API post without the header got %d: %s", status, body)
	}
	jsonHeader["X-CSRF-Token"] = token
	if status, body := postWithoutFetchMetadata(me, api, "application/json", `{"text":"with token"}`, jsonHeader); status != http.StatusCreated || strings.TrimSpace(body) != `{"text":"with token"}` {
		t.Fatalf("an API post with the header got %d: %s", status, body)
	}

	status, text := crossSitePost(me, api, map[string]string{"text": "forged"})
	if status != http.StatusForbidden || !strings.Contains(text, "cross-site request forgery") {
		t.Fatalf("a cross-site post got %d: %q, want 403 from the CSRF protection", status, text)
	}
	me.open(base + "/")
	me.waitText("#notes", "with token")
	if notes := me.text("#notes"); notes != "buy milk\nwith token" {
		t.Fatalf("notes after the refused posts: %q", notes)
	}

	me.do("log out", chromedp.Click(chromedp.CSS("#logout")))
	me.do("the login form", chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if status := notesStatus(me); status != http.StatusUnauthorized {
		t.Fatalf("after logging out, the notes API answered %d, want 401", status)
	}
}

// notesStatus asks the notes API from the page, as its script would, and returns the status.
func notesStatus(b *tab) int {
	b.t.Helper()
	return get(b, "GET /api/notes", chromedp.Evaluate[int](
		`fetch("/api/notes", {headers: {Accept: "application/json"}}).then(r => r.status)`, chromedp.EvalAwaitPromise))
}
