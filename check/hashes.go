package check

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/open"
)

// Live findings about the users in the database (Database).
const (
	// idLegacyHashes: users whose password hash is one of Django's legacy hashers.
	idLegacyHashes = "RAMPART-W040"
	// idUsersUnreadable: the database could not be read to count them.
	idUsersUnreadable = "RAMPART-W041"
	// idSuperuserNo2FA: an active superuser logs in with a password alone.
	idSuperuserNo2FA = "RAMPART-W042"
)

// liveIDs are the IDs only the live checks report (Run's rules list the others).
var liveIDs = []string{idLegacyHashes, idUsersUnreadable, idSuperuserNo2FA}

// hashPage is how many users one ListUsers call reads: large enough that a million users
// take two thousand queries, small enough that a page is a few hundred kilobytes.
const hashPage = 500

// HashCensus counts the users of a store by the algorithm of their password hash.
type HashCensus struct {
	// Users is the number of users read.
	Users int
	// ByAlgorithm maps auth's algorithm names (auth.AlgMD5...) to counts; unusable
	// passwords count under "unusable", hashes ParseHash refuses under "unknown".
	ByAlgorithm map[string]int
	// SuperusersWithout2FA names the active superusers with neither a TOTP device nor a
	// passkey: one guessed or phished password gives every permission.
	SuperusersWithout2FA []string
}

// Legacy is how many users still have a legacy hash (auth.IsLegacy).
func (c HashCensus) Legacy() int {
	n := 0
	for alg, k := range c.ByAlgorithm {
		if auth.IsLegacy(alg) {
			n += k
		}
	}
	return n
}

// CountHashes reads every user of users, a page at a time, and counts their password hashes
// by algorithm. Only the hash's prefix and parameters are parsed; nothing is verified.
func CountHashes(ctx context.Context, users store.Users) (HashCensus, error) {
	c := HashCensus{ByAlgorithm: map[string]int{}}
	after := ""
	for {
		page, err := users.ListUsers(ctx, after, hashPage)
		if err != nil {
			return c, err
		}
		for _, u := range page {
			c.Users++
			if u.IsSuperuser && u.IsActive && !u.TOTPEnabled {
				has, err := hasPasskey(ctx, users, u.ID)
				if err != nil {
					return c, err
				}
				if !has {
					c.SuperusersWithout2FA = append(c.SuperusersWithout2FA, u.Username)
				}
			}
			info, err := auth.ParseHash(u.PasswordHash)
			switch {
			case errors.Is(err, auth.ErrUnusable):
				c.ByAlgorithm["unusable"]++
			case err != nil:
				c.ByAlgorithm["unknown"]++
			default:
				c.ByAlgorithm[info.Algorithm]++
			}
		}
		if len(page) < hashPage {
			return c, nil
		}
		after = page[len(page)-1].Username
	}
}

const legacyHashesHint = "each is replaced by an argon2id hash when its user next logs in; for accounts that stay idle, " +
	"set an unusable password and let the owner reset it (Django's advice when it removed these hashers)"

// hasPasskey reports whether the user has a passkey, when the store keeps them.
func hasPasskey(ctx context.Context, users store.Users, id string) (bool, error) {
	ps, ok := users.(store.Passkeys)
	if !ok {
		return false, nil
	}
	list, err := ps.UserPasskeys(ctx, id)
	return len(list) > 0, err
}

// Findings returns RAMPART-W040 when any user has a legacy hash and RAMPART-W042 when an
// active superuser has no second factor.
func (c HashCensus) Findings() []Finding {
	var out []Finding
	if len(c.SuperusersWithout2FA) > 0 {
		out = append(out, Finding{ID: idSuperuserNo2FA, Severity: Warning,
			Message: fmt.Sprintf("%d superuser(s) in RAMPART_DATABASE_URL log in with a password alone (no TOTP device, no passkey): %s",
				len(c.SuperusersWithout2FA), strings.Join(c.SuperusersWithout2FA, ", ")),
			Hint: "have each turn on two-factor at /accounts/2fa or add a passkey; accounts.Options.RequireTwoFactor = TwoFactorStaff enforces it"})
	}
	n := c.Legacy()
	if n == 0 {
		return out
	}
	var algs []string
	for alg, k := range c.ByAlgorithm {
		if auth.IsLegacy(alg) {
			algs = append(algs, fmt.Sprintf("%s: %d", alg, k))
		}
	}
	slices.Sort(algs)
	return append([]Finding{{ID: idLegacyHashes, Severity: Warning, Hint: legacyHashesHint,
		Message: fmt.Sprintf("%d of %d users in RAMPART_DATABASE_URL still have a legacy Django password hash (%s): "+
			"a single fast digest, which a leaked database gives up at billions of guesses per second", n, c.Users, strings.Join(algs, ", "))}}, out...)
}

// Database counts the password hashes of the users in the database RAMPART_DATABASE_URL names
// and reports RAMPART-W040 when legacy ones remain. It opens the database as the command-line
// tools do (no session cache; pending schema migrations are applied, as `rampart serve` would
// apply them), with each operation bounded by timeout. A SQLite file that does not exist has
// no users and is not created; the in-memory store has none either. A database that cannot be
// opened or read is RAMPART-W041.
func Database(ctx context.Context, s settings.Settings, timeout time.Duration) []Finding {
	raw := s.DatabaseURL.Reveal()
	d, err := settings.ParseDatabaseURL(raw)
	if err != nil {
		return nil // RAMPART-E011 reports it
	}
	if d.Driver == "sqlite" {
		if d.DSN == ":memory:" {
			return nil
		}
		if _, err := os.Stat(d.DSN); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	st, err := open.OpenWith(ctx, raw, "", open.Options{ServesNoSessions: true, Timeout: timeout})
	if err != nil {
		return unreadable(err, raw)
	}
	defer st.Close()
	c, err := CountHashes(ctx, st)
	if err != nil {
		return unreadable(err, raw)
	}
	return c.Findings()
}

func unreadable(err error, raw string) []Finding {
	return []Finding{{ID: idUsersUnreadable, Severity: Warning,
		Message: "the users in RAMPART_DATABASE_URL could not be read to count legacy password hashes: " + scrubURL(err.Error(), raw),
		Hint:    "run `rampart check` where the database is reachable, or pass --offline to check the settings alone"}}
}

// scrubURL masks the database URL and its password wherever a driver's error quotes them.
func scrubURL(msg, raw string) string {
	msg = strings.ReplaceAll(msg, raw, settings.RedactURL(raw))
	if u, err := url.Parse(raw); err == nil {
		for _, pw := range []string{func() string { p, _ := u.User.Password(); return p }(), u.Query().Get("password")} {
			if pw != "" {
				msg = strings.ReplaceAll(msg, pw, settings.Mask)
			}
		}
	}
	return msg
}
