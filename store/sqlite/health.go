package sqlite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store/internal/common"
)

// ctxMutex is the session lock (Store.smu): a mutex whose waiters can give up. A session
// write holds it across its statement, so when the file stops taking writes (another
// process's write lock, a hung disk) the writers queued behind it must be able to leave at
// their deadline like the one waiting in SQLite does, instead of queueing forever.
type ctxMutex chan struct{}

func (m ctxMutex) Lock()   { m <- struct{}{} }
func (m ctxMutex) Unlock() { <-m }

// TryLock takes the lock if it is free, without waiting.
func (m ctxMutex) TryLock() bool {
	select {
	case m <- struct{}{}:
		return true
	default:
		return false
	}
}

// LockCtx waits for the lock until ctx ends.
func (m ctxMutex) LockCtx(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lock takes the session lock, waiting at most until ctx ends or Options.Timeout has passed;
// an uncontended lock costs no timer.
func (s *Store) lock(ctx context.Context) error {
	if s.smu.TryLock() {
		return nil
	}
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.smu.LockCtx(ctx); err != nil {
		return fmt.Errorf("sqlite: waiting for the session writer: %w", err)
	}
	return nil
}

// lockWriter takes fmu, then smu (see Store.fmu), waiting at most as lock does: for what
// writes sessions to the file or flushes the deferred ones.
func (s *Store) lockWriter(ctx context.Context) error {
	if s.fmu.TryLock() {
		if s.smu.TryLock() {
			return nil
		}
		s.fmu.Unlock()
	}
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.fmu.LockCtx(ctx); err != nil {
		return fmt.Errorf("sqlite: waiting for the session writer: %w", err)
	}
	if err := s.smu.LockCtx(ctx); err != nil {
		s.fmu.Unlock()
		return fmt.Errorf("sqlite: waiting for the session writer: %w", err)
	}
	return nil
}

// unlockWriter undoes lockWriter.
func (s *Store) unlockWriter() {
	s.smu.Unlock()
	s.fmu.Unlock()
}

// probeEvery is how long a successful write probe is trusted: /healthz may be called often
// (by anyone), and each probe is a commit.
const probeEvery = time.Second

// probeBytes is what the probe allocates: more than one page (4 KiB by default), so that the
// probe needs pages from the free list or the file, as a real insert does, and not only a
// rewrite of a page it already has.
const probeBytes = 3 * 4096

// writeHealth is the state of Ping's write probe.
type writeHealth struct {
	mu  sync.Mutex
	at  time.Time        // when the last probe succeeded
	now func() time.Time // nil: time.Now; tests inject a clock
}

// checkWrites reports whether a write can be committed now. A full disk (or a database at
// its max_page_count, a read-only remount, a failing device) leaves reads and pings working
// while every insert fails, and a write rolled back before its commit never reaches the disk,
// so neither would see it. The probe commits a transaction that inserts a row needing
// probeBytes of new pages and deletes it again: it succeeds only when SQLite can allocate
// pages (from the free list, or by growing the file) and append the commit to the WAL, which
// is what real writes need. A success is trusted for probeEvery; a failure is not cached, so
// health comes back with the first probe that succeeds. Batched writes (see Flush) whose last
// flush failed are flushed first, and their failure makes the store unhealthy too: those
// writes have no caller to report to.
func (s *Store) checkWrites(ctx context.Context) error {
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	var flushErr error
	if s.flushErr != nil && !s.closed {
		flushErr = s.flushLocked(ctx) // retried now rather than at the next timer
	}
	s.unlockWriter()
	if flushErr != nil {
		return fmt.Errorf("sqlite: batched writes are failing: %w", flushErr)
	}
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	if !h.at.IsZero() && now().Sub(h.at) < probeEvery {
		return nil
	}
	if err := s.probeWrite(ctx); err != nil {
		h.at = time.Time{}
		return fmt.Errorf("sqlite: writes fail: %w", wrap(err))
	}
	h.at = now()
	return nil
}

func (s *Store) probeWrite(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO write_probe (pad) VALUES (zeroblob(?))`, probeBytes); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM write_probe`); err != nil {
		return err
	}
	return tx.Commit()
}
