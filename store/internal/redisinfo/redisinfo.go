// Package redisinfo holds what a Redis server says about its persistence, apart from the
// Redis client, so that store/open and the root package can judge it without linking
// go-redis. store/redis re-exports these types; see there.
package redisinfo

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Durability says how much of what a Redis server holds survives a restart of that server.
// Redis keeps its data in memory; only its persistence settings decide whether a restart
// (a crash, an upgrade, a container rescheduled) loses it. rampart keeps sessions and, when
// Redis is its only store, accounts and lockout counters there, so a restart that loses the
// data logs everyone out and, worse, silently unlocks every locked account.
type Durability int

// The durabilities store/redis.ProbePersistence reports, from least to most known-safe. The order matters: callers
// compare with DurabilitySnapshots ("at least snapshots").
const (
	// DurabilityUnknown: the server answered PING but would not say how it persists (CONFIG
	// renamed or refused by ACL, and INFO persistence refused or not conclusive, as on some
	// managed services). Treat it as not persisting until shown otherwise.
	DurabilityUnknown Durability = iota
	// DurabilityNone: appendonly no and no save rules; a restart loses everything.
	DurabilityNone
	// DurabilitySnapshots: RDB snapshots only (save rules, appendonly no). A clean shutdown
	// writes a final snapshot, but a crash or SIGKILL loses everything changed since the last
	// one, and a lone change (one lockout failure) waits for the slowest rule (3600 s with the
	// default "3600 1 300 100 60 10000").
	DurabilitySnapshots
	// DurabilityAOF: the append-only file is on (appendonly yes). A crash loses at most the
	// writes not yet fsynced: none with appendfsync always, about one second with everysec
	// (the default), up to the kernel's writeback delay (~30 s on Linux) with no.
	DurabilityAOF
)

func (d Durability) String() string {
	switch d {
	case DurabilityNone:
		return "none"
	case DurabilitySnapshots:
		return "snapshots"
	case DurabilityAOF:
		return "aof"
	}
	return "unknown"
}

// Persistence is what store/redis.ProbePersistence learnt about a server's persistence.
type Persistence struct {
	Durability Durability
	// AppendFsync is the AOF fsync policy (always, everysec, no), "" when not read.
	AppendFsync string
	// Save is the RDB save rules as CONFIG GET save returns them ("3600 1 300 100"), "" when
	// there are none or they could not be read.
	Save string
	// Source is how it was learnt: "CONFIG GET" or "INFO persistence" ("" for Unknown).
	Source string
	// Detail explains an Unknown result (what was refused), or what INFO could not tell.
	Detail string
}

// LoneWrite is how long, under the save rules, a single change may wait before a snapshot
// includes it: the shortest period of a rule that one change satisfies. ok is false when no
// rule fires on a single change (it waits until enough others accumulate) or the rules are
// unknown or unparsable.
func (p Persistence) LoneWrite() (d time.Duration, ok bool) {
	f := strings.Fields(p.Save)
	if len(f) == 0 || len(f)%2 != 0 {
		return 0, false
	}
	for i := 0; i < len(f); i += 2 {
		secs, err1 := strconv.ParseInt(f[i], 10, 64)
		changes, err2 := strconv.ParseInt(f[i+1], 10, 64)
		if err1 != nil || err2 != nil || secs < 0 || secs > 1<<31 {
			return 0, false
		}
		if changes <= 1 && (!ok || time.Duration(secs)*time.Second < d) {
			d, ok = time.Duration(secs)*time.Second, true
		}
	}
	return d, ok
}

// String describes the result for a log line or a finding.
func (p Persistence) String() string {
	switch p.Durability {
	case DurabilityAOF:
		s := "append-only file on"
		if p.AppendFsync != "" {
			s += " (appendfsync " + p.AppendFsync + ")"
		}
		return s
	case DurabilitySnapshots:
		s := fmt.Sprintf("RDB snapshots only (save %q, appendonly no)", p.Save)
		if d, ok := p.LoneWrite(); ok {
			s += fmt.Sprintf("; a single change waits up to %s for a snapshot", d)
		} else {
			s += "; no rule saves a single change"
		}
		return s
	case DurabilityNone:
		return `no persistence (appendonly no, save "")`
	}
	if p.Detail != "" {
		return "persistence unknown: " + p.Detail
	}
	return "persistence unknown"
}
