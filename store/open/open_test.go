package open

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-go/rampart/internal/comments/commentstest"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
	"github.com/rampart-go/rampart/store/sqlite"
	"github.com/rampart-go/rampart/store/storetest"
)

func TestKind(t *testing.T) {
	tests := []struct {
		in, kind, path string
		opts           sqlite.Options
	}{
		{"postgres://u:p@h/db", "postgres", "", sqlite.Options{}},
		{"PostgreSQL://h/db", "postgres", "", sqlite.Options{}},
		{"redis://127.0.0.1:6379/0", "redis", "", sqlite.Options{}},
		{"rediss://h:6380", "redis", "", sqlite.Options{}},
		{"sqlite:///var/lib/rampart.db", "sqlite", "/var/lib/rampart.db", sqlite.Options{}},
		{"sqlite://rampart.db", "sqlite", "rampart.db", sqlite.Options{}},
		{"sqlite:data/r.db", "sqlite", "data/r.db", sqlite.Options{}},
		{"./rampart.db", "sqlite", "./rampart.db", sqlite.Options{}},
		{"file:r.db", "sqlite", "r.db", sqlite.Options{}},
		{"file:///abs/r.db", "sqlite", "/abs/r.db", sqlite.Options{}},
		{"sqlite::memory:", "memory", "", sqlite.Options{}},
		{":memory:", "memory", "", sqlite.Options{}},
		{"sqlite://", "", "", sqlite.Options{}},
		{"sqlite://r.db?_pragma=x", "", "", sqlite.Options{}},
		{"sqlite://r.db?session_cache=off", "sqlite", "r.db", sqlite.Options{NoSessionCache: true}},
		{"sqlite://r.db?session_cache=on", "sqlite", "r.db", sqlite.Options{}},
		{"sqlite://r.db?session_cache=no", "", "", sqlite.Options{}},
		{"sqlite:///a/r.db?session_write_delay=50ms", "sqlite", "/a/r.db", sqlite.Options{SessionWriteDelay: 50 * time.Millisecond}},
		{"r.db?session_write_delay=0", "sqlite", "r.db", sqlite.Options{SyncSessionWrites: true}},
		{"r.db?session_write_delay=-1s", "", "", sqlite.Options{}},
		{"r.db?session_write_delay=soon", "", "", sqlite.Options{}},
		{"r.db?session_write_delay=1s#x", "", "", sqlite.Options{}},
		{"r.db?session_cache=off&session_write_delay=1h", "sqlite", "r.db", sqlite.Options{NoSessionCache: true, SessionWriteDelay: time.Hour}},
		{":memory:?session_cache=off", "", "", sqlite.Options{}},
		{"", "", "", sqlite.Options{}},
		{"mysql://u:secret@h/db", "", "", sqlite.Options{}},
	}
	for _, tc := range tests {
		k, p, opts, err := sqliteKind(tc.in)
		if k != tc.kind || p != tc.path || opts != tc.opts || (err == nil) != (tc.kind != "") {
			t.Errorf("kind(%q) = %q, %q, %+v, %v; want %q, %q, %+v", tc.in, k, p, opts, err, tc.kind, tc.path, tc.opts)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

// sqliteKind is kind with, for SQLite, the file and the options store/sqlite opens it with.
func sqliteKind(u string) (k, path string, opts sqlite.Options, err error) {
	k, d, err := kind(u)
	if k == "sqlite" {
		path = d.DSN
		opts = sqlite.Options{NoSessionCache: d.SQLiteNoSessionCache, SessionWriteDelay: d.SQLiteWriteDelay,
			SyncSessionWrites: d.SQLiteSyncWrites}
	}
	return k, path, opts, err
}

func TestOpenSQLiteAndMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	if err := Migrate(ctx, "sqlite:"+path); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*sqlite.Store); !ok {
		t.Fatalf("Open(path) = %T, want *sqlite.Store", s)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// The split store passes the conformance suite (memory halves stand in for Redis and SQL).
func TestSplitConformance(t *testing.T) {
	t.Log("conformance: split (memory + memory)")
	storetest.Run(t, func(t *testing.T) store.Store { return Split(memory.New(), memory.New()) })
	commentstest.Run(t, func(t *testing.T) store.Store { return Split(memory.New(), memory.New()) })
}

func TestOpenPostgresRedis(t *testing.T) {
	pg, rd := os.Getenv("RAMPART_TEST_POSTGRES_URL"), os.Getenv("RAMPART_TEST_REDIS_URL")
	if pg == "" || rd == "" {
		t.Skip("set RAMPART_TEST_POSTGRES_URL and RAMPART_TEST_REDIS_URL to test opening PostgreSQL + Redis")
	}
	ctx := context.Background()
	pg = isolatedSchema(t, pg)
	if err := Migrate(ctx, pg); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, rd); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, pg, rd)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sp, ok := s.(*SplitStore)
	if !ok {
		t.Fatalf("Open = %T, want *SplitStore", s)
	}
	if _, ok := sp.Fast.(*redis.Store); !ok {
		t.Fatalf("fast half = %T", sp.Fast)
	}
	if _, ok := sp.Durable.(*postgres.Store); !ok {
		t.Fatalf("durable half = %T", sp.Durable)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, pg, "redis://127.0.0.1:1/0"); err == nil {
		t.Fatal("Open succeeded with an unreachable Redis")
	}
}

// isolatedSchema creates a random schema, drops it when the test ends, and returns rawURL with
// search_path pointing at it, so the shared test database's public schema is left alone.
func isolatedSchema(t *testing.T, rawURL string) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	name := "rampart_test_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, rawURL)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// countingStore counts Sweep calls on top of a memory store.
type countingStore struct {
	*memory.Store
	sweeps int
}

func (c *countingStore) Sweep(ctx context.Context, now time.Time) error {
	c.sweeps++
	return c.Store.Sweep(ctx, now)
}

func TestSweepEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &countingStore{Store: memory.New()}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { SweepEvery(ctx, s, time.Minute, nil); close(done) }()
		time.Sleep(5*time.Minute + time.Second) // the bubble's fake clock
		synctest.Wait()
		cancel()
		<-done
		if s.sweeps != 5 {
			t.Fatalf("sweeps in 5m at 1/min = %d, want 5", s.sweeps)
		}
	})
}

// FuzzKind: any database URL is classified or refused with an error, never a panic; an
// accepted SQLite URL names a file and its options are valid.
func FuzzKind(f *testing.F) {
	for _, s := range []string{"sqlite://r.db?session_cache=off&session_write_delay=5ms", "postgres://u:p@h/db",
		"file:///a/b.db?session_write_delay=0", "sqlite::memory:", "r.db?x=%zz", "redis://h:1/0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		k, path, opts, err := sqliteKind(u)
		if err != nil {
			if k != "" {
				t.Fatalf("kind(%q) = %q with error %v", u, k, err)
			}
			return
		}
		if k == "sqlite" && (path == "" || strings.ContainsAny(path, "?#") || opts.SessionWriteDelay < 0) {
			t.Fatalf("kind(%q) accepted path %q, opts %+v", u, path, opts)
		}
	})
}
