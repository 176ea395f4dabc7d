package session

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// nopWriter is a ResponseWriter that costs nothing, so the benchmarks measure the session
// layer and not httptest.ResponseRecorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchManager(b *testing.B, fn http.HandlerFunc) (*Manager, http.Handler, *fakeStore) {
	st := newFakeStore()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	m := NewManager(st, Options{Now: func() time.Time { return now }})
	return m, m.Middleware(fn), st
}

func benchLogin(b *testing.B, m *Manager) string {
	rec := httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(w, r, "12345", "authhash-0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
		_ = m.SetCSRFSecret(w, r, "csrf-secret-0123456789abcdef0123456789")
		FromRequest(r).SetString("theme", "dark")
		FromRequest(r).SetInt64("cart", 3)
	})).ServeHTTP(rec, httptest.NewRequest("GET", "https://example.com/", nil))
	for _, c := range rec.Result().Cookies() {
		return c.Value
	}
	b.Fatal("no cookie")
	return ""
}

func run(b *testing.B, h http.Handler, cookie string) {
	req := httptest.NewRequest("GET", "https://example.com/page", nil)
	if cookie != "" {
		req.Header.Set("Cookie", "_ga=GA1.2.3; __Host-session="+cookie+"; lang=en")
	}
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// BenchmarkAnonymous: no cookie, the handler reads the session: no store round trip.
func BenchmarkAnonymous(b *testing.B) {
	_, h, _ := benchManager(b, func(w http.ResponseWriter, r *http.Request) {
		_, _ = FromRequest(r).GetString("theme")
		_, _ = io.WriteString(w, "ok")
	})
	run(b, h, "")
}

// BenchmarkLoggedInReadOnly: one load, no write.
func BenchmarkLoggedInReadOnly(b *testing.B) {
	var m *Manager
	m, h, st := benchManager(b, func(w http.ResponseWriter, r *http.Request) {
		if FromRequest(r).UserID() == "" {
			b.Fatal("not logged in")
		}
		_, _ = m.CSRFSecret(r)
		_, _ = FromRequest(r).GetString("theme")
		_, _ = io.WriteString(w, "ok")
	})
	tok := benchLogin(b, m)
	_, s0, _ := st.counts()
	run(b, h, tok)
	if _, s, _ := st.counts(); s != s0 {
		b.Fatalf("read-only requests wrote %d times", s-s0)
	}
}

// BenchmarkModified: load + change + save (the scs comparison: 10.9 µs + 14.6 µs, 263 allocs).
func BenchmarkModified(b *testing.B) {
	var m *Manager
	var n int64
	m, h, _ := benchManager(b, func(w http.ResponseWriter, r *http.Request) {
		n++
		FromRequest(r).SetInt64("cart", n)
		_, _ = io.WriteString(w, "ok")
	})
	run(b, h, benchLogin(b, m))
}

// BenchmarkLogin: a new token, delete of the old row and save of the new one.
func BenchmarkLogin(b *testing.B) {
	var m *Manager
	m, h, _ := benchManager(b, func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(w, r, "12345", "h"); err != nil {
			b.Fatal(err)
		}
	})
	run(b, h, "")
}

func BenchmarkFindCookie(b *testing.B) {
	h := http.Header{"Cookie": {"_ga=GA1.2.3; __Host-session=" + newToken() + "; lang=en"}}
	b.ReportAllocs()
	for b.Loop() {
		findCookie(h, "__Host-session")
	}
}
