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

type valCtx struct {
	context.Context
	v int
}

func TestWithValueContext(t *testing.T) {
	r0 := httptest.NewRequest("GET", "/", nil)
	var r1 *http.Request
	Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { r1 = r })).ServeHTTP(httptest.NewRecorder(), r0)

	// Owned: updated in place; only the context is allocated.
	got, c := WithValueContext(r1, valCtx{Context: r1.Context(), v: 1})
	if got != r1 || r1.Context() != context.Context(c) || c.v != 1 {
		t.Fatal("owned request was not updated in place with the stored context")
	}
	if n := testing.AllocsPerRun(100, func() { WithValueContext(r1, valCtx{Context: r1.Context()}) }); n != 1 {
		t.Fatalf("owned: %v allocations, want 1", n)
	}

	// Not owned: a copy carrying the context, the original untouched, one allocation for both.
	before := r0.Context()
	got, c = WithValueContext(r0, valCtx{Context: before, v: 2})
	if got == r0 || r0.Context() != before || got.Context() != context.Context(c) || c.v != 2 || got.URL != r0.URL {
		t.Fatal("unowned request was changed or its copy lacks the context")
	}
	if n := testing.AllocsPerRun(100, func() { WithValueContext(r0, valCtx{Context: before}) }); n != 1 {
		t.Fatalf("unowned: %v allocations, want 1", n)
	}
}
