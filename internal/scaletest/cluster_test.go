package scaletest

// Shared machinery of the multi-process tests: the rampart binary (built once), instances
// started as real `rampart serve` processes, a browser-like client that can talk to any
// instance, and isolated PostgreSQL schemas/databases and Redis databases.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// testKey is the RAMPART_SECRET_KEY every instance of a cluster shares (sessions, CSRF
// tokens and 2FA pending state are signed or keyed with it).
const testKey = "scaletest-7d3e91a4c0b25f68-rampart-multi-instance-secret-key"

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// moduleRoot walks up from the package directory (the test's working directory) to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// rampartBinary builds cmd/rampart once per test binary run.
func rampartBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			binErr = err
			return
		}
		if binDir, err = os.MkdirTemp("", "rampart-scaletest-"); err != nil {
			binErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		out := filepath.Join(binDir, "rampart")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/rampart")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/rampart: %v\n%s", err, b)
			return
		}
		binPath = out
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// report prints a figure to the test log and to stdout (shown with -v). Without -v, `go test
// ./...` hides the output of passing packages, so the figure also goes to the go command's own
// standard output (Linux /proc), which is where CI reads the run; with -v (and so -json) it does
// not, to keep that stream well-formed.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf(format, args...)
	line := fmt.Sprintf("scaletest: "+format+"\n", args...)
	fmt.Print(line)
	if w := parentStdout(); w != nil {
		_, _ = io.WriteString(w, line)
	}
}

var parentStdout = sync.OnceValue(func() io.Writer {
	if testing.Verbose() {
		return nil
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/1", os.Getppid()), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil
	}
	mine, err1 := os.Stdout.Stat()
	theirs, err2 := f.Stat()
	if err1 != nil || err2 != nil || os.SameFile(mine, theirs) { // output already streamed
		f.Close()
		return nil
	}
	return f
})

// env builds a process environment: the parent's without any RAMPART_* variable, plus vars.
func env(vars map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RAMPART_") {
			out = append(out, kv)
		}
	}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// baseEnv is what every instance of a cluster shares.
func baseEnv(databaseURL, redisURL string, extra map[string]string) map[string]string {
	m := map[string]string{
		"RAMPART_INSECURE_DEV":    "1",
		"RAMPART_SECRET_KEY":      testKey,
		"RAMPART_ALLOWED_HOSTS":   "127.0.0.1",
		"RAMPART_TRUSTED_PROXIES": "127.0.0.1/32",
		"RAMPART_ADDR":            "127.0.0.1:0",
		"RAMPART_DATABASE_URL":    databaseURL,
	}
	if redisURL != "" {
		m["RAMPART_REDIS_URL"] = redisURL
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// instance is one running `rampart serve` process.
type instance struct {
	Name string
	URL  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	stop sync.Once
}

var listenRE = regexp.MustCompile(`reference app on (http://127\.0\.0\.1:\d+)/`)

// startInstance runs `rampart serve` with RAMPART_ADDR=127.0.0.1:0 and learns the port from
// the line the server prints once it listens, so there is no port race and no polling.
func startInstance(t *testing.T, name string, vars map[string]string) *instance {
	t.Helper()
	cmd := exec.Command(rampartBinary(t), "serve")
	cmd.Env = env(vars)
	cmd.Dir = t.TempDir() // no stray .env or dev key file is read or written in the repo
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{Name: name, cmd: cmd, logs: logs, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logs, line)
			if m := listenRE.FindStringSubmatch(line); m != nil && !sent {
				urlc <- m[1]
				sent = true
			}
		}
		close(urlc)
	}()
	go func() { _ = cmd.Wait(); close(in.done) }()
	t.Cleanup(func() { in.Stop(t) })
	select {
	case u, ok := <-urlc:
		if !ok {
			<-in.done
			t.Fatalf("%s exited before listening:\n%s", name, logs.String())
		}
		in.URL = u
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start within 30s:\n%s", name, logs.String())
	}
	return in
}

// Stop ends the process with SIGTERM (graceful shutdown), then SIGKILL after 10 s.
func (in *instance) Stop(t *testing.T) {
	in.stop.Do(func() {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-in.done:
		case <-time.After(10 * time.Second):
			_ = in.cmd.Process.Kill()
			<-in.done
			t.Errorf("%s did not stop within 10s of SIGTERM", in.Name)
		}
	})
}

// PeakRSS reads VmHWM (the resident set's high-water mark) of the running process, in KiB.
func (in *instance) PeakRSS(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", in.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("%s: %v", in.Name, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s: no VmHWM in /proc status", in.Name)
	return 0
}

