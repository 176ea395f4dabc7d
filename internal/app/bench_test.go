package app_test

import (
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
)

// discardWriter is a ResponseWriter that keeps only the status, reused between iterations.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkSessionsPage serves the logged-in page of issue 18 (GET /accounts/sessions: the
// user resolved from the store, the session list read, the page rendered) through the whole
// reference app on its SQLite default, in process: what the app costs per request without
// the network and wrk, which share this machine's cores. cpu-ns/op is the process's CPU time
// per request, the figure to compare on a loaded machine.
//
//	go test -run '^$' -bench BenchmarkSessionsPage -benchmem -count 6 ./internal/app
func BenchmarkSessionsPage(b *testing.B) {
	env := apptest.New(b, apptest.Options{RealClock: true})
	env.CreateUser(b, "ann", "correct horse battery staple 9", false)
	c := env.Client(b)
	c.Login("ann", "correct horse battery staple 9")
	h := env.Server.Config.Handler
	req := httptest.NewRequest(http.MethodGet, env.URL+"/accounts/sessions", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	for _, ck := range c.HTTP.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		b.Fatalf("GET /accounts/sessions: %d", w.code)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, req.Clone(req.Context()))
		if w.code != http.StatusOK {
			b.Fatalf("GET /accounts/sessions: %d", w.code)
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU returns the CPU time (user+system) the process has used, in nanoseconds: wall
// time on a shared, overloaded machine measures the neighbours as much as the code. It
// includes the background work a request causes (the batched session writes, GC).
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
