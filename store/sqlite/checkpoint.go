package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// WAL checkpoints run in the background, on a connection of their own (issue 18, item 2).
//
// SQLite's default (wal_autocheckpoint=1000) runs a checkpoint inside the commit that takes
// the WAL past 1000 pages, on the committing connection: here the single writer connection,
// so the login, counter hit or session save that happened to cross the line paid for copying
// the WAL back into the database and its two fsyncs (5-15 ms each on this disk), and every
// write queued behind it in the one-connection pool waited as long. The writer now runs with
// wal_autocheckpoint=0, and a goroutine copies the WAL back every checkpointEvery with a
// PASSIVE checkpoint, which takes no lock a writer or reader needs: commits only append to
// the WAL, and once a checkpoint has copied all of it the next commit starts it again from
// the beginning (journal_size_limit then trims the file).
//
// The bound: a PASSIVE checkpoint cannot copy frames that a reader's snapshot still needs,
// nor restart the WAL while someone reads it, so under a constant stream of long readers the
// WAL could grow. When a checkpoint finds the WAL at walLimitFrames or more, it runs a
// TRUNCATE checkpoint, which waits for those readers (at most ckBusyTimeout, blocking new
// writers meanwhile) and empties the file: a bounded stall, taken only when the WAL is
// already ten times the size at which SQLite would have stalled a writer anyway.
const (
	// checkpointEvery is how often the background checkpoint runs. At the writer's rate
	// (tens of thousands of small commits a second at most) the WAL gains a few thousand
	// pages in that time.
	checkpointEvery = 250 * time.Millisecond
	// walLimitFrames is the WAL size (in pages) past which a checkpoint stops being passive:
	// 10,000 pages of 4 KiB, about 40 MB.
	walLimitFrames = 10000
	// walSizeLimit is journal_size_limit, in bytes: when a commit restarts the WAL from its
	// beginning, the file is truncated to this size, so one burst does not leave a large
	// file behind for good.
	walSizeLimit = 16 << 20
	// ckBusyTimeout bounds, in milliseconds, how long a TRUNCATE checkpoint waits for readers
	// and the writer (and so how long it can hold new writers back).
	ckBusyTimeout = 200
)

// writerPragmas are the writer connection's additions to pragmas: no checkpoint inside a
// commit, and the WAL file trimmed when it restarts.
var writerPragmas = fmt.Sprintf("&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(%d)", walSizeLimit)

// startCheckpointer opens the checkpoint connection and starts the goroutine that uses it.
func (s *Store) startCheckpointer(path string) error {
	ck, err := sql.Open("sqlite", fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)", path, ckBusyTimeout))
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxIdleTime(0)
	s.ck = ck
	s.ckStop = make(chan struct{})
	s.ckDone = make(chan struct{})
	go s.checkpointLoop()
	return nil
}

// checkpointLoop runs a checkpoint every checkpointEvery until stopCheckpointer.
func (s *Store) checkpointLoop() {
	defer close(s.ckDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ckStop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := s.checkpoint(ctx); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "sqlite: background WAL checkpoint failed; retrying",
				slog.String("event", "store.checkpoint_failed"), slog.Any("err", err))
		}
		cancel()
	}
}

// stopCheckpointLoop stops the goroutine and waits for it (idempotent).
func (s *Store) stopCheckpointLoop() {
	s.ckOnce.Do(func() { close(s.ckStop) })
	<-s.ckDone
}

// stopCheckpointer stops the goroutine and closes its connection.
func (s *Store) stopCheckpointer() error {
	if s.ck == nil {
		return nil
	}
	s.stopCheckpointLoop()
	err := s.ck.Close()
	s.ck = nil
	return err
}

// checkpoint runs one checkpoint: PASSIVE, then TRUNCATE if the WAL has reached
// walLimitFrames (see the comment at the top of the file). It returns the WAL's size in
// frames after it.
func (s *Store) checkpoint(ctx context.Context) (int, error) {
	var busy, frames, copied int
	if err := s.ck.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return 0, wrap(err)
	}
	if frames < walLimitFrames {
		return frames, nil
	}
	if err := s.ck.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied); err != nil {
		return 0, wrap(err)
	}
	if busy != 0 {
		// Readers or a writer outlasted ckBusyTimeout: the next round tries again.
		return frames, fmt.Errorf("sqlite: WAL at %d pages could not be truncated (busy)", frames)
	}
	return frames, nil
}
