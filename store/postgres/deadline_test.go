package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/postgres"
)

// A statement that cannot get its answer (here: another session holds an exclusive lock on
// the tables, as a long migration or a stuck transaction would) fails with a deadline after
// Options.Timeout instead of holding the request; the pool then works as before. The frozen
// server itself (SIGSTOP) is tested end to end in internal/scaletest.
func TestTimeoutBoundsBlockedStatements(t *testing.T) {
	u := testbackends.PostgresURL(t)
	sc := testbackends.PostgresSchema(t, u)
	s := testbackends.OpenPostgres(t, u, postgres.Options{Schema: sc, MaxConns: 4, Timeout: 200 * time.Millisecond})
	ctx := context.Background()
	now := time.Now().UTC()
	x := store.Session{Key: "k", UserID: "u", Data: []byte("d"), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.SaveSession(ctx, x); err != nil {
		t.Fatal(err)
	}

	locker, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE `+pgx.Identifier{sc, "sessions"}.Sanitize()+`, `+
		pgx.Identifier{sc, "counters"}.Sanitize()+`, `+pgx.Identifier{sc, "users"}.Sanitize()+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"LoadSession":  func() error { _, err := s.LoadSession(ctx, "k", now); return err },
		"SaveSession":  func() error { return s.SaveSession(ctx, x) },
		"UserSessions": func() error { _, err := s.UserSessions(ctx, "u", now); return err },
		"Incr": func() error {
			_, err := s.Incr(ctx, "c", 1, now, time.Minute, false)
			return err
		},
		"UserByID": func() error { _, err := s.UserByID(ctx, "1"); return err },
	} {
		if err := op(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the table is locked: %v, want a deadline error", name, err)
		}
	}
	// A caller's earlier deadline wins over Options.Timeout.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.LoadSession(short, "k", now); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(short.Err(), context.DeadlineExceeded) {
		t.Errorf("LoadSession with the caller's shorter deadline: %v (caller's context: %v)", err, short.Err())
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadSession(ctx, "k", now); err != nil {
		t.Fatalf("LoadSession after the lock was released: %v", err)
	}
	if _, err := s.Incr(ctx, "c", 1, now, time.Minute, false); err != nil {
		t.Fatalf("Incr after the lock was released: %v", err)
	}
}
