// Package storetest is the conformance suite every store backend passes, so that the session,
// lockout, rate-limit, two-factor and audit layers behave the same on memory, SQLite,
// PostgreSQL and Redis. A backend's test calls Run with a constructor that gives a fresh,
// isolated store (a temporary file, a random schema, a random key prefix) and, when several
// instances can share one backend, RunShared with a constructor of two such instances.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

// racers is how many goroutines race for one step or one backup code.
const racers = 24

// base returns a clock origin close to the wall clock, truncated to the microsecond precision
// every backend keeps. It is near real time because backends with native expiry (Redis TTLs)
// forget items once the wall clock passes ExpiresAt; every other time in the suite is an
// offset from it, so results do not depend on how long the test takes.
func base() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Run runs the whole conformance suite; newStore must return a fresh, empty, isolated store
// and arrange for it to be closed and cleaned up (t.Cleanup). It runs every per-kind suite
// below (RunSessions, RunCounters, ...; an optional kind the store does not implement is
// skipped) and the checks that need the whole Store (Ping, Sweep).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	run(t, newStore, []kindTest[store.Store]{{"Ping", testPing}})
	RunSessions(t, as[store.Sessions](newStore, "store.Sessions"))
	RunCounters(t, as[store.Counters](newStore, "store.Counters"))
	RunOTPSteps(t, as[store.OTPSteps](newStore, "store.OTPSteps"))
	RunBackupCodes(t, as[store.BackupCodes](newStore, "store.BackupCodes"))
	RunUsers(t, as[store.Users](newStore, "store.Users"))
	RunEvents(t, as[store.Events](newStore, "store.Events"))
	RunPasskeys(t, as[store.Passkeys](newStore, "store.Passkeys"))
	RunPermissions(t, as[PermissionStore](newStore, "store.Permissions"))
	RunAccountImporter(t, as[ImporterStore](newStore, "store.AccountImporter"))
	run(t, newStore, []kindTest[store.Store]{{"Sweep", testSweep}})
}

// RunSessions checks store.Sessions, and the optional UpdateSession (Updater) when the
// store has it. newStore must return a fresh, empty, isolated store, as for Run.
func RunSessions(t *testing.T, newStore func(t *testing.T) store.Sessions) {
	t.Helper()
	run(t, newStore, []kindTest[store.Sessions]{
		{"SessionNotFound", testSessionNotFound},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionExpiry", testSessionExpiry},
		{"SessionReplace", testSessionReplace},
		{"SessionDelete", testSessionDelete},
		{"UpdateSession", testUpdateSession},
		{"UserSessionsIndex", testUserSessions},
		{"DeleteUserSessions", testDeleteUserSessions},
	})
}

// RunCounters checks store.Counters (fixed and sliding windows, reservations, races, listing).
func RunCounters(t *testing.T, newStore func(t *testing.T) store.Counters) {
	t.Helper()
	run(t, newStore, []kindTest[store.Counters]{
		{"CounterFixedWindow", testCounterFixedWindow},
		{"CounterExtend", testCounterExtend},
		{"CounterGetDelete", testCounterGetDelete},
		{"CounterConcurrent", testCounterConcurrent},
		{"Reserve", testReserve},
		{"ReserveRace", testReserveRace},
		{"ListCounters", testListCounters},
	})
}

// RunOTPSteps checks store.OTPSteps: steps claimed once, in order, under races.
func RunOTPSteps(t *testing.T, newStore func(t *testing.T) store.OTPSteps) {
	t.Helper()
	run(t, newStore, []kindTest[store.OTPSteps]{
		{"ClaimStepMonotonic", testClaimStep},
		{"ClaimStepRace", testClaimStepRace},
	})
}

// RunBackupCodes checks store.BackupCodes: codes used once, under races.
func RunBackupCodes(t *testing.T, newStore func(t *testing.T) store.BackupCodes) {
	t.Helper()
	run(t, newStore, []kindTest[store.BackupCodes]{
		{"BackupCodes", testBackupCodes},
		{"BackupCodeRace", testBackupCodeRace},
	})
}

// RunUsers checks store.Users: lookups, uniqueness (also under races), updates and paging.
func RunUsers(t *testing.T, newStore func(t *testing.T) store.Users) {
	t.Helper()
	run(t, newStore, []kindTest[store.Users]{
		{"UsersCreateAndLookup", testUsersCreate},
		{"UsersConflicts", testUsersConflict},
		{"UsersCreateRace", testUsersCreateRace},
		{"UpdateUser", testUpdateUser},
		{"ListUsers", testListUsers},
	})
}

// RunEvents checks store.Events.
func RunEvents(t *testing.T, newStore func(t *testing.T) store.Events) {
	t.Helper()
	run(t, newStore, []kindTest[store.Events]{{"Events", testEvents}})
}

// RunPasskeys checks the optional store.Passkeys.
func RunPasskeys(t *testing.T, newStore func(t *testing.T) store.Passkeys) {
	t.Helper()
	run(t, newStore, []kindTest[store.Passkeys]{
		{"Passkeys", testPasskeys},
		{"PasskeyUseRace", testPasskeyUseRace},
	})
}

// PermissionStore is what RunPermissions needs: the optional store.Permissions, and
// store.Users to create the users it grants to and to read their PermsVersion.
type PermissionStore interface {
	store.Users
	store.Permissions
}

// RunPermissions checks the optional store.Permissions and the PermsVersion it moves.
func RunPermissions(t *testing.T, newStore func(t *testing.T) PermissionStore) {
	t.Helper()
	run(t, newStore, []kindTest[PermissionStore]{
		{"Permissions", testPermissions},
		{"PermsVersion", testPermsVersion},
		{"GroupPermsRace", testGroupPermsRace},
	})
}

// ImporterStore is what RunAccountImporter needs: the optional store.AccountImporter, and
// the kinds whose state an import writes, to read it back.
type ImporterStore interface {
	store.AccountImporter
	store.Users
	store.OTPSteps
	store.BackupCodes
	store.Permissions
}

// RunAccountImporter checks the optional store.AccountImporter.
func RunAccountImporter(t *testing.T, newStore func(t *testing.T) ImporterStore) {
	t.Helper()
	run(t, newStore, []kindTest[ImporterStore]{{"AccountImporter", testAccountImporter}})
}

// kindTest is one conformance check of the kind of state S.
type kindTest[S any] struct {
	name string
	fn   func(t *testing.T, s S)
}

// run runs each test as a subtest of t (so names stay flat, as before the suite was split
// by kind) on a fresh store.
func run[S any](t *testing.T, newStore func(t *testing.T) S, tests []kindTest[S]) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// as adapts a constructor of whole stores to one of kind S, skipping the subtest when the
// store does not implement S (an optional kind); name is S's name for the message.
func as[S any](newStore func(t *testing.T) store.Store, name string) func(t *testing.T) S {
	return func(t *testing.T) S {
		t.Helper()
		s := newStore(t)
		k, ok := s.(S)
		if !ok {
			t.Skipf("%T does not implement %s", s, name)
		}
		return k
	}
}

