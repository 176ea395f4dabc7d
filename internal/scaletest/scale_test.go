package scaletest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/internal/testbackends"
)

const (
	lockoutLimit = 3                // RAMPART_LOCKOUT_LIMIT of the scale clusters (pair scope)
	userLimit    = 4 * lockoutLimit // lockout's UserFailureLimit default: 4 × FailureLimit
	loginRate    = 10               // RAMPART_LOGIN_RATE per client IP per minute
	floodUsers   = 20
	floodLogins  = 60
	maxPeakRSS   = 1 << 20 // KiB: 1 GiB, far above what an instance should ever need here
)

// TestScaleThreeInstances runs three `rampart serve` processes on one PostgreSQL, then three
// on PostgreSQL plus one Redis (sessions and counters in Redis), and drives every shared
// piece of state through all of them round robin.
func TestScaleThreeInstances(t *testing.T) {
	pg := testbackends.PostgresURL(t)
	t.Run("postgres", func(t *testing.T) {
		dbURL, _ := pgSchema(t, pg)
		runScale(t, "postgres", dbURL, "")
	})
	t.Run("postgres+redis", func(t *testing.T) {
		rd := testbackends.RedisURL(t)
		dbURL, _ := pgSchema(t, pg)
		runScale(t, "postgres+redis", dbURL, redisDB(t, rd))
	})
}

func runScale(t *testing.T, label, dbURL, redis string) {
	vars := baseEnv(dbURL, redis, map[string]string{
		"RAMPART_LOCKOUT_LIMIT": fmt.Sprint(lockoutLimit),
		"RAMPART_LOGIN_RATE":    fmt.Sprintf("%d/m", loginRate),
	})
	password := "Scale test pass " + randHex(4)
	users := []string{"victim0", "victim1", "multi", "totp"}
	for i := range floodUsers {
		users = append(users, fmt.Sprintf("flood%02d", i))
	}
	rampartBinary(t) // build first, so the figures below do not include it
	start := time.Now()
	createUsers(t, vars, password, users...)
	report(t, "[%s] created %d users with `rampart createuser` in %v", label, len(users), time.Since(start).Round(time.Millisecond))

	ins := []*instance{startInstance(t, "A", vars), startInstance(t, "B", vars), startInstance(t, "C", vars)}
	urls := []string{ins[0].URL, ins[1].URL, ins[2].URL}
	report(t, "[%s] instances A=%s B=%s C=%s", label, urls[0], urls[1], urls[2])

	t.Run("login flood", func(t *testing.T) { loginFlood(t, label, urls, password) })
	t.Run("brute force", func(t *testing.T) { bruteForce(t, label, urls, password, vars) })
	t.Run("login rate shared", func(t *testing.T) { loginRateShared(t, label, urls) })
	t.Run("sessions", func(t *testing.T) { sessionsAgree(t, urls, password) })
	t.Run("totp replay", func(t *testing.T) { totpReplay(t, label, urls, password, dbURL) })

	for _, in := range ins {
		kib := in.PeakRSS(t)
		report(t, "[%s] instance %s peak RSS (VmHWM) %.1f MiB", label, in.Name, float64(kib)/1024)
		if kib > maxPeakRSS {
			t.Errorf("instance %s peak RSS %d KiB exceeds %d KiB", in.Name, kib, maxPeakRSS)
		}
	}
	for _, in := range ins {
		in.Stop(t)
	}
	checkLogs(t, ins...)
}

// loginFlood logs floodLogins browsers in at once (floodUsers users, each from three
// instances), then checks every session from another instance and every user's session
// list.
func loginFlood(t *testing.T, label string, urls []string, password string) {
	clients := make([]*client, floodLogins)
	results := make([]response, floodLogins)
	lat := make([]time.Duration, floodLogins)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range floodLogins {
		clients[i] = newClient(t, fmt.Sprintf("10.20.%d.%d", i/200, 1+i%200))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			results[i] = clients[i].login(urls[i%3], fmt.Sprintf("flood%02d", i%floodUsers), password)
			lat[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	statuses := map[int]int{}
	var maxLat time.Duration
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("login %d: %v", i, r.Err)
		}
		statuses[r.Status]++
		maxLat = max(maxLat, lat[i])
		if r.Status != http.StatusSeeOther || strings.Contains(r.Location, "/accounts/login") {
			t.Errorf("login %d (flood%02d on %s): status %d location %q", i, i%floodUsers, urls[i%3], r.Status, r.Location)
		}
	}
	report(t, "[%s] login flood: %d concurrent logins over 3 instances in %v (%.0f logins/s, slowest %v), statuses %v",
		label, floodLogins, wall.Round(time.Millisecond), float64(floodLogins)/wall.Seconds(), maxLat.Round(time.Millisecond), statuses)

	// Each session works on the next instance; each user sees exactly its 3 sessions.
	for i, c := range clients {
		r := c.get(urls[(i+1)%3], "/accounts/sessions")
		if r.Err != nil || r.Status != http.StatusOK {
			t.Fatalf("client %d on %s: status %d err %v", i, urls[(i+1)%3], r.Status, r.Err)
		}
		if i < floodUsers {
			if n := sessionCount(r.Body); n != floodLogins/floodUsers {
				t.Errorf("flood%02d sees %d sessions, want %d", i, n, floodLogins/floodUsers)
			}
		}
	}
}

