package reqown_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/errorpage"
	"github.com/rampart-go/rampart/internal/reqown"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store/memory"
)

// chain is the default stack's order with the layers that add context values; owned wraps it
// in reqown.Middleware as rampart.go does.
func chain(t *testing.T, owned bool, app http.Handler) http.Handler {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	errs := errorpage.Options{Logger: quiet, Nonce: csp.Nonce}
	protect, err := csrf.New(csrf.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := csp.New(csp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mgr := session.NewManager(memory.New(), session.Options{Logger: quiet})
	res := &clientip.Resolver{}
	h := res.Middleware(errorpage.Recover(errs)(policy.Middleware(mgr.Middleware(protect.Middleware(app)))))
	if owned {
		h = reqown.Middleware(h)
	}
	return h
}

type seen struct {
	nonce, token string
	ip           string
	sess         bool
	ctx          context.Context
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The default stack sees the same values whether its layers copy the request or update
// rampart's own copy in place, and the server's request is never changed.
func TestStackSameValues(t *testing.T) {
	for _, owned := range []bool{false, true} {
		var got seen
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = seen{nonce: csp.Nonce(r), token: csrf.Token(r), ip: clientip.FromRequest(r).IP.String(),
				sess: session.FromRequest(r) != nil, ctx: r.Context()}
		})
		r0 := httptest.NewRequest("GET", "https://example.com/", nil)
		r0.RemoteAddr = "192.0.2.1:1234"
		ctx0 := r0.Context()
		if w := serve(chain(t, owned, app), r0); w.Code != 200 {
			t.Fatalf("owned=%v: status %d", owned, w.Code)
		}
		if got.nonce == "" || got.token == "" || got.ip != "192.0.2.1" || !got.sess {
			t.Fatalf("owned=%v: app saw %+v", owned, got)
		}
		if r0.Context() != ctx0 || got.ctx == ctx0 {
			t.Fatalf("owned=%v: the server's request context was changed", owned)
		}
	}
}

// A panic answers the same page either way: the panic handler sees the request as it was
// when it called the layers below, not with their context values.
func TestStackPanicPage(t *testing.T) {
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	var bodies [2]string
	for i, owned := range []bool{false, true} {
		w := serve(chain(t, owned, boom), httptest.NewRequest("GET", "https://example.com/", nil))
		if w.Code != 500 {
			t.Fatalf("owned=%v: status %d", owned, w.Code)
		}
		bodies[i] = w.Body.String()
	}
	if bodies[0] != bodies[1] || strings.Contains(bodies[1], "<style nonce") {
		t.Fatalf("panic pages differ:\ncopying: %s\nowned:   %s", bodies[0], bodies[1])
	}
}

// The point of the package: the owned stack copies the request once (plus its small owner
// context) instead of once per layer that adds a value (clientip, csp, session, csrf).
// Measured in bytes: a layer used alone puts its copy of the request in the same allocation
// as its context value (WithValueContext), so the copies show in bytes, not in the count.
func TestStackFewerAllocations(t *testing.T) {
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	const runs = 200
	var perReq [2]uint64
	for i, owned := range []bool{false, true} {
		h := chain(t, owned, app)
		reqs := make([]*http.Request, runs+1)
		for j := range reqs {
			reqs[j] = httptest.NewRequest("GET", "https://example.com/", nil)
		}
		serve(h, reqs[runs]) // warm up (lazy initialisation is not per request)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, r := range reqs[:runs] {
			serve(h, r)
		}
		runtime.ReadMemStats(&after)
		perReq[i] = (after.TotalAlloc - before.TotalAlloc) / runs
	}
	copySize := uint64(unsafe.Sizeof(http.Request{}))
	t.Logf("bytes per request: copying %d, owned %d (a request copy is %d B)", perReq[0], perReq[1], copySize)
	if perReq[1]+2*copySize > perReq[0] {
		t.Fatalf("bytes per request: copying %d, owned %d; want at least two request copies (%d B each) fewer",
			perReq[0], perReq[1], copySize)
	}
}
