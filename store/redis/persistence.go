package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/store/internal/redisinfo"
)

// Durability says how much of what a Redis server holds survives a restart of that server
// (see the constants). It is defined apart from this package so that store/open can judge a
// probe's result without linking the Redis client.
type Durability = redisinfo.Durability

// The durabilities Probe reports, from least to most known-safe: unknown (treat as not
// persisting), none, RDB snapshots only, append-only file.
const (
	DurabilityUnknown   = redisinfo.DurabilityUnknown
	DurabilityNone      = redisinfo.DurabilityNone
	DurabilitySnapshots = redisinfo.DurabilitySnapshots
	DurabilityAOF       = redisinfo.DurabilityAOF
)

// Persistence is what Probe learnt about a server's persistence.
type Persistence = redisinfo.Persistence

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
