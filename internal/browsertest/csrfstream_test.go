package browsertest

import (
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/csrf"
)

// streamedPage is the obvious code of issue 12 item 9: page.Execute(w, data) straight to the
// ResponseWriter, the form's {{csrfField}} after a long top of the page (and, for /flushed,
// after an explicit flush).
var streamedPage = template.Must(template.New("p").Funcs(csrf.FuncMap()).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streamed</title></head>
<body><main><p id="top">{{.Filler}}</p>{{if .Flush}}{{call .Flush}}{{end}}
<form method="post" action="/post">{{csrfField .Request}}<button id="send">Send</button></form>
</main></body></html>`))

// A real Chromium loads a page streamed through the csrf middleware, stores the cookie that
// came with it and posts the form back; the POST must pass the cookie-and-token check. Chromium
// sends Sec-Fetch-Site and Origin, which would let a same-origin POST through without a token,
// so the server drops them first, as for a browser without Fetch Metadata: only a cookie
// matching the streamed token gets the POST in. Before the fix the cookie was set after the
// header had gone and this POST failed with "CSRF cookie not set.".
func TestStreamedFormInChromium(t *testing.T) {
	mux := http.NewServeMux()
	for path, filler := range map[string]int{"/held": 20 << 10, "/long": csrf.MaxHeldBytes + 100<<10, "/flushed": 1 << 10} {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			data := struct {
				Request *http.Request
				Filler  string
				Flush   func() string
			}{Request: r, Filler: strings.Repeat("lorem ipsum ", filler/12)}
			if path == "/flushed" {
				data.Flush = func() string { _ = http.NewResponseController(w).Flush(); return "" }
			}
			if err := streamedPage.Execute(w, data); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		})
	}
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><title>ok</title><p id="ok">posted</p>`)
	})
	var reasons []string
	p, err := csrf.New(csrf.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnFailure: func(w http.ResponseWriter, r *http.Request, reason error) {
		reasons = append(reasons, reason.Error())
		http.Error(w, "CSRF: "+reason.Error(), http.StatusForbidden)
	}})
	if err != nil {
		t.Fatal(err)
	}
	protect := p.Middleware(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Sec-Fetch-Site")
		r.Header.Del("Origin")
		protect.ServeHTTP(w, r)
	}))
	defer srv.Close()

	for _, path := range []string{"/held", "/long", "/flushed"} {
		// Each page in a fresh browser context: a first visit, without a CSRF cookie.
		tb := newTab(t)
		if st := tb.open(srv.URL + path); st != 200 {
			t.Fatalf("%s: status %d", path, st)
		}
		status, _ := tb.submit("button#send")
		if status != 200 {
			t.Errorf("%s: POST of the streamed form: %d (reasons %v)", path, status, reasons)
			continue
		}
		if got := tb.text("#ok"); got != "posted" {
			t.Errorf("%s: after the POST: %q", path, got)
		}
	}
}