// RunShared checks that two store instances on one backend (two application instances on one
// PostgreSQL database, one Redis, one SQLite file) see each other's writes and that their
// atomic operations agree. newPair must return two distinct instances sharing one fresh,
// isolated backend namespace.
func RunShared(t *testing.T, newPair func(t *testing.T) (a, b store.Store)) {
	t.Helper()
	ctx := context.Background()
	t.Run("SessionsVisible", func(t *testing.T) {
		a, b := newPair(t)
		now := base()
		s := session("shared1", "u1", now, time.Hour)
		must(t, a.SaveSession(ctx, s))
		got, err := b.LoadSession(ctx, "shared1", now)
		must(t, err)
		sameSession(t, got, s)
		// Rotation on one instance (new key, old deleted) is seen by the other at once.
		s2 := session("shared2", "u1", now, time.Hour)
		must(t, b.SaveSession(ctx, s2))
		must(t, b.DeleteSession(ctx, "shared1"))
		if _, err := a.LoadSession(ctx, "shared1", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("old key after rotation on the other instance: err = %v, want ErrNotFound", err)
		}
		must(t, a.SaveSession(ctx, session("shared3", "u1", now.Add(time.Second), time.Hour)))
		list, err := b.UserSessions(ctx, "u1", now)
		must(t, err)
		if keys := sessionKeys(list); keys != "shared3,shared2" {
			t.Fatalf("UserSessions on b = %s, want shared3,shared2", keys)
		}
		// End all others from b; a sees the result.
		n, err := b.DeleteUserSessions(ctx, "u1", "shared3")
		must(t, err)
		if n != 1 {
			t.Fatalf("DeleteUserSessions = %d, want 1", n)
		}
		if _, err := a.LoadSession(ctx, "shared2", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ended session still loads on a: %v", err)
		}
		if _, err := a.LoadSession(ctx, "shared3", now); err != nil {
			t.Fatalf("kept session on a: %v", err)
		}
	})
	t.Run("ClaimStepRace", func(t *testing.T) {
		a, b := newPair(t)
		wins := raceBool(t, func(i int) (bool, error) {
			if i%2 == 0 {
				return a.ClaimStep(ctx, "dev", 77)
			}
			return b.ClaimStep(ctx, "dev", 77)
		})
		if wins != 1 {
			t.Fatalf("two instances racing for one step: %d winners, want exactly 1", wins)
		}
	})
	t.Run("BackupCodeRace", func(t *testing.T) {
		a, b := newPair(t)
		must(t, a.ReplaceBackupCodes(ctx, "u1", []string{"h1", "h2"}))
		wins := raceBool(t, func(i int) (bool, error) {
			if i%2 == 0 {
				return a.UseBackupCode(ctx, "u1", "h1")
			}
			return b.UseBackupCode(ctx, "u1", "h1")
		})
		if wins != 1 {
			t.Fatalf("two instances racing for one backup code: %d winners, want exactly 1", wins)
		}
		n, err := b.CountBackupCodes(ctx, "u1")
		must(t, err)
		if n != 1 {
			t.Fatalf("CountBackupCodes = %d, want 1", n)
		}
	})
	t.Run("CountersAgree", func(t *testing.T) {
		a, b := newPair(t)
		now := base()
		var wg sync.WaitGroup
		errs := make(chan error, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				_, err := s.Incr(ctx, "rl:shared", 1, now, time.Minute, false)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		c, err := a.GetCounter(ctx, "rl:shared", now)
		must(t, err)
		if c.N != racers {
			t.Fatalf("counter after %d increments from two instances = %d", racers, c.N)
		}
	})
	t.Run("ReserveAgrees", func(t *testing.T) {
		a, b := newPair(t)
		now := base()
		const limit = 7
		wins := raceBool(t, func(i int) (bool, error) {
			s := a
			if i%2 == 1 {
				s = b
			}
			_, ok, err := s.Reserve(ctx, "lock:shared", limit, now, time.Minute)
			return ok, err
		})
		c, err := b.GetCounter(ctx, "lock:shared", now)
		must(t, err)
		if wins != limit || c.N != limit {
			t.Fatalf("%d racers on two instances: %d reservations taken, counter %d; want %d and %d", racers, wins, c.N, limit, limit)
		}
	})
	t.Run("PermissionsVisible", func(t *testing.T) {
		a, b := newPair(t)
		testPermissionsShared(t, a, b)
	})
	t.Run("UsersUniqueAcrossInstances", func(t *testing.T) {
		a, b := newPair(t)
		now := base()
		u, err := a.CreateUser(ctx, user("Alice", "alice@example.com", now))
		must(t, err)
		if _, err := b.CreateUser(ctx, user("ALICE", "other@example.com", now)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate username on the other instance: err = %v, want ErrConflict", err)
		}
		got, err := b.UserByEmail(ctx, "ALICE@example.com")
		must(t, err)
		if got.ID != u.ID {
			t.Fatalf("b sees user %q, want %q", got.ID, u.ID)
		}
		must(t, a.AppendEvent(ctx, store.Event{Time: now, Kind: "login"}))
		ev, err := b.RecentEvents(ctx, 10)
		must(t, err)
		if len(ev) != 1 || ev[0].Kind != "login" {
			t.Fatalf("b RecentEvents = %+v", ev)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// raceBool runs fn from racers goroutines released together and counts true results.
func raceBool(t *testing.T, fn func(i int) (bool, error)) int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		errs  []error
		start = make(chan struct{})
	)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if ok {
				wins++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d racers failed, first: %v", len(errs), errs[0])
	}
	return wins
}

func session(key, userID string, now time.Time, ttl time.Duration) store.Session {
	return store.Session{
		Key:       key,
		UserID:    userID,
		Data:      []byte("data\x00\xff" + key),
		IP:        "203.0.113.7",
		UserAgent: "Mozilla/5.0 (" + key + ")",
		CreatedAt: now.Add(-time.Minute),
		LastSeen:  now,
		ExpiresAt: now.Add(ttl),
	}
}

func sameSession(t *testing.T, got, want store.Session) {
	t.Helper()
	if got.Key != want.Key || got.UserID != want.UserID || !bytes.Equal(got.Data, want.Data) ||
		got.IP != want.IP || got.UserAgent != want.UserAgent || !got.CreatedAt.Equal(want.CreatedAt) ||
		!got.LastSeen.Equal(want.LastSeen) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("session mismatch:\n got  %+v\n want %+v", got, want)
	}
}

func sessionKeys(list []store.Session) string {
	keys := make([]string, len(list))
	for i, s := range list {
		keys[i] = s.Key
	}
	return strings.Join(keys, ",")
}

func testPing(t *testing.T, s store.Store) {
	must(t, s.Ping(context.Background()))
}

func testSessionNotFound(t *testing.T, s store.Sessions) {
	ctx := context.Background()
	for _, key := range []string{"missing", "", "'; DROP TABLE sessions; --", "*", "a\x00b"} {
		if _, err := s.LoadSession(ctx, key, base()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LoadSession(%q) err = %v, want ErrNotFound", key, err)
		}
	}
}

func testSessionRoundTrip(t *testing.T, s store.Sessions) {
	ctx := context.Background()
	now := base()
	for _, want := range []store.Session{
		session("k-user", "42", now, time.Hour),
		session("k-anon", "", now, time.Hour),
		{Key: "k-empty", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)},
		func() store.Session {
			x := session("k-micro", "7", now.Add(123456*time.Microsecond), 90*time.Minute)
			x.Data = bytes.Repeat([]byte{0, 1, 2, 0xff}, 4096)
			return x
		}(),
	} {
		must(t, s.SaveSession(ctx, want))
		got, err := s.LoadSession(ctx, want.Key, now)
		must(t, err)
		sameSession(t, got, want)
	}
}

func testSessionExpiry(t *testing.T, s store.Sessions) {
	ctx := context.Background()
	now := base()
	must(t, s.SaveSession(ctx, session("exp", "u", now, time.Hour)))
	tests := []struct {
		at   time.Time
		want error
	}{
		{now, nil},
		{now.Add(time.Hour - time.Microsecond), nil},
		{now.Add(time.Hour), store.ErrNotFound}, // ExpiresAt is not after now
		{now.Add(2 * time.Hour), store.ErrNotFound},
	}
	for _, tc := range tests {
		_, err := s.LoadSession(ctx, "exp", tc.at)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("LoadSession at +%v: err = %v, want %v", tc.at.Sub(now), err, tc.want)
		}
	}
	list, err := s.UserSessions(ctx, "u", now.Add(time.Hour))
	must(t, err)
	if len(list) != 0 {
		t.Errorf("UserSessions lists an expired session: %s", sessionKeys(list))
	}
}

