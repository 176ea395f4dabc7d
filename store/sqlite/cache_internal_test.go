package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

func entry(key, data string, now time.Time) store.Session {
	return store.Session{Key: key, UserID: "u", Data: []byte(data), ExpiresAt: now.Add(time.Hour)}
}

// A load that read the file before a write committed must not cache what it read.
func TestFillAfterWriteIsDropped(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name  string
		write func(c *sessionCache)
		want  string // "" means not cached
	}{
		{"put", func(c *sessionCache) { c.put(entry("k", "new", now)) }, "new"},
		{"remove", func(c *sessionCache) { c.remove("k") }, ""},
		{"removeIf", func(c *sessionCache) { c.removeIf(func(*cacheEntry) bool { return true }) }, ""},
		{"other stripe", func(c *sessionCache) {}, "old"}, // no write: the fill is kept
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newSessionCache(10)
			_, res, tok := c.lookup("k", now)
			if res != cacheMiss {
				t.Fatalf("lookup on empty cache = %v", res)
			}
			tc.write(c)
			c.fill(entry("k", "old", now), tok)
			x, res, _ := c.lookup("k", now)
			switch {
			case tc.want == "" && res != cacheMiss:
				t.Fatalf("stale fill cached: %q", x.Data)
			case tc.want != "" && (res != cacheHit || string(x.Data) != tc.want):
				t.Fatalf("lookup = %q (%v), want %q", x.Data, res, tc.want)
			}
		})
	}
}

// The cache never holds more than its size, and a session in use survives a stream of
// one-off sessions (with a size below the sample, eviction is exact LRU).
func TestCacheBoundAndLRU(t *testing.T) {
	now := time.Now()
	c := newSessionCache(4)
	c.put(entry("hot", "h", now))
	for i := range 100 {
		c.put(entry(fmt.Sprint("cold", i), "c", now))
		if _, res, _ := c.lookup("hot", now); res != cacheHit {
			t.Fatalf("hot session evicted after %d inserts", i+1)
		}
		if len(c.m) > 4 {
			t.Fatalf("cache holds %d entries, size 4", len(c.m))
		}
	}
	if _, res, _ := c.lookup("cold0", now); res != cacheMiss {
		t.Fatal("oldest cold session still cached")
	}
}

// After close nothing is served or filled.
func TestCacheCloseStopsServing(t *testing.T) {
	now := time.Now()
	c := newSessionCache(4)
	c.put(entry("k", "d", now))
	_, _, tok := c.lookup("j", now)
	c.close()
	c.fill(entry("j", "d", now), tok)
	c.put(entry("k", "d", now))
	for _, k := range []string{"k", "j"} {
		if _, res, _ := c.lookup(k, now); res != cacheMiss {
			t.Fatalf("closed cache serves %q", k)
		}
	}
}
