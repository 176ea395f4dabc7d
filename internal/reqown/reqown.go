// Package reqown lets rampart's layers give a request a new context without copying the
// request again, when the request is one that rampart's default stack (rampart.go, through
// Middleware) made for the current call.
//
// Every r.WithContext copies the whole http.Request (about 250 bytes); the default stack made
// four copies per request, a quarter of the bytes it allocated. A layer may replace the
// context of a request in place only when nothing outside rampart can hold that request:
// Middleware makes it for this call and only the stack's own layers run between Middleware
// and the layer. None of them reads the request's context after calling the next handler,
// except the panic handler, which keeps its own view (errorpage.Recover). Every swap happens
// before the next handler runs, on the request's goroutine, so handlers that keep the
// request see a context that no longer changes. Any other middleware that changes the context
// makes a new request, which is not the owned one, and layers below fall back to
// r.WithContext. A layer used alone (no Middleware outside it) always copies.
package reqown

import (
	"context"
	"net/http"
)

// Key is the context key of the owned request.
type Key struct{}

// ownerCtx names the request Middleware made, until Release ends the ownership.
type ownerCtx struct {
	context.Context
	owned    *http.Request
	released bool
}

// selfKey finds the ownerCtx itself (for Release).
type selfKey struct{}

func (c *ownerCtx) Value(key any) any {
	switch key {
	case Key{}:
		if c.released {
			return nil
		}
		return c.owned
	case selfKey{}:
		return c
	}
	return c.Context.Value(key)
}

// Middleware gives next a copy of each request that rampart's layers below may update in
// place. Only rampart.go uses it, around a chain made of rampart's own layers.
func Middleware(next http.Handler) http.Handler { return &owner{next: next} }

// owner is a named type rather than a closure so that its body is compiled once, here, where
// the request's copy is inlined into the single allocation (a closure inlined into the caller
// is recompiled there and lost that).
type owner struct{ next http.Handler }

func (o *owner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The owner context and the request it names in one allocation.
	pair := &struct {
		c ownerCtx
		r http.Request
	}{c: ownerCtx{Context: r.Context()}}
	pair.r = *r.WithContext(&pair.c)
	pair.c.owned = &pair.r
	o.next.ServeHTTP(w, &pair.r)
}

// WithContext returns r with context ctx: r itself, updated in place, when r is the request
// Middleware made for this call (ctx must derive from r.Context()), else r.WithContext(ctx).
func WithContext(r *http.Request, ctx context.Context) *http.Request {
	if owned, _ := r.Context().Value(Key{}).(*http.Request); owned == r {
		*r = *r.WithContext(ctx)
		return r
	}
	return r.WithContext(ctx)
}

// WithValueContext is WithContext for a layer whose context is a struct of its own (a
// context.Context embedding the parent, plus the layer's values): it stores c and returns
// the request carrying it, and a pointer to the stored c. When r is owned, only c is
// allocated; otherwise c and the request's copy share one allocation instead of two, which
// is what a layer used alone (without Middleware) costs.
func WithValueContext[C any, P interface {
	*C
	context.Context
}](r *http.Request, c C) (*http.Request, P) {
	if owned, _ := r.Context().Value(Key{}).(*http.Request); owned == r {
		p := P(new(C))
		*p = c
		*r = *r.WithContext(p)
		return r, p
	}
	pair := &struct {
		c C
		r http.Request
	}{c: c}
	p := P(&pair.c)
	pair.r = *r.WithContext(p)
	return &pair.r, p
}

// Release hands next a request that no rampart layer may update in place any more. rampart.go
// puts it just before the application: from there on, code may keep the request it was given
// and read its context after calling the next handler (net/http's rule for middleware), so a
// rampart layer the application uses inside (a second session.Manager for an admin area, the
// accounts handler) must copy, as it does when used alone. The stack's own layers have all run
// by then. Ending the ownership is a flag on rampart's own context, set before any application
// code sees the request: it costs no allocation.
func Release(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, _ := r.Context().Value(selfKey{}).(*ownerCtx); c != nil && c.owned == r {
			c.released = true
		}
		next.ServeHTTP(w, r)
	})
}
