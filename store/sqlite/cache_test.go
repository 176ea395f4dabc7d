package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/sqlite"
)

var ctx = context.Background()

func sess(key, user string, now time.Time) store.Session {
	return store.Session{Key: key, UserID: user, Data: []byte("data-" + key), IP: "192.0.2.1", UserAgent: "ua",
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
}

func mustLoad(t *testing.T, s *sqlite.Store, key string, now time.Time) store.Session {
	t.Helper()
	x, err := s.LoadSession(ctx, key, now)
	if err != nil {
		t.Fatalf("LoadSession(%q): %v", key, err)
	}
	return x
}

func wantGone(t *testing.T, s *sqlite.Store, key string, now time.Time) {
	t.Helper()
	if x, err := s.LoadSession(ctx, key, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadSession(%q) = %+v, %v; want ErrNotFound", key, x, err)
	}
}

// rawSet changes a session behind the store's back, as another process would.
func rawSet(t *testing.T, path, key string, data string) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE sessions SET data = ? WHERE key = ?`, []byte(data), key); err != nil {
		t.Fatal(err)
	}
}

// The cache really answers loads (a foreign write is not seen), which is why the package
// requires NoSessionCache when several processes write sessions to one file; without the
// cache the same foreign write is seen at once.
func TestCacheAssumesOneWriter(t *testing.T) {
	now := time.Now().UTC()
	for _, tc := range []struct {
		name     string
		opts     sqlite.Options
		wantData string
	}{
		{"cached", sqlite.Options{}, "data-k"},
		{"uncached", sqlite.Options{NoSessionCache: true}, "foreign"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.db")
			s, err := sqlite.OpenWith(path, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.SaveSession(ctx, sess("k", "u1", now)); err != nil {
				t.Fatal(err)
			}
			rawSet(t, path, "k", "foreign")
			if got := mustLoad(t, s, "k", now); string(got.Data) != tc.wantData {
				t.Fatalf("Data = %q, want %q", got.Data, tc.wantData)
			}
		})
	}
}

// A load that misses fills the cache from the file (a later foreign write is then not seen).
func TestCacheFillsOnMiss(t *testing.T) {
	now := time.Now().UTC()
	path := filepath.Join(t.TempDir(), "f.db")
	a := openNoCache(t, path)
	if err := a.SaveSession(ctx, sess("k", "u1", now)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b := open(t, path)
	if got := mustLoad(t, b, "k", now); string(got.Data) != "data-k" {
		t.Fatalf("first load: %q", got.Data)
	}
	rawSet(t, path, "k", "foreign")
	if got := mustLoad(t, b, "k", now); string(got.Data) != "data-k" {
		t.Fatalf("second load was not served by the cache: %q", got.Data)
	}
}

// The file stays the source of truth: everything written through a cached store, and every
// deletion, is there after a restart.
func TestCacheRestartLosesNothing(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := s.SaveSession(ctx, sess(fmt.Sprint("k", i), fmt.Sprint("u", i%3), now)); err != nil {
			t.Fatal(err)
		}
	}
	upd := sess("k1", "u1", now)
	upd.Data, upd.LastSeen = []byte("updated"), now.Add(time.Minute)
	if err := s.UpdateSession(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteUserSessions(ctx, "u0", "k0"); err != nil || n != 6 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 6", n, err)
	}
	if _, err := s.Incr(ctx, "c", 3, now, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := open(t, path)
	for i := range 20 {
		key := fmt.Sprint("k", i)
		x, err := r.LoadSession(ctx, key, now)
		gone := i == 2 || (i%3 == 0 && i != 0)
		switch {
		case gone && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s after restart: %v, want ErrNotFound", key, err)
		case !gone && err != nil:
			t.Errorf("%s after restart: %v", key, err)
		case i == 1 && (string(x.Data) != "updated" || !x.LastSeen.Equal(now.Add(time.Minute))):
			t.Errorf("k1 after restart = %+v, want the update", x)
		}
	}
	if c, err := r.GetCounter(ctx, "c", now); err != nil || c.N != 3 {
		t.Fatalf("counter after restart = %+v, %v", c, err)
	}
}

// Callers own the slices they pass and get: changing them never changes the cached session.
func TestCacheDoesNotAlias(t *testing.T) {
	now := time.Now().UTC()
	s := open(t, filepath.Join(t.TempDir(), "a.db"))
	x := sess("k", "u", now)
	if err := s.SaveSession(ctx, x); err != nil {
		t.Fatal(err)
	}
	x.Data[0] = 'X'
	got := mustLoad(t, s, "k", now)
	if string(got.Data) != "data-k" {
		t.Fatalf("saved slice aliased: %q", got.Data)
	}
	got.Data[0] = 'Y'
	if again := mustLoad(t, s, "k", now); string(again.Data) != "data-k" {
		t.Fatalf("loaded slice aliased: %q", again.Data)
	}
}

// A hit looks exactly like a load from the file: times in UTC to the microsecond, nil Data
// stays nil-or-empty as the file gives it.
func TestCacheHitMatchesFile(t *testing.T) {
	loc := time.FixedZone("x", 3600)
	now := time.Date(2030, 1, 2, 3, 4, 5, 123456789, loc)
	path := filepath.Join(t.TempDir(), "m.db")
	s := open(t, path)
	x := sess("k", "u", now)
	x.Data = nil
	if err := s.SaveSession(ctx, x); err != nil {
		t.Fatal(err)
	}
	hit := mustLoad(t, s, "k", now)
	fromFile := mustLoad(t, openNoCache(t, path), "k", now)
	if !hit.CreatedAt.Equal(fromFile.CreatedAt) || hit.CreatedAt != fromFile.CreatedAt || hit.ExpiresAt != fromFile.ExpiresAt ||
		hit.LastSeen != fromFile.LastSeen || !bytes.Equal(hit.Data, fromFile.Data) || hit.UserID != fromFile.UserID {
		t.Fatalf("cache hit %+v differs from file %+v", hit, fromFile)
	}
	if hit.ExpiresAt.Location() != time.UTC || hit.ExpiresAt.Nanosecond()%1000 != 0 {
		t.Fatalf("hit ExpiresAt = %v, want UTC microseconds", hit.ExpiresAt)
	}
	// Expiry is compared to the microsecond, as the SQL does.
	wantGone(t, s, "k", fromFile.ExpiresAt)
	mustLoad(t, s, "k", fromFile.ExpiresAt.Add(-time.Microsecond))
}

// Writes that remove sessions remove them from the cache too.
func TestCacheInvalidation(t *testing.T) {
	now := time.Now().UTC()
	s := open(t, filepath.Join(t.TempDir(), "i.db"))
	for _, k := range []string{"a1", "a2", "a3", "b1", "anon"} {
		user := map[byte]string{'a': "ua", 'b': "ub"}[k[0]]
		if k == "anon" {
			user = ""
		}
		if err := s.SaveSession(ctx, sess(k, user, now)); err != nil {
			t.Fatal(err)
		}
		mustLoad(t, s, k, now) // cached
	}
	if n, err := s.DeleteUserSessions(ctx, "ua", "a2"); err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions = %d, %v", n, err)
	}
	wantGone(t, s, "a1", now)
	wantGone(t, s, "a3", now)
	mustLoad(t, s, "a2", now)
	mustLoad(t, s, "b1", now)
	if n, err := s.DeleteUserSessions(ctx, "", ""); err != nil || n != 0 {
		t.Fatalf("DeleteUserSessions(empty user) = %d, %v", n, err)
	}
	mustLoad(t, s, "anon", now)
	if err := s.DeleteSession(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	wantGone(t, s, "b1", now)
	// UpdateSession of a deleted session is refused and does not bring it back.
	if err := s.UpdateSession(ctx, sess("b1", "ub", now)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateSession after delete: %v", err)
	}
	wantGone(t, s, "b1", now)
	// Sweep at a later time removes what it deleted, even for loads with an earlier clock.
	if err := s.Sweep(ctx, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantGone(t, s, "a2", now)
	wantGone(t, s, "anon", now)
}

// A closed store fails every load with an error, cached or not.
func TestCacheClosed(t *testing.T) {
	now := time.Now().UTC()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession(ctx, sess("k", "u", now)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.LoadSession(ctx, "k", now); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadSession after Close: %v, want a backend error", err)
	}
	if err := s.SaveSession(ctx, sess("k", "u", now)); err == nil {
		t.Fatal("SaveSession after Close succeeded")
	}
}

func TestOpenWithRejectsNegativeCacheSize(t *testing.T) {
	if s, err := sqlite.OpenWith(filepath.Join(t.TempDir(), "n.db"), sqlite.Options{CacheSize: -1}); err == nil {
		s.Close()
		t.Fatal("OpenWith accepted CacheSize -1")
	}
}

// Racing saves, updates, deletes and loads of a few keys, on a cache smaller than the key
// set: once quiet, every key loads from the cache exactly as from the file.
func TestCacheAgreesWithFileUnderRace(t *testing.T) {
	now := time.Now().UTC()
	path := filepath.Join(t.TempDir(), "race.db")
	s, err := sqlite.OpenWith(path, sqlite.Options{CacheSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const keys, workers, rounds = 6, 6, 60
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				key := fmt.Sprint("k", (w+i)%keys)
				x := sess(key, fmt.Sprint("u", i%2), now)
				x.Data = fmt.Appendf(nil, "w%d-i%d", w, i)
				var err error
				switch (w + i) % 5 {
				case 0:
					err = s.SaveSession(ctx, x)
				case 1:
					if err = s.UpdateSession(ctx, x); errors.Is(err, store.ErrNotFound) {
						err = nil
					}
				case 2:
					err = s.DeleteSession(ctx, key)
				case 3:
					_, err = s.DeleteUserSessions(ctx, x.UserID, key)
				default:
					if _, err = s.LoadSession(ctx, key, now); errors.Is(err, store.ErrNotFound) {
						err = nil
					}
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	file := openNoCache(t, path)
	for i := range keys {
		key := fmt.Sprint("k", i)
		for pass := range 2 { // the first may fill the cache, the second is then a hit
			got, gerr := s.LoadSession(ctx, key, now)
			want, werr := file.LoadSession(ctx, key, now)
			if !errors.Is(gerr, werr) && (gerr != nil || werr != nil) || !bytes.Equal(got.Data, want.Data) || got.UserID != want.UserID {
				t.Fatalf("pass %d %s: cached store gives %q/%q, %v; file has %q/%q, %v",
					pass, key, got.Data, got.UserID, gerr, want.Data, want.UserID, werr)
			}
		}
	}
}
