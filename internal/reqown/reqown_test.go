package reqown

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

type k struct{}

func TestWithContext(t *testing.T) {
	r0 := httptest.NewRequest("GET", "/", nil)
	var r1 *http.Request
	Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { r1 = r })).ServeHTTP(httptest.NewRecorder(), r0)
	if r1 == r0 {
		t.Fatal("Middleware passed the server's request on")
	}

	// Owned: updated in place, without allocating a copy.
	ctx := context.WithValue(r1.Context(), k{}, 1)
	if got := WithContext(r1, ctx); got != r1 || r1.Context() != ctx {
		t.Fatal("owned request was copied")
	}
	if r0.Context() == ctx {
		t.Fatal("the server's request was changed")
	}
	if n := testing.AllocsPerRun(100, func() { WithContext(r1, r1.Context()) }); n != 0 {
		t.Fatalf("in-place update allocates %v times", n)
	}

	// A request another middleware made (same context or a new one) is not owned: it is
	// copied and left unchanged.
	for _, r := range []*http.Request{r1.Clone(r1.Context()), r1.WithContext(context.WithValue(r1.Context(), k{}, 2))} {
		before := r.Context()
		if got := WithContext(r, ctx); got == r || r.Context() != before || got.Context() != ctx {
			t.Fatal("a request not owned was updated in place")
		}
	}
	// Without Middleware nothing is owned.
	if got := WithContext(r0, ctx); got == r0 || got.Context() != ctx {
		t.Fatal("unowned request updated in place")
	}
}
