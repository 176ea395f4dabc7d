package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

// writeFromAnotherProcess runs this test binary as a child that executes stmt on the
// database at path: a writer the store's process knows nothing about, as `rampart grant` or
// the sqlite3 shell would be.
func writeFromAnotherProcess(t *testing.T, path, stmt string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
	cmd.Env = append(os.Environ(), "RAMPART_SQLITE_HELPER_DB="+path, "RAMPART_SQLITE_HELPER_SQL="+stmt)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writer process: %v\n%s", err, out)
	}
}

// TestHelperWriter is the child of writeFromAnotherProcess; it does nothing in a normal run.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv("RAMPART_SQLITE_HELPER_DB")
	if path == "" {
		return
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(os.Getenv("RAMPART_SQLITE_HELPER_SQL")); err != nil {
		t.Fatal(err)
	}
}

// The user row and session list caches answer only while nothing was committed to the file:
// every change, by this store, by another connection in this process or by another process,
// is seen by the next read.
func TestReadCachesSeeEveryWriter(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	path := filepath.Join(t.TempDir(), "db.sqlite")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.watch == nil {
		t.Fatal("no WAL watch on a new file: the caches are off")
	}
	u, err := s.CreateUser(ctx, store.User{Username: "ann", PasswordHash: "h", IsActive: true, DateJoined: now})
	if err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	sess := func(key string, expires time.Duration) store.Session {
		return store.Session{Key: key, UserID: u.ID, IP: "192.0.2.1", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(expires)}
	}
	if err := s.SaveSession(ctx, sess("a", time.Hour)); err != nil {
		t.Fatal(err)
	}
	keys := func(at time.Time) []string {
		t.Helper()
		list, err := s.UserSessions(ctx, u.ID, at)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, x := range list {
			ks = append(ks, x.Key)
		}
		return ks
	}
	active := func() bool {
		t.Helper()
		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.IsActive
	}
	for _, tc := range []struct {
		name   string
		change func()
		active bool
		keys   []string
		at     time.Time
	}{
		{"nothing", func() {}, true, []string{"a"}, now},
		{"this store", func() {
			u.IsActive = false
			if err := s.UpdateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveSession(ctx, sess("b", 2*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}, false, []string{"a", "b"}, now},
		{"another connection", func() {
			if _, err := other.Exec(`UPDATE users SET is_active = 1`); err != nil {
				t.Fatal(err)
			}
			if _, err := other.Exec(`DELETE FROM sessions WHERE key = 'a'`); err != nil {
				t.Fatal(err)
			}
		}, true, []string{"b"}, now},
		{"another process", func() {
			writeFromAnotherProcess(t, path, `UPDATE users SET is_active = 0; INSERT INTO sessions VALUES ('c', '`+u.ID+`', NULL, '', '', 0, 0, 9e15)`)
		}, false, []string{"b", "c"}, now},
		{"time only: b expires", func() {}, false, []string{"c"}, now.Add(3 * time.Hour)},
		{"time back: b again", func() {}, false, []string{"b", "c"}, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the second read is the cached one
				tc.change()
				tc.change = func() {}
				if got := active(); got != tc.active {
					t.Fatalf("IsActive = %v, want %v", got, tc.active)
				}
				if got := keys(tc.at); !equalKeys(got, tc.keys) {
					t.Fatalf("sessions = %v, want %v", got, tc.keys)
				}
			}
		})
	}
	// Deleted by another process: gone at once.
	writeFromAnotherProcess(t, path, `DELETE FROM users`)
	if _, err := s.UserByID(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByID after another process deleted the user: %v, want ErrNotFound", err)
	}
}

func equalKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, k := range a {
		seen[k] = true
	}
	for _, k := range b {
		if !seen[k] {
			return false
		}
	}
	return true
}

// A hit is answered from memory: with the statements closed, a cached user and session list
// are still returned (a miss would fail), and callers own what they get.
func TestReadCachesAnswerFromMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	s, err := Open(filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := s.CreateUser(ctx, store.User{Username: "ann", PasswordHash: "h", IsActive: true, DateJoined: now, TOTPSecret: []byte("sealed")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession(ctx, store.Session{Key: "a", UserID: u.ID, Data: []byte("d"), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := s.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.UserSessions(ctx, u.ID, now)
	if err != nil || len(list) != 1 {
		t.Fatalf("UserSessions = %v, %v", list, err)
	}
	first.TOTPSecret[0] = 'X'
	list[0].Data[0] = 'X'
	s.userByID.Close()
	s.userSessions.Close()
	again, err := s.UserByID(ctx, u.ID)
	if err != nil || string(again.TOTPSecret) != "sealed" {
		t.Fatalf("cached UserByID = %q, %v; want the stored secret from memory", again.TOTPSecret, err)
	}
	list, err = s.UserSessions(ctx, u.ID, now.Add(time.Minute))
	if err != nil || len(list) != 1 || string(list[0].Data) != "d" {
		t.Fatalf("cached UserSessions = %v, %v; want the stored session from memory", list, err)
	}
	if _, err := s.UserSessions(ctx, u.ID, now.Add(-time.Minute)); err == nil {
		t.Fatal("a list asked for an earlier time than the cached one was not read again")
	}
	if _, err := s.UserByID(ctx, "999"); err == nil {
		t.Fatal("an uncached user did not reach the (closed) statement")
	}
}
