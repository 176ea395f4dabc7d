package attacktest

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/store"
)

const (
	// lockoutLimit is RAMPART_LOCKOUT_LIMIT for these tests: the (username, IP) pair limit.
	lockoutLimit = 5
	// userLimit is the per-username limit rotating IPs run into: lockout's documented
	// default of 4 x the pair limit (lockout.Options.UserFailureLimit).
	userLimit = 4 * lockoutLimit
	cooloff   = 15 * time.Minute
	attempts  = 1000
)

func bruteEnv(t *testing.T, st store.Store) *apptest.Env {
	return apptest.New(t, apptest.Options{Store: st, Env: map[string]string{
		// The test client is the trusted proxy, so its X-Forwarded-For is the client IP.
		"RAMPART_TRUSTED_PROXIES": "127.0.0.1/32",
		"RAMPART_LOCKOUT_LIMIT":   strconv.Itoa(lockoutLimit),
		"RAMPART_LOCKOUT_COOLOFF": cooloff.String(),
	}})
}

// clientIP returns the i-th attacker address (198.18.0.0/15, the benchmarking range).
func clientIP(i int) string {
	return netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)}).String()
}

// bruteForce runs attempts wrong-password logins against alice from rotating IPs, spread
// round-robin over envs, and checks the lockout contract at every step: the first
// userLimit-1 failures answer 200 with the generic message, the userLimit-th trips the lock,
// every later attempt answers 429 with a Retry-After within the cool-off, and the right
// password is refused while locked, on every instance.
func bruteForce(t *testing.T, envs []*apptest.Env) {
	t.Helper()
	clients := make([]*apptest.Client, len(envs))
	for i, e := range envs {
		clients[i] = e.Client(t)
	}
	firstLocked := 0
	statuses := map[int]int{}
	for i := 1; i <= attempts; i++ {
		c := clients[i%len(envs)]
		c.IP = clientIP(i)
		r := c.Post("", "/accounts/login", url.Values{"username": {"alice"}, "password": {"guess-" + strconv.Itoa(i)}})
		statuses[r.StatusCode]++
		switch {
		case i < userLimit:
			if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "Please enter a correct username and password") {
				t.Fatalf("attempt %d (before the limit): status %d, want 200 with the generic message", i, r.StatusCode)
			}
		default:
			if r.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("attempt %d (limit %d reached): status %d, want 429", i, userLimit, r.StatusCode)
			}
			ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || ra < 1 || time.Duration(ra)*time.Second > cooloff+time.Second {
				t.Fatalf("attempt %d: Retry-After %q, want 1..%d seconds", i, r.Header.Get("Retry-After"), int(cooloff.Seconds()))
			}
			if firstLocked == 0 {
				firstLocked = i
			}
		}
	}
	t.Logf("%d attempts from %d IPs over %d instance(s): statuses %v, first 429 at attempt %d", attempts, attempts, len(envs), statuses, firstLocked)
	count("brute-force login attempts (rotating IPs)", attempts)

	// The right password is refused while locked, from a fresh IP and from an attacker's IP,
	// on every instance.
	for i, c := range clients {
		for _, ip := range []string{clientIP(attempts + 1 + i), clientIP(1)} {
			c.IP = ip
			r := c.Post("", "/accounts/login", url.Values{"username": {"alice"}, "password": {alicePW}})
			if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("instance %d, IP %s: right password while locked: status %d, want 429 + Retry-After", i, ip, r.StatusCode)
			}
		}
	}
	// Legit flows: another account is not locked by the attack on alice.
	for i, c := range clients {
		c.IP = clientIP(attempts + 100 + i)
		c.Login("bob", bobPW)
	}
	// After the cool-off alice gets in with the right password, on every instance.
	for _, e := range envs {
		e.Clock.Advance(cooloff + time.Minute)
	}
	for i, c := range clients {
		c.IP = clientIP(attempts + 200 + i)
		c.Login("alice", alicePW)
	}
}

// TestDistributedBruteForce: 1,000 guesses at one account from 1,000 client IPs through the
// HTTP handler end in lockout at the configured limit; the password hash is never computed
// while locked, so the flood is cheap.
func TestDistributedBruteForce(t *testing.T) {
	t.Parallel() // mostly waiting on SQLite commits: overlaps well with the other floods
	env := bruteEnv(t, nil)
	env.CreateUser(t, "alice", alicePW, false)
	env.CreateUser(t, "bob", bobPW, false)
	bruteForce(t, []*apptest.Env{env})
}

// TestDistributedBruteForceTwoInstances: the same attack alternating between two instances
// sharing one store gives the same result: the failures add up across instances.
func TestDistributedBruteForceTwoInstances(t *testing.T) {
	t.Parallel()
	for _, be := range sharedBackends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			sa, sb := be.open(t)
			a, b := bruteEnv(t, sa), bruteEnv(t, sb)
			a.CreateUser(t, "alice", alicePW, false)
			a.CreateUser(t, "bob", bobPW, false)
			bruteForce(t, []*apptest.Env{a, b})
		})
	}
}
