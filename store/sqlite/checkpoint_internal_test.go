package sqlite

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
)

// walBytes is the size of the store's WAL file (0 when there is none).
func walBytes(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// writePages commits n transactions on the writer connection, each adding about `pages`
// pages of data to a scratch table.
func writePages(t *testing.T, s *Store, n, pages int) {
	t.Helper()
	ctx := context.Background()
	blob := strings.Repeat("x", 4000) // about one 4 KiB page per row
	for range n {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range pages {
			if _, err := tx.ExecContext(ctx, `INSERT INTO ck_scratch (b) VALUES (?)`, blob); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// openForCheckpoints opens a store whose background loop is stopped, so that the test runs
// each checkpoint itself, with a scratch table to fill.
func openForCheckpoints(t *testing.T) (*Store, string) {
	t.Helper()
	path := t.TempDir() + "/ck.db"
	s, err := OpenWith(path, Options{NoSessionCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.stopCheckpointLoop()
	if _, err := s.w.Exec(`CREATE TABLE ck_scratch (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	return s, path
}

// A commit never checkpoints (the writer must not stall on copying the WAL back and its
// fsyncs): the WAL keeps every frame written until the background checkpoint runs, which
// then copies all of it, and the next commit starts the WAL over, within journal_size_limit.
func TestCommitsLeaveCheckpointsToTheBackground(t *testing.T) {
	s, path := openForCheckpoints(t)
	var auto int
	if err := s.w.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Fatalf("writer wal_autocheckpoint = %d, want 0", auto)
	}
	writePages(t, s, 3, 1000) // three times SQLite's default autocheckpoint threshold
	frames, err := s.checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if frames < 3000 {
		t.Fatalf("WAL had %d frames at the checkpoint: a commit checkpointed on the writer", frames)
	}
	// Everything was copied back: the next commit restarts the WAL and trims the file.
	writePages(t, s, 1, 1)
	if got := walBytes(t, path); got > walSizeLimit {
		t.Fatalf("WAL is %d bytes after a full checkpoint and a commit, want <= %d", got, walSizeLimit)
	}
}

// The WAL stays bounded under a steady write load checkpointed in the background, and when
// a reader pins an old snapshot (so PASSIVE checkpoints cannot finish) the WAL is truncated
// as soon as that reader is gone, once it has passed walLimitFrames.
func TestWALBound(t *testing.T) {
	s, path := openForCheckpoints(t)
	ctx := context.Background()
	const step = 1000 // pages per round, ~4 MB
	var highest int64
	for range 15 { // ~60 MB written in all: more than walLimitFrames and walSizeLimit
		writePages(t, s, 1, step)
		highest = max(highest, walBytes(t, path))
		if _, err := s.checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if limit := int64(walSizeLimit + 2*step*4200); highest > limit {
		t.Fatalf("steady load: WAL reached %d bytes, want <= %d", highest, limit)
	}

	// A reader on its own connection holds a snapshot, so no checkpoint can copy what was
	// written after it nor restart the WAL.
	rd, err := sql.Open("sqlite", path+"?"+pragmas)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	tx, err := rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM ck_scratch`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	writePages(t, s, walLimitFrames/step+1, step)
	if frames, err := s.checkpoint(ctx); err == nil || frames < walLimitFrames {
		t.Fatalf("checkpoint with a pinned reader: %d frames, err %v; want >= %d frames and a busy error", frames, err, walLimitFrames)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	frames, err := s.checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if frames != 0 || walBytes(t, path) != 0 {
		t.Fatalf("after the reader left: %d frames, %d bytes of WAL; want the WAL truncated", frames, walBytes(t, path))
	}
	// Nothing was lost on the way.
	if err := s.r.QueryRow(`SELECT count(*) FROM ck_scratch`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := 15*step + (walLimitFrames/step+1)*step; n != want {
		t.Fatalf("%d rows, want %d", n, want)
	}
}
