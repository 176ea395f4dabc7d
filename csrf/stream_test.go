package csrf

import (
	"bytes"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store/memory"
)

// page is the obvious code: a template streamed straight to the ResponseWriter, with the
// form's token field after filler of the given size.
var page = template.Must(template.New("page").Funcs(FuncMap()).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>streamed</title><style>{{.Filler}}</style></head>
<body>{{if .Flush}}{{call .Flush}}{{end}}<form method="post" action="/post">{{csrfField .Request}}<button>send</button></form>
{{.After}}</body></html>`))

type pageData struct {
	Request *http.Request
	Filler  string
	After   string
	Flush   func() string
}

var tokenField = regexp.MustCompile(`name="csrf_token" value="([A-Za-z0-9]*)"`)

// streamServer serves GET /page through the middleware with handler and accepts POST /post.
func streamServer(t *testing.T, opts Options, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", handler)
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "posted") })
	srv := httptest.NewServer(protect(opts)(mux))
	t.Cleanup(srv.Close)
	return srv
}

// visit GETs /page as a first-time visitor, then posts the form back as a browser without
// Fetch Metadata would (cookie and token, no Origin), returning the page's CSRF cookie
// ("" for none) and the POST's status.
func visit(t *testing.T, srv *httptest.Server) (cookie string, post int, body string) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/page")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == InsecureCookieName {
			cookie = c.Value
		}
	}
	m := tokenField.FindSubmatch(b)
	if m == nil {
		return cookie, 0, string(b)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/post", strings.NewReader(url.Values{FieldName: {string(m[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: InsecureCookieName, Value: cookie})
	}
	pr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pr.Body.Close()
	return cookie, pr.StatusCode, string(b)
}

// Issue 12 item 9: page.Execute(w, data) with {{csrfField}} after the top of the page. Before
// the fix the cookie was set after the header had gone and every POST failed with "CSRF
// cookie not set."; now the cookie arrives with the page and the form posts.
func TestStreamedTemplateFormPosts(t *testing.T) {
	tests := []struct {
		name   string
		filler int
		status int // 0: not written explicitly
		flush  bool
		noCT   bool
	}{
		{name: "form after 20 KiB", filler: 20 << 10},
		{name: "form after 3 KiB, no Content-Type (sniffed)", filler: 3 << 10, noCT: true},
		{name: "explicit WriteHeader(200) first", filler: 20 << 10, status: 200},
		{name: "404 page with a form", filler: 10 << 10, status: 404},
		{name: "422 re-rendered form", filler: 1 << 10, status: 422},
		{name: "form after more than MaxHeldBytes", filler: MaxHeldBytes + 50<<10},
		{name: "flushed before the form", filler: 2 << 10, flush: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := streamServer(t, Options{}, func(w http.ResponseWriter, r *http.Request) {
				if !tc.noCT {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				d := pageData{Request: r, Filler: strings.Repeat("x", tc.filler), After: strings.Repeat("y", 30<<10)}
				if tc.flush {
					d.Flush = func() string { w.(http.Flusher).Flush(); return "" }
				}
				if err := page.Execute(w, d); err != nil {
					t.Errorf("Execute: %v", err)
				}
			})
			cookie, status, body := visit(t, srv)
			if cookie == "" || status != 200 {
				t.Fatalf("cookie %q, POST %d (want a cookie and 200)\n%.200s", cookie, status, body)
			}
			if m := tokenField.FindStringSubmatch(body); m == nil || unmaskString(m[1]) != cookie {
				t.Errorf("the form's token does not carry the cookie's secret")
			}
			if !strings.HasSuffix(body, "</body></html>") {
				t.Errorf("page truncated: %d bytes", len(body))
			}
		})
	}
}

// Pages that never ask for a token set no cookie (Django's
// test_process_response_get_token_not_used: pages stay cacheable) — unless they outgrow
// what is held before being complete, when the cookie a later form would need goes out.
func TestStreamedPageWithoutForm(t *testing.T) {
	for _, tc := range []struct {
		size   int
		cookie bool
	}{{0, false}, {30 << 10, false}, {MaxHeldBytes + 1, true}} {
		srv := streamServer(t, Options{}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			for range tc.size / 1024 {
				_, _ = io.WriteString(w, strings.Repeat("z", 1024))
			}
			_, _ = w.Write(bytes.Repeat([]byte("z"), tc.size%1024))
		})
		resp, err := http.Get(srv.URL + "/page")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := len(resp.Cookies()) == 1; got != tc.cookie || n != int64(tc.size) {
			t.Errorf("%d-byte page: cookies %v, %d bytes", tc.size, resp.Cookies(), n)
		}
	}
}

// When the cookie can no longer be set, a template fails at the call instead of rendering a
// form whose every POST would be refused.
func TestTokenAfterHeaderFailsLoudly(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	meta := template.Must(template.New("j").Funcs(FuncMap()).Parse(`{"csrf": "{{csrfToken .}}"}`))
	var execErr, rotateErr error
	var plain string
	h := protect(Options{Logger: logger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json") // not HTML: not held
		w.WriteHeader(200)
		execErr = meta.Execute(w, r)
		plain = Token(r)
		rotateErr = Rotate(w, r)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newReq("GET", "http://www.example.com/api", nil, nil))
	if !errors.Is(execErr, ErrResponseStarted) || plain != "" || !errors.Is(rotateErr, ErrResponseStarted) {
		t.Fatalf("Execute: %v; Token %q; Rotate: %v", execErr, plain, rotateErr)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("cookie set after the header: %v", rec.Result().Cookies())
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "token requested after the response header was sent") {
		t.Errorf("not logged: %s", logs.String())
	}
	// A client that already has a secret needs no cookie: a late token works.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, withCookie(newReq("GET", "http://www.example.com/api", nil, nil), InsecureCookieName, testSecret))
	if execErr != nil || unmaskString(plain) != testSecret || rotateErr == nil {
		t.Errorf("existing secret: Execute %v, token %q, Rotate %v", execErr, plain, rotateErr)
	}
}

// With secrets in the session, a session that does not exist yet cannot be created once the
// response has started: the template fails with the session's error (a stored session is
// saved after the response, so its late token works).
func TestStreamedTemplateSessionStore(t *testing.T) {
	m := session.NewManager(memory.New(), session.Options{InsecureNoSecureCookie: true, Logger: quietLogger})
	var execErr error
	h := m.Middleware(protect(Options{Store: m, Logger: quietLogger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		execErr = page.Execute(w, pageData{Request: r, Filler: strings.Repeat("x", 20<<10)})
	})))
	// 20 KiB before the form: held, so the new session and its secret are stored in time.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newReq("GET", "http://www.example.com/page", nil, nil))
	if execErr != nil || len(rec.Result().Cookies()) != 1 {
		t.Fatalf("held page: %v, cookies %v", execErr, rec.Result().Cookies())
	}
	sess := rec.Result().Cookies()[0]
	body := rec.Body.String()
	tok := tokenField.FindStringSubmatch(body)
	post := newReq("POST", "http://www.example.com/post", map[string]string{HeaderName: tok[1]}, nil)
	post.AddCookie(sess)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, post)
	if rec.Code != 200 {
		t.Fatalf("POST with the streamed page's token: %d", rec.Code)
	}
	// Past MaxHeldBytes the page goes before the form, and no session is created for it.
	h2 := m.Middleware(protect(Options{Store: m, Logger: quietLogger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		execErr = page.Execute(w, pageData{Request: r, Filler: strings.Repeat("x", MaxHeldBytes+1)})
	})))
	rec = httptest.NewRecorder()
	h2.ServeHTTP(rec, newReq("GET", "http://www.example.com/page", nil, nil))
	if !errors.Is(execErr, session.ErrCommitted) {
		t.Fatalf("late secret in a new session: %v", execErr)
	}
	// A stored session takes a late secret (saved after the response).
	rec = httptest.NewRecorder()
	r := newReq("GET", "http://www.example.com/page", nil, nil)
	r.AddCookie(sess)
	h2.ServeHTTP(rec, r)
	if execErr != nil {
		t.Fatalf("late secret in a stored session: %v", execErr)
	}
}

// recWriter records the order of calls reaching the writer below the middleware.
type recWriter struct {
	h      http.Header
	calls  []string
	body   bytes.Buffer
	status int
}

func (w *recWriter) Header() http.Header { return w.h }
func (w *recWriter) WriteHeader(code int) {
	w.calls = append(w.calls, "header")
	if w.status == 0 || code >= 200 {
		w.status = code
	}
}
func (w *recWriter) Write(b []byte) (int, error) {
	w.calls = append(w.calls, "write")
	return w.body.Write(b)
}
func (w *recWriter) Flush() { w.calls = append(w.calls, "flush") }
func (w *recWriter) ReadFrom(r io.Reader) (int64, error) {
	w.calls = append(w.calls, "readfrom")
	return w.body.ReadFrom(r)
}

// What is not held passes at once: responses to clients with a secret (bare or a Django <
// 4.1 masked one), non-HTML responses, 1xx; flushing and ReadFrom reach the writer below.
func TestWriterPassesThrough(t *testing.T) {
	type step func(w http.ResponseWriter, r *http.Request, below *recWriter) string
	firstWrite := func(ct string) step {
		return func(w http.ResponseWriter, r *http.Request, below *recWriter) string {
			if ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			_, _ = io.WriteString(w, "<!doctype html><p>first")
			return strings.Join(below.calls, ",")
		}
	}
	tests := []struct {
		name   string
		cookie string
		ct     string
		do     step
		want   string // calls below at the check
	}{
		{"html, no secret: held", "", "text/html", firstWrite("text/html"), ""},
		{"html, secret: passes", testSecret, "", firstWrite("text/html"), "write"},
		{"html, Django masked secret: passes", maskedTestSecret1, "", firstWrite("text/html"), "write"},
		{"json, no secret: passes", "", "", firstWrite("application/json"), "write"},
		{"css, no secret: passes", "", "", firstWrite("text/css; charset=utf-8"), "write"},
		{"103 early hints pass", "", "", func(w http.ResponseWriter, r *http.Request, below *recWriter) string {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			return strings.Join(below.calls, ",")
		}, "header"},
		{"flush sends what is held", "", "", func(w http.ResponseWriter, r *http.Request, below *recWriter) string {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<p>a")
			if err := http.NewResponseController(w).Flush(); err != nil {
				return err.Error()
			}
			return strings.Join(below.calls, ",")
		}, "write,flush"},
		{"ReadFrom of a file is not held", "", "", func(w http.ResponseWriter, r *http.Request, below *recWriter) string {
			w.Header().Set("Content-Type", "image/png")
			_, _ = io.Copy(w, struct{ io.Reader }{strings.NewReader("png")}) // no WriterTo: io.Copy uses ReadFrom
			return strings.Join(below.calls, ",")
		}, "readfrom"},
		{"token issued: the rest streams", "", "", func(w http.ResponseWriter, r *http.Request, below *recWriter) string {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<p>a")
			_ = Token(r)
			_, _ = io.WriteString(w, "<p>b")
			return strings.Join(below.calls, ",")
		}, "write,write"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			below := &recWriter{h: http.Header{}}
			var got string
			h := protect(Options{Logger: quietLogger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = tc.do(w, r, below)
			}))
			r := newReq("GET", "http://www.example.com/", nil, nil)
			if tc.cookie != "" {
				withCookie(r, InsecureCookieName, tc.cookie)
			}
			h.ServeHTTP(below, r)
			if got != tc.want {
				t.Errorf("calls below during the handler: %q, want %q", got, tc.want)
			}
			if below.body.Len() == 0 && tc.name != "103 early hints pass" {
				t.Errorf("nothing reached the writer below")
			}
		})
	}
}

// A Django < 4.1 masked cookie is accepted and, when a token is issued before the header
// goes, replaced by the bare secret (Django 4.1's test_masked_secret_accepted_and_replaced).
func TestMaskedCookieReplacedWithBareSecret(t *testing.T) {
	var tok string
	h := protect(Options{Logger: quietLogger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tok = Token(r) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, withCookie(newReq("GET", "http://www.example.com/", nil, nil), InsecureCookieName, maskedTestSecret2))
	cks := rec.Result().Cookies()
	if len(cks) != 1 || cks[0].Value != testSecret || unmaskString(tok) != testSecret {
		t.Fatalf("cookies %v, token %q", cks, tok)
	}
}

// The held page does not change when the header goes: status, headers set before the first
// write, body; and a handler that wrote nothing still answers 200 with an empty body.
func TestHeldPageIntact(t *testing.T) {
	h := protect(Options{Logger: quietLogger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("X-Test", "1")
		w.WriteHeader(http.StatusTeapot)
		for i := range 100 {
			_, _ = io.WriteString(w, strings.Repeat(string(rune('a'+i%26)), 100))
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Test") != "1" || len(b) != 10000 || b[9999] != 'v' {
		t.Fatalf("status %d, X-Test %q, %d bytes", resp.StatusCode, resp.Header.Get("X-Test"), len(b))
	}
	empty := httptest.NewServer(protect(Options{})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer empty.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err = c.Get(empty.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("empty handler: %v %v", resp, err)
	}
	resp.Body.Close()
}

func BenchmarkStreamedPage(b *testing.B) {
	h := protect(Options{Logger: quietLogger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, pageData{Request: r, Filler: "body{margin:0}"})
	}))
	for _, cookie := range []bool{false, true} {
		name := "first-visit"
		if cookie {
			name = "with-cookie"
		}
		b.Run(name, func(b *testing.B) {
			r := newReq("GET", "https://www.example.com/", nil, nil)
			if cookie {
				r.AddCookie(&http.Cookie{Name: SecureCookieName, Value: testSecret})
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				rr := new(http.Request)
				*rr = *r
				u := *r.URL
				rr.URL = &u
				h.ServeHTTP(w, rr)
			}
		})
	}
}

// sniffHTML agrees with net/http's DetectContentType on whether a body is HTML.
func FuzzSniffHTML(f *testing.F) {
	for _, s := range []string{"", "<!doctype html>", " \n\t<HTML>", "<html", "<p>", "<P ", "<pre>", "<b>", "<br>",
		"<!---->", "<!-- x", "<?xml ", "\xef\xbb\xbf<html>", "{\"a\":1}", "<a href=x>", "<A>", "<h1>", "<h2>",
		strings.Repeat(" ", 511) + "<p>", strings.Repeat(" ", 509) + "<p>", "\x0c<div>", "<{cript>", "<!DOCTYPE HTML>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := strings.HasPrefix(http.DetectContentType(b), "text/html")
		if sniffHTML(b) != want || sniffHTML(string(b)) != want {
			t.Fatalf("sniffHTML(%q) = %v, DetectContentType says %v", b, !want, want)
		}
	})
}
