package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/sqlite"
)

// deferredPair opens a store whose deferred updates wait an hour unless flushed (so a test
// decides when they reach the file), and a second, uncached handle on the same file that
// shows what the file holds (what a crash would leave).
func deferredPair(t *testing.T, opts sqlite.Options) (w, file *sqlite.Store, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "d.db")
	if opts.SessionWriteDelay == 0 {
		opts.SessionWriteDelay = time.Hour
	}
	w, err := sqlite.OpenWith(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	file, err = sqlite.OpenWith(path, sqlite.Options{NoSessionCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	return w, file, path
}

func wantData(t *testing.T, s *sqlite.Store, key string, now time.Time, want string) {
	t.Helper()
	if got := mustLoad(t, s, key, now); string(got.Data) != want {
		t.Fatalf("LoadSession(%q).Data = %q, want %q", key, got.Data, want)
	}
}

func updated(x store.Session, data string, at time.Time) store.Session {
	x.Data = []byte(data)
	x.LastSeen = at
	x.ExpiresAt = at.Add(time.Hour)
	return x
}

// A deferred update is seen at once by this store, reaches the file only when flushed, and
// nothing is lost by a graceful Close and reopen.
func TestDeferredUpdateFlushAndClose(t *testing.T) {
	now := time.Now().UTC()
	w, file, path := deferredPair(t, sqlite.Options{})
	a := sess("a", "u1", now)
	must(t, w.SaveSession(ctx, a))
	must(t, w.UpdateSessionDeferred(ctx, updated(a, "v2", now.Add(time.Minute))))

	wantData(t, w, "a", now, "v2")
	wantData(t, file, "a", now, "data-a") // deferred: not in the file yet

	must(t, w.Flush(ctx))
	wantData(t, file, "a", now, "v2")

	must(t, w.UpdateSessionDeferred(ctx, updated(a, "v3", now.Add(2*time.Minute))))
	wantData(t, file, "a", now, "v2")
	must(t, w.Close())
	wantData(t, file, "a", now, "v3") // Close flushed

	re, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	got := mustLoad(t, re, "a", now)
	if string(got.Data) != "v3" || !got.LastSeen.Equal(now.Add(2*time.Minute).Truncate(time.Microsecond)) {
		t.Fatalf("after restart: %+v", got)
	}
	// After Close the store no longer defers: the update fails like every other call.
	if err := w.UpdateSessionDeferred(ctx, updated(a, "v4", now)); err == nil {
		t.Fatal("UpdateSessionDeferred after Close succeeded")
	}
}

// The timer commits deferred updates by itself after SessionWriteDelay (fake time).
func TestDeferredUpdateTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now().UTC()
		w, file, _ := deferredPair(t, sqlite.Options{SessionWriteDelay: 10 * time.Millisecond})
		a := sess("a", "u1", now)
		must(t, w.SaveSession(ctx, a))
		must(t, w.UpdateSessionDeferred(ctx, updated(a, "v2", now)))
		wantData(t, file, "a", now, "data-a")
		time.Sleep(9 * time.Millisecond)
		synctest.Wait()
		wantData(t, file, "a", now, "data-a")
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		wantData(t, file, "a", now, "v2")
	})
}