func testSessionReplace(t *testing.T, s store.Sessions) {
	ctx := context.Background()
	now := base()
	// Anonymous, then logged in as u1, then (privilege change) as u2: the index follows.
	must(t, s.SaveSession(ctx, session("r", "", now, time.Hour)))
	must(t, s.SaveSession(ctx, session("r", "u1", now, time.Hour)))
	list, err := s.UserSessions(ctx, "u1", now)
	must(t, err)
	if sessionKeys(list) != "r" {
		t.Fatalf("u1 sessions = %q, want r", sessionKeys(list))
	}
	want := session("r", "u2", now.Add(time.Minute), 2*time.Hour)
	want.Data = []byte("new")
	want.IP = "2001:db8::1"
	must(t, s.SaveSession(ctx, want))
	got, err := s.LoadSession(ctx, "r", now)
	must(t, err)
	sameSession(t, got, want)
	list, err = s.UserSessions(ctx, "u1", now)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("u1 still lists %q after the session moved to u2", sessionKeys(list))
	}
	list, err = s.UserSessions(ctx, "u2", now)
	must(t, err)
	if sessionKeys(list) != "r" {
		t.Fatalf("u2 sessions = %q, want r", sessionKeys(list))
	}
	n, err := s.DeleteUserSessions(ctx, "u1", "")
	must(t, err)
	if n != 0 {
		t.Fatalf("DeleteUserSessions(u1) removed %d, want 0 (session belongs to u2)", n)
	}
	if _, err := s.LoadSession(ctx, "r", now); err != nil {
		t.Fatalf("session of u2 gone after ending u1's sessions: %v", err)
	}
}

func testSessionDelete(t *testing.T, s store.Sessions) {
	ctx := context.Background()
	now := base()
	must(t, s.DeleteSession(ctx, "never-existed"))
	must(t, s.SaveSession(ctx, session("d", "u", now, time.Hour)))
	must(t, s.DeleteSession(ctx, "d"))
	if _, err := s.LoadSession(ctx, "d", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: err = %v", err)
	}
	list, err := s.UserSessions(ctx, "u", now)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("index still lists deleted session: %s", sessionKeys(list))
	}
	must(t, s.DeleteSession(ctx, "d"))
}

func testUserSessions(t *testing.T, s store.Sessions) {
	ctx := context.Background()
	now := base()
	must(t, s.SaveSession(ctx, session("a", "u1", now.Add(-3*time.Minute), time.Hour)))
	must(t, s.SaveSession(ctx, session("b", "u1", now.Add(-1*time.Minute), time.Hour)))
	must(t, s.SaveSession(ctx, session("c", "u1", now.Add(-2*time.Minute), time.Hour)))
	must(t, s.SaveSession(ctx, session("old", "u1", now.Add(-2*time.Hour), time.Hour))) // expired at now-1h
	must(t, s.SaveSession(ctx, session("x", "u2", now, time.Hour)))
	must(t, s.SaveSession(ctx, session("anon", "", now, time.Hour)))
	tests := []struct{ user, want string }{
		{"u1", "b,c,a"},
		{"u2", "x"},
		{"u3", ""},
		{"", ""}, // anonymous sessions are not indexed
	}
	for _, tc := range tests {
		list, err := s.UserSessions(ctx, tc.user, now)
		must(t, err)
		if got := sessionKeys(list); got != tc.want {
			t.Errorf("UserSessions(%q) = %q, want %q", tc.user, got, tc.want)
		}
	}
	list, err := s.UserSessions(ctx, "u1", now)
	must(t, err)
	sameSession(t, list[0], session("b", "u1", now.Add(-1*time.Minute), time.Hour))
}

func testDeleteUserSessions(t *testing.T, s store.Sessions) {
	ctx := context.Background()
	now := base()
	for i, k := range []string{"s1", "s2", "s3", "s4"} {
		must(t, s.SaveSession(ctx, session(k, "u1", now.Add(time.Duration(i)*time.Second), time.Hour)))
	}
	must(t, s.SaveSession(ctx, session("o1", "u2", now, time.Hour)))
	must(t, s.SaveSession(ctx, session("anon", "", now, time.Hour)))

	n, err := s.DeleteUserSessions(ctx, "u1", "s2")
	must(t, err)
	if n != 3 {
		t.Fatalf("DeleteUserSessions except s2 = %d, want 3", n)
	}
	for _, tc := range []struct {
		key  string
		want error
	}{{"s1", store.ErrNotFound}, {"s2", nil}, {"s3", store.ErrNotFound}, {"s4", store.ErrNotFound}, {"o1", nil}, {"anon", nil}} {
		_, err := s.LoadSession(ctx, tc.key, now)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("after DeleteUserSessions: LoadSession(%s) err = %v, want %v", tc.key, err, tc.want)
		}
	}
	list, err := s.UserSessions(ctx, "u1", now)
	must(t, err)
	if sessionKeys(list) != "s2" {
		t.Fatalf("UserSessions after delete = %q, want s2", sessionKeys(list))
	}
	// An empty user ID ends nothing: anonymous sessions have no owner to log out.
	n, err = s.DeleteUserSessions(ctx, "", "")
	must(t, err)
	if n != 0 {
		t.Fatalf("DeleteUserSessions(\"\") = %d, want 0", n)
	}
	// Except nothing: all go (the password-change case).
	n, err = s.DeleteUserSessions(ctx, "u1", "")
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteUserSessions(u1, \"\") = %d, want 1", n)
	}
	if _, err := s.LoadSession(ctx, "s2", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("s2 after end-all: %v", err)
	}
	if _, err := s.LoadSession(ctx, "anon", now); err != nil {
		t.Fatalf("anonymous session removed: %v", err)
	}
}

func wantCounter(t *testing.T, step string, got store.Counter, key string, n int64, exp time.Time) {
	t.Helper()
	if got.Key != key || got.N != n || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("%s: counter = {%q %d %v}, want {%q %d %v}", step, got.Key, got.N, got.ExpiresAt, key, n, exp)
	}
}

