package sqlite

import (
	"bytes"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// walStamp is the WAL-index header of the database: the first of the two 48-byte copies at
// the start of the "-shm" file (https://www.sqlite.org/walformat.html, "The WAL-Index
// Header"). SQLite rewrites it at every commit, by any connection of any process, before the
// commit is visible to readers: within one WAL its mxFrame only grows, a WAL restart changes
// its salt, and its checksum covers both. So an unchanged stamp means nothing was committed
// in between, whoever the writer (`rampart createuser`, `grant`, `unlock`, the sqlite3 shell,
// this process) — the cheap change signal that PRAGMA data_version is not (that pragma, like
// every read, opens a read transaction: the shared-memory locks that cost as much as the
// row itself).
type walStamp [48]byte

// walWatch reads walStamps from a read-only shared mapping of the -shm file (the memory
// SQLite itself reads the header from): no system call and no SQLite lock per look. The
// Store pins one database connection for as long as the watch lives, so the -shm file is
// never truncated or deleted under the mapping (SQLite does either only when a process opens
// or closes the database's last connection).
type walWatch struct {
	mem []byte // the file's first page, mapped
}

// stamp returns the current header. ok is false when it cannot be trusted: the two copies
// differ (a commit is writing them: SQLite writes the second copy first, so equal copies are
// a settled header), or the header is not initialised.
func (w *walWatch) stamp() (st walStamp, ok bool) {
	if w == nil {
		return st, false
	}
	var buf [96]byte
	if !readShared(w.mem, &buf) || !bytes.Equal(buf[:48], buf[48:]) || buf[12] != 1 { // isInit
		return st, false
	}
	copy(st[:], buf[:48])
	return st, true
}

// stampCache keeps values read from the database with the stamp taken just before the read:
// an entry is answered only while the stamp is unchanged, i.e. nothing at all was committed
// since, so a hit is exactly what the read would return now. Written by hand: it is a map
// and a comparison, and the validity rule is this file's, not a generic cache's.
type stampCache[V any] struct {
	mu  sync.Mutex
	max int
	m   map[string]stamped[V]
}

type stamped[V any] struct {
	v     V
	stamp walStamp
	at    int64 // the query's now, in microseconds (session lists); 0 when unused
}

func newStampCache[V any](max int) *stampCache[V] {
	return &stampCache[V]{max: max, m: make(map[string]stamped[V])}
}

// get returns the value cached for key if it was read under stamp now (and, for at > 0,
// for a query time not after at).
func (c *stampCache[V]) get(key string, now walStamp, at int64) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || e.stamp != now || at < e.at {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put caches v, read after the stamp was taken. A full cache is emptied: entries of older
// stamps are dead anyway, and a working set this large reads the database as before.
func (c *stampCache[V]) put(key string, v V, stamp walStamp, at int64) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = stamped[V]{v: v, stamp: stamp, at: at}
	c.mu.Unlock()
}

// readThrough answers key from c while nothing was committed since it was cached, else reads
// it with load and caches it. The stamp is taken before load's read, so a commit during the
// read leaves the entry with an older stamp than the file's: the next look reads again. own
// makes the copy a caller may keep, of what is cached and of what is answered from it; at is
// as for get.
func readThrough[V any](w *walWatch, c *stampCache[V], key string, at int64, own func(V) V, load func() (V, error)) (V, error) {
	stamp, stamped := w.stamp()
	if stamped {
		if v, hit := c.get(key, stamp, at); hit {
			return own(v), nil
		}
	}
	v, err := load()
	if err == nil && stamped {
		c.put(key, own(v), stamp, at)
	}
	return v, err
}

// cachedUser returns a copy the caller owns.
func cachedUser(u store.User) store.User {
	u.TOTPSecret = bytes.Clone(u.TOTPSecret)
	return u
}

// liveSessions returns copies of the sessions of list that are unexpired at now (list was
// read with an earlier or equal now, in the order the store returns).
func liveSessions(list []store.Session, now time.Time) []store.Session {
	us := common.Micros(now)
	out := make([]store.Session, 0, len(list))
	for _, x := range list {
		if common.Micros(x.ExpiresAt) > us {
			x.Data = bytes.Clone(x.Data)
			out = append(out, x)
		}
	}
	return out
}