// Which updates are deferred, and which writes are never undone or overtaken by one.
func TestDeferredUpdateOrdering(t *testing.T) {
	now := time.Now().UTC()
	later := now.Add(time.Minute)
	tests := []struct {
		name string
		run  func(t *testing.T, w, file *sqlite.Store)
	}{
		{"missing session is refused synchronously", func(t *testing.T, w, file *sqlite.Store) {
			err := w.UpdateSessionDeferred(ctx, sess("nope", "u1", now))
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
			wantGone(t, w, "nope", now)
		}},
		{"delete after a deferred update stays deleted", func(t *testing.T, w, file *sqlite.Store) {
			a := sess("a", "u1", now)
			must(t, w.SaveSession(ctx, a))
			must(t, w.UpdateSessionDeferred(ctx, updated(a, "v2", later)))
			must(t, w.DeleteSession(ctx, "a"))
			wantGone(t, w, "a", now)
			must(t, w.Flush(ctx))
			wantGone(t, w, "a", now)
			wantGone(t, file, "a", now)
			// and a deferred update after the delete is refused, as UpdateSession would
			if err := w.UpdateSessionDeferred(ctx, updated(a, "v3", later)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("update after delete: err = %v, want ErrNotFound", err)
			}
		}},
		{"synchronous update supersedes a pending one", func(t *testing.T, w, file *sqlite.Store) {
			a := sess("a", "u1", now)
			must(t, w.SaveSession(ctx, a))
			must(t, w.UpdateSessionDeferred(ctx, updated(a, "deferred", later)))
			must(t, w.UpdateSession(ctx, updated(a, "sync", later)))
			wantData(t, file, "a", now, "sync")
			must(t, w.Flush(ctx))
			wantData(t, file, "a", now, "sync")
			wantData(t, w, "a", now, "sync")
		}},
		{"end other sessions drops their pending updates", func(t *testing.T, w, file *sqlite.Store) {
			a, b, c := sess("a", "u1", now), sess("b", "u1", now), sess("c", "u2", now)
			for _, x := range []store.Session{a, b, c} {
				must(t, w.SaveSession(ctx, x))
				must(t, w.UpdateSessionDeferred(ctx, updated(x, "v2-"+x.Key, later)))
			}
			n, err := w.DeleteUserSessions(ctx, "u1", "a")
			if err != nil || n != 1 {
				t.Fatalf("DeleteUserSessions = %d, %v; want 1", n, err)
			}
			must(t, w.Flush(ctx))
			wantGone(t, w, "b", now)
			wantGone(t, file, "b", now)
			wantData(t, file, "a", now, "v2-a")
			wantData(t, file, "c", now, "v2-c")
		}},
		{"user's session list shows pending updates", func(t *testing.T, w, file *sqlite.Store) {
			a, b := sess("a", "u1", now), sess("b", "u1", now.Add(time.Second))
			must(t, w.SaveSession(ctx, a))
			must(t, w.SaveSession(ctx, b))
			must(t, w.UpdateSessionDeferred(ctx, updated(a, "v2", later))) // a is now the most recent
			list, err := w.UserSessions(ctx, "u1", now)
			if err != nil {
				t.Fatal(err)
			}
			if got := sessionKeys(list); !slices.Equal(got, []string{"a", "b"}) || string(list[0].Data) != "v2" {
				t.Fatalf("UserSessions = %v (first data %q), want a (v2) then b", got, list[0].Data)
			}
			list, err = file.UserSessions(ctx, "u1", now)
			if err != nil {
				t.Fatal(err)
			}
			if got := sessionKeys(list); !slices.Equal(got, []string{"b", "a"}) {
				t.Fatalf("file UserSessions = %v, want b, a (a's update still pending)", got)
			}
		}},
		{"sweep writes pending expiries first", func(t *testing.T, w, file *sqlite.Store) {
			a := sess("a", "u1", now) // expires at now+1h in the file
			must(t, w.SaveSession(ctx, a))
			ext := updated(a, "v2", now.Add(50*time.Minute)) // now expires at now+1h50m
			must(t, w.UpdateSessionDeferred(ctx, ext))
			sweepAt := now.Add(90 * time.Minute)
			must(t, w.Sweep(ctx, sweepAt))
			wantData(t, w, "a", sweepAt, "v2")
			wantData(t, file, "a", sweepAt, "v2")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, file, _ := deferredPair(t, sqlite.Options{})
			tc.run(t, w, file)
		})
	}
}

// A pending update whose session was evicted from a full cache is still what a load sees.
func TestDeferredUpdateSurvivesEviction(t *testing.T) {
	now := time.Now().UTC()
	w, file, _ := deferredPair(t, sqlite.Options{CacheSize: 1})
	a := sess("a", "u1", now)
	must(t, w.SaveSession(ctx, a))
	must(t, w.UpdateSessionDeferred(ctx, updated(a, "v2", now)))
	must(t, w.SaveSession(ctx, sess("b", "u2", now))) // evicts a from the one-entry cache
	wantData(t, file, "a", now, "data-a")
	wantData(t, w, "a", now, "v2")
	must(t, w.Flush(ctx))
	wantData(t, file, "a", now, "v2")
}

// While flushing fails, updates are written synchronously (so they fail loudly, as the
// store would without deferral), and the failed batch is kept and written by a later flush.
func TestDeferredUpdateFlushFailure(t *testing.T) {
	now := time.Now().UTC()
	w, file, _ := deferredPair(t, sqlite.Options{})
	a, b := sess("a", "u1", now), sess("b", "u1", now)
	must(t, w.SaveSession(ctx, a))
	must(t, w.SaveSession(ctx, b))
	must(t, w.UpdateSessionDeferred(ctx, updated(a, "v2", now)))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Flush(cancelled); err == nil {
		t.Fatal("flush with a cancelled context succeeded")
	}
	wantData(t, w, "a", now, "v2") // still pending, still seen here
	must(t, w.UpdateSessionDeferred(ctx, updated(b, "v2-b", now)))
	wantData(t, file, "b", now, "v2-b") // written at once while flushes fail
	wantData(t, file, "a", now, "data-a")

	must(t, w.Flush(ctx))
	wantData(t, file, "a", now, "v2")
	must(t, w.UpdateSessionDeferred(ctx, updated(b, "v3-b", now)))
	wantData(t, file, "b", now, "v2-b") // deferring again
}