func testCounterFixedWindow(t *testing.T, s store.Counters) {
	ctx := context.Background()
	now := base()
	const ttl = time.Minute
	steps := []struct {
		at    time.Duration
		delta int64
		n     int64
		exp   time.Duration
	}{
		{0, 1, 1, ttl},
		{10 * time.Second, 1, 2, ttl},
		{59 * time.Second, 3, 5, ttl},
		{ttl, 1, 1, 2 * ttl}, // ExpiresAt is not after now: a new window
		{ttl + time.Second, 2, 3, 2 * ttl},
	}
	for i, st := range steps {
		c, err := s.Incr(ctx, "fw", st.delta, now.Add(st.at), ttl, false)
		must(t, err)
		wantCounter(t, fmt.Sprintf("step %d", i), c, "fw", st.n, now.Add(st.exp))
	}
	c, err := s.GetCounter(ctx, "fw", now.Add(ttl+2*time.Second))
	must(t, err)
	wantCounter(t, "get", c, "fw", 3, now.Add(2*ttl))
}

func testCounterExtend(t *testing.T, s store.Counters) {
	ctx := context.Background()
	now := base()
	const ttl = time.Minute
	steps := []struct {
		at  time.Duration
		n   int64
		exp time.Duration
	}{
		{0, 1, ttl},
		{50 * time.Second, 2, 50*time.Second + ttl},
		{100 * time.Second, 3, 100*time.Second + ttl}, // past the first window: still counting
		{100*time.Second + ttl, 1, 100*time.Second + 2*ttl},
	}
	for i, st := range steps {
		c, err := s.Incr(ctx, "ext", 1, now.Add(st.at), ttl, true)
		must(t, err)
		wantCounter(t, fmt.Sprintf("step %d", i), c, "ext", st.n, now.Add(st.exp))
	}
}

func testCounterGetDelete(t *testing.T, s store.Counters) {
	ctx := context.Background()
	now := base()
	c, err := s.GetCounter(ctx, "nope", now)
	must(t, err)
	if c.N != 0 {
		t.Fatalf("missing counter N = %d", c.N)
	}
	_, err = s.Incr(ctx, "g", 4, now, time.Minute, false)
	must(t, err)
	c, err = s.GetCounter(ctx, "g", now.Add(time.Second))
	must(t, err)
	wantCounter(t, "live", c, "g", 4, now.Add(time.Minute))
	c, err = s.GetCounter(ctx, "g", now.Add(time.Minute))
	must(t, err)
	if c.N != 0 {
		t.Fatalf("expired counter N = %d, want 0", c.N)
	}
	must(t, s.DeleteCounter(ctx, "g"))
	must(t, s.DeleteCounter(ctx, "g"))
	c, err = s.GetCounter(ctx, "g", now)
	must(t, err)
	if c.N != 0 {
		t.Fatalf("deleted counter N = %d", c.N)
	}
	c, err = s.Incr(ctx, "g", 1, now, time.Minute, false)
	must(t, err)
	if c.N != 1 {
		t.Fatalf("Incr after delete N = %d, want 1", c.N)
	}
	// Keys may carry hostile bytes (a username typed into a login form): NUL and invalid UTF-8.
	for _, key := range []string{"lock:user:a\x00b", "lock:user:\xff\xfe", "lock:user:日本"} {
		c, err := s.Incr(ctx, key, 2, now, time.Minute, false)
		must(t, err)
		wantCounter(t, "odd key", c, key, 2, now.Add(time.Minute))
		c, err = s.GetCounter(ctx, key, now)
		must(t, err)
		wantCounter(t, "odd key get", c, key, 2, now.Add(time.Minute))
	}
	list, err := s.ListCounters(ctx, "lock:user:", 0, now, 0)
	must(t, err)
	if len(list) != 3 || list[0].Key != "lock:user:a\x00b" || list[2].Key != "lock:user:\xff\xfe" {
		t.Fatalf("ListCounters with odd keys = %+v", list)
	}
}

func testCounterConcurrent(t *testing.T, s store.Counters) {
	ctx := context.Background()
	now := base()
	var wg sync.WaitGroup
	errs := make(chan error, racers)
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Incr(ctx, "cc", 1, now, time.Minute, true)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	c, err := s.GetCounter(ctx, "cc", now)
	must(t, err)
	if c.N != racers {
		t.Fatalf("after %d concurrent increments N = %d", racers, c.N)
	}
}

// testReserve checks Reserve's contract step by step: it counts below the limit, moving the
// expiry; at the limit it changes nothing (neither N nor the expiry, so refused attempts do not
// prolong a lock); an expired counter starts over; and a zero limit reserves nothing.
func testReserve(t *testing.T, s store.Counters) {
	ctx := context.Background()
	now := base()
	ttl := time.Minute
	steps := []struct {
		at     time.Duration
		limit  int64
		ok     bool
		n      int64
		expiry time.Duration // from now; zero for an empty counter
	}{
		{0, 2, true, 1, time.Minute},
		{10 * time.Second, 2, true, 2, 10*time.Second + time.Minute},
		{20 * time.Second, 2, false, 2, 10*time.Second + time.Minute}, // full: unchanged
		{30 * time.Second, 3, true, 3, 30*time.Second + time.Minute},  // a higher limit has room
		{40 * time.Second, 1, false, 3, 30*time.Second + time.Minute}, // over a lower limit: unchanged
		{40 * time.Second, 0, false, 3, 30*time.Second + time.Minute},
		{30*time.Second + time.Minute, 2, true, 1, 30*time.Second + 2*time.Minute}, // expired: starts over
	}
	for i, st := range steps {
		c, ok, err := s.Reserve(ctx, "r", st.limit, now.Add(st.at), ttl)
		must(t, err)
		if ok != st.ok {
			t.Fatalf("step %d: Reserve(limit %d) ok = %v, want %v", i, st.limit, ok, st.ok)
		}
		wantCounter(t, fmt.Sprintf("step %d", i), c, "r", st.n, now.Add(st.expiry))
		got, err := s.GetCounter(ctx, "r", now.Add(st.at))
		must(t, err)
		wantCounter(t, fmt.Sprintf("step %d stored", i), got, "r", st.n, now.Add(st.expiry))
	}
	// A zero limit on a missing counter creates nothing.
	c, ok, err := s.Reserve(ctx, "r0", 0, now, ttl)
	must(t, err)
	if ok || c.N != 0 || !c.ExpiresAt.IsZero() {
		t.Fatalf("Reserve(limit 0) on a missing counter = %+v, %v", c, ok)
	}
	if list, err := s.ListCounters(ctx, "r0", 0, now, 0); err != nil || len(list) != 0 {
		t.Fatalf("Reserve(limit 0) left %+v, %v", list, err)
	}
	// Reserve and Incr share the counter: a release is Incr(-1).
	c, err = s.Incr(ctx, "r", -1, now.Add(30*time.Second+time.Minute), ttl, false)
	must(t, err)
	wantCounter(t, "release", c, "r", 0, now.Add(30*time.Second+2*time.Minute))
}

