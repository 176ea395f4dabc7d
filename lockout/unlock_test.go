package lockout

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/internal/testclock"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
)

func describe(c Cleared) string {
	var b strings.Builder
	fmt.Fprintf(&b, "counters=%d", c.Counters)
	for _, e := range c.Locks {
		fmt.Fprintf(&b, "; %s %s %s %d", e.Scope, e.Username, e.IP, e.Failures)
	}
	return b.String()
}

// testClear checks that ClearUser, ClearIP and ClearAll report exactly what was locked and
// what was counted, remove it, and touch nothing else.
func testClear(t *testing.T, c store.Counters) {
	// Real time: Redis expires keys on its own clock.
	clk := testclock.New(time.Now().Truncate(time.Second))
	g := New(c, Options{Now: clk.Now, Escalate: true})
	defer cleanCounters(t, c, DefaultPrefix)
	step := func(name string, f func() (Cleared, error), want string) {
		t.Helper()
		got, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if describe(got) != want {
			t.Fatalf("%s cleared %q, want %q", name, describe(got), want)
		}
	}
	fail := func(user, addr string, n int) {
		t.Helper()
		for range n {
			a, d, err := g.Begin(ctx, user, ip(addr))
			if err != nil || d.Locked {
				t.Fatalf("Begin(%s, %s) = %+v, %v", user, addr, d, err)
			}
			if _, err := a.Fail(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func(key string) int64 {
		t.Helper()
		ctr, err := c.GetCounter(ctx, key, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return ctr.N
	}

	// Nothing there: nothing reported.
	step("ClearIP(never seen)", func() (Cleared, error) { return g.ClearIP(ctx, ip("203.0.113.7")) }, "counters=0")
	step("ClearUser(never seen)", func() (Cleared, error) { return g.ClearUser(ctx, "nobody") }, "counters=0")
	step("ClearAll(empty)", func() (Cleared, error) { return g.ClearAll(ctx) }, "counters=0")

	// "ivy" is a key prefix of "ivyx" in the store's encoding: clearing one leaves the other.
	fail("Ivy", "192.0.2.1", 5)
	fail("ivyx", "192.0.2.3", 3)
	step("ClearUser(IVY)", func() (Cleared, error) { return g.ClearUser(ctx, "IVY") },
		"counters=2; username+ip ivy 192.0.2.1 5")
	if d, _ := g.Check(ctx, "ivy", ip("192.0.2.1")); d.Locked {
		t.Fatalf("after ClearUser: %+v", d)
	}
	if n := count(g.keysFor("ivyx", ip("192.0.2.3")).user); n != 3 {
		t.Fatalf("ClearUser(ivy) changed ivyx's counter to %d", n)
	}
	// The IP's own counter (5 of 20) was not a lock, and ClearUser left it.
	step("ClearIP(192.0.2.1)", func() (Cleared, error) { return g.ClearIP(ctx, ip("192.0.2.1")) }, "counters=1")

	// One IP spraying 20 accounts: the IP is locked, none of its 20 pairs is.
	for i := range 20 {
		fail(fmt.Sprintf("spray%02d", i), "198.51.100.7", 1)
	}
	fail("kim", "198.51.100.8", 5)
	step("ClearIP(198.51.100.7)", func() (Cleared, error) { return g.ClearIP(ctx, ip("198.51.100.7")) },
		"counters=21; ip  198.51.100.7 20")
	if d, _ := g.Check(ctx, "victim", ip("198.51.100.7")); d.Locked {
		t.Fatalf("after ClearIP: %+v", d)
	}
	if d, _ := g.Check(ctx, "kim", ip("198.51.100.8")); !d.Locked {
		t.Fatal("ClearIP cleared another address's pair")
	}

	// ClearAll: every counter (ivyx's 3, the account counters of spray00–19, kim's 3) and the
	// escalation memory the locks left.
	step("ClearAll", func() (Cleared, error) { return g.ClearAll(ctx) },
		"counters=26; username+ip kim 198.51.100.8 5")
	if d, _ := g.Check(ctx, "kim", ip("198.51.100.8")); d.Locked {
		t.Fatalf("after ClearAll: %+v", d)
	}
	left, err := c.ListCounters(ctx, DefaultPrefix, -1<<62, clk.Now(), 0)
	if err != nil || len(left) != 0 {
		t.Fatalf("after ClearAll the store holds %d lockout counters (%v)", len(left), err)
	}
	if _, err := g.ClearUser(ctx, "  "); err == nil {
		t.Fatal("ClearUser accepted an empty username")
	}
}

func TestClearMemory(t *testing.T) { testClear(t, newFake()) }

func TestClearSQLite(t *testing.T) {
	a, _ := testbackends.SQLitePair(t)
	testClear(t, a)
}

func TestClearPostgres(t *testing.T) { testClear(t, testbackends.Postgres(t, postgres.Options{})) }

func TestClearRedis(t *testing.T) { testClear(t, testbackends.Redis(t, redis.Options{})) }
