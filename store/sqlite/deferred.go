package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// DefaultSessionWriteDelay is how long a deferred session update may wait before it is
// committed to the file, batched with the others of that moment (Options.SessionWriteDelay).
const DefaultSessionWriteDelay = 10 * time.Millisecond

// flushRetry is how long a failed flush waits before it is tried again (the updates stay
// pending meanwhile, and new updates are written synchronously so that they fail loudly).
const flushRetry = time.Second

// flushTimeout bounds one background flush.
const flushTimeout = 30 * time.Second

// UpdateSessionDeferred is UpdateSession (the session package's DeferredUpdater) whose write
// is committed within Options.SessionWriteDelay, in one transaction with the other updates of
// that moment, instead of before it returns. It returns at once when the session is known to
// be live (it is in the session cache or already pending); otherwise, with the cache off, with
// Options.SyncSessionWrites, or while the last flush is failing, it is exactly UpdateSession.
//
// Why: every SQLite commit costs two write(2) calls per changed page, which is 50–80 µs a
// session save on this project's machines and almost all of a request that saves its session.
// A batch of updates costs one commit.
//
// What it trades: this process reads its own deferred writes at once (LoadSession,
// UserSessions), and Close, Sweep and DeleteUserSessions write them first, so a graceful
// restart loses nothing; a crash or SIGKILL of the process may lose the updates of the last
// SessionWriteDelay. The session package defers only updates that change no credential, so
// what can be lost is a touch or an application value, never a login, logout or rotation.
func (s *Store) UpdateSessionDeferred(ctx context.Context, x store.Session) error {
	if s.cache == nil || s.writeDelay <= 0 {
		return s.UpdateSession(ctx, x)
	}
	// The copy and the rounding are done before the lock, which every request saving its
	// session takes: the holder must not be the one a busy CPU preempts in the middle of a
	// copy. pending and the cache share the copy; neither changes it in place.
	y := x
	y.CreatedAt, y.LastSeen, y.ExpiresAt = normal(x.CreatedAt), normal(x.LastSeen), normal(x.ExpiresAt)
	y.Data = bytes.Clone(x.Data)
	if err := s.lock(ctx); err != nil {
		return err
	}
	_, pending := s.pending[x.Key]
	if s.closed || s.flushErr != nil || (!pending && !s.cache.has(x.Key)) {
		s.smu.Unlock()
		return s.UpdateSession(ctx, x)
	}
	defer s.smu.Unlock()
	s.pending[y.Key] = y
	s.cache.putOwned(y)
	s.armFlush()
	return nil
}

// appendEventDeferred queues an audit event for the next flush and reports whether it did.
// Why: a refused cross-site POST, a failed login or a lockout writes an event; committed one
// by one, each would cost a SQLite commit (about 80 µs here) on requests an attacker can send
// at will. The event is logged through slog before it reaches the store, so a crash loses
// only the stored copy of the last few milliseconds' events.
//
// The wait for the session lock (a slow flush may hold it) ends with ctx or after
// Options.Timeout: the event is then not queued, and the caller writes it synchronously.
func (s *Store) appendEventDeferred(ctx context.Context, e store.Event) bool {
	if s.writeDelay <= 0 {
		return false
	}
	if s.lock(ctx) != nil {
		return false
	}
	defer s.smu.Unlock()
	if s.closed || s.flushErr != nil {
		return false
	}
	s.events = append(s.events, e)
	s.armFlush()
	return true
}

// armFlush starts the flush timer unless it is running; the caller holds smu.
func (s *Store) armFlush() {
	if !s.flushArmed {
		s.flushArmed = true
		s.flushTimer.Reset(s.writeDelay)
	}
}

// Flush commits the deferred session updates and audit events now. Close calls it;
// an application may call it before a planned stop that does not reach Close.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	return s.flushLocked(ctx)
}

// flushLocked writes the pending updates in one transaction; the caller holds fmu and smu, so
// no session write can come between the pending values and the file. On failure the updates
// stay pending and flushErr makes new updates synchronous until a flush succeeds.
func (s *Store) flushLocked(ctx context.Context) error {
	if len(s.pending) == 0 && len(s.events) == 0 {
		s.flushErr = nil // what failed was deleted since: nothing is left to fail
		return nil
	}
	batch, events := s.takePendingLocked()
	gone, err := s.writePending(ctx, batch, events)
	s.settleLocked(batch, events, gone, err)
	return wrap(err)
}

// takePendingLocked moves the pending updates and events into a batch of their own, which
// loads and session lists still see (flushing) until settleLocked; the caller holds fmu and smu.
func (s *Store) takePendingLocked() (map[string]store.Session, []store.Event) {
	batch, events := s.pending, s.events
	s.pending, s.events = make(map[string]store.Session, len(batch)), nil
	s.flushing = batch
	return batch, events
}

