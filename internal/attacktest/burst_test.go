package attacktest

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/lockout"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
	"github.com/rampart-go/rampart/store/sqlite"
)

// burstSize is how many login attempts are released at once: five times the account limit.
const burstSize = 100

// burstStoreTimeout replaces the stores' 2 s operation deadline in this test: the burst's ~400
// counter writes queue for a few connections (SQLite's one writer, the pgx pool), and under the
// race detector on a loaded CI machine the queue's tail passed 2 s and answered 503. The test
// is about how many passwords get hashed, not about deadlines (TestFrozenStore is).
const burstStoreTimeout = time.Minute

// TestConcurrentBurstLockout fires burstSize logins at one account at the same moment, each
// from its own address (so the account limit, userLimit, is the one that binds), 99 with
// wrong passwords and one with the right one, on every backend and on two instances sharing
// one. Password hashes are counted by the hashers themselves: at most userLimit wrong guesses
// may be hashed (plus the right one when it got a slot, whose slot is then given back), where
// a guard that reads its counters before the hash and counts after it hashed nearly all 100.
// Once the burst is over and the account is locked, the right password is refused everywhere,
// and where the audit trail keeps events in order no login succeeded after the lockout.
func TestConcurrentBurstLockout(t *testing.T) {
	t.Parallel()
	single := func(open func(t *testing.T) store.Store) func(t *testing.T) []store.Store {
		return func(t *testing.T) []store.Store { return []store.Store{open(t)} }
	}
	pair := func(be sharedBackend) func(t *testing.T) []store.Store {
		return func(t *testing.T) []store.Store { a, b := be.open(t); return []store.Store{a, b} }
	}
	cases := []struct {
		name string
		open func(t *testing.T) []store.Store
	}{
		{"memory", single(func(*testing.T) store.Store { return memory.New() })},
		{"sqlite", single(func(t *testing.T) store.Store {
			s, err := sqlite.OpenWith(t.TempDir()+"/burst.db", sqlite.Options{Timeout: burstStoreTimeout})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})},
		{"postgres", single(func(t *testing.T) store.Store {
			return testbackends.Postgres(t, postgres.Options{Timeout: burstStoreTimeout})
		})},
		{"redis", single(func(t *testing.T) store.Store {
			return testbackends.Redis(t, redis.Options{Timeout: burstStoreTimeout})
		})},
	}
	pairs := []sharedBackend{
		{"sqlite", func(t *testing.T) (store.Store, store.Store) {
			path := t.TempDir() + "/shared.db"
			open := func() store.Store {
				s, err := sqlite.OpenWith(path, sqlite.Options{NoSessionCache: true, Timeout: burstStoreTimeout})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open()
		}},
		{"postgres", func(t *testing.T) (store.Store, store.Store) {
			return testbackends.PostgresPair(t, postgres.Options{Timeout: burstStoreTimeout})
		}},
		{"redis", func(t *testing.T) (store.Store, store.Store) {
			return testbackends.RedisPair(t, redis.Options{Timeout: burstStoreTimeout})
		}},
	}
	for _, be := range pairs {
		cases = append(cases, struct {
			name string
			open func(t *testing.T) []store.Store
		}{"two instances/" + be.name, pair(be)})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stores := tc.open(t)
			envs := make([]*apptest.Env, len(stores))
			for i, st := range stores {
				envs[i] = bruteEnv(t, st)
				// This test counts the guesses that get hashed, so every attempt must reach
				// the lockout: the queue wait is left to the request. Under -race on a loaded
				// machine the burst's queue would pass auth.DefaultMaxQueueWait and be
				// answered 503 (accountbench's TestLoginQueueWaitBound covers that answer).
				envs[i].Stack.Accounts.Hasher().MaxQueueWait = -1
			}
			envs[0].CreateUser(t, "alice", alicePW, false)
			before := hashes(envs)

			clients := make([]*apptest.Client, burstSize)
			for i := range clients {
				clients[i] = envs[i%len(envs)].Client(t)
				clients[i].IP = clientIP(50000 + i)
				// The burst's refused attempts wait their turn behind the hashes (the hashing
				// queue comes before the lockout reservation); under -race on a loaded machine
				// that passed apptest's 30 s. The test counts hashes, not latency.
				clients[i].HTTP.Timeout = 5 * time.Minute
			}
			const right = burstSize / 2
			statuses := make([]int, burstSize)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, c := range clients {
				pw := "guess-" + strconv.Itoa(i)
				if i == right {
					pw = alicePW
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					statuses[i] = c.Post("", "/accounts/login", url.Values{"username": {"alice"}, "password": {pw}}).StatusCode
				}()
			}
			close(start)
			wg.Wait()

			hashed := hashes(envs) - before
			byStatus := map[int]int{}
			for _, s := range statuses {
				byStatus[s]++
			}
			succeeded := statuses[right] == http.StatusSeeOther
			t.Logf("%s: hashes=%d limit=%d (%d concurrent attempts over %d instance(s); statuses %v; right password %d)",
				tc.name, hashed, userLimit, burstSize, len(envs), byStatus, statuses[right])
			wrongHashed := hashed
			if succeeded {
				wrongHashed--
			}
			if wrongHashed > userLimit {
				t.Fatalf("%d wrong passwords were hashed, limit %d", wrongHashed, userLimit)
			}
			for i, s := range statuses {
				if s != http.StatusOK && s != http.StatusTooManyRequests && !(i == right && s == http.StatusSeeOther) {
					t.Fatalf("attempt %d answered %d", i, s)
				}
			}
			// The burst filled the account's slots with failures unless the right password
			// took one; it is locked now exactly when userLimit wrong guesses were checked.
			locked := wrongHashed == userLimit
			for _, e := range envs {
				// Attempts refused while the right password held a slot are remembered as a
				// lock for LockCacheTTL; look past that memory at the store.
				e.Clock.Advance(lockout.DefaultLockCacheTTL)
			}
			d, err := envs[0].Stack.Lockout.Check(context.Background(), "alice", netip.MustParseAddr(clientIP(90000)))
			if err != nil || d.Locked != locked {
				t.Fatalf("after the burst: Check = %+v, %v; want locked=%v", d, err, locked)
			}
			if locked {
				for i, e := range envs {
					c := e.Client(t)
					c.IP = clientIP(90000 + i)
					if r := c.Post("", "/accounts/login", url.Values{"username": {"alice"}, "password": {alicePW}}); r.StatusCode != http.StatusTooManyRequests {
						t.Fatalf("instance %d: the right password after the lock answered %d, want 429", i, r.StatusCode)
					}
				}
			}
			if _, ordered := stores[0].(store.EventQueue); ordered && len(envs) == 1 {
				events, err := envs[0].Stack.Audit.Recent(context.Background(), 1000)
				if err != nil {
					t.Fatal(err)
				}
				lockedAt := -1 // index in newest-first order
				for i, e := range events {
					if e.Kind == audit.KindLockout && lockedAt < 0 {
						lockedAt = i
					}
				}
				for i, e := range events {
					if e.Kind == audit.KindLoginSuccess && lockedAt >= 0 && i < lockedAt {
						t.Fatalf("a login succeeded after the lockout event")
					}
				}
			}
		})
	}
}

// hashes sums the password hash computations of envs' hashers.
func hashes(envs []*apptest.Env) uint64 {
	var n uint64
	for _, e := range envs {
		n += e.Stack.Accounts.Hasher().Computations()
	}
	return n
}