// With SyncSessionWrites, or without the cache, every update is in the file when it returns.
func TestDeferredUpdateOff(t *testing.T) {
	now := time.Now().UTC()
	for _, opts := range []sqlite.Options{{SyncSessionWrites: true}, {NoSessionCache: true}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			w, file, _ := deferredPair(t, opts)
			a := sess("a", "u1", now)
			must(t, w.SaveSession(ctx, a))
			must(t, w.UpdateSessionDeferred(ctx, updated(a, "v2", now)))
			wantData(t, file, "a", now, "v2")
		})
	}
}

// Racing deferred updates, synchronous writes, deletes, loads and flushes end with the
// file and the store agreeing on every session (run with -race).
func TestDeferredUpdateConcurrent(t *testing.T) {
	now := time.Now().UTC()
	w, file, _ := deferredPair(t, sqlite.Options{CacheSize: 8, SessionWriteDelay: time.Millisecond})
	const keys, workers, rounds = 16, 4, 150
	for k := range keys {
		must(t, w.SaveSession(ctx, sess(fmt.Sprint("k", k), "u1", now)))
	}
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range rounds {
				key := fmt.Sprint("k", (g*7+i)%keys)
				x := updated(sess(key, "u1", now), fmt.Sprintf("g%d-%d", g, i), now.Add(time.Duration(i)*time.Second))
				var err error
				switch i % 10 {
				case 0:
					err = w.DeleteSession(ctx, key)
				case 1:
					err = w.SaveSession(ctx, x)
				case 2:
					err = w.Flush(ctx)
				case 3:
					_, err = w.UserSessions(ctx, "u1", now)
				default:
					err = w.UpdateSessionDeferred(ctx, x)
					if errors.Is(err, store.ErrNotFound) {
						err = nil
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := w.LoadSession(ctx, key, now); err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	must(t, w.Flush(ctx))
	for k := range keys {
		key := fmt.Sprint("k", k)
		got, gerr := w.LoadSession(ctx, key, now)
		want, ferr := file.LoadSession(ctx, key, now)
		if (gerr == nil) != (ferr == nil) || string(got.Data) != string(want.Data) {
			t.Errorf("%s: store %q (%v), file %q (%v)", key, got.Data, gerr, want.Data, ferr)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sessionKeys(list []store.Session) []string {
	keys := make([]string, len(list))
	for i, x := range list {
		keys[i] = x.Key
	}
	return keys
}

// Audit events are batched like session updates: not in the file until a flush, which
// RecentEvents and Close run first; synchronous with SyncSessionWrites.
func TestDeferredEvents(t *testing.T) {
	now := time.Now().UTC()
	kinds := func(t *testing.T, s *sqlite.Store) []string {
		t.Helper()
		ev, err := s.RecentEvents(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var k []string
		for _, e := range ev {
			k = append(k, e.Kind)
		}
		return k
	}
	t.Run("deferred", func(t *testing.T) {
		w, file, _ := deferredPair(t, sqlite.Options{})
		must(t, w.AppendEvent(ctx, store.Event{Kind: "a", Time: now}))
		must(t, w.AppendEvent(ctx, store.Event{Kind: "b", Time: now}))
		if got := kinds(t, file); len(got) != 0 {
			t.Fatalf("file has %v before a flush", got)
		}
		if got := kinds(t, w); !slices.Equal(got, []string{"b", "a"}) {
			t.Fatalf("RecentEvents = %v, want b, a", got)
		}
		if got := kinds(t, file); !slices.Equal(got, []string{"b", "a"}) {
			t.Fatalf("file after RecentEvents = %v, want b, a", got)
		}
		must(t, w.AppendEvent(ctx, store.Event{Kind: "c", Time: now}))
		must(t, w.Close())
		if got := kinds(t, file); !slices.Equal(got, []string{"c", "b", "a"}) {
			t.Fatalf("file after Close = %v, want c, b, a", got)
		}
	})
	t.Run("sync", func(t *testing.T) {
		w, file, _ := deferredPair(t, sqlite.Options{SyncSessionWrites: true})
		must(t, w.AppendEvent(ctx, store.Event{Kind: "a", Time: now}))
		if got := kinds(t, file); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("file = %v, want a at once", got)
		}
	})
}
