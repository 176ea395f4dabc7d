package open

import (
	"context"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testbackends/redisserver"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/redis"
)

// A redis+sentinel:// URL opens as RAMPART_DATABASE_URL (everything in Redis) and as
// RAMPART_REDIS_URL (sessions and counters beside a database), and the persistence check
// probes the group's master.
func TestOpenSentinel(t *testing.T) {
	g := redisserver.StartGroup(t, "rampart", 0, 1, 1, "--appendonly", "yes")
	ctx, now := context.Background(), time.Now()
	for _, tc := range []struct{ db, redis string }{{g.URL(), ""}, {"sqlite::memory:", g.URL()}} {
		s, err := Open(ctx, tc.db, tc.redis)
		if err != nil {
			t.Fatalf("Open(%q, %q): %v", tc.db, tc.redis, err)
		}
		key := "open-sentinel-" + tc.db[:6]
		if err := s.SaveSession(ctx, store.Session{Key: key, UserID: "u", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if n, err := g.Master.Client().Exists(ctx, "rampart:s:"+key).Result(); err != nil || n != 1 {
			t.Errorf("Open(%q, %q): session not on the master (%d, %v)", tc.db, tc.redis, n, err)
		}
	}
	got := CheckRedisPersistence(ctx, g.URL(), g.URL(), 3*time.Second)
	if len(got) != 2 {
		t.Fatalf("CheckRedisPersistence: %+v", got)
	}
	for _, r := range got {
		if r.Err != nil || r.Persistence.Durability != redis.DurabilityAOF {
			t.Errorf("%s: %v, %v; want the master's aof", r.Setting, r.Persistence, r.Err)
		}
	}
}
