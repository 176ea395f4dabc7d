//go:build unix

package sqlite

import (
	"errors"
	"os"
	"syscall"
)

// lockSessions takes the file's session lock: an exclusive flock(2) on a file beside the
// database, held until Close and released by the kernel if the process dies, so a stale
// lock cannot outlive its owner. flock rather than SQLite's own locks: those are per
// transaction, and this one says "a process caches this file's sessions" for its lifetime.
// It is a separate file because on NFS flock is emulated with fcntl byte-range locks, which
// could collide with SQLite's locks on the database file.
func lockSessions(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrSessionsInUse
		}
		return nil, err
	}
	return f, nil
}
