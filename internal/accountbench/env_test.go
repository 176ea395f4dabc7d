package accountbench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
	"github.com/rampart-go/rampart/store/sqlite"
)

// backend opens a fresh, isolated store for one benchmark or test.
type backend struct {
	name string
	open func(tb testing.TB) store.Store
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// backends are the stores measured: memory and SQLite always, PostgreSQL and Redis when
// RAMPART_TEST_POSTGRES_URL / RAMPART_TEST_REDIS_URL are set (skipped with a message otherwise).
var backends = []backend{
	{"memory", func(tb testing.TB) store.Store { return memory.New() }},
	{"sqlite", func(tb testing.TB) store.Store {
		s, err := sqlite.Open(tb.TempDir() + "/bench.db")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", openPostgres},
	{"redis", openRedis},
}

func openPostgres(tb testing.TB) store.Store {
	u := os.Getenv("RAMPART_TEST_POSTGRES_URL")
	if u == "" {
		tb.Skip("PostgreSQL skipped: set RAMPART_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	ctx := context.Background()
	schema := randomName("rampart_accountbench_")
	// Dropping the random schema leaves nothing behind on the shared server.
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			tb.Errorf("cleanup: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	})
	s, err := postgres.Open(ctx, u, postgres.Options{Schema: schema, MaxConns: 16})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func openRedis(tb testing.TB) store.Store {
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		tb.Skip("Redis skipped: set RAMPART_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
	}
	ctx := context.Background()
	prefix := randomName("rampart-accountbench-") + ":"
	// Users have no TTL in Redis, so the keys under the random prefix are deleted at the end.
	tb.Cleanup(func() {
		opt, err := goredis.ParseURL(u)
		if err != nil {
			tb.Errorf("cleanup: %v", err)
			return
		}
		c := goredis.NewClient(opt)
		defer c.Close()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				tb.Errorf("cleanup: %v", err)
				return
			}
			keys = keys[n:]
		}
	})
	s, err := redis.Open(ctx, u, redis.Options{KeyPrefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// newApp starts the reference app over st with the real clock. The per-IP request and login
// rate limits are set out of reach so that every request reaches the code being measured
// (the lockout check, the hasher), and loopback is a trusted proxy so a request's client IP
// comes from X-Forwarded-For, which lets one process play many clients.
func newApp(tb testing.TB, st store.Store, extra map[string]string) (*apptest.Env, http.Handler) {
	tb.Helper()
	env := map[string]string{
		"RAMPART_RATE":            "1000000000/s",
		"RAMPART_LOGIN_RATE":      "1000000000/s",
		"RAMPART_TRUSTED_PROXIES": "127.0.0.1/32",
	}
	for k, v := range extra {
		env[k] = v
	}
	e := apptest.New(tb, apptest.Options{Store: st, RealClock: true, Env: env})
	return e, e.Server.Config.Handler
}

// loginRequest is a prebuilt POST /accounts/login as a same-origin browser form post from
// client ip (through the trusted loopback proxy). Serve copies of it with serveCopy.
func loginRequest(username, password, ip string) (*http.Request, []byte) {
	body := []byte(url.Values{"username": {username}, "password": {password}}.Encode())
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/accounts/login", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://127.0.0.1")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("X-Forwarded-For", ip)
	r.RemoteAddr = "127.0.0.1:40000"
	return r, body
}

// sink is a reusable ResponseWriter that keeps the status and counts the body, so the
// benchmark loop measures the handler rather than a recorder's buffer growth.
type sink struct {
	h    http.Header
	code int
	n    int
	body *bytes.Buffer // kept only when non-nil
}

func newSink() *sink { return &sink{h: make(http.Header)} }

func (s *sink) Header() http.Header { return s.h }

func (s *sink) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}

func (s *sink) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	s.n += len(p)
	if s.body != nil {
		s.body.Write(p)
	}
	return len(p), nil
}

func (s *sink) reset() {
	clear(s.h)
	s.code, s.n = 0, 0
	if s.body != nil {
		s.body.Reset()
	}
}

// serveCopy serves a shallow copy of proto (own body reader) into w, as the server would
// serve a fresh request with these headers.
func serveCopy(h http.Handler, w http.ResponseWriter, proto *http.Request, body []byte) {
	r := new(http.Request)
	*r = *proto
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	h.ServeHTTP(w, r)
}

// cpuTime is the user + system CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
