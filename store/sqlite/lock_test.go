//go:build unix

package sqlite_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rampart-go/rampart/store/sqlite"
)

// Only one Store at a time may cache a file's sessions; uncached opens (other processes that
// share the file on purpose, tools) are always allowed, and Close hands the lock on.
func TestSessionCacheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.db")
	open := func(opts sqlite.Options) (*sqlite.Store, error) {
		s, err := sqlite.OpenWith(path, opts)
		if err == nil {
			t.Cleanup(func() { s.Close() })
		}
		return s, err
	}
	first, err := open(sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		opts    sqlite.Options
		wantErr error
	}{
		{"second cached open", sqlite.Options{}, sqlite.ErrSessionsInUse},
		{"cached, synchronous writes", sqlite.Options{SyncSessionWrites: true}, sqlite.ErrSessionsInUse},
		{"uncached open", sqlite.Options{NoSessionCache: true}, nil},
	}
	for _, st := range steps {
		_, err := open(st.opts)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := open(sqlite.Options{}); err != nil {
		t.Fatalf("cached open after the holder closed: %v", err)
	}
}
