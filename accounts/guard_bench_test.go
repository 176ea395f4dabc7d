package accounts

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rampart-go/rampart/store"
)

// BenchmarkGuard measures what a guard adds to a handler for a logged-in request: the bare
// handler and the same behind RequireLogin, in one run.
//
//	go test -run '^$' -bench BenchmarkGuard -benchmem -count 6 ./accounts
func BenchmarkGuard(b *testing.B) {
	a := &Accounts{prefix: DefaultPrefix}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	req := httptest.NewRequest(http.MethodGet, "/page", nil)
	req = req.WithContext(&userCtx{Context: context.Background(), u: store.User{ID: "1", Username: "ann", IsActive: true}})
	w := httptest.NewRecorder()
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", h}, {"RequireLogin", a.RequireLogin(h)}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tc.h.ServeHTTP(w, req)
			}
		})
	}
}
