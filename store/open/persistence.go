package open

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/internal/redisinfo"
)

// RedisPersistence is whether one Redis server named by the settings keeps its data across a
// restart of that server, and what is at stake there. rampart.New (at `rampart serve`) and
// `rampart check` both judge with it, so they say the same thing (check ID RAMPART-W030).
type RedisPersistence struct {
	// Setting is the variable naming the server: RAMPART_DATABASE_URL or RAMPART_REDIS_URL.
	Setting string
	// Where is the server's URL with any password masked.
	Where string
	// HoldsLocks is true for a redis:// DATABASE_URL: everything is kept there, the lockout and
	// 2FA counters included. A REDIS_URL beside a database only holds sessions and rate-limit
	// counters: the stack keeps lockout and 2FA counters in the database (see
	// SplitStore.DurableCounters), so a restart of that Redis logs users out but unlocks no one.
	HoldsLocks bool
	// Persistence is what the server said (zero when Err is set); the type is
	// store/redis.Persistence.
	Persistence redisinfo.Persistence
	// Err is set when the server could not be asked at all (unreachable, authentication,
	// timeout).
	Err error
}

// Safe reports that the server was reached and keeps an append-only file.
func (r RedisPersistence) Safe() bool {
	return r.Err == nil && r.Persistence.Durability == redisinfo.DurabilityAOF
}

// Refuse reports a state the server should not start in, outside development and without the
// explicit opt-out: locks live on a Redis that is not known to keep even snapshots (no
// persistence, persistence unknown, or the server could not be asked). RDB snapshots alone are
// warned about, not refused: a clean restart keeps everything and only a crash loses the last
// interval.
func (r RedisPersistence) Refuse() bool {
	return r.HoldsLocks && (r.Err != nil || r.Persistence.Durability < redisinfo.DurabilitySnapshots)
}

// Problem says what is wrong, naming the setting, the server and what a restart loses; "" when
// Safe.
func (r RedisPersistence) Problem() string {
	if r.Safe() {
		return ""
	}
	lost := "sessions and login rate-limit counters"
	restart := "a restart of Redis logs every user out and resets the login rate limits " +
		"(lockout and 2FA counters are kept in RAMPART_DATABASE_URL and survive it)"
	if r.HoldsLocks {
		lost = "accounts, sessions and lockout and 2FA counters"
		restart = "a restart of Redis loses every account, logs every user out and unlocks every locked account"
	}
	srv := fmt.Sprintf("the Redis in %s (%s)", r.Setting, r.Where)
	p := r.Persistence
	switch {
	case r.Err != nil:
		return fmt.Sprintf("could not connect to %s to check that it persists: %v; if it does not, %s", srv, r.Err, restart)
	case p.Durability == redisinfo.DurabilityNone:
		return fmt.Sprintf("%s does not persist (appendonly no, save \"\"): %s", srv, restart)
	case p.Durability == redisinfo.DurabilitySnapshots:
		m := fmt.Sprintf("%s keeps RDB snapshots only (save %q, appendonly no): a crash loses the %s changed since the last snapshot", srv, p.Save, lost)
		if d, ok := p.LoneWrite(); ok {
			return m + fmt.Sprintf(", and a single change waits up to %s for one", d)
		}
		return m + ", and no save rule fires on a single change"
	}
	return fmt.Sprintf("could not tell whether %s persists (%s); if it does not, %s", srv, p.Detail, restart)
}

// RedisPersistenceHint is how to fix every Problem.
const RedisPersistenceHint = "turn on the append-only file: appendonly yes and appendfsync everysec in redis.conf " +
	"(or CONFIG SET appendonly yes, then CONFIG REWRITE); see docs/SCALING.md"

// CheckRedisPersistence probes each Redis server the two URLs name (a redis:// or rediss://
// databaseURL, a redisURL), each with its own connection bounded by timeout. URLs that are not
// Redis, or do not parse, are skipped (the settings report them).
func CheckRedisPersistence(ctx context.Context, databaseURL, redisURL string, timeout time.Duration) []RedisPersistence {
	var out []RedisPersistence
	probe := func(setting, raw string, holdsLocks bool) {
		var p redisinfo.Persistence
		drv, err := driver("redis")
		if err == nil {
			p, err = drv.ProbePersistence(ctx, raw, timeout)
		}
		if err != nil {
			err = errors.New(scrub(err.Error(), raw))
		}
		out = append(out, RedisPersistence{Setting: setting, Where: settings.RedactURL(raw), HoldsLocks: holdsLocks, Persistence: p, Err: err})
	}
	if d, err := settings.ParseDatabaseURL(databaseURL); err == nil && d.Driver == "redis" {
		probe("RAMPART_DATABASE_URL", strings.TrimSpace(databaseURL), true)
	}
	if strings.TrimSpace(redisURL) != "" {
		if _, err := settings.ParseRedisURL(redisURL); err == nil {
			probe("RAMPART_REDIS_URL", strings.TrimSpace(redisURL), false)
		}
	}
	return out
}

// scrub masks the URL and its password in a driver's error message (url.Parse errors quote
// the whole URL). The password is also found in a URL that does not parse.
func scrub(msg, raw string) string {
	msg = strings.ReplaceAll(msg, raw, settings.RedactURL(raw))
	var pws []string
	if u, err := url.Parse(raw); err == nil {
		pw, _ := u.User.Password()
		pws = append(pws, pw, u.Query().Get("password"), u.Query().Get("sentinel_password"))
	} else if _, rest, ok := strings.Cut(raw, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			_, pw, _ := strings.Cut(rest[:at], ":")
			pws = append(pws, pw)
		}
	}
	for _, pw := range pws {
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, settings.Mask)
		}
	}
	return msg
}
