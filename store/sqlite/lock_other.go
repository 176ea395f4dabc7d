//go:build !unix

package sqlite

import "os"

// lockSessions is a no-op where flock(2) does not exist: there, two processes caching one
// file's sessions are not detected (see Options.NoSessionCache).
func lockSessions(string) (*os.File, error) { return nil, nil }
