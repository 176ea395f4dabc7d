package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/internal/comments/commentstest"
	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/redis"
	"github.com/rampart-go/rampart/store/storetest"
)

func TestConformance(t *testing.T) {
	testbackends.RedisURL(t) // skip the whole suite, not each case, when unset
	t.Log("conformance: redis")
	storetest.Run(t, func(t *testing.T) store.Store { return testbackends.Redis(t, redis.Options{}) })
	commentstest.Run(t, func(t *testing.T) store.Store { return testbackends.Redis(t, redis.Options{}) })
}

func TestShared(t *testing.T) {
	testbackends.RedisURL(t) // skip the whole suite, not each case, when unset
	t.Log("conformance (two instances on one server): redis")
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		return testbackends.RedisPair(t, redis.Options{})
	})
}

// TestNativeExpiry checks that Redis itself forgets sessions and counters at ExpiresAt (no
// sweep needed) and that the per-user index does not outlive its sessions.
func TestNativeExpiry(t *testing.T) {
	u := testbackends.RedisURL(t)
	ctx := context.Background()
	p := testbackends.RedisPrefix(t, u)
	s := testbackends.OpenRedis(t, u, redis.Options{KeyPrefix: p})
	o, _ := goredis.ParseURL(u)
	c := goredis.NewClient(o)
	defer c.Close()
	now := time.Now()
	exp := now.Add(90 * time.Second)
	if err := s.SaveSession(ctx, store.Session{Key: "k", UserID: "7", LastSeen: now, CreatedAt: now, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "c", 1, now, time.Minute, false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  string
		want time.Time
	}{{p + "s:k", exp}, {p + "us:7", exp}, {p + "c:c", now.Add(time.Minute)}} {
		got, err := c.PExpireTime(ctx, tc.key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if d := time.UnixMilli(0).Add(got).Sub(tc.want); d < 0 || d > time.Millisecond {
			t.Errorf("%s expires at %v, want %v", tc.key, time.UnixMilli(0).Add(got), tc.want)
		}
	}
}

func TestEventsCapped(t *testing.T) {
	ctx := context.Background()
	s := testbackends.Redis(t, redis.Options{MaxEvents: 3})
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if err := s.AppendEvent(ctx, store.Event{Kind: k}); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := s.RecentEvents(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 3 || ev[0].Kind != "e" || ev[2].Kind != "c" || ev[0].ID != 5 {
		t.Fatalf("capped events = %+v", ev)
	}
}

// TestOutage cuts the connections between the store and Redis (through a relay we control,
// since the server is shared) and checks that every method fails closed, then recovers.
func TestOutage(t *testing.T) {
	raw := testbackends.RedisURL(t)
	t.Log("outage: redis")
	pu, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := storetest.NewProxy(t, pu.Host)
	pu.Host = proxy.Addr()
	// go-redis retries failed commands with a backoff of up to 512ms by default; a short one
	// keeps the test quick without changing what is checked.
	q := pu.Query()
	q.Set("min_retry_backoff", "1ms")
	q.Set("max_retry_backoff", "5ms")
	pu.RawQuery = q.Encode()
	s := testbackends.OpenRedis(t, pu.String(), redis.Options{KeyPrefix: testbackends.RedisPrefix(t, raw)})
	storetest.RunOutage(t, s, proxy.Down, proxy.Up)
}

// TestClientKill kills the store's connections server-side with CLIENT KILL: a replayed step
// is never accepted, and the store recovers.
func TestClientKill(t *testing.T) {
	raw := testbackends.RedisURL(t)
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	name := "rampart-kill-" + hex.EncodeToString(b)
	o, _ := goredis.ParseURL(raw)
	o.ClientName = name
	s := redis.New(goredis.NewClient(o), redis.Options{KeyPrefix: testbackends.RedisPrefix(t, raw)})
	defer s.Close()
	if ok, err := s.ClaimStep(ctx, "d", 1); !ok || err != nil {
		t.Fatalf("ClaimStep = %v, %v", ok, err)
	}
	admin := goredis.NewClient(&goredis.Options{Addr: o.Addr, DB: o.DB})
	defer admin.Close()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range splitLines(list) {
		if id, ok := field(line, "id"); ok {
			if n, _ := field(line, "name"); n == name {
				if err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatal(err)
				}
				killed++
			}
		}
	}
	if killed == 0 {
		t.Fatal("no connection of the store found to kill")
	}
	// The first call may fail on the killed connection (or succeed after go-redis retries);
	// either way a replay is refused.
	if ok, _ := s.ClaimStep(ctx, "d", 1); ok {
		t.Fatal("replayed step accepted after CLIENT KILL")
	}
	if ok, err := s.ClaimStep(ctx, "d", 2); !ok || err != nil {
		t.Fatalf("no recovery: ClaimStep = %v, %v", ok, err)
	}
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

func field(line, name string) (string, bool) {
	for _, kv := range splitFields(line) {
		if len(kv) > len(name) && kv[:len(name)+1] == name+"=" {
			return kv[len(name)+1:], true
		}
	}
	return "", false
}

func splitFields(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

func BenchmarkLoadSave(b *testing.B) {
	storetest.BenchLoadSave(b, testbackends.Redis(b, redis.Options{}))
}

func BenchmarkIncr(b *testing.B) {
	storetest.BenchIncr(b, testbackends.Redis(b, redis.Options{}))
}

// Every backend offers the session package's Updater (UpdateSession), checked at compile time.
var _ storetest.Updater = (*redis.Store)(nil)

func TestRetention(t *testing.T) {
	s := testbackends.Redis(t, redis.Options{MaxEvents: 3, MaxComments: 2})
	storetest.RunRetention(t, s, 3)
	commentstest.RunRetention(t, s, 2)
}
