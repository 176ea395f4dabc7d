// Package common holds the few rules every backend must apply identically, so that a user or
// session list looks the same on memory, SQLite, PostgreSQL and Redis.
package common

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/rampart-go/rampart/store"
)

// FoldKey is the case-insensitive form of an e-mail address used for uniqueness and lookups
// (usernames have store.UsernameKey). It is computed in Go rather than with SQL lower(), which
// differs between SQLite (ASCII only) and PostgreSQL (collation dependent).
func FoldKey(s string) string { return strings.ToLower(s) }

// SortSessions orders sessions most recently seen first, then by key so ties are stable.
func SortSessions(s []store.Session) {
	slices.SortFunc(s, func(a, b store.Session) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
}

// Micros converts t to Unix microseconds, the precision every backend keeps; the zero time
// maps to 0 so that "never" survives a round trip.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros is the inverse of Micros, in UTC.
func FromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// SweepTimeout bounds one sweep in SweepLoop. A sweep is not on any request's path and may
// delete many rows, so it gets far longer than one operation (Timeout), but not forever: a
// frozen store must not hold the sweeping goroutine and its connection until it thaws.
const SweepTimeout = time.Minute

// SweepLoop calls sweep with now() every interval until ctx is done, reporting failures to
// onErr (which may be nil). SQL backends have no native expiry, so an application runs this
// in a goroutine to keep expired sessions and counters from piling up. Each sweep is bounded
// by SweepTimeout.
func SweepLoop(ctx context.Context, every time.Duration, now func() time.Time, sweep func(context.Context, time.Time) error, onErr func(error)) {
	if every <= 0 {
		every = 10 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			sctx, cancel := context.WithTimeout(ctx, SweepTimeout)
			err := sweep(sctx, now())
			cancel()
			if err != nil && onErr != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}

// DefaultMaxRows is how many audit events and how many comments the SQL stores keep by
// default: Sweep deletes older rows beyond it, so a flood of logged requests (forged
// cross-site POSTs, failed logins from many addresses) cannot fill the disk. Redis keeps
// 10,000 of each, in memory.
const DefaultMaxRows = 100000

// Timeout is a backend's Options.Timeout made usable: 0 means store.DefaultTimeout, and a
// negative value means no limit of the backend's own (returned as 0; the caller's context
// still applies).
func Timeout(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return store.DefaultTimeout
	case d < 0:
		return 0
	}
	return d
}

// WithTimeout bounds one store operation to d (a value from Timeout) unless ctx already ends
// sooner: then, and when d is 0, it returns ctx itself and a no-op cancel, without a timer.
// Backends call it once per operation, on every operation a request may wait for, so that
// a store that stops answering (a frozen server, a lost network path) turns into an error
// wrapping context.DeadlineExceeded within d, never a request that hangs.
func WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, noop
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, noop
	}
	return context.WithTimeout(ctx, d)
}

func noop() {}
