package lockout

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/storetest"
)

// TestBurstChecksAtMostLimit fires many more concurrent attempts than any limit allows at one
// account, all begun before any ends (the window in which a read-then-count guard lets every
// one through): only the limit's number of passwords is checked.
func TestBurstChecksAtMostLimit(t *testing.T) {
	tests := []struct {
		name    string
		sameIP  bool
		limit   int // the scope that binds
		reasons string
	}{
		{"rotating addresses hit the account limit", false, 20, "username"},
		{"one address hits the pair limit", true, 5, "username+ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuard(t, newFake(), newClock(), Options{})
			const n = 100
			attempts := make([]*Attempt, 0, n)
			refused := 0
			for i := range n {
				addr := v4(i)
				if tt.sameIP {
					addr = ip("192.0.2.1")
				}
				a, d, err := g.Begin(ctx, "alice", addr)
				if err != nil {
					t.Fatal(err)
				}
				if d.Locked {
					refused++
					if d.Reason != tt.reasons {
						t.Fatalf("refused with reason %q, want %q", d.Reason, tt.reasons)
					}
					continue
				}
				attempts = append(attempts, a)
			}
			if len(attempts) != tt.limit || refused != n-tt.limit {
				t.Fatalf("%d of %d attempts may check a password, want %d", len(attempts), n, tt.limit)
			}
			tripped := 0
			for _, a := range attempts {
				d, err := a.Fail(ctx)
				if err != nil || !d.Locked && tripped > 0 {
					t.Fatalf("Fail = %+v, %v", d, err)
				}
				if d.Tripped {
					tripped++
				}
			}
			if tripped != 1 {
				t.Fatalf("%d failures tripped the lock, want exactly 1", tripped)
			}
		})
	}
}

// TestSuccessInFlightKeepsScopeOpen: a correct password being verified holds a slot, so the
// other guesses cannot trip the lock before it ends; once it ends its slot is given back and
// does not count against the account.
func TestSuccessInFlightKeepsScopeOpen(t *testing.T) {
	c := newFake()
	clk := newClock()
	g := newGuard(t, c, clk, Options{})
	right, d, err := g.Begin(ctx, "bob", v4(1000))
	if err != nil || d.Locked {
		t.Fatal(d, err)
	}
	tripped := false
	for i := range 19 {
		a, d, err := g.Begin(ctx, "bob", v4(i))
		if err != nil || d.Locked {
			t.Fatalf("guess %d refused: %+v %v", i, d, err)
		}
		if d, _ := a.Fail(ctx); d.Tripped || d.Locked {
			tripped = true
		}
	}
	if tripped {
		t.Fatal("the lock tripped while a correct password held a slot")
	}
	// Every slot is taken (19 failures + 1 in flight): the 21st attempt is refused.
	if _, d, _ := g.Begin(ctx, "bob", v4(2000)); !d.Locked || d.Reason != "username" {
		t.Fatalf("21st attempt = %+v, want refused", d)
	}
	if err := right.Succeed(ctx); err != nil {
		t.Fatal(err)
	}
	k := g.keysFor("bob", v4(0))
	got, _ := c.GetCounter(ctx, k.user, clk.Now())
	if got.N != 19 {
		t.Fatalf("account slots after the success = %d, want 19 (the success gave its slot back)", got.N)
	}
	if pair, _ := c.GetCounter(ctx, g.keysFor("bob", v4(1000)).pair, clk.Now()); pair.N != 0 {
		t.Fatalf("the succeeding pair keeps %d", pair.N)
	}
	// One more failure trips it; the right password is refused from then on.
	clk.Advance(DefaultLockCacheTTL) // past the lock cache of the refused 21st attempt
	a, d, err := g.Begin(ctx, "bob", v4(3000))
	if err != nil || d.Locked {
		t.Fatal(d, err)
	}
	if d, _ := a.Fail(ctx); !d.Tripped || !d.Locked {
		t.Fatalf("20th failure = %+v, want the trip", d)
	}
	if _, d, _ := g.Begin(ctx, "bob", v4(1000)); !d.Locked {
		t.Fatalf("after the trip = %+v, want refused", d)
	}
}

// TestReleaseAndEnd: Release gives every slot back and counts no failure; an attempt ends
// once; a refused Begin gives back the slots it took in earlier scopes.
func TestReleaseAndEnd(t *testing.T) {
	c := newFake()
	clk := newClock()
	g := newGuard(t, c, clk, Options{LockCacheTTL: -1})
	k := g.keysFor("carl", ip("192.0.2.1"))
	a, _, err := g.Begin(ctx, "carl", ip("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{k.pair, k.user, k.ip, g.failKey(k.user)} {
		if got, _ := c.GetCounter(ctx, key, clk.Now()); got.N != 0 {
			t.Fatalf("%q = %d after Release, want 0", key, got.N)
		}
	}
	for name, end := range map[string]func() error{
		"Release": func() error { return a.Release(ctx) },
		"Succeed": func() error { return a.Succeed(ctx) },
		"Fail":    func() error { _, err := a.Fail(ctx); return err },
	} {
		if err := end(); !errors.Is(err, ErrAttemptEnded) {
			t.Fatalf("%s after the end = %v, want ErrAttemptEnded", name, err)
		}
	}
	// Fill the account from other addresses; a new address's Begin takes its pair slot,
	// finds the account full, and must give the pair slot back.
	for i := range 20 {
		if _, err := fail(g, "carl", v4(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, d, _ := g.Begin(ctx, "carl", ip("198.51.100.9")); !d.Locked {
		t.Fatal("Begin on a full account was not refused")
	}
	k2 := g.keysFor("carl", ip("198.51.100.9"))
	if got, _ := c.GetCounter(ctx, k2.pair, clk.Now()); got.N != 0 {
		t.Fatalf("refused Begin kept a pair slot: %d", got.N)
	}
	if got, _ := c.GetCounter(ctx, k2.ip, clk.Now()); got.N != 0 {
		t.Fatalf("refused Begin touched a later scope: %d", got.N)
	}
}

// TestBeginOutageReleases: when the store fails after a slot was taken, Begin answers
// unavailable (fail closed) and the slot it could give back is not left held.
func TestBeginOutageReleases(t *testing.T) {
	c := &failAfter{Flaky: newFake(), ok: 1}
	clk := newClock()
	g := newGuard(t, c, clk, Options{})
	a, d, err := g.Begin(ctx, "dora", ip("192.0.2.1"))
	if err == nil || a != nil || !d.Locked || d.Reason != ReasonUnavailable {
		t.Fatalf("Begin with a failing store = %v, %+v, %v", a, d, err)
	}
	if got, _ := c.Flaky.GetCounter(ctx, g.keysFor("dora", ip("192.0.2.1")).pair, clk.Now()); got.N != 0 {
		t.Fatalf("pair slot left held after the outage: %d", got.N)
	}
}

// failAfter lets ok reservations through, then fails reservations (not releases).
type failAfter struct {
	*storetest.Flaky
	mu sync.Mutex
	ok int
}

func (f *failAfter) Reserve(ctx context.Context, key string, limit int64, now time.Time, ttl time.Duration) (store.Counter, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ok == 0 {
		return store.Counter{}, false, storetest.ErrOutage
	}
	f.ok--
	return f.Flaky.Reserve(ctx, key, limit, now, ttl)
}
