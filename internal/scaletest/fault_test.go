package scaletest

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testbackends"
)

// TestStoreOutage takes the store away under a light load and brings it back: PostgreSQL
// (a dedicated database whose connections are killed and refused) for an instance on
// PostgreSQL alone and an instance with sessions in Redis, then the Redis server (our own
// redis-server, killed with SIGKILL and restarted on the same port). Requests that need the
// missing store must get 503 (never 500, never a panic), the others keep working, the
// instances recover without a restart, and sessions saved before the outage survive it.
func TestStoreOutage(t *testing.T) {
	pg := testbackends.PostgresURL(t)
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed; the outage test runs its own Redis")
	}
	rampartBinary(t)
	dbURL, dbName, admin := pgDatabase(t, pg)
	rs := &redisServer{bin: redisBin, dir: t.TempDir(), port: freePort(t)}
	rs.start(t)
	t.Cleanup(func() { rs.kill() })

	password := "Outage test pass " + randHex(4)
	// The per-IP request limit (in memory, per instance) is not under test here; the load
	// loops would reach the default 600/m.
	extra := map[string]string{"RAMPART_RATE": "100000/m"}
	vars := baseEnv(dbURL, "", extra)
	varsR := baseEnv(dbURL, rs.url(), extra)
	createUsers(t, vars, password, "alice", "bob", "carol")
	P := startInstance(t, "P", vars)  // everything in PostgreSQL
	S := startInstance(t, "S", varsR) // sessions and counters in Redis, the rest in PostgreSQL
	report(t, "[outage] P (postgres) %s, S (postgres+redis) %s, database %s, redis :%d", P.URL, S.URL, dbName, rs.port)

	alice, bob := newClient(t, "192.0.2.30"), newClient(t, "192.0.2.31")
	alice.mustLogin(P.URL, "alice", password)
	bob.mustLogin(S.URL, "bob", password)

	l := newLoad(t, []*instance{P, S}, map[string]*client{P.Name: alice, S.Name: bob}, password)
	defer l.stop()

	l.phase(t, "before")

	// PostgreSQL goes away: new connections refused, existing ones killed (waiting up to 5 s
	// for each backend to exit). Requests in flight while the state changes are not counted.
	l.transition()
	pgExec(t, admin, "ALTER DATABASE "+dbName+" ALLOW_CONNECTIONS false")
	pgExec(t, admin, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1", dbName)
	l.phase(t, "postgres down")
	l.transition()
	pgExec(t, admin, "ALTER DATABASE "+dbName+" ALLOW_CONNECTIONS true")
	l.phase(t, "postgres back")

	// Redis dies (SIGKILL) and comes back on the same port with its append-only file.
	l.transition()
	rs.kill()
	l.phase(t, "redis down")
	l.transition()
	rs.start(t)
	l.phase(t, "redis back")
	l.stop()

	want := map[string]map[string]int{ // phase -> instance/kind -> the only status allowed
		"before":        {"P/page": 200, "P/anon": 200, "P/health": 200, "P/login": 303, "S/page": 200, "S/anon": 200, "S/health": 200, "S/login": 303},
		"postgres down": {"P/page": 503, "P/anon": 200, "P/health": 503, "P/login": 503, "S/page": 503, "S/anon": 200, "S/health": 503, "S/login": 503},
		"redis down":    {"P/page": 200, "P/anon": 200, "P/health": 200, "P/login": 303, "S/page": 503, "S/anon": 200, "S/health": 503, "S/login": 503},
	}
	for _, ph := range l.order {
		counts := l.counts[ph]
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var line []string
		for _, k := range keys {
			line = append(line, fmt.Sprintf("%s %v", k, counts[k]))
			for status, n := range counts[k] {
				if status == 500 || status == 0 {
					t.Errorf("%s: %s got %d responses with status %d (0 = transport error)", ph, k, n, status)
				}
				if w, ok := want[ph][k]; ok && status != w {
					t.Errorf("%s: %s got %d responses with status %d, want only %d", ph, k, n, status, w)
				}
			}
		}
		report(t, "[outage] %-13s %s", ph, strings.Join(line, "; "))
	}
	for _, ph := range []string{"postgres back", "redis back"} {
		var parts []string
		for _, k := range []string{"P/page", "P/login", "S/page", "S/login"} {
			if d, ok := l.recovered[ph][k]; ok {
				parts = append(parts, fmt.Sprintf("%s %v", k, d.Round(time.Millisecond)))
			}
		}
		report(t, "[outage] %s: first success after the store returned: %s", ph, strings.Join(parts, ", "))
	}

	// Sessions saved before the outages are still valid, on the same running processes.
	for _, x := range []struct {
		c    *client
		in   *instance
		user string
	}{{alice, P, "alice"}, {bob, S, "bob"}} {
		r := x.c.get(x.in.URL, "/accounts/sessions")
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "Your sessions") {
			t.Errorf("%s's session from before the outages on %s: status %d location %q", x.user, x.in.Name, r.Status, r.Location)
		}
	}
	P.Stop(t)
	S.Stop(t)
	checkLogs(t, P, S)
	if t.Failed() {
		for _, in := range []*instance{P, S} {
			t.Logf("%s errors:\n%s", in.Name, errorLines(in.logs.String(), 25))
		}
	}
	for _, in := range []*instance{P, S} {
		report(t, "[outage] instance %s logged %d store-unavailable lines, no panic", in.Name,
			strings.Count(in.logs.String(), "unavailable")+strings.Count(in.logs.String(), "store failed"))
	}
}