// attack posts wrong passwords for user from a new address each time, round robin over
// urls, until a 429; it returns the number of the attempt that was refused.
func attack(t *testing.T, urls []string, user, ipPrefix string) int {
	t.Helper()
	for i := 1; i <= userLimit+3; i++ {
		c := newClient(t, fmt.Sprintf("%s.%d", ipPrefix, i))
		r := c.login(urls[(i-1)%len(urls)], user, fmt.Sprintf("wrong guess %d", i))
		switch {
		case r.Err != nil:
			t.Fatalf("attempt %d: %v", i, r.Err)
		case r.Status == http.StatusTooManyRequests:
			if !strings.Contains(r.Body, "Too many failed login attempts") {
				t.Fatalf("attempt %d: 429 that is not a lockout:\n%s", i, r.Body)
			}
			return i
		case r.Status != http.StatusOK:
			t.Fatalf("attempt %d: status %d", i, r.Status)
		}
	}
	t.Fatalf("%s was never locked after %d guesses from rotating addresses", user, userLimit+3)
	return 0
}

// bruteForce shows the account lock trips at the same guess whether the guesses hit one
// instance or are spread over three, and that a locked account is locked everywhere.
func bruteForce(t *testing.T, label string, urls []string, password string, vars map[string]string) {
	one := attack(t, urls[:1], "victim0", "203.0.113")
	three := attack(t, urls, "victim1", "198.51.100")
	report(t, "[%s] brute force from rotating X-Forwarded-For: locked at guess %d on one instance, %d round robin over three (user limit %d)",
		label, one, three, userLimit)
	if one != three || three != userLimit {
		t.Errorf("lock tripped at guess %d (one instance) and %d (three), want both %d", one, three, userLimit)
	}
	for i, u := range urls {
		c := newClient(t, fmt.Sprintf("192.0.2.%d", 100+i))
		if r := c.login(u, "victim1", password); r.Status != http.StatusTooManyRequests {
			t.Errorf("right password for the locked account on %s: status %d, want 429", u, r.Status)
		}
	}

	// `rampart unlock` (another process) clears the lock in the store; each instance may still
	// remember the lock for lockout.DefaultLockCacheTTL (1 s). Measure how long it takes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rampartBinary(t), "unlock", "--username", "victim1")
	cmd.Env = env(vars)
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rampart unlock: %v\n%s", err, out)
	}
	unlocked := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var worst time.Duration
	for i, u := range urls {
		for n := 0; ; n++ {
			c := newClient(t, fmt.Sprintf("100.%d.%d.%d", 70+i, n/250, 1+n%250)) // new address: the login rate does not interfere
			r := c.login(u, "victim1", password)
			if r.Status == http.StatusSeeOther {
				worst = max(worst, time.Since(unlocked))
				break
			}
			if r.Status != http.StatusTooManyRequests || n >= 100 {
				t.Fatalf("after unlock, login on %s: status %d after %d tries\n%s", u, r.Status, n+1, tail(r.Body, 1500))
			}
			<-tick.C
		}
	}
	report(t, "[%s] `rampart unlock` effective on all 3 instances within %v (lock cache TTL 1s)", label, worst.Round(time.Millisecond))
}

// loginRateShared posts loginRate+1 logins from one address, round robin: the store-backed
// login limiter refuses the one over the rate whichever instance gets it.
func loginRateShared(t *testing.T, label string, urls []string) {
	for i := 1; i <= loginRate+1; i++ {
		c := newClient(t, "100.64.0.9")
		r := c.login(urls[(i-1)%3], fmt.Sprintf("nobody%02d", i), "not the password")
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		want := http.StatusOK
		if i > loginRate {
			want = http.StatusTooManyRequests
		}
		if r.Status != want {
			t.Fatalf("login %d from one address: status %d, want %d", i, r.Status, want)
		}
		if want == http.StatusTooManyRequests && !strings.Contains(r.Body, "from your network") {
			t.Fatalf("429 is not the login rate limit:\n%s", r.Body)
		}
	}
	report(t, "[%s] login rate %d/m per IP shared: attempt %d refused (429) on %s", label, loginRate, loginRate+1, urls[loginRate%3])
}