// testReserveRace releases racers reservations against one limit at once: exactly limit win.
func testReserveRace(t *testing.T, s store.Counters) {
	ctx := context.Background()
	now := base()
	const limit = 5
	wins := raceBool(t, func(int) (bool, error) {
		_, ok, err := s.Reserve(ctx, "rr", limit, now, time.Minute)
		return ok, err
	})
	c, err := s.GetCounter(ctx, "rr", now)
	must(t, err)
	if wins != limit || c.N != limit {
		t.Fatalf("%d racing reservations with limit %d: %d taken, counter %d", racers, limit, wins, c.N)
	}
}

func testListCounters(t *testing.T, s store.Counters) {
	ctx := context.Background()
	now := base()
	set := []struct {
		key string
		n   int64
		ttl time.Duration
	}{
		{"lock:user:carol", 5, time.Hour},
		{"lock:user:alice", 3, time.Hour},
		{"lock:user:bob", 1, time.Hour},
		{"lock:user:dave", 9, time.Second}, // expired at the listing time
		{"lock:ip:1.2.3.4", 7, time.Hour},
		{"lock:userx", 8, time.Hour},
		{"lock%:a", 2, time.Hour}, // LIKE / glob metacharacters must be literal
		{"lock_:a", 2, time.Hour},
		{"lock*:a", 2, time.Hour},
		{"other", 4, time.Hour},
	}
	for _, c := range set {
		_, err := s.Incr(ctx, c.key, c.n, now, c.ttl, false)
		must(t, err)
	}
	at := now.Add(time.Minute)
	tests := []struct {
		prefix string
		min    int64
		limit  int
		want   string
	}{
		{"lock:user:", 0, 0, "lock:user:alice,lock:user:bob,lock:user:carol"},
		{"lock:user:", 3, 0, "lock:user:alice,lock:user:carol"},
		{"lock:user:", 3, 1, "lock:user:alice"},
		{"lock:user:", 6, 0, ""},
		{"lock:user", 0, 0, "lock:user:alice,lock:user:bob,lock:user:carol,lock:userx"},
		{"lock%", 0, 0, "lock%:a"},
		{"lock_", 0, 0, "lock_:a"},
		{"lock*", 0, 0, "lock*:a"},
		{"", 4, 0, "lock:ip:1.2.3.4,lock:user:carol,lock:userx,other"},
		{"", 0, 2, "lock%:a,lock*:a"},
		{"nothing", 0, 0, ""},
	}
	for _, tc := range tests {
		got, err := s.ListCounters(ctx, tc.prefix, tc.min, at, tc.limit)
		must(t, err)
		keys := make([]string, len(got))
		for i, c := range got {
			keys[i] = c.Key
			if c.N < tc.min || !c.ExpiresAt.After(at) {
				t.Errorf("ListCounters(%q) returned %+v", tc.prefix, c)
			}
		}
		if k := strings.Join(keys, ","); k != tc.want {
			t.Errorf("ListCounters(%q, min %d, limit %d) = %q, want %q", tc.prefix, tc.min, tc.limit, k, tc.want)
		}
	}
	got, err := s.ListCounters(ctx, "lock:user:carol", 0, at, 0)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("exact-key listing = %+v", got)
	}
	wantCounter(t, "listed", got[0], "lock:user:carol", 5, now.Add(time.Hour))
}

func testClaimStep(t *testing.T, s store.OTPSteps) {
	ctx := context.Background()
	steps := []struct {
		device string
		step   int64
		want   bool
	}{
		{"d1", 100, true},
		{"d1", 100, false}, // replay
		{"d1", 99, false},  // older code
		{"d1", 101, true},
		{"d2", 50, true}, // devices are independent
		{"d1", 102, true},
		{"d2", 50, false},
		{"d1", 0, false},
	}
	for i, st := range steps {
		ok, err := s.ClaimStep(ctx, st.device, st.step)
		must(t, err)
		if ok != st.want {
			t.Fatalf("step %d: ClaimStep(%s, %d) = %v, want %v", i, st.device, st.step, ok, st.want)
		}
	}
	must(t, s.ResetSteps(ctx, "d1"))
	must(t, s.ResetSteps(ctx, "never"))
	ok, err := s.ClaimStep(ctx, "d1", 5)
	must(t, err)
	if !ok {
		t.Fatal("ClaimStep after ResetSteps refused an older step")
	}
	ok, err = s.ClaimStep(ctx, "d2", 50)
	must(t, err)
	if ok {
		t.Fatal("ResetSteps(d1) reset d2")
	}
}

func testClaimStepRace(t *testing.T, s store.OTPSteps) {
	ctx := context.Background()
	wins := raceBool(t, func(int) (bool, error) { return s.ClaimStep(ctx, "race", 1000) })
	if wins != 1 {
		t.Fatalf("%d goroutines claimed one step: %d winners, want exactly 1", racers, wins)
	}
	// Mixed steps: the final state is the highest step, whatever the order.
	_ = raceBool(t, func(i int) (bool, error) { return s.ClaimStep(ctx, "race", 1001+int64(i)) })
	ok, err := s.ClaimStep(ctx, "race", 1000+racers)
	must(t, err)
	if ok {
		t.Fatal("the highest raced step was not recorded")
	}
}

func testBackupCodes(t *testing.T, s store.BackupCodes) {
	ctx := context.Background()
	count := func(user string, want int) {
		t.Helper()
		n, err := s.CountBackupCodes(ctx, user)
		must(t, err)
		if n != want {
			t.Fatalf("CountBackupCodes(%s) = %d, want %d", user, n, want)
		}
	}
	use := func(user, hash string, want bool) {
		t.Helper()
		ok, err := s.UseBackupCode(ctx, user, hash)
		must(t, err)
		if ok != want {
			t.Fatalf("UseBackupCode(%s, %s) = %v, want %v", user, hash, ok, want)
		}
	}
	count("u1", 0)
	use("u1", "h1", false)
	must(t, s.ReplaceBackupCodes(ctx, "u1", []string{"h1", "h2", "h3"}))
	must(t, s.ReplaceBackupCodes(ctx, "u2", []string{"h1", "z"}))
	count("u1", 3)
	use("u1", "h1", true)
	use("u1", "h1", false) // single use
	use("u1", "z", false)  // another user's code
	use("u1", "H2", false) // hashes are exact
	count("u1", 2)
	count("u2", 2)
	use("u2", "h1", true)
	must(t, s.ReplaceBackupCodes(ctx, "u1", []string{"n1"}))
	count("u1", 1)
	use("u1", "h2", false) // replaced codes are gone
	use("u1", "n1", true)
	must(t, s.ReplaceBackupCodes(ctx, "u2", nil))
	count("u2", 0)
	use("u2", "z", false)
}

func testBackupCodeRace(t *testing.T, s store.BackupCodes) {
	ctx := context.Background()
	must(t, s.ReplaceBackupCodes(ctx, "u", []string{"only", "other"}))
	wins := raceBool(t, func(int) (bool, error) { return s.UseBackupCode(ctx, "u", "only") })
	if wins != 1 {
		t.Fatalf("%d goroutines used one backup code: %d winners, want exactly 1", racers, wins)
	}
}

func user(name, email string, now time.Time) store.User {
	return store.User{
		Username:     name,
		Email:        email,
		PasswordHash: "argon2id$v=19$m=65536,t=3,p=4$" + name,
		IsActive:     true,
		DateJoined:   now,
	}
}

