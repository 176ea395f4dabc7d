package scaletest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// frozenStoreTimeout is RAMPART_STORE_TIMEOUT in the frozen-store test, and frozenMargin
// what a request may take beyond it (the round trip, the 503 page, a loaded CI machine). The
// margin is a bound of the test, not a performance figure: before store deadlines existed,
// such a request waited until the store was thawed.
const (
	frozenStoreTimeout = time.Second
	frozenMargin       = 3 * time.Second
)

// TestFrozenStore freezes a real PostgreSQL and a real Redis with SIGSTOP, as a hung VM, a
// stalled disk or a paused container would: the server keeps its connections open and
// answers nothing. Both servers are private to the test (started on free ports), so the
// shared ones are never stopped. Instance P keeps everything in the frozen PostgreSQL;
// instance R keeps sessions and counters in the frozen Redis (and the rest in SQLite).
//
// While frozen, a request carrying a session and a login with the right password must each
// answer 503 within the store timeout plus a margin (not hang, not 500), /healthz must say
// 503, a page that needs no store must still answer, and the login must not have been
// accepted. After SIGCONT, everything must work again without a restart, with the sessions
// from before.
func TestFrozenStore(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the frozen-store test finds PostgreSQL's processes in /proc (Linux only)")
	}
	// In CI (the shared servers are configured) the test must run, not skip.
	ci := os.Getenv("RAMPART_TEST_POSTGRES_URL") != "" || os.Getenv("RAMPART_TEST_REDIS_URL") != ""
	missing := func(what string) {
		t.Helper()
		if ci {
			t.Fatalf("%s; the frozen-store test needs it (RAMPART_TEST_POSTGRES_URL or RAMPART_TEST_REDIS_URL is set, so this is CI)", what)
		}
		t.Skipf("frozen-store test skipped: %s", what)
	}
	pgBin, err := postgresBinDir()
	if err != nil {
		missing(err.Error())
	}
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		missing("redis-server is not installed")
	}
	pg := startPostgres(t, pgBin, missing)
	rs := &redisServer{bin: redisBin, dir: t.TempDir(), port: freePort(t)}
	rs.start(t)
	t.Cleanup(func() {
		if rs.cmd != nil {
			freeze(rs.cmd.Process.Pid, syscall.SIGCONT)
		}
		rs.kill()
	})
	rampartBinary(t)

	password := "Frozen store pass " + randHex(4)
	extra := map[string]string{
		"RAMPART_RATE":          "100000/m",
		"RAMPART_STORE_TIMEOUT": frozenStoreTimeout.String(),
	}
	varsP := baseEnv(pg.url("postgres"), "", extra)
	varsR := baseEnv("sqlite://"+filepath.Join(t.TempDir(), "rampart.db"), rs.url(), extra)
	createUsers(t, varsP, password, "alice", "carol")
	createUsers(t, varsR, password, "bob", "carol")
	P := startInstance(t, "P", varsP)
	R := startInstance(t, "R", varsR)

	for _, x := range []struct {
		in     *instance
		user   string
		store  string
		freeze func() []int // SIGSTOPs the store; returns the stopped pids
	}{
		{P, "alice", "postgres", func() []int { return freezeTree(pg.cmd.Process.Pid, syscall.SIGSTOP) }},
		{R, "bob", "redis", func() []int { return freeze(rs.cmd.Process.Pid, syscall.SIGSTOP) }},
	} {
		t.Run(x.store, func(t *testing.T) {
			c := newClient(t, "192.0.2.50")
			c.mustLogin(x.in.URL, x.user, password)
			if r := c.get(x.in.URL, "/accounts/sessions"); r.Status != http.StatusOK {
				t.Fatalf("logged-in page before the freeze: status %d err %v", r.Status, r.Err)
			}

			stopped := x.freeze()
			thawed := false
			thaw := func() {
				if !thawed {
					thawed = true
					for _, pid := range stopped {
						_ = syscall.Kill(pid, syscall.SIGCONT)
					}
				}
			}
			t.Cleanup(thaw) // runs before the instances stop, whatever happens below
			report(t, "[frozen] %s: SIGSTOP sent to %d process(es)", x.store, len(stopped))

			timed := func(what string, do func() response) response {
				t.Helper()
				start := time.Now()
				r := do()
				took := time.Since(start)
				report(t, "[frozen] %s: %s answered %d in %v (store timeout %v)", x.store, what, r.Status, took.Round(time.Millisecond), frozenStoreTimeout)
				if r.Err != nil {
					t.Errorf("%s while %s is frozen: %v (after %v)", what, x.store, r.Err, took)
				}
				if took > frozenStoreTimeout+frozenMargin {
					t.Errorf("%s while %s is frozen took %v, more than the store timeout %v plus %v", what, x.store, took, frozenStoreTimeout, frozenMargin)
				}
				return r
			}
			if r := timed("page with a session", func() response { return c.get(x.in.URL, "/accounts/sessions") }); r.Status != http.StatusServiceUnavailable {
				t.Errorf("page with a session while %s is frozen: status %d, want 503", x.store, r.Status)
			}
			anon := newClient(t, "192.0.2.52") // no session: the health check itself answers
			if r := timed("/healthz", func() response { return anon.get(x.in.URL, "/healthz") }); r.Status != http.StatusServiceUnavailable {
				t.Errorf("/healthz while %s is frozen: status %d, want 503", x.store, r.Status)
			}
			// A new visitor logs in with the right password: nothing may be allowed.
			v := newClient(t, "192.0.2.51")
			page := v.get(x.in.URL, "/accounts/login") // the form needs no store
			m := tokenRE.FindStringSubmatch(page.Body)
			if page.Status != http.StatusOK || m == nil {
				t.Fatalf("login form while %s is frozen: status %d err %v", x.store, page.Status, page.Err)
			}
			r := timed("login with the right password", func() response {
				return v.do("POST", x.in.URL, "/accounts/login", url.Values{
					"username": {"carol"}, "password": {password}, "csrf_token": {m[1]}})
			})
			if r.Status != http.StatusServiceUnavailable {
				t.Errorf("login while %s is frozen: status %d location %q, want 503", x.store, r.Status, r.Location)
			}
			if r := anon.get(x.in.URL, "/"); r.Status != http.StatusOK {
				t.Errorf("anonymous home page (no store) while %s is frozen: status %d err %v", x.store, r.Status, r.Err)
			}

			thaw()
			back := time.Now()
			waitFor(t, 30*time.Second, "the logged-in page after SIGCONT", func() bool {
				return c.get(x.in.URL, "/accounts/sessions").Status == http.StatusOK
			})
			report(t, "[frozen] %s: recovered %v after SIGCONT, no restart", x.store, time.Since(back).Round(time.Millisecond))
			if r := v.get(x.in.URL, "/accounts/sessions"); r.Status != http.StatusSeeOther || !strings.Contains(r.Location, "/accounts/login") {
				t.Errorf("the login refused during the freeze left a session: status %d location %q", r.Status, r.Location)
			}
			if r := anon.get(x.in.URL, "/healthz"); r.Status != http.StatusOK {
				t.Errorf("/healthz after SIGCONT: status %d", r.Status)
			}
			v.mustLogin(x.in.URL, "carol", password)
		})
	}
	P.Stop(t)
	R.Stop(t)
	checkLogs(t, P, R)
	if t.Failed() {
		for _, in := range []*instance{P, R} {
			t.Logf("%s errors:\n%s", in.Name, errorLines(in.logs.String(), 25))
		}
	}
}

