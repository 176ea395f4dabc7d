package rampart_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/internal/testbackends/redisserver"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/open"
	"github.com/rampart-go/rampart/store/redis"
	"github.com/rampart-go/rampart/store/sqlite"
	"github.com/rampart-go/rampart/twofactor"
)

const testKey = "rampart-test-key-0123456789abcdefghijklmnopqrstuvwxyz"

func settingsOf(t *testing.T, env map[string]string) settings.Settings {
	t.Helper()
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rampart.New probes every Redis it opens: a Redis-only store that keeps nothing (or cannot
// say) refuses to start in production, unless opted out; development and RDB snapshots only
// warn; a Redis beside a database only warns (locks are not kept there); an append-only
// file says nothing; tools (createuser, unlock) do not probe.
func TestNewRedisPersistence(t *testing.T) {
	none := redisserver.Start(t)
	aof := redisserver.Start(t, "--appendonly", "yes")
	rdb := redisserver.Start(t, "--save", "900 1")
	hidden := redisserver.Start(t, "--rename-command", "CONFIG", "")
	tests := []struct {
		name   string
		env    map[string]string
		tool   bool
		refuse bool
		warn   []string // substrings of the logged W030 warning(s); nil: none logged
	}{
		{name: "redis only, no persistence", env: map[string]string{"RAMPART_DATABASE_URL": none.URL()}, refuse: true},
		{name: "redis only, persistence hidden", env: map[string]string{"RAMPART_DATABASE_URL": hidden.URL()}, refuse: true},
		{name: "redis only, no persistence, opt-out", env: map[string]string{"RAMPART_DATABASE_URL": none.URL(), "RAMPART_INSECURE_REDIS_NO_PERSISTENCE": "1"},
			warn: []string{"does not persist", "started anyway: RAMPART_INSECURE_REDIS_NO_PERSISTENCE is on"}},
		{name: "redis only, no persistence, dev", env: map[string]string{"RAMPART_DATABASE_URL": none.URL(), "RAMPART_INSECURE_DEV": "1"},
			warn: []string{"does not persist", "started anyway in development mode"}},
		{name: "redis only, no persistence, tool", env: map[string]string{"RAMPART_DATABASE_URL": none.URL()}, tool: true},
		{name: "redis only, snapshots", env: map[string]string{"RAMPART_DATABASE_URL": rdb.URL()},
			warn: []string{"keeps RDB snapshots only", "a single change waits up to 15m0s"}},
		{name: "redis only, aof", env: map[string]string{"RAMPART_DATABASE_URL": aof.URL()}},
		{name: "sqlite + redis, no persistence", env: map[string]string{"RAMPART_REDIS_URL": none.URL()},
			warn: []string{"RAMPART_REDIS_URL", "logs every user out", "lockout and 2FA counters are kept in RAMPART_DATABASE_URL"}},
		{name: "sqlite + redis, aof", env: map[string]string{"RAMPART_REDIS_URL": aof.URL()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"RAMPART_SECRET_KEY": testKey, "RAMPART_ALLOWED_HOSTS": "example.com",
				"RAMPART_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "r.db")}
			for k, v := range tc.env {
				env[k] = v
			}
			var logs bytes.Buffer
			s := settingsOf(t, env)
			opts := rampart.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			if tc.tool { // as the rampart command's tools do: the store opened beside the server and passed in
				db, err := open.OpenWith(t.Context(), s.DatabaseURL.Reveal(), s.RedisURL.Reveal(), open.Options{ServesNoSessions: true})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				opts.Store = db
			}
			st, err := rampart.New(t.Context(), s, opts)
			if tc.refuse {
				if err == nil {
					st.Close()
					t.Fatal("New started")
				}
				for _, want := range []string{"RAMPART-W030", "Refusing to start", "appendonly yes", "RAMPART_INSECURE_REDIS_NO_PERSISTENCE=1"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error does not say %q: %v", want, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			l := logs.String()
			if tc.warn == nil && strings.Contains(l, "RAMPART-W030") {
				t.Errorf("unexpected warning: %s", l)
			}
			for _, want := range tc.warn {
				if !strings.Contains(l, "RAMPART-W030") || !strings.Contains(l, want) {
					t.Errorf("log does not warn %q: %s", want, l)
				}
			}
		})
	}
}

// With sessions and counters in Redis beside a database, the lockout and 2FA throttle counters
// are written to the database (the durable half of the split store), and the login rate limit
// stays in Redis. The failures go through the reference app, as a browser's would.
func TestLockCountersInDatabaseBesideRedis(t *testing.T) {
	srv := redisserver.Start(t, "--appendonly", "yes")
	ctx := context.Background()
	fast, err := redis.Open(ctx, srv.URL(), redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	durable, err := sqlite.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	sp := open.Split(fast, durable)
	t.Cleanup(func() { sp.Close() })
	env := apptest.New(t, apptest.Options{Store: sp, RealClock: true, Env: map[string]string{"RAMPART_LOCKOUT_LIMIT": "2"}})
	const pw = "a long unusual passphrase 42"
	u := env.CreateUser(t, "ann", pw, false)
	c := env.Client(t)
	login := func(password string) int {
		c.Get("/accounts/login")
		return c.Post("", "/accounts/login", url.Values{"csrf_token": {c.Token()}, "username": {"ann"}, "password": {password}}).StatusCode
	}
	for i := range 3 {
		if st := login(fmt.Sprint("wrong ", i)); st != http.StatusOK && st != http.StatusTooManyRequests {
			t.Fatalf("wrong password %d: status %d", i+1, st)
		}
	}
	if st := login(pw); st != http.StatusTooManyRequests {
		t.Fatalf("right password after the lock: status %d, want 429", st)
	}
	u.TOTPEnabled = true // enough for Verify to try a backup code and count the failure
	if _, err := env.Stack.TwoFactor.Verify(ctx, u, "abcde-fghjk"); !errors.Is(err, twofactor.ErrInvalidCode) {
		t.Fatalf("wrong backup code: %v", err)
	}
	for _, tc := range []struct {
		prefix  string
		durable bool
	}{{"lockout:", true}, {"2fa:", true}, {"rl:login", false}} {
		inDB, err := sp.Durable.ListCounters(ctx, tc.prefix, 1, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		inRedis, err := sp.Fast.ListCounters(ctx, tc.prefix, 1, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if tc.durable && (len(inDB) == 0 || len(inRedis) != 0) || !tc.durable && (len(inDB) != 0 || len(inRedis) == 0) {
			t.Errorf("%s counters: %d in the database, %d in Redis; want them in the %s", tc.prefix, len(inDB), len(inRedis),
				map[bool]string{true: "database", false: "Redis"}[tc.durable])
		}
	}
}
