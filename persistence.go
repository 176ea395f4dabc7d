package rampart

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/open"
	"github.com/rampart-go/rampart/twofactor"
)

// lockState returns the counters for lockout and the state for twofactor (its throttle
// counters). When the store offers a durable home for counters (open.SplitStore: the database
// beside Redis), both counters are kept there, because a Redis restart must not lift a lock:
// Redis may run without persistence, the database does not, and these counters are only
// written on failed attempts, so the database's cost is small. Rate-limit counters stay in the
// fast store. Other stores serve everything themselves.
func lockState(st store.Store) (store.Counters, twofactor.Store) {
	d, ok := st.(interface{ DurableCounters() store.Counters })
	if !ok {
		return st, st
	}
	c := d.DurableCounters()
	return c, twoFactorState{Users: st, OTPSteps: st, BackupCodes: st, Counters: c}
}

// twoFactorState is twofactor's view of a split store: the throttle counters from the durable
// store, the rest as the stack's store serves it.
type twoFactorState struct {
	store.Users
	store.OTPSteps
	store.BackupCodes
	store.Counters
}

// redisProbeTimeout bounds each Redis persistence probe at start (the store has just answered
// a ping, so this only matters if the server goes away in between).
const redisProbeTimeout = 3 * time.Second

// checkRedisPersistence probes every Redis the settings name and logs RAMPART-W030 (the ID of
// `rampart check`'s finding) for each that is not known to keep an append-only file. Losing
// locks silently is the failure it prevents: when a redis:// DATABASE_URL, which holds the
// lockout counters, is not known to persist at all, it returns an error in production (the
// server refuses to start) unless RAMPART_INSECURE_REDIS_NO_PERSISTENCE says to accept it; in
// development (DEBUG or INSECURE_DEV, loopback only) it only warns.
func checkRedisPersistence(ctx context.Context, s settings.Settings, log *slog.Logger) error {
	dev := s.Debug || s.InsecureDev
	for _, r := range open.CheckRedisPersistence(ctx, s.DatabaseURL.Reveal(), s.RedisURL.Reveal(), redisProbeTimeout) {
		problem := r.Problem()
		if problem == "" {
			continue
		}
		if r.Refuse() {
			switch {
			case s.InsecureRedisNoPersistence:
				problem += " (started anyway: RAMPART_INSECURE_REDIS_NO_PERSISTENCE is on)"
			case dev:
				problem += " (started anyway in development mode; production refuses to start)"
			default:
				return fmt.Errorf("rampart: %s. Refusing to start (RAMPART-W030). Fix: %s. To run anyway, accepting that "+
					"a Redis restart loses every account and lifts every lock, set RAMPART_INSECURE_REDIS_NO_PERSISTENCE=1", problem, open.RedisPersistenceHint)
			}
		}
		log.Warn("RAMPART-W030: "+problem, "hint", open.RedisPersistenceHint)
	}
	return nil
}
