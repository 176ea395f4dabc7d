// Package testbackends opens stores on the PostgreSQL and Redis servers that tests share
// (RAMPART_TEST_POSTGRES_URL, RAMPART_TEST_REDIS_URL), each isolated in a random schema or
// key prefix that is removed when the test ends, and skips the test with a clear message when
// the server's URL is unset. It is for tests only; it lives apart from store/storetest so the
// public conformance suite does not depend on rampart's own backends.
package testbackends

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
	"github.com/rampart-go/rampart/store/sqlite"
)

// PostgresURL returns RAMPART_TEST_POSTGRES_URL and skips the test when it is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("RAMPART_TEST_POSTGRES_URL")
	if u == "" {
		t.Skip("PostgreSQL test skipped: set RAMPART_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return u
}

// RedisURL returns RAMPART_TEST_REDIS_URL and skips the test when it is unset.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		t.Skip("Redis test skipped: set RAMPART_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
	}
	return u
}

// PostgresSchema returns a fresh random schema name and drops the schema (created by the
// store's migration) when the test ends, so tests sharing one server never see each other's
// rows. Call it before opening stores on the schema: cleanups run last-registered first, so
// the stores are closed before the schema is dropped.
func PostgresSchema(t testing.TB, dbURL string) string {
	t.Helper()
	name := "rampart_test_" + randomHex()
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// RedisPrefix returns a fresh random key prefix and deletes every key under it when the test
// ends (users and events have no TTL), so tests sharing one server never see each other's keys.
// Call it before opening stores on the prefix, for the same reason as PostgresSchema.
func RedisPrefix(t testing.TB, rawURL string) string {
	t.Helper()
	prefix := "rampart-test:" + randomHex() + ":"
	t.Cleanup(func() {
		opt, err := goredis.ParseURL(rawURL)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		c := goredis.NewClient(opt)
		defer c.Close()
		ctx := context.Background()
		it := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		if err := it.Err(); err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("cleanup: %v", err)
				return
			}
			keys = keys[n:]
		}
	})
	return prefix
}

// OpenPostgres opens a store on dbURL with opt, failing the test on error, and closes it when
// the test ends. Isolation is the caller's (opt.Schema from PostgresSchema).
func OpenPostgres(t testing.TB, dbURL string, opt postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dbURL, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// OpenRedis opens a store on rawURL with opt, failing the test on error, and closes it when
// the test ends. Isolation is the caller's (opt.KeyPrefix from RedisPrefix).
func OpenRedis(t testing.TB, rawURL string, opt redis.Options) *redis.Store {
	t.Helper()
	s, err := redis.Open(context.Background(), rawURL, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Postgres opens a store in a fresh schema of the test server (opt.Schema is replaced),
// skipping the test when RAMPART_TEST_POSTGRES_URL is unset.
func Postgres(t testing.TB, opt postgres.Options) *postgres.Store {
	t.Helper()
	u := PostgresURL(t)
	opt.Schema = PostgresSchema(t, u)
	return OpenPostgres(t, u, opt)
}

// Redis opens a store under a fresh key prefix of the test server (opt.KeyPrefix is
// replaced), skipping the test when RAMPART_TEST_REDIS_URL is unset.
func Redis(t testing.TB, opt redis.Options) *redis.Store {
	t.Helper()
	u := RedisURL(t)
	opt.KeyPrefix = RedisPrefix(t, u)
	return OpenRedis(t, u, opt)
}

// PostgresPair opens two stores on one fresh schema, as two application instances sharing a
// database would be (opt.Schema is replaced).
func PostgresPair(t testing.TB, opt postgres.Options) (a, b *postgres.Store) {
	t.Helper()
	u := PostgresURL(t)
	opt.Schema = PostgresSchema(t, u)
	return OpenPostgres(t, u, opt), OpenPostgres(t, u, opt)
}

// RedisPair opens two stores on one fresh key prefix, as two application instances sharing a
// Redis would be (opt.KeyPrefix is replaced).
func RedisPair(t testing.TB, opt redis.Options) (a, b *redis.Store) {
	t.Helper()
	u := RedisURL(t)
	opt.KeyPrefix = RedisPrefix(t, u)
	return OpenRedis(t, u, opt), OpenRedis(t, u, opt)
}

// SQLitePair opens two stores on one temporary SQLite file, as two processes sharing the file
// must (NoSessionCache in both; see sqlite.ErrSessionsInUse); both are closed when the test ends.
func SQLitePair(t testing.TB) (a, b *sqlite.Store) {
	t.Helper()
	return SQLitePairWith(t, sqlite.Options{})
}

// SQLitePairWith is SQLitePair with options (NoSessionCache is always set): for a test that
// races many writers through both instances and judges counts, not latency, a longer
// Options.Timeout keeps a loaded -race run from turning slowness into deadline errors.
func SQLitePairWith(t testing.TB, opt sqlite.Options) (a, b *sqlite.Store) {
	t.Helper()
	opt.NoSessionCache = true
	path := filepath.Join(t.TempDir(), "shared.db")
	open := func() *sqlite.Store {
		s, err := sqlite.OpenWith(path, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open()
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