func sameUser(t *testing.T, got, want store.User) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username || got.Email != want.Email ||
		got.PasswordHash != want.PasswordHash || got.IsActive != want.IsActive || got.IsStaff != want.IsStaff ||
		got.IsSuperuser != want.IsSuperuser ||
		!got.DateJoined.Equal(want.DateJoined) || !got.LastLogin.Equal(want.LastLogin) ||
		!bytes.Equal(got.TOTPSecret, want.TOTPSecret) || got.TOTPEnabled != want.TOTPEnabled ||
		got.DeviceEpoch != want.DeviceEpoch {
		t.Fatalf("user mismatch:\n got  %+v\n want %+v", got, want)
	}
}

func testUsersCreate(t *testing.T, s store.Users) {
	ctx := context.Background()
	now := base()
	in := user("Alice", "Alice@Example.com", now)
	in.IsStaff = true
	in.IsSuperuser = true
	in.TOTPSecret = []byte{0, 1, 2, 0xfe, 0xff}
	in.TOTPEnabled = true
	in.DeviceEpoch = 3
	in.LastLogin = now.Add(time.Second + 250*time.Microsecond)
	in.ID = "ignored"
	a, err := s.CreateUser(ctx, in)
	must(t, err)
	if a.ID == "" || a.ID == "ignored" {
		t.Fatalf("CreateUser ID = %q, want a new backend ID", a.ID)
	}
	in.ID = a.ID
	sameUser(t, a, in)
	b, err := s.CreateUser(ctx, user("bob", "", now))
	must(t, err)
	c, err := s.CreateUser(ctx, user("carol", "", now)) // two empty e-mails do not conflict
	must(t, err)
	if b.ID == a.ID || c.ID == b.ID {
		t.Fatalf("IDs not unique: %q %q %q", a.ID, b.ID, c.ID)
	}
	if !b.LastLogin.IsZero() {
		t.Fatalf("LastLogin of a new user = %v, want zero", b.LastLogin)
	}
	lookups := []struct {
		name string
		fn   func() (store.User, error)
		want string
	}{
		{"byID", func() (store.User, error) { return s.UserByID(ctx, a.ID) }, a.ID},
		{"byUsername exact", func() (store.User, error) { return s.UserByUsername(ctx, "Alice") }, a.ID},
		{"byUsername lower", func() (store.User, error) { return s.UserByUsername(ctx, "alice") }, a.ID},
		{"byUsername upper", func() (store.User, error) { return s.UserByUsername(ctx, "ALICE") }, a.ID},
		{"byEmail other case", func() (store.User, error) { return s.UserByEmail(ctx, "alice@EXAMPLE.COM") }, a.ID},
		{"bob", func() (store.User, error) { return s.UserByUsername(ctx, "BOB") }, b.ID},
		{"byID missing", func() (store.User, error) { return s.UserByID(ctx, "999999") }, ""},
		{"byID garbage", func() (store.User, error) { return s.UserByID(ctx, "x' OR '1'='1") }, ""},
		{"byID empty", func() (store.User, error) { return s.UserByID(ctx, "") }, ""},
		{"byID huge", func() (store.User, error) { return s.UserByID(ctx, "99999999999999999999999") }, ""},
		{"byUsername missing", func() (store.User, error) { return s.UserByUsername(ctx, "mallory") }, ""},
		{"byUsername pattern", func() (store.User, error) { return s.UserByUsername(ctx, "al%") }, ""},
		{"byUsername empty", func() (store.User, error) { return s.UserByUsername(ctx, "") }, ""},
		// An empty address must never match the users who have none.
		{"byEmail empty", func() (store.User, error) { return s.UserByEmail(ctx, "") }, ""},
		{"byEmail missing", func() (store.User, error) { return s.UserByEmail(ctx, "bob@example.com") }, ""},
	}
	for _, tc := range lookups {
		got, err := tc.fn()
		if tc.want == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", tc.name, err)
			}
			continue
		}
		if err != nil || got.ID != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got.ID, err, tc.want)
		}
	}
	got, err := s.UserByID(ctx, a.ID)
	must(t, err)
	sameUser(t, got, in)
}

func testUsersConflict(t *testing.T, s store.Users) {
	ctx := context.Background()
	now := base()
	_, err := s.CreateUser(ctx, user("Émile", "emile@example.com", now))
	must(t, err)
	tests := []struct {
		name, username, email string
		want                  error
	}{
		{"same username", "Émile", "x@example.com", store.ErrConflict},
		{"username other case", "éMILE", "y@example.com", store.ErrConflict},
		{"email other case", "other", "EMILE@example.COM", store.ErrConflict},
		{"both taken", "emile2", "emile@example.com", store.ErrConflict},
		{"free", "emile2", "", nil},
	}
	for _, tc := range tests {
		_, err := s.CreateUser(ctx, user(tc.username, tc.email, now))
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A refused create leaves nothing behind: the e-mail of a conflicting attempt stays free.
	if _, err := s.UserByEmail(ctx, "x@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused create left its e-mail: %v", err)
	}
	if _, err := s.UserByUsername(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused create left its username: %v", err)
	}
}

func testUsersCreateRace(t *testing.T, s store.Users) {
	ctx := context.Background()
	now := base()
	var (
		mu        sync.Mutex
		ok, confl int
		other     []error
		wg        sync.WaitGroup
	)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateUser(ctx, user("Racer", fmt.Sprintf("r%d@example.com", i), now))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrConflict):
				confl++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if len(other) > 0 || ok != 1 || confl != racers-1 {
		t.Fatalf("racing creates of one username: %d ok, %d conflicts, errors %v", ok, confl, other)
	}
}

