package sqlite

import (
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentOpenNewFile: several processes opening a new database file at once (tools
// started beside each other, or `rampart migrate` beside `rampart serve`) all succeed; the
// loser of the race for the first write waits instead of failing with "database is locked".
func TestConcurrentOpenNewFile(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "new.db")
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := OpenWith(path, Options{NoSessionCache: true})
				if err != nil {
					errs <- err
					return
				}
				errs <- s.Close()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
