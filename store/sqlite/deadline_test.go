package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/sqlite"
)

// While another process holds the file's write lock, a write must not wait out busy_timeout
// (10 s) nor queue behind the writes waiting before it: each operation fails with a deadline
// after Options.Timeout, and the store works again once the lock is released.
func TestTimeoutBoundsWaitForTheWriteLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	s, err := sqlite.OpenWith(path, sqlite.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	now := time.Now().UTC()
	sess := func(k string) store.Session {
		return store.Session{Key: k, UserID: "u", Data: []byte("d"), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := s.SaveSession(ctx, sess("before")); err != nil {
		t.Fatal(err)
	}

	// "Another process": its own connection, holding a write transaction open.
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}

	// Session writes queue on the session lock behind the one waiting in SQLite; counters
	// and users wait in SQLite (or for the single writer connection).
	ops := map[string]func() error{
		"counter": func() error {
			_, err := s.Incr(ctx, "c", 1, now, time.Minute, false)
			return err
		},
		"user": func() error { _, err := s.CreateUser(ctx, store.User{Username: "x", DateJoined: now}); return err },
	}
	for i := range 3 {
		ops["session "+strconv.Itoa(i)] = func() error { return s.SaveSession(ctx, sess("s"+strconv.Itoa(i))) }
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := map[string]error{}
	for name, op := range ops {
		wg.Go(func() {
			err := op()
			mu.Lock()
			errs[name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while another process holds the write lock: %v, want a deadline error", name, err)
		}
	}
	if _, err := s.LoadSession(ctx, "before", now); err != nil {
		t.Errorf("reads go on while another process writes: %v", err)
	}

	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession(ctx, sess("after")); err != nil {
		t.Fatalf("write after the lock was released: %v", err)
	}
	if _, err := s.Incr(ctx, "c", 1, now, time.Minute, false); err != nil {
		t.Fatalf("counter after the lock was released: %v", err)
	}
}
