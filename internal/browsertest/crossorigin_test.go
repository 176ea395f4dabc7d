package browsertest

import (
	"context"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/internal/comments"
)

// attackerServer serves pages from a second loopback origin: 127.0.0.2 (another site for the
// browser: a different host, so SameSite cookies and Sec-Fetch-Site treat it as cross-site),
// or "localhost" on another port where 127.0.0.2 cannot be bound.
func attackerServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	host := "127.0.0.2"
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		host = "localhost"
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return fmt.Sprintf("http://%s:%d", host, ln.Addr().(*net.TCPAddr).Port)
}

var attackPage = template.Must(template.New("attack").Parse(`<!doctype html>
<title>free prizes</title>
<form id="f" method="post" action="{{.Action}}">
<input name="body" value="pwned by a cross-origin form">
<input name="csrf_token" value="forged-token-from-attacker">
</form>
<script>document.getElementById("f").submit()</script>`))

// postLog records the browser's POSTs to the app and the statuses they got.
type postLog struct {
	mu     sync.Mutex
	prefix string
	method map[network.RequestID]string
	url    map[network.RequestID]string
	status map[network.RequestID]int64
}

func watchPosts(t *testing.T, b *tab, prefix string) *postLog {
	t.Helper()
	l := &postLog{prefix: prefix, method: map[network.RequestID]string{}, url: map[network.RequestID]string{}, status: map[network.RequestID]int64{}}
	err := chromedp.Listen(b.ctx, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if strings.HasPrefix(ev.Request.URL, prefix) {
				l.method[ev.RequestID] = ev.Request.Method
				l.url[ev.RequestID] = strings.TrimPrefix(ev.Request.URL, prefix)
			}
		case *network.EventResponseReceived:
			if _, ok := l.method[ev.RequestID]; ok {
				l.status[ev.RequestID] = ev.Response.Status
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// posts returns "path status" for every POST the app answered.
func (l *postLog) posts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for id, m := range l.method {
		if m != http.MethodPost {
			continue
		}
		if s, ok := l.status[id]; ok {
			out = append(out, fmt.Sprintf("%s %d", l.url[id], s))
		} else {
			out = append(out, l.url[id]+" no-response")
		}
	}
	return out
}

// csrfRejects counts the CSRF refusals the audit trail holds, summaries by the number they
// stand for (audit aggregates refusals past the first few per client and window) and the
// current window's counts included (audit.Logger.Recent lists them before they are stored).
func csrfRejects(t *testing.T, env *apptest.Env) int64 {
	t.Helper()
	events, err := env.Stack.Audit.Recent(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range events {
		if e.Kind == audit.KindCSRFReject {
			n += audit.Count(e)
		}
	}
	return n
}

func commentCount(t *testing.T, env *apptest.Env) int {
	t.Helper()
	c, ok := comments.For(env.Stack.Store)
	if !ok {
		t.Fatal("store keeps no comments")
	}
	list, err := c.RecentComments(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestCrossOriginAttacksRefused logs a victim in, then sends the same browser to pages of
// another origin that auto-submit forms to /comments and /accounts/logout and call fetch()
// with credentials. Every forged POST must reach the app and be refused with 403 by the CSRF
// layer (one audit event each), no comment may appear, the victim stays logged in, and the
// other origin reads nothing. The victim's own form posts still work.
func TestCrossOriginAttacksRefused(t *testing.T) {
	browser(t) // skip (or fail) before any setup when there is no Chromium
	env := apptest.New(t, apptest.Options{})
	env.CreateUser(t, "victim", alicePassword, false)
	evil := attackerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/comment":
			_ = attackPage.Execute(w, struct{ Action string }{env.URL + "/comments"})
		case "/logout":
			_ = attackPage.Execute(w, struct{ Action string }{env.URL + "/accounts/logout"})
		default:
			fmt.Fprint(w, "<!doctype html><title>blank</title><p>nothing to see</p>")
		}
	}))
	t.Logf("app origin %s, attacker origin %s", env.URL, evil)

	v := newTab(t)
	if p := v.login(env.URL, "victim", alicePassword); p != "/" {
		t.Fatalf("victim login ended on %s", p)
	}
	log := watchPosts(t, v, env.URL)

	forms := []struct{ page, target string }{{"/comment", "/comments"}, {"/logout", "/accounts/logout"}}
	for _, f := range forms {
		ev := get(v, "cross-origin form "+f.page, chromedp.WaitEvent(network.ResponseReceived,
			func(e network.EventResponseReceived) bool {
				return e.Type == network.ResourceTypeDocument && e.Response.URL == env.URL+f.target
			}, chromedp.Navigate(evil+f.page)))
		if ev.Response.Status != http.StatusForbidden {
			t.Errorf("cross-origin form to %s: status %d, want 403", f.target, ev.Response.Status)
		}
	}

	v.open(evil + "/blank")
	got := eval[map[string]string](v, fmt.Sprintf(`(async () => {
		const app = %q, out = {};
		const form = () => new URLSearchParams({body: "pwned by fetch", csrf_token: "forged"});
		try { const r = await fetch(app + "/comments", {method: "POST", credentials: "include", body: form()}); out.cors = "read " + r.status; }
		catch (e) { out.cors = "blocked " + e.name; }
		try { const r = await fetch(app + "/comments", {method: "POST", mode: "no-cors", credentials: "include", body: form()}); out.nocors = r.type + " " + r.status; }
		catch (e) { out.nocors = "blocked " + e.name; }
		try { const r = await fetch(app + "/accounts/sessions", {credentials: "include"}); out.read = "read " + r.status + " " + (await r.text()).length; }
		catch (e) { out.read = "blocked " + e.name; }
		return out;
	})()`, env.URL))
	// CORS hides both credentialed responses (the app sends no Access-Control-Allow-Origin);
	// the no-cors response is not even opaque: Cross-Origin-Resource-Policy: same-origin
	// makes the browser refuse it (ERR_BLOCKED_BY_RESPONSE), so the fetch rejects too.
	want := map[string]string{"cors": "blocked TypeError", "nocors": "blocked TypeError", "read": "blocked TypeError"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("fetch %s from the other origin: %q, want %q", k, got[k], w)
		}
	}

	// Four forged POSTs reached the app (two forms, two fetches); each was refused.
	rejects := csrfRejects(t, env)
	if rejects != 4 {
		t.Errorf("csrf.reject events = %d, want 4 (posts seen by the browser: %v)", rejects, log.posts())
	}
	for _, p := range log.posts() {
		if !strings.HasSuffix(p, " 403") && !strings.HasSuffix(p, " no-response") {
			t.Errorf("forged POST answered %q, want 403", p)
		}
	}
	if n := commentCount(t, env); n != 0 {
		t.Fatalf("forged requests created %d comments", n)
	}

	// The victim is still logged in (the forged logout failed) and can post for real.
	v.open(env.URL + "/")
	if h := v.welcome(); h != "Welcome, victim" {
		t.Fatalf("victim after the attacks: h1 = %q", h)
	}
	v.open(env.URL + "/comments")
	v.fill(map[string]string{"body": "a real comment"})
	if st, _ := v.submit(`main form button[type=submit]`); st != 200 {
		t.Fatalf("victim's own comment: %d", st)
	}
	if n := commentCount(t, env); n != 1 {
		t.Fatalf("comments after the victim's own post = %d, want 1", n)
	}
	t.Logf("cross-origin: %d forged POSTs refused (%v), fetch results %v, 0 forged comments", rejects, log.posts(), got)
}