// sessionsAgree: a session made on one instance works on the others; "log out everywhere
// else" on one instance ends the sessions the others serve; logout on one ends it on all.
func sessionsAgree(t *testing.T, urls []string, password string) {
	page := func(c *client, u string) response {
		t.Helper()
		r := c.get(u, "/accounts/sessions")
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r
	}
	loggedIn := func(r response) bool { return r.Status == http.StatusOK && strings.Contains(r.Body, "Your sessions") }
	a, b, c := newClient(t, "192.0.2.10"), newClient(t, "192.0.2.11"), newClient(t, "192.0.2.12")
	a.mustLogin(urls[0], "multi", password)
	for _, u := range urls {
		if r := page(a, u); !loggedIn(r) {
			t.Fatalf("session from A on %s: status %d location %q", u, r.Status, r.Location)
		}
	}
	b.mustLogin(urls[1], "multi", password)
	c.mustLogin(urls[2], "multi", password)
	if r := page(a, urls[2]); sessionCount(r.Body) != 3 {
		t.Fatalf("A's session listed on C shows %d sessions, want 3", sessionCount(r.Body))
	}
	r := a.post(urls[0], "/accounts/sessions", "/accounts/sessions", url.Values{"all": {"1"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("end others on A: status %d", r.Status)
	}
	for _, x := range []struct {
		c *client
		u string
	}{{b, urls[2]}, {c, urls[1]}, {b, urls[1]}, {c, urls[0]}} {
		if r := page(x.c, x.u); r.Status != http.StatusSeeOther || !strings.Contains(r.Location, "/accounts/login") {
			t.Errorf("ended session still served by %s: status %d location %q", x.u, r.Status, r.Location)
		}
	}
	if r := page(a, urls[1]); !loggedIn(r) || sessionCount(r.Body) != 1 {
		t.Fatalf("A's own session on B: status %d, %d sessions listed (want 200, 1)", r.Status, sessionCount(r.Body))
	}
	if r := a.post(urls[2], "/accounts/sessions", "/accounts/logout", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("logout on C: status %d", r.Status)
	}
	for _, u := range urls {
		if r := page(a, u); r.Status != http.StatusSeeOther {
			t.Errorf("after logout on C, %s still serves the session: status %d", u, r.Status)
		}
	}
}

// totpReplay enrolls 2FA on A, logs in on A with the next step's code, and posts that same
// code to B: B must refuse it as a replay (the last used step is shared state).
func totpReplay(t *testing.T, label string, urls []string, password, dbURL string) {
	a, b := urls[0], urls[1]
	c := newClient(t, "192.0.2.20")
	c.mustLogin(a, "totp", password)
	enroll := c.get(a, "/accounts/2fa")
	secret := apptest.SecretFrom(enroll.Body)
	tok := tokenRE.FindStringSubmatch(enroll.Body)
	if secret == "" || tok == nil {
		t.Fatalf("2FA enrollment page on A has no secret or token (status %d)", enroll.Status)
	}
	t0 := time.Now()
	r := c.do("POST", a, "/accounts/2fa", url.Values{"csrf_token": {tok[1]}, "action": {"enable"}, "code": {apptest.TOTP(t, secret, t0)}})
	if r.Status != http.StatusOK || strings.Contains(r.Body, "not valid") {
		t.Fatalf("enable 2FA on A: status %d\n%s", r.Status, tail(r.Body, 800))
	}
	next := apptest.TOTP(t, secret, t0.Add(30*time.Second)) // step+1: inside the ±1 window, never used

	secondFactor := func(c *client, u string) response {
		t.Helper()
		r := c.login(u, "totp", password)
		if r.Status != http.StatusSeeOther || !strings.Contains(r.Location, "/accounts/login/2fa") {
			t.Fatalf("password step on %s: status %d location %q", u, r.Status, r.Location)
		}
		return c.post(u, "/accounts/login/2fa", "/accounts/login/2fa", url.Values{"code": {next}})
	}
	if r := secondFactor(newClient(t, "192.0.2.21"), a); r.Status != http.StatusSeeOther || strings.Contains(r.Location, "/accounts/login") {
		t.Fatalf("fresh code on A: status %d location %q", r.Status, r.Location)
	}
	replayer := newClient(t, "192.0.2.22")
	r = secondFactor(replayer, b)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "not valid") {
		t.Fatalf("code used on A, replayed on B: status %d location %q, want the form again with an error", r.Status, r.Location)
	}
	if r := replayer.get(b, "/accounts/sessions"); r.Status != http.StatusSeeOther {
		t.Fatalf("replayer is logged in on B: status %d", r.Status)
	}
	// The audit trail says why: a replay, not a wrong code.
	conn := pgConnect(t, dbURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var detail string
	if err := conn.QueryRow(ctx, `SELECT detail FROM events WHERE kind = '2fa.failure' AND username = 'totp' ORDER BY id DESC LIMIT 1`).Scan(&detail); err != nil {
		t.Fatalf("audit event of the refused code: %v", err)
	}
	if !strings.Contains(detail, "already used") {
		t.Fatalf("refused code recorded as %q, want a replay", detail)
	}
	report(t, "[%s] TOTP: code used on A refused on B (%q)", label, detail)
}