// checkLogs fails the test when an instance logged a panic or a Go runtime trace.
func checkLogs(t *testing.T, ins ...*instance) {
	t.Helper()
	for _, in := range ins {
		l := in.logs.String()
		for _, bad := range []string{"panic", "goroutine ", "fatal error", "DATA RACE"} {
			if strings.Contains(strings.ToLower(l), strings.ToLower(bad)) {
				t.Errorf("%s logged %q:\n%s", in.Name, bad, tail(l, 4000))
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// createUsers runs `rampart createuser` for each username (a few processes at a time).
func createUsers(t *testing.T, vars map[string]string, password string, usernames ...string) {
	t.Helper()
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	errs := make(chan error, len(usernames))
	for _, u := range usernames {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, rampartBinary(t), "createuser", "--username", u, "--email", u+"@example.test", "--password-stdin")
			cmd.Env = env(vars)
			cmd.Dir = t.TempDir()
			cmd.Stdin = strings.NewReader(password + "\n")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("createuser %s: %v\n%s", u, err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// client is a browser with one cookie jar. Cookies are not isolated by port, so one client
// talks to every instance of a cluster with the same cookies, as a browser behind a load
// balancer would.
type client struct {
	t    *testing.T
	http *http.Client
	IP   string // X-Forwarded-For, believed because the instances trust 127.0.0.1/32
}

type response struct {
	Status   int
	Location string
	Body     string
	Err      error
}

func newClient(t *testing.T, ip string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, IP: ip, http: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends one request; transport errors are returned in the response rather than failing
// the test, so load loops can count them.
func (c *client) do(method, base, path string, form url.Values) response {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		return response{Err: err}
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if c.IP != "" {
		req.Header.Set("X-Forwarded-For", c.IP)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(b), Err: err}
}

func (c *client) get(base, path string) response { return c.do("GET", base, path, nil) }

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// post fetches formPage from the same instance for the CSRF token, then posts the form.
func (c *client) post(base, formPage, path string, form url.Values) response {
	page := c.get(base, formPage)
	if page.Err != nil {
		return page
	}
	m := tokenRE.FindStringSubmatch(page.Body)
	if m == nil {
		return response{Status: page.Status, Body: page.Body, Err: fmt.Errorf("no CSRF token on %s (status %d)", formPage, page.Status)}
	}
	form.Set("csrf_token", m[1])
	return c.do("POST", base, path, form)
}

func (c *client) login(base, username, password string) response {
	return c.post(base, "/accounts/login", "/accounts/login", url.Values{"username": {username}, "password": {password}})
}

// mustLogin logs in and fails unless the app redirects away from the login page.
func (c *client) mustLogin(base, username, password string) {
	c.t.Helper()
	r := c.login(base, username, password)
	if r.Err != nil || r.Status != http.StatusSeeOther || strings.Contains(r.Location, "/accounts/login") {
		c.t.Fatalf("login %s on %s: status %d location %q err %v", username, base, r.Status, r.Location, r.Err)
	}
}

// sessionCount counts the rows of the /accounts/sessions page (other sessions have an End
// form, the current one is marked).
func sessionCount(body string) int {
	return strings.Count(body, `name="session"`) + strings.Count(body, `class="current"`)
}

// --- PostgreSQL and Redis isolation ---

func pgConnect(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgExec(t *testing.T, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// withQuery returns u with a query parameter set.
func withQuery(t *testing.T, u, k, v string) string {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set(k, v)
	p.RawQuery = q.Encode()
	return p.String()
}

// pgSchema creates a fresh schema and returns a database URL whose search_path selects it:
// pgx hands unknown URL parameters to the server as run-time settings, and rampart's
// migrations create their tables in the first schema of the search_path.
func pgSchema(t *testing.T, base string) (dbURL, schema string) {
	t.Helper()
	schema = "rt_scale_" + randHex(6)
	admin := pgConnect(t, base)
	pgExec(t, admin, "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withQuery(t, base, "search_path", schema), schema
}

// pgDatabase creates a dedicated database (for the outage test, which refuses connections
// to it) and drops it at the end. admin stays connected to the base database.
func pgDatabase(t *testing.T, base string) (dbURL, name string, admin *pgx.Conn) {
	t.Helper()
	name = "rt_fault_" + randHex(6)
	admin = pgConnect(t, base)
	pgExec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	p, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	p.Path = "/" + name
	return p.String(), name, admin
}

// redisDB claims an empty logical database of the shared Redis (rampart's Redis URL takes a
// database number, not a key prefix) and returns its URL. The claim key makes two runs never
// pick the same number; at the end only rampart's keys (prefix "rampart:") and the claim are
// deleted.
func redisDB(t *testing.T, base string) string {
	t.Helper()
	opt, err := goredis.ParseURL(base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	claim := "scaletest:claim"
	start := mrand.IntN(15) // a random starting point spreads concurrent runs
	for i := 0; i < 15; i++ {
		db := 1 + (start+i)%15
		o := *opt
		o.DB = db
		c := goredis.NewClient(&o)
		n, err := c.DBSize(ctx).Result()
		if err != nil {
			c.Close()
			t.Fatalf("redis: %v", err)
		}
		if n != 0 {
			c.Close()
			continue
		}
		ok, err := c.SetNX(ctx, claim, randHex(8), 15*time.Minute).Result()
		if err != nil || !ok {
			c.Close()
			continue
		}
		t.Cleanup(func() {
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			iter := c.Scan(ctx, 0, "rampart:*", 500).Iterator()
			var keys []string
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			for len(keys) > 0 {
				n := min(len(keys), 500)
				c.Del(ctx, keys[:n]...)
				keys = keys[n:]
			}
			c.Del(ctx, claim)
		})
		p, _ := url.Parse(base)
		p.Path = "/" + strconv.Itoa(db)
		return p.String()
	}
	t.Skip("no empty Redis logical database (1-15) is free for an isolated run")
	return ""
}

// freePort asks the kernel for a free loopback port (for redis-server, which cannot report
// the port it picked).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
