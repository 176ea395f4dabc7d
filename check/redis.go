package check

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/open"
)

// idRedisPersistence is every finding about Redis keeping its data across its own restart:
// the live ones from Live, and the opt-out setting from Run. rampart.New logs the same ID.
const idRedisPersistence = "RAMPART-W030"

// LiveTimeout bounds each Redis probe of Main: a deploy check should not hang on a
// firewalled server.
const LiveTimeout = 3 * time.Second

// redisOptOut is Run's static part of RAMPART-W030.
func redisOptOut(s settings.Settings) []string {
	if !s.InsecureRedisNoPersistence {
		return nil
	}
	d, err := settings.ParseDatabaseURL(s.DatabaseURL.Reveal())
	if err == nil && d.Driver == "redis" {
		return []string{"RAMPART_INSECURE_REDIS_NO_PERSISTENCE is on: the server starts even when the Redis in RAMPART_DATABASE_URL " +
			"keeps nothing across a restart, and such a restart loses every account and unlocks every locked account"}
	}
	return []string{"RAMPART_INSECURE_REDIS_NO_PERSISTENCE is on (it only matters with a redis:// RAMPART_DATABASE_URL, " +
		"where it lets the server start on a Redis that loses every account and lock when it restarts)"}
}

const redisOptOutHint = "unset RAMPART_INSECURE_REDIS_NO_PERSISTENCE and give the Redis an append-only file (appendonly yes); see docs/SCALING.md"

// Live runs the checks that need the network: it connects to each Redis the settings name (a
// redis:// DATABASE_URL, a REDIS_URL), each bounded by timeout, and reports RAMPART-W030 for
// every one not known to keep an append-only file: no persistence, RDB snapshots only,
// persistence unknown (CONFIG and INFO refused), or no connection at all. It also greets the
// SMTP server of EMAIL_URL (RAMPART-W050, RAMPART-W051; see mail.go). A server that cannot
// be reached is its own finding; it does not stop the other checks.
func Live(ctx context.Context, s settings.Settings, timeout time.Duration) []Finding {
	var out []Finding
	for _, r := range open.CheckRedisPersistence(ctx, s.DatabaseURL.Reveal(), s.RedisURL.Reveal(), timeout) {
		m := r.Problem()
		if m == "" {
			continue
		}
		if r.Refuse() && !s.InsecureRedisNoPersistence {
			m += "; rampart serve refuses to start with it in production"
		}
		out = append(out, Finding{ID: idRedisPersistence, Severity: Warning, Message: m, Hint: open.RedisPersistenceHint})
	}
	return append(out, liveMail(ctx, s, timeout, nil)...) // mail.go
}

// merge inserts live findings into Run's, each after the findings whose ID orders at or before
// its own, so the report keeps Run's order: errors, warnings, infos, each by number.
func merge(findings, live []Finding) []Finding {
	for _, f := range live {
		i := len(findings)
		for i > 0 && idOrder(findings[i-1].ID) > idOrder(f.ID) {
			i--
		}
		findings = slices.Insert(findings, i, f)
	}
	return findings
}

// idOrder maps "RAMPART-W030" to a sortable key: severity letter (E, W, I) first, then number.
func idOrder(id string) string {
	n := strings.TrimPrefix(id, "RAMPART-")
	if n == "" {
		return id
	}
	return strconv.Itoa(strings.IndexByte("EWI", n[0])+1) + n[1:]
}
