package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rampart-go/rampart/internal/testdisk"
	"github.com/rampart-go/rampart/store"
)

// sqliteCode is the primary result code of a SQLite error (0 when err is not one).
func sqliteCode(err error) int {
	var se interface{ Code() int }
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// testClock lets a test move the probe's clock past probeEvery without sleeping.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

// fillSessions writes new sessions with 1 KiB of data until a write fails, and returns that
// error (or fails the test when max writes all succeed).
func fillSessions(t *testing.T, s *Store, max int) error {
	t.Helper()
	now := time.Now().UTC()
	data := make([]byte, 1024)
	for i := range max {
		x := store.Session{Key: "fill-" + strconv.Itoa(i), UserID: "u", Data: data, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.SaveSession(context.Background(), x); err != nil {
			t.Logf("write %d failed: %v", i, err)
			return err
		}
	}
	t.Fatalf("%d session writes all succeeded; the store never filled up", max)
	return nil
}

// /healthz relies on Ping: on a database that can no longer grow (SQLITE_FULL, made here
// deterministic with PRAGMA max_page_count), every insert fails while reads and a plain ping
// still work. Ping must say so, and say it again as soon as writes can succeed.
func TestPingReportsFullDatabase(t *testing.T) {
	s, err := OpenWith(filepath.Join(t.TempDir(), "full.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	clock := &testClock{t: time.Now()}
	s.health.now = clock.now
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping on a fresh store: %v", err)
	}
	var pages int
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The writer pool has one connection, kept open: the limit applies to every write.
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+8)); err != nil {
		t.Fatal(err)
	}
	err = fillSessions(t, s, 10000)
	if sqliteCode(err) != sqlite3.SQLITE_FULL {
		t.Fatalf("the failing write: %v, want SQLITE_FULL", err)
	}
	if _, err := s.LoadSession(ctx, "fill-0", time.Now()); err != nil {
		t.Fatalf("reads still work on a full database: %v", err)
	}
	clock.t = clock.t.Add(probeEvery)
	err = s.Ping(ctx)
	if err == nil {
		t.Fatal("Ping = nil on a database where every insert fails with SQLITE_FULL")
	}
	if sqliteCode(err) != sqlite3.SQLITE_FULL {
		t.Errorf("Ping: %v, want an error carrying SQLITE_FULL", err)
	}
	t.Logf("Ping on the full database: %v", err)
	if err := s.Ping(ctx); err == nil { // a failure is not cached as a success
		t.Fatal("second Ping = nil on the full database")
	}

	// Room again: the next Ping sees it at once, and so does a write.
	if _, err := s.w.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the database may grow again: %v", err)
	}
	now := time.Now().UTC()
	if err := s.SaveSession(ctx, store.Session{Key: "after", Data: []byte("x"), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("write after the database may grow again: %v", err)
	}
}

// The same with a real full disk: the database on a small tmpfs, filled by another file.
// Mounting needs root (CAP_SYS_ADMIN); elsewhere the test skips and the max_page_count test
// above covers the logic.
func TestPingReportsFullDisk(t *testing.T) {
	dir := testdisk.Small(t, "2m", "; TestPingReportsFullDatabase covers SQLITE_FULL")
	s, err := OpenWith(filepath.Join(dir, "disk.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // runs before the unmount
	clock := &testClock{t: time.Now()}
	s.health.now = clock.now
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping on a fresh store: %v", err)
	}

	// Another file takes every free block.
	filler := testdisk.Fill(t, dir)
	werr := fillSessions(t, s, 10000)
	if c := sqliteCode(werr); c != sqlite3.SQLITE_FULL && c != sqlite3.SQLITE_IOERR {
		t.Fatalf("the failing write: %v, want SQLITE_FULL or SQLITE_IOERR", werr)
	}
	clock.t = clock.t.Add(probeEvery)
	err = s.Ping(ctx)
	if err == nil {
		t.Fatal("Ping = nil with the disk full and writes failing")
	}
	t.Logf("Ping with the disk full: %v", err)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the disk has room again: %v", err)
	}
}