// waitFor polls cond until it holds, failing the test after limit (a real server is
// recovering: there is no event to wait on).
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeze sends sig to pid and returns it.
func freeze(pid int, sig syscall.Signal) []int {
	_ = syscall.Kill(pid, sig)
	return []int{pid}
}

// freezeTree sends sig to pid and to all its descendants, found in /proc. PostgreSQL's
// backends are children of the postmaster, each in a session of its own, so a process group
// would not reach them. The postmaster is stopped first, so it forks no new child meanwhile;
// the walk repeats until it finds no process it has not signalled.
func freezeTree(pid int, sig syscall.Signal) []int {
	done := []int{}
	for {
		tree := descendants(pid)
		n := len(done)
		for _, p := range tree {
			if !slices.Contains(done, p) {
				_ = syscall.Kill(p, sig)
				done = append(done, p)
			}
		}
		if len(done) == n {
			return done
		}
	}
}

// descendants returns pid and every process below it.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// postgresBinDir finds initdb and postgres: on PATH, else in Debian's
// /usr/lib/postgresql/VERSION/bin (the newest version).
func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
				return d, nil
			}
		}
	}
	return "", fmt.Errorf("PostgreSQL's server binaries (initdb, postgres) are not installed (looked on PATH and in /usr/lib/postgresql/*/bin)")
}

// pgServer is a private PostgreSQL cluster: initdb in a temporary directory and the server on
// a free port, run as the postgres user when the test runs as root (PostgreSQL refuses root).
type pgServer struct {
	cmd  *exec.Cmd
	port int
	done chan struct{}
}

func (p *pgServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

func startPostgres(t *testing.T, bin string, missing func(string)) *pgServer {
	t.Helper()
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "rampart-frozen-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing("running as root and there is no postgres user to run a private PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p := &pgServer{port: freePort(t), done: make(chan struct{})}
	p.cmd = run("postgres", "-D", data, "-p", strconv.Itoa(p.port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	var logs syncBuffer
	out, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(&logs, sc.Text())
		}
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		freezeTree(p.cmd.Process.Pid, syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGQUIT) // immediate shutdown
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	waitFor(t, 30*time.Second, "private PostgreSQL to accept connections", func() bool {
		select {
		case <-p.done:
			t.Fatalf("postgres exited:\n%s", logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, p.url("postgres"))
		if err != nil {
			return false
		}
		c.Close(ctx)
		return true
	})
	return p
}
