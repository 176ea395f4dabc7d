package sqlite

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/store"
)

// A background flush that fails is logged and retried, updates become synchronous (and so
// fail loudly), and Close reports what could not be written.
func TestBackgroundFlushFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		s, err := OpenWith(filepath.Join(t.TempDir(), "f.db"), Options{SessionWriteDelay: 10 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		now := time.Now().UTC()
		x := store.Session{Key: "k", UserID: "u", Data: []byte("v1"), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.SaveSession(ctx, x); err != nil {
			t.Fatal(err)
		}
		x.Data = []byte("v2")
		if err := s.UpdateSessionDeferred(ctx, x); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendEvent(ctx, store.Event{Kind: "e", Time: now}); err != nil {
			t.Fatal(err)
		}
		s.w.Close() // the writer is gone: every write fails from now on
		time.Sleep(11 * time.Millisecond)
		synctest.Wait()
		out := logs.String()
		if !strings.Contains(out, "store.flush_failed") || !strings.Contains(out, "sessions=1") || !strings.Contains(out, "events=1") {
			t.Fatalf("flush failure not logged:\n%s", out)
		}
		x.Data = []byte("v3")
		if err := s.UpdateSessionDeferred(ctx, x); err == nil {
			t.Fatal("update after a failed flush was accepted instead of written synchronously")
		}
		time.Sleep(flushRetry)
		synctest.Wait()
		if n := strings.Count(logs.String(), "store.flush_failed"); n != 2 {
			t.Fatalf("%d flush failures logged, want 2 (one retry)", n)
		}
		if err := s.Close(); err == nil {
			t.Fatal("Close reported no error with writes pending on a closed writer")
		}
	})
}

// A background flush whose transaction cannot run yet (here: the single writer connection is
// taken) holds no lock that a request deferring its session update needs: the update, the
// load and the session list go on from memory. A synchronous write of the same key waits for
// the flush instead, so the file ends with the newest value, not the batch's older one.
func TestFlushInFlightDoesNotBlockDeferredUpdates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := OpenWith(filepath.Join(t.TempDir(), "f.db"), Options{SessionWriteDelay: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		now := time.Now().UTC()
		x := store.Session{Key: "k", UserID: "u", Data: []byte("v1"), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.SaveSession(ctx, x); err != nil {
			t.Fatal(err)
		}
		conn, err := s.w.Conn(ctx) // the writer: the next flush waits for it
		if err != nil {
			t.Fatal(err)
		}
		x.Data = []byte("v2")
		if err := s.UpdateSessionDeferred(ctx, x); err != nil {
			t.Fatal(err)
		}
		time.Sleep(11 * time.Millisecond)
		synctest.Wait() // the flush has taken v2 and waits for the connection
		s.smu.Lock()
		inFlight := string(s.flushing["k"].Data)
		s.smu.Unlock()
		if inFlight != "v2" {
			t.Fatalf("flush in flight holds %q, want v2", inFlight)
		}

		// A context that is already over: only a lock that is free can be taken.
		done, cancel := context.WithCancel(ctx)
		cancel()
		x.Data = []byte("v3")
		if err := s.UpdateSessionDeferred(done, x); err != nil {
			t.Fatalf("deferred update waited for the flush in flight: %v", err)
		}
		if got, err := s.LoadSession(done, "k", now); err != nil || string(got.Data) != "v3" {
			t.Fatalf("load during the flush = %q, %v; want v3", got.Data, err)
		}
		s.cache.remove("k") // a load that misses the cache reads pending (or the batch), not the file
		if got, err := s.LoadSession(done, "k", now); err != nil || string(got.Data) != "v3" {
			t.Fatalf("uncached load during the flush = %q, %v; want v3", got.Data, err)
		}
		// The list reads the file, so it needs a live context; the session lock is free.
		if list, err := s.UserSessions(ctx, "u", now); err != nil || len(list) != 1 || string(list[0].Data) != "v3" {
			t.Fatalf("session list during the flush = %v, %v; want one session with v3", list, err)
		}
		if err := s.SaveSession(done, x); err == nil {
			t.Fatal("synchronous write did not wait for the flush in flight")
		}

		x.Data = []byte("v4")
		saved := make(chan error, 1)
		go func() { saved <- s.SaveSession(ctx, x) }()
		synctest.Wait() // the synchronous write waits for the flush
		select {
		case err := <-saved:
			t.Fatalf("synchronous write finished before the flush in flight: %v", err)
		default:
		}
		conn.Close() // the flush writes v2, then the synchronous write v4
		if err := <-saved; err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := s.loadSessionDB(ctx, "k", now); err != nil || string(got.Data) != "v4" {
			t.Fatalf("file holds %q, %v; want v4", got.Data, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
