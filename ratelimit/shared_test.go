// An external test package: the backends import settings, which imports ratelimit.
package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/internal/testclock"
	"github.com/rampart-go/rampart/ratelimit"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
)

// testShared checks that limiters on two connections to one backend share one budget.
func testShared(t *testing.T, a, b store.Counters, name string) {
	t.Helper()
	// Real time: Redis expires keys on its own clock.
	ctx := context.Background()
	clk := testclock.New(time.Now())
	defer func() {
		cs, err := a.ListCounters(ctx, "rl:"+name+":", -1<<62, time.Now().Add(-time.Hour), 0)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, c := range cs {
			a.DeleteCounter(ctx, c.Key)
		}
	}()
	la := ratelimit.NewStore(a, ratelimit.MustParseRate("5/m"), ratelimit.StoreOptions{Now: clk.Now, Name: name})
	lb := ratelimit.NewStore(b, ratelimit.MustParseRate("5/m"), ratelimit.StoreOptions{Now: clk.Now, Name: name})
	allowed := 0
	for i := range 20 {
		l := la
		if i%2 == 1 {
			l = lb
		}
		r, err := l.Allow(ctx, "ip:192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("allowed %d across two instances, want 5", allowed)
	}
}

func TestSharedSQLite(t *testing.T) {
	a, b := testbackends.SQLitePair(t)
	testShared(t, a, b, "test")
}

func TestSharedPostgres(t *testing.T) {
	a, b := testbackends.PostgresPair(t, postgres.Options{})
	testShared(t, a, b, "test")
}

func TestSharedRedis(t *testing.T) {
	a, b := testbackends.RedisPair(t, redis.Options{})
	testShared(t, a, b, "test")
}
