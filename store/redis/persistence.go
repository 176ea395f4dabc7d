package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Durability says how much of what a Redis server holds survives a restart of that server.
// Redis keeps its data in memory; only its persistence settings decide whether a restart
// (a crash, an upgrade, a container rescheduled) loses it. rampart keeps sessions and, when
// Redis is its only store, accounts and lockout counters there, so a restart that loses the
// data logs everyone out and, worse, silently unlocks every locked account.
type Durability int

// The durabilities Probe reports, from least to most known-safe. The order matters: callers
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

// Persistence is what Probe learnt about a server's persistence.
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

// Persistence asks the server behind s how it persists; see ProbePersistence.
func (s *Store) Persistence(ctx context.Context) (Persistence, error) {
	return ProbePersistence(ctx, s.c)
}

// ProbePersistence asks the server behind c how it persists: CONFIG GET appendonly,
// appendfsync and save, or, where CONFIG is renamed, disabled or refused by an ACL, INFO
// persistence (aof_enabled). INFO does not show the save rules, so a server that only answers
// INFO and has the append-only file off is reported DurabilityUnknown with a Detail saying so.
// An error means the server could not be asked at all (connection, authentication, timeout);
// a server that refuses both commands gives DurabilityUnknown and no error.
func ProbePersistence(ctx context.Context, c goredis.UniversalClient) (Persistence, error) {
	if err := c.Ping(ctx).Err(); err != nil {
		return Persistence{}, err
	}
	p, cfgErr := probeConfig(ctx, c)
	if cfgErr == nil {
		return p, nil
	}
	if !isServerError(cfgErr) {
		return Persistence{}, cfgErr
	}
	info, err := c.Info(ctx, "persistence").Result()
	if err != nil {
		if !isServerError(err) {
			return Persistence{}, err
		}
		return Persistence{Detail: fmt.Sprintf("CONFIG GET refused (%v) and INFO persistence refused (%v)", cfgErr, err)}, nil
	}
	p = parseInfoPersistence(info)
	refused := fmt.Sprintf("CONFIG GET refused (%v)", cfgErr)
	if p.Detail != "" {
		refused += "; " + p.Detail
	}
	p.Detail = refused
	return p, nil
}

// errNoConfig reports a CONFIG GET that answered without the parameter asked for (a
// Redis-compatible server without it): not conclusive, so INFO is tried.
var errNoConfig = serverError("CONFIG GET did not return appendonly")

type serverError string

func (e serverError) Error() string { return string(e) }
func (serverError) RedisError()     {}

func isServerError(err error) bool {
	var rerr goredis.Error
	return errors.As(err, &rerr)
}

func probeConfig(ctx context.Context, c goredis.UniversalClient) (Persistence, error) {
	// One parameter per CONFIG GET: several in one call need Redis 7, and a pipeline is still
	// one round trip.
	var aof, fsync, save *goredis.MapStringStringCmd
	_, err := c.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		aof = pl.ConfigGet(ctx, "appendonly")
		fsync = pl.ConfigGet(ctx, "appendfsync")
		save = pl.ConfigGet(ctx, "save")
		return nil
	})
	if err != nil {
		return Persistence{}, err
	}
	a, ok := aof.Val()["appendonly"]
	if !ok {
		return Persistence{}, errNoConfig
	}
	p := Persistence{Source: "CONFIG GET", AppendFsync: fsync.Val()["appendfsync"], Save: strings.TrimSpace(save.Val()["save"])}
	switch {
	case strings.EqualFold(a, "yes"):
		p.Durability = DurabilityAOF
	case p.Save != "":
		p.Durability = DurabilitySnapshots
	default:
		p.Durability = DurabilityNone
	}
	return p, nil
}

// parseInfoPersistence reads the aof_enabled field of an INFO persistence reply. Without CONFIG
// the save rules are not visible, so aof_enabled:0 leaves the result Unknown: the server may or
// may not take snapshots.
func parseInfoPersistence(info string) Persistence {
	var aof string
	found := false
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && k == "aof_enabled" {
			aof, found = v, true
		}
	}
	switch {
	case !found:
		return Persistence{Detail: "INFO persistence has no aof_enabled field"}
	case aof == "1":
		return Persistence{Durability: DurabilityAOF, Source: "INFO persistence"}
	case aof == "0":
		return Persistence{Source: "INFO persistence",
			Detail: "INFO persistence says aof_enabled:0, and without CONFIG GET whether RDB snapshots are configured cannot be read"}
	}
	return Persistence{Detail: fmt.Sprintf("INFO persistence has aof_enabled:%q", aof)}
}

// ProbeURL connects to the Redis at url (as Open reads it: for a Sentinel URL, the current
// master), probes its persistence with ProbePersistence and disconnects. timeout bounds the
// dial and each command, no command is retried, and the whole probe takes at most 2×timeout
// (ctx may cut it shorter), so an unreachable server is reported quickly. Over Sentinel only
// the master is probed: a replica promoted by a failover keeps what it persists itself, so
// every node needs the same persistence settings. On Redis Cluster one node, whichever the
// client picks, is probed.
func ProbeURL(ctx context.Context, url string, timeout time.Duration) (Persistence, error) {
	c, err := newClient(url, timeout)
	if err != nil {
		return Persistence{}, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	return ProbePersistence(ctx, c)
}
