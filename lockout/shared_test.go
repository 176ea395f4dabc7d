package lockout

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/internal/testclock"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
)

// testTwoInstances runs the brute-force scenario against two Guards, as two app instances
// would, each with its own connection to one shared backend.
func testTwoInstances(t *testing.T, a, b store.Counters, prefix string) {
	t.Helper()
	// The injected clock starts at the real time: Redis expires keys on its own clock, so a
	// clock months away would see its counters vanish (or never expire).
	clk := testclock.New(time.Now().Truncate(time.Second))
	opts := Options{Now: clk.Now, Prefix: prefix}
	ga, gb := New(a, opts), New(b, opts)
	defer cleanCounters(t, a, prefix)
	guards := []*Guard{ga, gb}

	// 1,000 guesses from rotating IPs, alternating instances: exactly the account limit
	// (20) reach password verification, whichever instance serves them.
	hashed := 0
	for i := range 1000 {
		g := guards[i%2]
		a, d, err := g.Begin(ctx, "alice", v4(i))
		if err != nil {
			t.Fatal(err)
		}
		if d.Locked {
			continue
		}
		hashed++
		if _, err := a.Fail(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if hashed != 20 {
		t.Fatalf("%d guesses reached the hash across two instances, want 20", hashed)
	}
	for _, g := range guards {
		if d, err := g.Check(ctx, "Alice", v4(99999)); err != nil || !d.Locked || d.Reason != "username" {
			t.Fatalf("Check = %+v, %v", d, err)
		}
	}

	// 60 concurrent guesses from 60 addresses, split over both instances, all begun before
	// any ends: only the account's 20 slots are checked, and exactly one failure trips it.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		checked int
		tripped int
		start   = make(chan struct{})
	)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, d, err := guards[i%2].Begin(ctx, "bob", v4(i))
			if err != nil {
				t.Error(err)
				return
			}
			if d.Locked {
				return
			}
			d, err = a.Fail(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			checked++
			if d.Tripped {
				tripped++
			}
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	c, err := b.GetCounter(ctx, ga.keysFor("bob", v4(0)).user, clk.Now())
	if err != nil || c.N != 20 || checked != 20 || tripped != 1 {
		t.Fatalf("60 racing guesses: %d checked, %d tripped, counter %d (%v); want 20, 1, 20", checked, tripped, c.N, err)
	}
	t.Logf("two instances: hashes=%d limit=20 (60 concurrent guesses)", checked)

	// The admin page on one instance sees locks made on the other; unlock on one frees both.
	entries, err := gb.Locked(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, e := range entries {
		if e.Scope == ScopeUser {
			users = append(users, e.Username)
		}
	}
	if fmt.Sprint(users) != "[alice bob]" {
		t.Fatalf("locked users %v", users)
	}
	if err := ga.Unlock(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	// The other instance remembers the lock for at most LockCacheTTL, then sees the unlock.
	if d, _ := gb.Check(ctx, "alice", v4(99999)); !d.Locked {
		t.Fatalf("lock cache not used: %+v", d)
	}
	clk.Advance(DefaultLockCacheTTL)
	if d, _ := gb.Check(ctx, "alice", v4(99999)); d.Locked {
		t.Fatalf("after Unlock on the other instance: %+v", d)
	}
	for _, u := range []string{"bob"} {
		if err := gb.Unlock(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTwoInstancesSQLite(t *testing.T) {
	a, b := testbackends.SQLitePair(t)
	testTwoInstances(t, a, b, DefaultPrefix)
}

func TestTwoInstancesPostgres(t *testing.T) {
	sa, sb := testbackends.PostgresPair(t, postgres.Options{})
	testTwoInstances(t, sa, sb, DefaultPrefix)
}

// BenchmarkCheckLockedPostgres measures rejects of a locked account through PostgreSQL with
// 64 concurrent requests.
func BenchmarkCheckLockedPostgres(b *testing.B) {
	benchCheckLockedOn(b, testbackends.Postgres(b, postgres.Options{}))
}

func TestTwoInstancesRedis(t *testing.T) {
	sa, sb := testbackends.RedisPair(t, redis.Options{})
	testTwoInstances(t, sa, sb, DefaultPrefix)
}

// BenchmarkCheckLockedRedis measures rejects of a locked account through Redis, with 64
// concurrent requests as in a flood (three GETs per Check, one round trip each).
func BenchmarkCheckLockedRedis(b *testing.B) {
	benchCheckLockedOn(b, testbackends.Redis(b, redis.Options{}))
}

// cleanCounters removes every counter under prefix, for backends shared with other tests.
func cleanCounters(t *testing.T, c store.Counters, prefix string) {
	cs, err := c.ListCounters(ctx, prefix, -1<<62, time.Now().Add(-time.Hour), 0)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, k := range cs {
		if err := c.DeleteCounter(ctx, k.Key); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

func benchCheckLockedOn(b *testing.B, c store.Counters) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cache", 0}, {"nocache", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			g := New(c, Options{LockCacheTTL: bc.ttl})
			defer func() {
				if err := g.Unlock(ctx, "victim"); err != nil {
					b.Error(err)
				}
				for i := range 20 {
					g.UnlockIP(ctx, v4(i))
				}
			}()
			for i := range 20 {
				if _, err := fail(g, "victim", v4(i)); err != nil {
					b.Fatal(err)
				}
			}
			addr := netip.MustParseAddr("203.0.113.50")
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if d, err := g.Check(ctx, "victim", addr); !d.Locked || err != nil {
						b.Error("not locked", err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rejects/s")
		})
	}
}
