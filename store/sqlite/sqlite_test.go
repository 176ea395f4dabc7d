package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/rampart-go/rampart/internal/comments/commentstest"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/sqlite"
	"github.com/rampart-go/rampart/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openNoCache(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.OpenWith(path, sqlite.Options{NoSessionCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Log("conformance: sqlite")
	for _, tc := range []struct {
		name string
		new  func(t *testing.T) store.Store
	}{
		{"cached", func(t *testing.T) store.Store { return open(t, filepath.Join(t.TempDir(), "rampart.db")) }},
		{"tiny-cache", func(t *testing.T) store.Store { // evictions on every other insert
			s, err := sqlite.OpenWith(filepath.Join(t.TempDir(), "rampart.db"), sqlite.Options{CacheSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"uncached", func(t *testing.T) store.Store { return openNoCache(t, filepath.Join(t.TempDir(), "rampart.db")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, tc.new)
			commentstest.Run(t, tc.new)
		})
	}
}

// Two stores on one file stand for two processes on one host. They run without the session
// cache, as the package documents for this deployment: a cached store cannot see the other
// process's session writes (TestCacheAssumesOneWriter shows what goes wrong).
func TestShared(t *testing.T) {
	t.Log("conformance (shared file): sqlite")
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "rampart.db")
		return openNoCache(t, path), openNoCache(t, path)
	})
}

func TestMigrateIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	s := open(t, path)
	for range 3 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != 6 {
		t.Fatalf("SchemaVersion = %d, %v; want 6", v, err)
	}
	// A reopen keeps data and does not re-run migrations.
	if err := s.AppendEvent(ctx, store.Event{Kind: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil { // events are batched
		t.Fatal(err)
	}
	s2, err := sqlite.OpenWith(path, sqlite.Options{NoSessionCache: true}) // s holds the session lock
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ev, err := s2.RecentEvents(ctx, 5)
	if err != nil || len(ev) != 1 {
		t.Fatalf("after reopen: %v, %v", ev, err)
	}
	// A database from a newer program is refused instead of being misread.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.OpenWith(path, sqlite.Options{NoSessionCache: true}); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Fatalf("Open of a schema newer than it knows: err = %v, want a schema error", err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro", filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")} {
		if s, err := sqlite.Open(p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// After Close every method fails with an error, never a panic or a false success.
func TestClosedFailsClosed(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ctx := context.Background()
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
	ok, err := s.ClaimStep(ctx, "d", 1)
	if ok || err == nil {
		t.Fatalf("ClaimStep after Close = %v, %v", ok, err)
	}
	if _, err := s.LoadSession(ctx, "k", store.Session{}.ExpiresAt); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadSession after Close: %v", err)
	}
}

func BenchmarkLoadSave(b *testing.B) {
	storetest.BenchLoadSave(b, open(b, filepath.Join(b.TempDir(), "b.db")))
}

func BenchmarkIncr(b *testing.B) {
	storetest.BenchIncr(b, open(b, filepath.Join(b.TempDir(), "b.db")))
}

// FuzzKeys stores counters and sessions under arbitrary bytes (keys carry user input such as
// a typed username) and checks they round-trip exactly and never alias another key.
func FuzzKeys(f *testing.F) {
	for _, k := range []string{"", "a", "a\x00b", "\xff\xfe", "lock:user:%", "x' OR '1'='1", "日本"} {
		f.Add(k)
	}
	s := open(f, filepath.Join(f.TempDir(), "fuzz.db"))
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	f.Fuzz(func(t *testing.T, key string) {
		c, err := s.Incr(ctx, key, 1, now, time.Minute, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetCounter(ctx, key, now)
		if err != nil || got.N != c.N || got.Key != key {
			t.Fatalf("GetCounter(%q) = %+v, %v; Incr gave %+v", key, got, err, c)
		}
		other, err := s.GetCounter(ctx, key+"\x00", now)
		if err != nil || other.Key != key+"\x00" {
			t.Fatalf("GetCounter(%q+NUL) = %+v, %v", key, other, err)
		}
		if err := s.SaveSession(ctx, store.Session{Key: key, UserID: "u", LastSeen: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		x, err := s.LoadSession(ctx, key, now)
		if err != nil || x.Key != key {
			t.Fatalf("LoadSession(%q) = %+v, %v", key, x, err)
		}
		if err := s.DeleteSession(ctx, key); err != nil {
			t.Fatal(err)
		}
	})
}

// Every backend offers the session package's Updater (UpdateSession), checked at compile time.
var _ storetest.Updater = (*sqlite.Store)(nil)

// BenchmarkLoadSession measures a read alone (every request with a session loads; only
// changed or stale sessions are saved), served by the session cache.
func BenchmarkLoadSession(b *testing.B) {
	benchLoad(b, open(b, filepath.Join(b.TempDir(), "b.db")))
}

// BenchmarkLoadSessionNoCache is the statement path (several processes on one file, or a
// cache miss).
func BenchmarkLoadSessionNoCache(b *testing.B) {
	benchLoad(b, openNoCache(b, filepath.Join(b.TempDir(), "b.db")))
}

func BenchmarkLoadSaveNoCache(b *testing.B) {
	storetest.BenchLoadSave(b, openNoCache(b, filepath.Join(b.TempDir(), "b.db")))
}

func benchLoad(b *testing.B, s *sqlite.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	names := make([]string, 64)
	for i := range names {
		names[i] = "bench" + strconv.Itoa(i)
		x := store.Session{Key: names[i], UserID: "u" + strconv.Itoa(i%8), Data: make([]byte, 200),
			CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.SaveSession(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.LoadSession(ctx, names[i%len(names)], now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func TestRetention(t *testing.T) {
	s, err := sqlite.OpenWith(filepath.Join(t.TempDir(), "r.db"), sqlite.Options{MaxEvents: 3, MaxComments: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunRetention(t, s, 3)
	commentstest.RunRetention(t, s, 2)
	sync, err := sqlite.OpenWith(filepath.Join(t.TempDir(), "r.db"), sqlite.Options{MaxEvents: 3, MaxComments: 2, SyncSessionWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sync.Close()
	storetest.RunRetention(t, sync, 3)
	commentstest.RunRetention(t, sync, 2)
}

// The events table stays within 1% over MaxEvents between sweeps, written in batches or
// one by one, and keeps the newest.
func TestEventsBoundedBetweenSweeps(t *testing.T) {
	ctx := context.Background()
	for _, syncWrites := range []bool{false, true} {
		s, err := sqlite.OpenWith(filepath.Join(t.TempDir(), "e.db"), sqlite.Options{MaxEvents: 1000, SyncSessionWrites: syncWrites})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5000 {
			if err := s.AppendEvent(ctx, store.Event{Kind: "k", Detail: strconv.Itoa(i), Time: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if i%700 == 0 {
				if err := s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		ev, err := s.RecentEvents(ctx, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) < 1000 || len(ev) > 1010 || ev[0].Detail != "4999" || ev[999].Detail != "4000" {
			t.Errorf("sync %v: %d events kept (newest %q), want 1000 to 1010 ending with 4999", syncWrites, len(ev), ev[0].Detail)
		}
		s.Close()
	}
}