// settleLocked ends a flush of batch and events that wrote them (err == nil; gone lists the
// keys whose row no longer existed) or failed; the caller holds fmu and smu. On failure the
// batch goes back to pending, under what was deferred since (newer), and the events before
// the newer ones, so that the retry writes everything in order.
func (s *Store) settleLocked(batch map[string]store.Session, events []store.Event, gone []string, err error) {
	s.flushing = nil
	if err != nil {
		for k, x := range batch {
			if _, newer := s.pending[k]; !newer {
				s.pending[k] = x
			}
		}
		s.events = append(events, s.events...)
		s.flushErr = err
		return
	}
	for _, k := range gone {
		// The row was deleted (by another process: this one deletes under fmu): an update
		// deferred since would be refused too.
		delete(s.pending, k)
		s.cache.remove(k)
	}
	s.flushErr = nil
}

// writePending runs batch and events as one transaction and returns the keys whose row
// no longer existed (swept or deleted by another process): those updates are dropped, as
// UpdateSession would have refused them.
func (s *Store) writePending(ctx context.Context, batch map[string]store.Session, events []store.Event) (gone []string, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if len(events) > 0 {
		ins, err := tx.PrepareContext(ctx, insertEvent)
		if err != nil {
			return nil, err
		}
		defer ins.Close()
		var res sql.Result
		for _, e := range events {
			if res, err = ins.ExecContext(ctx, common.Micros(e.Time), e.Kind, e.UserID, e.Username, e.IP, e.Detail); err != nil {
				return nil, err
			}
		}
		newest, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		if err := s.trimEvents(ctx, tx, newest); err != nil {
			return nil, err
		}
	}
	st := tx.StmtContext(ctx, s.updateSession)
	defer st.Close()
	for k, x := range batch {
		res, err := st.ExecContext(ctx, x.UserID, x.Data, x.IP, x.UserAgent,
			common.Micros(x.CreatedAt), common.Micros(x.LastSeen), common.Micros(x.ExpiresAt), k)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			gone = append(gone, k)
		}
	}
	return gone, tx.Commit()
}

// flushInBackground is the flush timer's function. It holds the session lock only to take
// the batch and to settle it, not while the transaction runs: a commit can take milliseconds,
// and tens of milliseconds when it runs a WAL checkpoint (two fsyncs), and requests deferring
// their session updates must not queue behind it (issue 18: that wait was most of the
// valid-POST p99). fmu keeps synchronous session writes, Sweep and Close out until the batch
// is settled, so the file still sees every write of a key in the order the cache did.
func (s *Store) flushInBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.smu.Lock()
	s.flushArmed = false
	if s.closed || len(s.pending) == 0 && len(s.events) == 0 {
		if !s.closed {
			s.flushErr = nil
		}
		s.smu.Unlock()
		return
	}
	batch, events := s.takePendingLocked()
	s.smu.Unlock()
	gone, err := s.writePending(ctx, batch, events)
	s.smu.Lock()
	defer s.smu.Unlock()
	s.settleLocked(batch, events, gone, err)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "sqlite: writing batched session updates and audit events failed; retrying",
			slog.String("event", "store.flush_failed"), slog.Int("sessions", len(s.pending)),
			slog.Int("events", len(s.events)), slog.Any("err", err))
		s.flushArmed = true
		s.flushTimer.Reset(flushRetry)
	}
}

// pendingSession returns the deferred update of key, if any (for loads that missed the cache):
// the pending one, else the one a background flush is writing.
func (s *Store) pendingSession(ctx context.Context, key string) (store.Session, bool, error) {
	if err := s.lock(ctx); err != nil {
		return store.Session{}, false, err
	}
	defer s.smu.Unlock()
	x, ok := s.pending[key]
	if !ok {
		x, ok = s.flushing[key]
	}
	if ok {
		x.Data = append([]byte(nil), x.Data...)
	}
	return x, ok, nil
}

// mergePendingLocked overlays the deferred updates of userID on rows read from the file, so
// a user's session list shows what LoadSession would: those a background flush is writing
// (which the rows may or may not hold yet), then the newer pending ones. The caller holds smu.
func (s *Store) mergePendingLocked(list []store.Session, userID string, now time.Time) []store.Session {
	if len(s.pending) == 0 && len(s.flushing) == 0 || userID == "" {
		return list
	}
	us := common.Micros(now)
	changed := false
	for _, m := range []map[string]store.Session{s.flushing, s.pending} {
		for k, x := range m {
			if x.UserID != userID {
				continue
			}
			i := 0
			for i < len(list) && list[i].Key != k {
				i++
			}
			live := common.Micros(x.ExpiresAt) > us
			switch {
			case i < len(list) && live:
				list[i] = x
			case i < len(list):
				list = append(list[:i], list[i+1:]...)
			case live:
				list = append(list, x)
			default:
				continue
			}
			changed = true
		}
	}
	if changed {
		for i := range list {
			list[i].Data = append([]byte(nil), list[i].Data...)
		}
		common.SortSessions(list)
	}
	return list
}