func testUpdateUser(t *testing.T, s store.Users) {
	ctx := context.Background()
	now := base()
	a, err := s.CreateUser(ctx, user("alice", "alice@example.com", now))
	must(t, err)
	b, err := s.CreateUser(ctx, user("bob", "bob@example.com", now))
	must(t, err)

	if err := s.UpdateUser(ctx, store.User{ID: "999999", Username: "ghost"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateUser missing: err = %v, want ErrNotFound", err)
	}
	if err := s.UpdateUser(ctx, store.User{ID: "not-an-id", Username: "ghost"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateUser bad id: err = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByUsername(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed update left an index entry: %v", err)
	}
	conflicts := []store.User{
		func() store.User { u := a; u.Username = "BOB"; return u }(),
		func() store.User { u := a; u.Email = "Bob@Example.com"; return u }(),
	}
	for _, u := range conflicts {
		if err := s.UpdateUser(ctx, u); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("UpdateUser(%s, %s) err = %v, want ErrConflict", u.Username, u.Email, err)
		}
	}
	got, err := s.UserByID(ctx, a.ID)
	must(t, err)
	sameUser(t, got, a) // a refused update changes nothing

	// Own name in another case, new e-mail, every other field.
	a2 := a
	a2.Username = "Alice"
	a2.Email = "alice@new.example"
	a2.PasswordHash = "new-hash"
	a2.IsActive = false
	a2.IsStaff = true
	a2.LastLogin = now.Add(time.Hour)
	a2.TOTPSecret = []byte("sealed")
	a2.TOTPEnabled = true
	a2.DeviceEpoch = 9
	must(t, s.UpdateUser(ctx, a2))
	got, err = s.UserByUsername(ctx, "ALICE")
	must(t, err)
	sameUser(t, got, a2)
	if _, err := s.UserByEmail(ctx, "alice@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old e-mail still finds the user: %v", err)
	}
	// The freed e-mail can be taken by someone else; a renamed user frees the old name.
	b2 := b
	b2.Email = "alice@example.com"
	b2.Username = "robert"
	must(t, s.UpdateUser(ctx, b2))
	if _, err := s.UserByUsername(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old username still finds the user: %v", err)
	}
	got, err = s.UserByEmail(ctx, "ALICE@example.com")
	must(t, err)
	sameUser(t, got, b2)
	c, err := s.CreateUser(ctx, user("bob", "", now))
	must(t, err)
	if c.ID == b.ID {
		t.Fatal("a new user reused an existing ID")
	}
	// Clearing an e-mail frees it and does not make "" findable.
	b2.Email = ""
	must(t, s.UpdateUser(ctx, b2))
	if _, err := s.UserByEmail(ctx, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByEmail(\"\") after clearing: %v", err)
	}
	a2.Email = "alice@example.com"
	must(t, s.UpdateUser(ctx, a2))
	a2.LastLogin = time.Time{}
	a2.TOTPSecret = nil
	must(t, s.UpdateUser(ctx, a2))
	got, err = s.UserByID(ctx, a2.ID)
	must(t, err)
	sameUser(t, got, a2)
}

func testListUsers(t *testing.T, s store.Users) {
	ctx := context.Background()
	now := base()
	for _, n := range []string{"dave", "Bob", "alice", "Eve", "carol"} {
		_, err := s.CreateUser(ctx, user(n, "", now))
		must(t, err)
	}
	var all []string
	after := ""
	for range 10 {
		page, err := s.ListUsers(ctx, after, 2)
		must(t, err)
		if len(page) > 2 {
			t.Fatalf("page of %d > limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, u := range page {
			all = append(all, u.Username)
		}
		after = page[len(page)-1].Username
	}
	if got := strings.Join(all, ","); got != "alice,Bob,carol,dave,Eve" {
		t.Fatalf("paged ListUsers = %q", got)
	}
	tests := []struct {
		after string
		limit int
		want  string
	}{
		{"", 0, "alice,Bob,carol,dave,Eve"},
		{"BOB", 2, "carol,dave"}, // after compares case-insensitively
		{"c", 0, "carol,dave,Eve"},
		{"eve", 5, ""},
	}
	for _, tc := range tests {
		page, err := s.ListUsers(ctx, tc.after, tc.limit)
		must(t, err)
		names := make([]string, len(page))
		for i, u := range page {
			names[i] = u.Username
			if u.ID == "" || u.PasswordHash == "" {
				t.Fatalf("ListUsers returned an incomplete user %+v", u)
			}
		}
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("ListUsers(%q, %d) = %q, want %q", tc.after, tc.limit, got, tc.want)
		}
	}
}

func testEvents(t *testing.T, s store.Events) {
	ctx := context.Background()
	now := base()
	ev, err := s.RecentEvents(ctx, 10)
	must(t, err)
	if len(ev) != 0 {
		t.Fatalf("fresh store has events: %+v", ev)
	}
	in := []store.Event{
		{Time: now, Kind: "login_failed", UserID: "1", Username: "alice", IP: "192.0.2.1", Detail: "bad password"},
		{Time: now.Add(time.Second), Kind: "lockout", Username: "alice", IP: "192.0.2.1", Detail: `{"n":5}`},
		// Appended later with an earlier clock: order is by ID, not by time.
		{Time: now.Add(-time.Hour), Kind: "csp_report", IP: "2001:db8::2", Detail: "script-src\n<x>"},
	}
	for _, e := range in {
		e.ID = 12345 // ignored
		must(t, s.AppendEvent(ctx, e))
	}
	ev, err = s.RecentEvents(ctx, 2)
	must(t, err)
	if len(ev) != 2 || ev[0].Kind != "csp_report" || ev[1].Kind != "lockout" {
		t.Fatalf("RecentEvents(2) = %+v", ev)
	}
	if ev[0].ID <= ev[1].ID {
		t.Fatalf("IDs not increasing: %d then %d", ev[1].ID, ev[0].ID)
	}
	ev, err = s.RecentEvents(ctx, 10)
	must(t, err)
	if len(ev) != 3 {
		t.Fatalf("RecentEvents(10) returned %d", len(ev))
	}
	for i, e := range ev {
		want := in[len(in)-1-i]
		if e.Kind != want.Kind || e.UserID != want.UserID || e.Username != want.Username ||
			e.IP != want.IP || e.Detail != want.Detail || !e.Time.Equal(want.Time) {
			t.Fatalf("event %d = %+v, want %+v", i, e, want)
		}
	}
	ev, err = s.RecentEvents(ctx, 0)
	must(t, err)
	if len(ev) != 0 {
		t.Fatalf("RecentEvents(0) returned %d events, want none", len(ev))
	}
}

func testSweep(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := base()
	// Already expired in wall-clock terms, so stores with native expiry drop it too.
	must(t, s.SaveSession(ctx, session("dead", "u", now.Add(-3*time.Hour), time.Hour)))
	must(t, s.SaveSession(ctx, session("live", "u", now, time.Hour)))
	_, err := s.Incr(ctx, "c:live", 2, now, time.Hour, false)
	must(t, err)
	_, err = s.Incr(ctx, "c:dead", 2, now.Add(-3*time.Hour), time.Hour, false)
	must(t, err)
	must(t, s.Sweep(ctx, now))
	must(t, s.Sweep(ctx, now)) // idempotent
	if _, err := s.LoadSession(ctx, "live", now); err != nil {
		t.Fatalf("Sweep removed a live session: %v", err)
	}
	c, err := s.GetCounter(ctx, "c:live", now)
	must(t, err)
	if c.N != 2 {
		t.Fatalf("Sweep removed a live counter: %+v", c)
	}
	list, err := s.ListCounters(ctx, "c:", 0, now.Add(-3*time.Hour), 0)
	must(t, err)
	if len(list) != 1 || list[0].Key != "c:live" {
		t.Fatalf("swept counter still listed (as of its own time): %+v", list)
	}
	// The expired session is gone, not just hidden: ending the user's sessions counts only the live one.
	n, err := s.DeleteUserSessions(ctx, "u", "")
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteUserSessions after Sweep = %d, want 1 (the expired session should be gone)", n)
	}
}

// Updater is the optional session extension (see the session package): UpdateSession
// replaces a session only if it still exists. Run checks it when a store has it.
type Updater interface {
	UpdateSession(ctx context.Context, s store.Session) error
}

