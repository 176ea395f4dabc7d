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
