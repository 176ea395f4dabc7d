package open

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/redis"
)

// DurableCounters is the durable half: a counter written through it is not in the fast half.
func TestDurableCounters(t *testing.T) {
	fast, durable := memory.New(), memory.New()
	sp := Split(fast, durable)
	ctx, now := context.Background(), time.Now()
	if _, err := sp.DurableCounters().Incr(ctx, "lockout:u:ann", 1, now, time.Minute, true); err != nil {
		t.Fatal(err)
	}
	if c, _ := durable.GetCounter(ctx, "lockout:u:ann", now); c.N != 1 {
		t.Errorf("durable half has N=%d, want 1", c.N)
	}
	if c, _ := fast.GetCounter(ctx, "lockout:u:ann", now); c.N != 0 {
		t.Errorf("fast half has N=%d, want 0", c.N)
	}
}

// Only Redis URLs are probed: nothing is dialled for SQL databases or an empty REDIS_URL.
func TestCheckRedisPersistenceSkipsOtherStores(t *testing.T) {
	for _, db := range []string{"sqlite://r.db", "sqlite::memory:", "postgres://u@db.invalid/x", "mysql://nope"} {
		if got := CheckRedisPersistence(context.Background(), db, "", time.Second); len(got) != 0 {
			t.Errorf("%s: %+v", db, got)
		}
	}
}

// What each result means: the message names the setting and the loss, and only a Redis that
// holds the locks and is not known to keep even snapshots is refused.
func TestRedisPersistenceJudgement(t *testing.T) {
	snap := redis.Persistence{Durability: redis.DurabilitySnapshots, Save: "3600 1 300 100"}
	for _, tc := range []struct {
		name   string
		r      RedisPersistence
		refuse bool
		msg    []string // "" Problem when nil
	}{
		{"aof, locks", RedisPersistence{HoldsLocks: true, Persistence: redis.Persistence{Durability: redis.DurabilityAOF}}, false, nil},
		{"aof, sessions", RedisPersistence{Persistence: redis.Persistence{Durability: redis.DurabilityAOF}}, false, nil},
		{"none, locks", RedisPersistence{Setting: "RAMPART_DATABASE_URL", HoldsLocks: true, Persistence: redis.Persistence{Durability: redis.DurabilityNone}}, true,
			[]string{"RAMPART_DATABASE_URL", "does not persist", "unlocks every locked account"}},
		{"none, sessions", RedisPersistence{Setting: "RAMPART_REDIS_URL", Persistence: redis.Persistence{Durability: redis.DurabilityNone}}, false,
			[]string{"RAMPART_REDIS_URL", "does not persist", "logs every user out", "survive it"}},
		{"unknown, locks", RedisPersistence{HoldsLocks: true, Persistence: redis.Persistence{Detail: "CONFIG GET refused"}}, true,
			[]string{"could not tell", "CONFIG GET refused"}},
		{"unreachable, locks", RedisPersistence{HoldsLocks: true, Err: errors.New("connection refused")}, true,
			[]string{"could not connect", "connection refused"}},
		{"unreachable, sessions", RedisPersistence{Err: errors.New("connection refused")}, false, []string{"could not connect"}},
		{"snapshots, locks", RedisPersistence{HoldsLocks: true, Persistence: snap}, false,
			[]string{"RDB snapshots only", "a crash loses the accounts", "waits up to 1h0m0s"}},
		{"snapshots, no lone rule", RedisPersistence{Persistence: redis.Persistence{Durability: redis.DurabilitySnapshots, Save: "300 100"}}, false,
			[]string{"no save rule fires on a single change"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Refuse(); got != tc.refuse {
				t.Errorf("Refuse = %v", got)
			}
			p := tc.r.Problem()
			if (p == "") != (tc.msg == nil) || tc.r.Safe() != (tc.msg == nil) {
				t.Fatalf("Problem %q, Safe %v", p, tc.r.Safe())
			}
			for _, m := range tc.msg {
				if !strings.Contains(p, m) {
					t.Errorf("%q does not say %q", p, m)
				}
			}
		})
	}
}

// A driver error that quotes the URL does not leak its password.
func TestScrub(t *testing.T) {
	raw := "redis://:s3cret-pw@[::1"
	got := scrub(`parse "`+raw+`": missing ']' in host; auth s3cret-pw`, raw)
	if strings.Contains(got, "s3cret-pw") {
		t.Errorf("scrub left the password: %s", got)
	}
}
