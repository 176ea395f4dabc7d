package csrf

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Benchmark harness as in perf-anchors.md: each iteration serves a shallow copy of a
// prebuilt request into a reusable discard ResponseWriter, and checks the status.

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }

var benchOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })

func benchServe(b *testing.B, h http.Handler, proto *http.Request, want int) {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, proto.Clone(proto.Context()))
	if rec.Code != want {
		b.Fatalf("status %d, want %d", rec.Code, want)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := new(http.Request)
		*r = *proto
		u := *proto.URL
		r.URL = &u
		w.status = 0
		h.ServeHTTP(w, r)
		if w.status != want {
			b.Fatalf("status %d, want %d", w.status, want)
		}
	}
}

func BenchmarkCSRF(b *testing.B) {
	h := protect(Options{Logger: quietLogger, TrustedOrigins: []string{"https://*.example.org"}})(benchOK)

	b.Run("Baseline/POST-no-middleware", func(b *testing.B) {
		r := newReq("POST", "https://www.example.com/", map[string]string{"Sec-Fetch-Site": "same-origin"}, nil)
		benchServe(b, benchOK, r, 200)
	})
	b.Run("POST-header-only-SecFetchSite-same-origin", func(b *testing.B) {
		r := newReq("POST", "https://www.example.com/", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://www.example.com"}, nil)
		benchServe(b, h, r, 200)
	})
	b.Run("POST-cross-site-rejected", func(b *testing.B) {
		r := newReq("POST", "https://www.example.com/", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, nil)
		benchServe(b, h, r, 403)
	})
	b.Run("POST-Origin-only", func(b *testing.B) {
		r := newReq("POST", "https://www.example.com/", map[string]string{"Origin": "https://www.example.com"}, nil)
		benchServe(b, h, r, 200)
	})
	b.Run("POST-Origin-trusted-wildcard", func(b *testing.B) {
		r := newReq("POST", "https://www.example.com/", map[string]string{"Origin": "https://app.example.org"}, nil)
		benchServe(b, h, r, 200)
	})
	b.Run("POST-token-header-cookie-https-Referer", func(b *testing.B) {
		r := newReq("POST", "https://www.example.com/", map[string]string{
			"Referer": "https://www.example.com/form", HeaderName: maskSecret(testSecret)}, nil)
		r.AddCookie(&http.Cookie{Name: SecureCookieName, Value: testSecret})
		benchServe(b, h, r, 200)
	})
	b.Run("POST-token-header-cookie-http", func(b *testing.B) {
		r := newReq("POST", "http://www.example.com/", map[string]string{HeaderName: maskSecret(testSecret)}, nil)
		r.AddCookie(&http.Cookie{Name: InsecureCookieName, Value: testSecret})
		benchServe(b, h, r, 200)
	})
	b.Run("GET-issue-token-TemplateField", func(b *testing.B) {
		hf := protect(Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = TemplateField(r)
			w.WriteHeader(200)
		}))
		r := newReq("GET", "https://www.example.com/", nil, nil)
		r.AddCookie(&http.Cookie{Name: SecureCookieName, Value: testSecret})
		benchServe(b, hf, r, 200)
	})
}

func BenchmarkMaskUnmask(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !tokenMatches(maskSecret(testSecret), testSecret) {
			b.Fatal("mismatch")
		}
	}
}