func testUpdateSession(t *testing.T, s store.Sessions) {
	u, ok := s.(Updater)
	if !ok {
		t.Skip("store has no UpdateSession")
	}
	ctx := context.Background()
	now := base()
	if err := u.UpdateSession(ctx, session("nope", "u1", now, time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateSession of a missing session: err = %v, want ErrNotFound", err)
	}
	if _, err := s.LoadSession(ctx, "nope", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateSession created a session: %v", err)
	}
	list, err := s.UserSessions(ctx, "u1", now)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("UpdateSession of a missing session indexed %s", sessionKeys(list))
	}
	must(t, s.SaveSession(ctx, session("up", "", now, time.Hour)))
	want := session("up", "u1", now.Add(time.Second), 2*time.Hour)
	must(t, u.UpdateSession(ctx, want))
	got, err := s.LoadSession(ctx, "up", now)
	must(t, err)
	sameSession(t, got, want)
	list, err = s.UserSessions(ctx, "u1", now)
	must(t, err)
	if sessionKeys(list) != "up" {
		t.Fatalf("index after UpdateSession = %q", sessionKeys(list))
	}
	// Logout racing a request that saves afterwards: once deleted, the session stays gone.
	for i := range 20 {
		key := fmt.Sprintf("race%d", i)
		x := session(key, "u2", now, time.Hour)
		must(t, s.SaveSession(ctx, x))
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		wg.Add(2)
		go func() { defer wg.Done(); errs <- s.DeleteSession(ctx, key) }()
		go func() {
			defer wg.Done()
			if err := u.UpdateSession(ctx, x); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs <- err
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		// Whichever ran first, a save after the delete must not bring it back.
		if err := u.UpdateSession(ctx, x); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("UpdateSession after delete: err = %v, want ErrNotFound", err)
		}
		if _, err := s.LoadSession(ctx, key, now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session %s came back after delete: %v", key, err)
		}
	}
	list, err = s.UserSessions(ctx, "u2", now)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("deleted sessions still indexed: %s", sessionKeys(list))
	}
}

func testPasskeys(t *testing.T, ps store.Passkeys) {
	ctx := context.Background()
	now := base()
	list, err := ps.UserPasskeys(ctx, "1")
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("fresh store has passkeys: %+v", list)
	}
	if _, err := ps.PasskeyByID(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PasskeyByID(missing) = %v, want ErrNotFound", err)
	}
	if _, err := ps.UsePasskey(ctx, []byte("nope"), 1, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UsePasskey(missing) = %v, want ErrNotFound", err)
	}
	// Credential IDs are arbitrary bytes; data is opaque (NUL, invalid UTF-8).
	a := store.Passkey{ID: []byte("\x00\xffcred-a"), UserID: "1", Name: "laptop", Data: []byte("{\"k\":\"\x00\xfe\"}"), SignCount: 3, CreatedAt: now.Add(time.Second)}
	b := store.Passkey{ID: []byte("cred-b"), UserID: "1", Name: "phone", Data: []byte("b"), CreatedAt: now}
	c := store.Passkey{ID: []byte("cred-c"), UserID: "2", Name: "key", Data: []byte("c"), CreatedAt: now, LastUsed: now.Add(time.Minute)}
	for _, p := range []store.Passkey{a, b, c} {
		must(t, ps.AddPasskey(ctx, p))
	}
	if err := ps.AddPasskey(ctx, store.Passkey{ID: a.ID, UserID: "2", Name: "stolen", Data: []byte("x"), CreatedAt: now}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AddPasskey(duplicate ID of another user) = %v, want ErrConflict", err)
	}
	same := func(got, want store.Passkey) bool {
		return bytes.Equal(got.ID, want.ID) && got.UserID == want.UserID && got.Name == want.Name &&
			bytes.Equal(got.Data, want.Data) && got.SignCount == want.SignCount &&
			got.CreatedAt.Equal(want.CreatedAt) && got.LastUsed.Equal(want.LastUsed)
	}
	list, err = ps.UserPasskeys(ctx, "1")
	must(t, err)
	if len(list) != 2 || !same(list[0], b) || !same(list[1], a) {
		t.Fatalf("UserPasskeys(1) = %+v, want [b a] (oldest first)", list)
	}
	got, err := ps.PasskeyByID(ctx, c.ID)
	must(t, err)
	if !same(got, c) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("PasskeyByID(c) = %+v, want %+v in UTC", got, c)
	}

	// The signature counter only moves forward; zero stays acceptable while both are zero.
	steps := []struct {
		id    []byte
		count uint32
		want  bool
	}{
		{a.ID, 3, false}, // same count: a clone
		{a.ID, 2, false}, // backwards
		{a.ID, 0, false}, // counter reset while the stored one is not zero
		{a.ID, 4, true},
		{a.ID, 4, false},
		{b.ID, 0, true}, // no counter at all (many platform passkeys)
		{b.ID, 0, true},
		{b.ID, 7, true},
		{b.ID, 0, false},
	}
	for i, st := range steps {
		at := now.Add(time.Duration(i+1) * time.Hour)
		ok, err := ps.UsePasskey(ctx, st.id, st.count, at)
		must(t, err)
		if ok != st.want {
			t.Fatalf("step %d: UsePasskey(%q, %d) = %v, want %v", i, st.id, st.count, ok, st.want)
		}
		got, err := ps.PasskeyByID(ctx, st.id)
		must(t, err)
		if ok && (got.SignCount != st.count || !got.LastUsed.Equal(at)) {
			t.Fatalf("step %d: after use %+v", i, got)
		}
		if !ok && got.LastUsed.Equal(at) {
			t.Fatalf("step %d: a refused use was recorded: %+v", i, got)
		}
	}

	// Another user cannot delete the passkey; its owner can, once.
	ok, err := ps.DeletePasskey(ctx, "2", a.ID)
	must(t, err)
	if ok {
		t.Fatal("user 2 deleted user 1's passkey")
	}
	ok, err = ps.DeletePasskey(ctx, "1", a.ID)
	must(t, err)
	if !ok {
		t.Fatal("owner could not delete the passkey")
	}
	ok, err = ps.DeletePasskey(ctx, "1", a.ID)
	must(t, err)
	if ok {
		t.Fatal("second delete reported true")
	}
	if _, err := ps.PasskeyByID(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted passkey still found: %v", err)
	}
	list, err = ps.UserPasskeys(ctx, "1")
	must(t, err)
	if len(list) != 1 || !bytes.Equal(list[0].ID, b.ID) {
		t.Fatalf("after delete UserPasskeys(1) = %+v", list)
	}
	// The ID is free again.
	must(t, ps.AddPasskey(ctx, store.Passkey{ID: a.ID, UserID: "2", Name: "new", Data: []byte("n"), CreatedAt: now}))
}

// testPasskeyUseRace: logins racing with one counter value (a cloned authenticator used twice
// at once) are recorded once.
func testPasskeyUseRace(t *testing.T, ps store.Passkeys) {
	ctx := context.Background()
	now := base()
	id := []byte("race")
	must(t, ps.AddPasskey(ctx, store.Passkey{ID: id, UserID: "1", Name: "k", Data: []byte("d"), SignCount: 1, CreatedAt: now}))
	var wg sync.WaitGroup
	wins := make(chan bool, racers)
	errs := make(chan error, racers)
	for range racers {
		wg.Go(func() {
			ok, err := ps.UsePasskey(ctx, id, 2, now)
			if err != nil {
				errs <- err
				return
			}
			wins <- ok
		})
	}
	wg.Wait()
	close(wins)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	for ok := range wins {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of %d racing uses with one counter value succeeded, want 1", n, racers)
	}
}
