package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

type ctxKey struct{}

// TestMiddleware checks the adapter both ways a net/http middleware can go: it passes on a
// new request (whose context the handler must see), or it answers and the handler must not run.
func TestMiddleware(t *testing.T) {
	gin.SetMode(gin.TestMode)
	tests := []struct {
		name       string
		mw         func(http.Handler) http.Handler
		wantStatus int
		wantBody   string
	}{
		{"passes its request on", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "alice")))
			})
		}, http.StatusOK, "handler saw alice"},
		{"answers and stops the chain", func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "refused", http.StatusUnauthorized)
			})
		}, http.StatusUnauthorized, "refused\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gin.New()
			r.GET("/", middleware(tt.mw), func(c *gin.Context) {
				v, _ := c.Request.Context().Value(ctxKey{}).(string)
				c.String(http.StatusOK, "handler saw "+v)
			})
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
		})
	}
}
