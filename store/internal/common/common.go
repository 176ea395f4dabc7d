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

// FoldKey is the case-insensitive form of a username or e-mail used for uniqueness, lookups
// and ListUsers ordering. It is computed in Go rather than with SQL lower(), which differs
// between SQLite (ASCII only) and PostgreSQL (collation dependent).
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

// SweepLoop calls sweep with now() every interval until ctx is done, reporting failures to
// onErr (which may be nil). SQL backends have no native expiry, so an application runs this
// in a goroutine to keep expired sessions and counters from piling up.
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
			if err := sweep(ctx, now()); err != nil && onErr != nil && ctx.Err() == nil {
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
