package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Harness as in perf-anchors.md: each iteration serves a shallow copy of a prebuilt request
// (own URL copy, body reader rewound) into a reusable discard ResponseWriter whose header map
// is cleared, and checks the status on every iteration. This costs ~150 ns and 2 allocs
// (BenchmarkBaseline), against ~1.9 µs and 19 allocs for httptest.NewRequest+NewRecorder,
// which would hide the cheaper layers.

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(b), nil
}

// WriteString mirrors net/http's response, which implements io.StringWriter.
func (d *discardWriter) WriteString(s string) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(s), nil
}
func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

// rewindBody is a request body that the loop rewinds instead of reallocating.
type rewindBody struct{ strings.Reader }

func (*rewindBody) Close() error { return nil }

// benchCase is one request through one handler with the status it must get.
type benchCase struct {
	name string // "<scenario>/<implementation>"
	h    http.Handler
	req  *http.Request
	body string
	want int
	// reqs, when set, are served in turn instead of req (req is reqs[0]): one request per
	// session of many, so that a per-key cache or batching cannot see one hot key only.
	reqs []*http.Request
}

// newReq builds a prototype request. https:// targets get r.TLS set (httptest), so layers
// without a proxy in front see HTTPS.
func newReq(method, target string, hdr map[string]string, cookies []*http.Cookie, body string) *http.Request {
	r := httptest.NewRequestWithContext(context.Background(), method, target, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.10:41234"
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	r.Body = nil
	return r
}

// once serves one fresh copy of the case's request through a real recorder.
func (c benchCase) once() *httptest.ResponseRecorder {
	r := c.req.Clone(context.Background())
	if c.body != "" {
		r.Body = &rewindBody{*strings.NewReader(c.body)}
	} else {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	return rec
}

// check asserts the case's status three times in a row (a layer that mutates the shared
// prototype would fail the second time).
func (c benchCase) check(tb testing.TB) {
	tb.Helper()
	for i := range 3 {
		if rec := c.once(); rec.Code != c.want {
			tb.Fatalf("%s: request %d: status %d, want %d; body %q", c.name, i+1, rec.Code, c.want, rec.Body.String())
		}
	}
}

func (c benchCase) run(b *testing.B) {
	c.check(b)
	w := &discardWriter{h: make(http.Header, 16)}
	body := &rewindBody{}
	b.ReportAllocs()
	proto, next := c.req, 0
	for b.Loop() {
		if len(c.reqs) > 0 {
			proto = c.reqs[next]
			next = (next + 1) % len(c.reqs)
		}
		r := new(http.Request)
		*r = *proto
		u := *proto.URL
		r.URL = &u
		if c.body != "" {
			body.Reset(c.body)
			r.Body = body
		} else {
			r.Body = http.NoBody
		}
		clear(w.h)
		w.status = 0
		c.h.ServeHTTP(w, r)
		if w.status != c.want {
			b.Fatalf("%s: status %d, want %d", c.name, w.status, c.want)
		}
	}
}

func runCases(b *testing.B, cases []benchCase) {
	for _, c := range cases {
		b.Run(c.name, c.run)
	}
}

func checkCases(t *testing.T, cases []benchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t) })
	}
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte("ok"))
})

var parseHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("title") != "hello" {
		http.Error(w, "no form", http.StatusBadRequest)
		return
	}
	w.Write([]byte("ok"))
})

func baselineCases() []benchCase {
	form := "title=hello&csrf_token=x"
	return []benchCase{
		{name: "GET", h: okHandler, req: newReq("GET", Origin+"/form", nil, nil, ""), want: 200},
		{name: "POST-unparsed", h: okHandler, req: newReq("POST", Origin+"/form", nil, nil, form), body: form, want: 200},
		{name: "POST-parsed", h: parseHandler, req: newReq("POST", Origin+"/form", nil, nil, form), body: form, want: 200},
	}
}

// BenchmarkBaseline is the harness cost every other row includes.
func BenchmarkBaseline(b *testing.B) { runCases(b, baselineCases()) }

func TestBaseline(t *testing.T) { checkCases(t, baselineCases()) }