// load runs one loop per instance and request kind until stop: a logged-in page (needs the
// session store and the users table), an anonymous page (needs no store), /healthz, and a
// login with the right password from a new address each time (needs counters and users).
type load struct {
	t       *testing.T
	mu      sync.Mutex
	cur     string
	started time.Time
	order   []string
	counts  map[string]map[string]map[int]int // phase -> instance/kind -> status -> n
	// recovered: phase -> instance/kind -> time from the phase start to its first success.
	recovered map[string]map[string]time.Duration
	quit      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
	ip        atomic.Int64
}

func newLoad(t *testing.T, ins []*instance, users map[string]*client, password string) *load {
	l := &load{t: t, cur: "setup", started: time.Now(), counts: map[string]map[string]map[int]int{},
		recovered: map[string]map[string]time.Duration{}, quit: make(chan struct{})}
	anon := &client{t: t, IP: "192.0.2.40", http: &http.Client{Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for _, in := range ins {
		kinds := map[string]struct {
			every time.Duration
			do    func() response
		}{
			"page":   {20 * time.Millisecond, func() response { return users[in.Name].get(in.URL, "/accounts/sessions") }},
			"anon":   {20 * time.Millisecond, func() response { return anon.get(in.URL, "/") }},
			"health": {50 * time.Millisecond, func() response { return anon.get(in.URL, "/healthz") }},
			"login": {150 * time.Millisecond, func() response {
				n := l.ip.Add(1)
				c := newClient(t, fmt.Sprintf("100.99.%d.%d", n/250, 1+n%250))
				return c.login(in.URL, "carol", password)
			}},
		}
		for kind, k := range kinds {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				tick := time.NewTicker(k.every)
				defer tick.Stop()
				for {
					select {
					case <-l.quit:
						return
					case <-tick.C:
					}
					before := l.current()
					r := k.do()
					l.record(before, in.Name+"/"+kind, r)
				}
			}()
		}
	}
	return l
}

// transition marks the store as changing: requests started now are not counted anywhere.
func (l *load) transition() {
	l.mu.Lock()
	l.cur = transitioning
	l.mu.Unlock()
}

const transitioning = "-"

func (l *load) current() string { l.mu.Lock(); defer l.mu.Unlock(); return l.cur }

// record counts a response in the phase it started and ended in; a request that straddles a
// phase change is not counted, so each phase's counts describe one state of the store.
func (l *load) record(phase, key string, r response) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if phase != l.cur || phase == transitioning {
		return
	}
	status := r.Status
	if r.Err != nil {
		status = 0
	}
	if l.counts[phase] == nil {
		l.counts[phase] = map[string]map[int]int{}
		l.recovered[phase] = map[string]time.Duration{}
	}
	if l.counts[phase][key] == nil {
		l.counts[phase][key] = map[int]int{}
	}
	l.counts[phase][key][status]++
	if _, seen := l.recovered[phase][key]; !seen && (status == 200 || status == 303) {
		l.recovered[phase][key] = time.Since(l.started)
	}
}

// phase switches to name and returns once every loop has recorded at least 8 responses in
// it and, for a recovery phase, every loop has had a success (bounded: 20 s).
func (l *load) phase(t *testing.T, name string) {
	t.Helper()
	l.mu.Lock()
	l.cur, l.started = name, time.Now()
	l.order = append(l.order, name)
	l.mu.Unlock()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("phase %q did not complete within 20s: counts %v", name, l.counts[name])
		case <-tick.C:
		}
		l.mu.Lock()
		done := len(l.counts[name]) == 8
		for k, c := range l.counts[name] {
			n := 0
			for _, v := range c {
				n += v
			}
			_, ok := l.recovered[name][k]
			if n < 8 || (!ok && strings.HasSuffix(name, "back")) {
				done = false
			}
		}
		l.mu.Unlock()
		if done {
			return
		}
	}
}

func (l *load) stop() {
	l.once.Do(func() { close(l.quit); l.wg.Wait() })
}

// redisServer is a private redis-server for the outage test, which kills it: a shared server
// cannot be taken away without disturbing other tests. appendfsync always keeps every write,
// so a session saved before SIGKILL is there after the restart.
type redisServer struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
	done     chan struct{}
}

func (r *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

func (r *redisServer) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--loglevel", "notice")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	ready := make(chan struct{})
	var logs syncBuffer
	go func() {
		sc := bufio.NewScanner(out)
		closed := false
		for sc.Scan() {
			fmt.Fprintln(&logs, sc.Text())
			if strings.Contains(sc.Text(), "Ready to accept connections") && !closed {
				close(ready)
				closed = true
			}
		}
		_ = cmd.Wait()
		close(r.done)
	}()
	select {
	case <-ready:
	case <-r.done:
		t.Fatalf("redis-server exited:\n%s", logs.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("redis-server not ready within 15s:\n%s", logs.String())
	}
}

// kill stops the server the hard way (no final save), as a crash would.
func (r *redisServer) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
	}
	r.cmd = nil
}

// errorLines returns the first n warning and error lines of a log.
func errorLines(log string, n int) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if len(out) < n && (strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN")) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
