package sqlite

import (
	"bytes"
	"hash/maphash"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// DefaultCacheSize is how many sessions the in-process cache keeps when Options.CacheSize is 0.
// At a few hundred bytes a session this is a few megabytes.
const DefaultCacheSize = 10000

// evictSample is how many entries an insert into a full cache looks at to pick the least
// recently used one (Redis's sampled LRU): O(1) per insert, close to true LRU in practice.
const evictSample = 5

// gens is the number of write-generation stripes; see sessionCache.gen.
const gens = 64

// sessionCache is a bounded write-through copy of recently used sessions. Written by hand
// because it must follow the store's write order (see Store.smu and gen), which no generic
// cache library can know about.
//
// Entries are kept exactly as the database would return them (times to the microsecond, in
// UTC), so a hit is indistinguishable from a load.
type sessionCache struct {
	mu     sync.Mutex
	max    int
	m      map[string]*cacheEntry
	tick   uint64
	closed bool
	seed   maphash.Seed
	// gen counts the writes to keys hashing into each stripe. A load that missed the cache
	// notes its stripe's gen before reading the database and fills the cache only if it has
	// not moved since: otherwise a write may have committed after the read started, and the
	// row it read may be older than what the cache holds or must not hold (a deletion).
	gen [gens]uint64
}

type cacheEntry struct {
	s       store.Session
	expires int64 // ExpiresAt in microseconds, compared exactly as the SQL does
	used    uint64
}

func newSessionCache(size int) *sessionCache {
	return &sessionCache{max: size, m: make(map[string]*cacheEntry, min(size, 1024)), seed: maphash.MakeSeed()}
}

func (c *sessionCache) stripe(key string) int {
	return int(maphash.String(c.seed, key) % gens)
}

// lookupResult says what the cache knows about a key.
type lookupResult int

const (
	cacheMiss    lookupResult = iota // ask the database, then fill with the token
	cacheHit                         // the session is live
	cacheExpired                     // the session is known and expired: ErrNotFound
)

// lookup returns a copy of the live cached session, or reports a miss with the token that
// fill needs.
func (c *sessionCache) lookup(key string, now time.Time) (store.Session, lookupResult, uint64) {
	c.mu.Lock()
	e, ok := c.m[key]
	if !ok {
		tok := c.gen[c.stripe(key)]
		c.mu.Unlock()
		return store.Session{}, cacheMiss, tok
	}
	if e.expires <= common.Micros(now) {
		c.mu.Unlock()
		return store.Session{}, cacheExpired, 0
	}
	c.tick++
	e.used = c.tick
	x := e.s
	c.mu.Unlock()
	// Copied outside the lock (every request's load waited for the copies of the others): an
	// entry's Data is never changed in place, only replaced (insert), so x.Data stays valid.
	x.Data = bytes.Clone(x.Data) // callers own what they get
	return x, cacheHit, 0
}

// fill caches x, read from the database after lookup handed out tok, unless a write to its
// stripe happened in between (then the next load reads the database again).
func (c *sessionCache) fill(x store.Session, tok uint64) {
	x.Data = bytes.Clone(x.Data) // the caller keeps the loaded slice
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.gen[c.stripe(x.Key)] != tok {
		return
	}
	c.insert(x)
}

// put records a committed write of x. The caller holds Store.smu, so puts happen in commit order.
func (c *sessionCache) put(x store.Session) {
	x.Data = bytes.Clone(x.Data)
	x.CreatedAt, x.LastSeen, x.ExpiresAt = normal(x.CreatedAt), normal(x.LastSeen), normal(x.ExpiresAt)
	c.putOwned(x)
}

// putOwned is put of an x whose Data the cache may keep (nobody changes it) and whose times
// are already normal.
func (c *sessionCache) putOwned(x store.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[c.stripe(x.Key)]++
	if !c.closed {
		c.insert(x)
	}
}

// insert adds or replaces x, evicting the least recently used of a few sampled entries when
// the cache is full. Go's map iteration starts at a random place, so the sample is random.
func (c *sessionCache) insert(x store.Session) {
	c.tick++
	if e, ok := c.m[x.Key]; ok {
		e.s, e.expires, e.used = x, common.Micros(x.ExpiresAt), c.tick
		return
	}
	if len(c.m) >= c.max {
		var victim string
		var oldest uint64
		n := 0
		for k, e := range c.m {
			if n == 0 || e.used < oldest {
				victim, oldest = k, e.used
			}
			if n++; n == evictSample {
				break
			}
		}
		delete(c.m, victim)
	}
	c.m[x.Key] = &cacheEntry{s: x, expires: common.Micros(x.ExpiresAt), used: c.tick}
}

// has reports whether key is cached (expired or not): a row for it exists in the file, as
// the cache follows every write.
func (c *sessionCache) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[key]
	return ok
}

// remove forgets key after a deletion or a failed or refused write.
func (c *sessionCache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[c.stripe(key)]++
	delete(c.m, key)
}

// removeIf forgets every entry drop selects, after a write that touched rows the cache cannot
// name in advance (DeleteUserSessions, Sweep), and invalidates every load in flight.
func (c *sessionCache) removeIf(drop func(*cacheEntry) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.gen {
		c.gen[i]++
	}
	for k, e := range c.m {
		if drop(e) {
			delete(c.m, k)
		}
	}
}

// close empties the cache for good, so a closed Store answers every load from the (closed)
// database, with an error.
func (c *sessionCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	clear(c.m)
}

// normal is t as the database returns it.
func normal(t time.Time) time.Time { return common.FromMicros(common.Micros(t)) }
