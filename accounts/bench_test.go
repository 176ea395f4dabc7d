package accounts_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/session"
)

// BenchmarkLoggedInPage serves the same logged-in GET through the same stack twice: once with
// the page reading the user ID from the session (the stack alone), once through
// Accounts.Handler and RequireLogin with the page reading User(r) (the user loaded from the
// store and checked against its session auth hash). The difference is what resolving the
// request's user costs.
//
//	go test -run '^$' -bench BenchmarkLoggedInPage -benchmem -count 6 ./accounts
func BenchmarkLoggedInPage(b *testing.B) {
	s := newSite(b, accounts.Options{})
	page := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }
	stackOnly := s.stack.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if session.FromRequest(r).UserID() == "" {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		page(w, r)
	}))
	withAccounts := s.stack.Handler(s.acc.Handler(s.acc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = accounts.User(r).Username
		page(w, r)
	}))))
	// Log in once through the real login route and keep the cookies.
	login := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/accounts/login", strings.NewReader(url.Values{"username": {"ann"}, "password": {"correct horse battery staple 9"}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	login.Header.Set("Origin", "http://127.0.0.1")
	login.Header.Set("Sec-Fetch-Site", "same-origin")
	rec := httptest.NewRecorder()
	s.stack.Handler(s.acc.Handler(http.NotFoundHandler())).ServeHTTP(rec, login)
	if rec.Code != http.StatusSeeOther {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	cookies := rec.Result().Cookies()
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"stack-only", stackOnly}, {"with-accounts", withAccounts}} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/page", nil)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			for _, c := range cookies {
				req.AddCookie(c)
			}
			w := &discard{h: http.Header{}}
			tc.h.ServeHTTP(w, req)
			if w.code != 0 && w.code != http.StatusOK {
				b.Fatalf("%s: %d", tc.name, w.code)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.code = 0
				tc.h.ServeHTTP(w, req)
			}
			if w.code != 0 && w.code != http.StatusOK {
				b.Fatalf("%s: %d during the run", tc.name, w.code)
			}
		})
	}
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }
