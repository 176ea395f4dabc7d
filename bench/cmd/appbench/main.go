// Command appbench measures whole applications side by side in one run: rampart's reference
// app (`rampart serve`, a real process on a temporary SQLite database, production settings
// behind a trusted proxy on loopback), Django 3.2 from Debian under gunicorn (bench/django:
// SecurityMiddleware, database sessions, CsrfViewMiddleware, django-axes, argon2id first) and a
// bare net/http hello (the ceiling). Every scenario is driven by wrk with bench/app.lua; the
// servers take turns within each repetition, so load from elsewhere on the machine falls on all
// of them alike. It writes a markdown table to results/app-<time>.md.
//
// Run it through bench/app.sh. Everything listens on 127.0.0.1; every server is stopped by its
// PID; every wrk run is bounded by -duration and a timeout.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Passwords of the two accounts each app gets: one that logs in, one that is locked.
const (
	userName     = "bench"
	userPassword = "Bench pass phrase 2026"
	lockedName   = "locked"
	lockedPass   = "Locked pass phrase 2026"
	wrongPass    = "not the password 1234"
	clientIP     = "203.0.113.7" // X-Forwarded-For: the client behind the trusted proxy
	evilOrigin   = "https://evil.example"
	// loginUsers accounts log in in turn during the login scenario, each from its own address
	// (login1 from 203.0.113.1, ...): rampart's lockout lets at most its failure limit of
	// password checks run at once per (username, IP) pair, so c8 logins of one user from one
	// address would measure that guard, not a login.
	loginUsers = 16
)

type config struct {
	repo, benchDir, out string
	duration, warmup    time.Duration
	runs, threads       int
	conns               map[string]int
	workers             int
	basePort            int
	only                map[string]bool
	scenarios           map[string]bool
	keep                bool
	raw                 string // directory for wrk's raw outputs of the last runs
}

func main() {
	hello := flag.String("hello", "", "serve the bare net/http hello on this address (used by the driver itself)")
	var c config
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "wrk duration of each run")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "unrecorded wrk run per scenario and server before the runs")
	flag.IntVar(&c.runs, "runs", 3, "repetitions per scenario and server (the table gives medians)")
	flag.IntVar(&c.threads, "threads", 2, "wrk -t")
	cPage := flag.Int("c-page", 32, "connections: logged-in page")
	cPost := flag.Int("c-post", 32, "connections: valid CSRF POST")
	cRefused := flag.Int("c-refused", 128, "connections: refused cross-origin POST")
	cLocked := flag.Int("c-locked", 128, "connections: flood on a locked account")
	cLogin := flag.Int("c-login", 8, "connections: correct login")
	// One sync worker per CPU, not gunicorn's suggested 2×CPUs+1: every scenario is CPU-bound
	// (templates, argon2id), Go's GOMAXPROCS gives rampart the same parallelism, and on this
	// machine 2 workers served more than 5 with half the memory (docs/BENCHMARKS.md).
	flag.IntVar(&c.workers, "workers", runtime.NumCPU(), "gunicorn sync workers")
	flag.IntVar(&c.basePort, "port", 18491, "first of three loopback ports")
	only := flag.String("servers", "rampart,django,bare", "servers to run")
	scen := flag.String("scenarios", "a,b,c,d,e", "scenarios to run")
	flag.StringVar(&c.out, "out", "", "markdown output (default results/app-<time>.md)")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory (databases, logs)")
	flag.Parse()
	if *hello != "" {
		serveHello(*hello)
		return
	}
	c.conns = map[string]int{"a": *cPage, "b": *cPost, "c": *cRefused, "d": *cLocked, "e": *cLogin}
	c.only = set(*only)
	c.scenarios = set(*scen)
	wd, err := os.Getwd()
	if err != nil {
		log.Fatal(err)
	}
	c.benchDir = wd
	c.repo = filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(c.benchDir, "app.lua")); err != nil {
		log.Fatal("run from bench/ (bench/app.sh does)")
	}
	if c.out == "" {
		c.out = filepath.Join("results", "app-"+time.Now().UTC().Format("20060102T150405Z")+".md")
	}
	c.raw = strings.TrimSuffix(c.out, ".md") + "-wrk"
	if err := os.MkdirAll(c.raw, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			m[f] = true
		}
	}
	return m
}

func serveHello(addr string) {
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "hello\n")
		})}
	log.Fatal(srv.ListenAndServe())
}

// server is one application under test: a process (gunicorn's master for Django) and how to
// talk to it.
type server struct {
	name         string
	base         string // http://127.0.0.1:port
	host         string // Host header
	db           []string
	cmd          *exec.Cmd
	field        string // CSRF form field
	redirectCode int    // status of a redirect after a POST (a login, a comment)
	// state prepared by setup
	userCookies string // logged-in session + CSRF cookie
	userToken   string
	anonCookies string // anonymous CSRF cookie (login form)
	anonToken   string
}

func (s *server) pids() []int {
	pid := s.cmd.Process.Pid
	out := []int{pid}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err == nil {
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func run(c config) error {
	tmp, err := os.MkdirTemp("", "appbench-")
	if err != nil {
		return err
	}
	if c.keep {
		log.Printf("temporary directory kept: %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	env := envInfo(c)
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	if c.only["rampart"] {
		s, err := startRampart(c, tmp)
		if s != nil {
			servers = append(servers, s)
		}
		if err != nil {
			return fmt.Errorf("rampart: %w", err)
		}
	}
	if c.only["django"] {
		s, err := startDjango(c, tmp)
		if s != nil {
			servers = append(servers, s)
		}
		if err != nil {
			return fmt.Errorf("django: %w", err)
		}
	}
	if c.only["bare"] {
		s, err := startBare(c)
		if s != nil {
			servers = append(servers, s)
		}
		if err != nil {
			return fmt.Errorf("bare: %w", err)
		}
	}
	for _, s := range servers {
		if s.name == "bare" {
			continue
		}
		if err := setup(s); err != nil {
			return fmt.Errorf("%s setup: %w", s.name, err)
		}
	}
	var results []result
	for _, sc := range scenarios {
		if !c.scenarios[sc.id] {
			continue
		}
		for _, s := range servers {
			if s.name == "bare" && !sc.bare {
				continue
			}
			if sc.prepare != nil && s.name != "bare" {
				if err := sc.prepare(s); err != nil {
					return fmt.Errorf("%s %s: prepare: %w", s.name, sc.id, err)
				}
			}
			if err := check(s, sc); err != nil {
				return fmt.Errorf("%s %s: %w", s.name, sc.id, err)
			}
			// Warm-up, not recorded: gunicorn's workers import and compile lazily, per worker.
			if _, err := measure(c, s, sc, c.warmup, "warmup"); err != nil {
				return fmt.Errorf("%s %s: warm-up: %w", s.name, sc.id, err)
			}
		}
		for r := 0; r < c.runs; r++ {
			for _, s := range servers {
				if s.name == "bare" && !sc.bare {
					continue
				}
				res, err := measure(c, s, sc, c.duration, "run"+strconv.Itoa(r+1))
				if err != nil {
					return fmt.Errorf("%s %s: %w", s.name, sc.id, err)
				}
				res.run = r + 1
				log.Printf("%s %-7s run %d: %8.0f req/s  p50 %-8s p99 %-8s  rss %5.0f MiB  cpu %.3f ms/req  db %+.1f MB  non2xx3xx %d/%d  errors %s",
					sc.id, s.name, r+1, res.rps, ms(res.p50), ms(res.p99), res.rssMiB, res.cpuMsPerReq, float64(res.dbGrowth)/1e6, res.non2xx, res.requests, res.errors)
				results = append(results, res)
			}
		}
	}
	env["load after"] = loadavg()
	md := report(c, env, servers, results)
	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(c.out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	log.Printf("wrote %s", c.out)
	return nil
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func output(dir string, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if err != nil && len(b) == 0 { // wrk -v exits 1 after printing its version
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// settle waits until the server's processes use no CPU for half a second (at most 60 s), so
// that work left over from the previous run (gunicorn's sync workers serve every request still
// queued on their socket, even after wrk has gone) is not charged to the next one.
func settle(s *server) {
	deadline := time.Now().Add(60 * time.Second)
	last, quiet := cpuTicks(s.pids()), 0
	for quiet < 2 && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		now := cpuTicks(s.pids())
		if now-last <= 1 {
			quiet++
		} else {
			quiet = 0
		}
		last = now
	}
}

func envInfo(c config) map[string]string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, cpu, _ = strings.Cut(l, ":")
				cpu = strings.TrimSpace(cpu)
				break
			}
		}
	}
	commit := output(c.repo, "git", "rev-parse", "--short", "HEAD")
	if exec.Command("git", "-C", c.repo, "diff", "--quiet").Run() != nil {
		commit += " (+ uncommitted changes)"
	}
	return map[string]string{
		"date":        time.Now().UTC().Format(time.RFC3339),
		"commit":      commit,
		"cpu":         fmt.Sprintf("%s, %d CPUs online", cpu, runtime.NumCPU()),
		"go":          runtime.Version(),
		"django":      output(c.benchDir, "/usr/bin/python3", "-c", "import django, axes, argon2; print('Django', django.get_version(), '· django-axes', axes.__version__ if hasattr(axes, '__version__') else '?', '· argon2-cffi', argon2.__version__)"),
		"gunicorn":    output(c.benchDir, "/usr/bin/python3", "-c", "import gunicorn; print(gunicorn.__version__)") + fmt.Sprintf(", %d sync workers", c.workers),
		"wrk":         strings.SplitN(output(c.benchDir, "wrk", "-v"), "\n", 2)[0],
		"load before": loadavg(),
	}
}

// waitUp polls GET / until it answers 200.
func waitUp(s *server, proc *exec.Cmd) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if proc.ProcessState != nil {
			return errors.New("process exited")
		}
		resp, err := do(s, "GET", "/", nil, "", "")
		if err == nil && resp.code == 200 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("did not answer 200 on / within 60 s")
}

func startBare(c config) (*server, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", c.basePort+2)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-hello", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: "bare", base: "http://" + addr, host: addr, cmd: cmd}
	go func() { _ = cmd.Wait() }()
	return s, waitUp(s, cmd)
}

func startRampart(c config, tmp string) (*server, error) {
	bin := filepath.Join(tmp, "rampart")
	build := exec.Command("go", "build", "-o", bin, "./cmd/rampart")
	build.Dir = c.repo
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	log.Printf("building rampart (go build ./cmd/rampart)")
	if err := build.Run(); err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "rampart-run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", c.basePort)
	db := filepath.Join(dir, "rampart.db")
	env := append(os.Environ(),
		"RAMPART_DATABASE_URL=sqlite://"+db,
		"RAMPART_SECRET_KEY="+randHex(32),
		"RAMPART_ADDR="+addr,
		"RAMPART_ALLOWED_HOSTS=127.0.0.1",
		"RAMPART_TRUSTED_PROXIES=127.0.0.1/32",
		// Django has no per-IP request or login rate limit: raise rampart's out of the way so that
		// each scenario measures the same work on both (the lockout, not a rate limit, refuses d).
		"RAMPART_RATE=100000000/s",
		"RAMPART_LOGIN_RATE=100000000/s",
	)
	steps := [][]string{
		{"migrate"},
		{"createuser", "--username", userName, "--password-stdin"},
		{"createuser", "--username", lockedName, "--password-stdin"},
	}
	for i := 1; i <= loginUsers; i++ {
		steps = append(steps, []string{"createuser", "--username", fmt.Sprintf("login%d", i), "--password-stdin"})
	}
	for _, step := range steps {
		cmd := exec.Command(bin, step...)
		cmd.Dir, cmd.Env = dir, env
		if step[0] == "createuser" {
			pw := userPassword
			if step[2] == lockedName {
				pw = lockedPass
			}
			cmd.Stdin = strings.NewReader(pw + "\n")
		}
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("rampart %s: %v: %s", step[0], err, b)
		}
	}
	logf, err := os.Create(filepath.Join(tmp, "rampart.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait() }()
	s := &server{name: "rampart", base: "http://" + addr, host: addr, cmd: cmd, field: "csrf_token", redirectCode: 303,
		db: []string{db, db + "-wal", db + "-shm"}}
	return s, waitUp(s, cmd)
}

func startDjango(c config, tmp string) (*server, error) {
	proj := filepath.Join(c.benchDir, "django")
	addr := fmt.Sprintf("127.0.0.1:%d", c.basePort+1)
	db := filepath.Join(tmp, "django.sqlite3")
	env := append(os.Environ(),
		"BENCH_DJANGO_SECRET="+randHex(32),
		"BENCH_DJANGO_DB="+db,
		"BENCH_DJANGO_HOST=127.0.0.1",
		"PYTHONDONTWRITEBYTECODE=1",
		"BENCH_USER="+userName, "BENCH_PASSWORD="+userPassword,
		"BENCH_LOCKED_USER="+lockedName, "BENCH_LOCKED_PASSWORD="+lockedPass,
		"BENCH_LOGIN_USERS="+strconv.Itoa(loginUsers),
	)
	prep := exec.Command("sh", "prepare.sh")
	prep.Dir, prep.Env = proj, env
	if b, err := prep.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("prepare.sh: %v: %s", err, b)
	}
	logf, err := os.Create(filepath.Join(tmp, "gunicorn.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/usr/bin/python3", "-m", "gunicorn", "--workers", strconv.Itoa(c.workers),
		"--bind", addr, "--worker-class", "sync", "--log-level", "warning", "benchsite.wsgi:application")
	cmd.Dir, cmd.Env = proj, env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait() }()
	s := &server{name: "django", base: "http://" + addr, host: addr, cmd: cmd, field: "csrfmiddlewaretoken", redirectCode: 302,
		db: []string{db, db + "-journal", db + "-wal", db + "-shm"}}
	if err := waitUp(s, cmd); err != nil {
		return s, err
	}
	// Wait until every worker has booted, so that the first run does not pay for it.
	for i := 0; i < 100 && len(s.pids()) < c.workers+1; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	return s, nil
}

type response struct {
	code    int
	cookies map[string]string
	body    string
}

var httpc = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// baseHeaders are what every request carries: the trusted proxy's X-Forwarded-* headers.
func baseHeaders() [][2]string {
	return [][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-For", clientIP}, {"User-Agent", "appbench"}}
}

// sameOrigin are a browser's headers on a same-origin form POST (Referer too: Django 3.2
// checks it on HTTPS).
func sameOrigin(s *server, path string) [][2]string {
	return [][2]string{{"Origin", "https://" + s.host}, {"Referer", "https://" + s.host + path},
		{"Sec-Fetch-Site", "same-origin"}, {"Content-Type", "application/x-www-form-urlencoded"}}
}

func do(s *server, method, path string, extra [][2]string, cookies, body string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return response{}, err
	}
	for _, h := range append(baseHeaders(), extra...) {
		req.Header.Set(h[0], h[1])
	}
	if cookies != "" {
		req.Header.Set("Cookie", cookies)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r := response{code: resp.StatusCode, cookies: map[string]string{}, body: string(b)}
	for _, c := range resp.Cookies() {
		r.cookies[c.Name] = c.Value
	}
	return r, nil
}

var tokenRE = regexp.MustCompile(`name="(csrf_token|csrfmiddlewaretoken)" value="([^"]+)"`)

func token(body string) string {
	m := tokenRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[2]
}

func cookieHeader(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

// loginForm fetches the login page as a new visitor: its CSRF cookie and token.
func loginForm(s *server) (map[string]string, string, error) {
	r, err := do(s, "GET", "/accounts/login", nil, "", "")
	if err != nil {
		return nil, "", err
	}
	tok := token(r.body)
	if r.code != 200 || tok == "" || len(r.cookies) == 0 {
		return nil, "", fmt.Errorf("GET /accounts/login: %d, token %q, cookies %v", r.code, tok, r.cookies)
	}
	return r.cookies, tok, nil
}

func loginBody(s *server, tok, user, pw string) string {
	return url.Values{s.field: {tok}, "username": {user}, "password": {pw}}.Encode()
}

// setup logs the user in (session cookie + CSRF token of a logged-in page) and keeps an
// anonymous CSRF pair for the login scenarios.
func setup(s *server) error {
	jar, tok, err := loginForm(s)
	if err != nil {
		return err
	}
	s.anonCookies, s.anonToken = cookieHeader(jar), tok
	r, err := do(s, "POST", "/accounts/login", sameOrigin(s, "/accounts/login"), cookieHeader(jar), loginBody(s, tok, userName, userPassword))
	if err != nil {
		return err
	}
	if r.code != s.redirectCode {
		return fmt.Errorf("login: status %d, want %d: %.300s", r.code, s.redirectCode, r.body)
	}
	for k, v := range r.cookies {
		jar[k] = v
	}
	r, err = do(s, "GET", "/comments", nil, cookieHeader(jar), "")
	if err != nil {
		return err
	}
	for k, v := range r.cookies {
		jar[k] = v
	}
	s.userCookies, s.userToken = cookieHeader(jar), token(r.body)
	if r.code != 200 || s.userToken == "" {
		return fmt.Errorf("GET /comments logged in: %d, token %q", r.code, s.userToken)
	}
	return nil
}

// lock sends wrong passwords for the locked account until it answers 429 (at most 20).
func lock(s *server) error {
	for i := 0; i < 20; i++ {
		r, err := do(s, "POST", "/accounts/login", sameOrigin(s, "/accounts/login"), s.anonCookies, loginBody(s, s.anonToken, lockedName, wrongPass))
		if err != nil {
			return err
		}
		if r.code == http.StatusTooManyRequests {
			return nil
		}
		if r.code != 200 {
			return fmt.Errorf("wrong password: status %d, want 200 then 429", r.code)
		}
	}
	return errors.New("not locked after 20 wrong passwords")
}

// request is one wrk request shape.
type request struct {
	method, path, body string
	headers            [][2]string
}

// scenario is one row group of the table. want gives the statuses of its request and of the
// alternate one, checked once with Go before wrk, then through wrk's non-2xx/3xx count.
type scenario struct {
	id, name string
	bare     bool // also run the bare hello at this concurrency
	refused  bool // every response is a refusal (non-2xx/3xx expected)
	rotate   int  // APP_ROTATE: "{i}" in the request takes 1..rotate in turn
	prepare  func(*server) error
	req      func(*server) (request, *request)
	want     func(*server) (int, int)
}

var scenarios = []scenario{
	{id: "a", name: "logged-in page (GET /accounts/sessions)", bare: true,
		req: func(s *server) (request, *request) {
			return request{method: "GET", path: "/accounts/sessions", headers: [][2]string{{"Cookie", s.userCookies}}}, nil
		},
		want: func(*server) (int, int) { return 200, 0 }},
	{id: "b", name: "valid CSRF POST saving the session (a flash), then its redirect's GET showing it", bare: true,
		req: func(s *server) (request, *request) {
			post := request{method: "POST", path: "/comments", body: url.Values{s.field: {s.userToken}, "body": {""}}.Encode(),
				headers: append([][2]string{{"Cookie", s.userCookies}}, sameOrigin(s, "/comments")...)}
			get := request{method: "GET", path: "/comments", headers: [][2]string{{"Cookie", s.userCookies}}}
			return post, &get
		},
		want: func(s *server) (int, int) { return s.redirectCode, 200 }},
	{id: "c", name: "refused cross-origin POST (Origin: https://evil.example, no token, no cookie)", bare: true, refused: true,
		req: func(s *server) (request, *request) {
			return request{method: "POST", path: "/comments", body: "body=pwned",
				headers: [][2]string{{"Origin", evilOrigin}, {"Sec-Fetch-Site", "cross-site"}, {"Content-Type", "application/x-www-form-urlencoded"}}}, nil
		},
		want: func(*server) (int, int) { return 403, 0 }},
	{id: "d", name: "wrong-password flood on a locked account (valid CSRF)", bare: true, refused: true,
		prepare: lock,
		req: func(s *server) (request, *request) {
			return request{method: "POST", path: "/accounts/login", body: loginBody(s, s.anonToken, lockedName, wrongPass),
				headers: append([][2]string{{"Cookie", s.anonCookies}}, sameOrigin(s, "/accounts/login")...)}, nil
		},
		want: func(*server) (int, int) { return 429, 0 }},
	{id: "e", name: "correct login, argon2id m=19456 t=2 p=1 on both", bare: false, rotate: loginUsers,
		req: func(s *server) (request, *request) {
			body := strings.ReplaceAll(loginBody(s, s.anonToken, "login{i}", userPassword), "%7Bi%7D", "{i}")
			return request{method: "POST", path: "/accounts/login", body: body,
				headers: append([][2]string{{"Cookie", s.anonCookies}, {"X-Forwarded-For", "203.0.113.{i}"}}, sameOrigin(s, "/accounts/login")...)}, nil
		},
		want: func(s *server) (int, int) { return s.redirectCode, 0 }},
}

// check sends the scenario's request(s) once and asserts the status, so that wrk's counts
// measure the intended path. For b it also checks that the GET shows the flash the POST saved.
func check(s *server, sc scenario) error {
	if s.name == "bare" {
		r, err := do(s, "GET", "/", nil, "", "")
		if err != nil || r.code != 200 {
			return fmt.Errorf("bare hello: %v %d", err, r.code)
		}
		return nil
	}
	req, alt := sc.req(s)
	code, altCode := sc.want(s)
	if sc.rotate > 0 {
		for i := range req.headers {
			req.headers[i][1] = strings.ReplaceAll(req.headers[i][1], "{i}", "1")
		}
		req.body = strings.ReplaceAll(req.body, "{i}", "1")
	}
	r, err := do(s, req.method, req.path, withoutCookie(req.headers), cookieOf(req.headers), req.body)
	if err != nil {
		return err
	}
	if r.code != code {
		return fmt.Errorf("%s %s: status %d, want %d: %.300s", req.method, req.path, r.code, code, r.body)
	}
	if alt != nil {
		r, err := do(s, alt.method, alt.path, withoutCookie(alt.headers), cookieOf(alt.headers), alt.body)
		if err != nil {
			return err
		}
		if r.code != altCode || !strings.Contains(r.body, "between 1 and 10000 characters") {
			return fmt.Errorf("%s %s: status %d (want %d) or no flash: %.300s", alt.method, alt.path, r.code, altCode, r.body)
		}
	}
	return nil
}

func cookieOf(h [][2]string) string {
	for _, kv := range h {
		if kv[0] == "Cookie" {
			return kv[1]
		}
	}
	return ""
}

func withoutCookie(h [][2]string) [][2]string {
	var out [][2]string
	for _, kv := range h {
		if kv[0] != "Cookie" {
			out = append(out, kv)
		}
	}
	return out
}

func headerLines(h [][2]string) string {
	var b strings.Builder
	for _, kv := range append(baseHeaders(), h...) {
		b.WriteString(kv[0] + ": " + kv[1] + "\n")
	}
	return b.String()
}

type result struct {
	scenario, server string
	run              int
	conns            int
	requests         int64
	non2xx           int64
	errors           string
	rps              float64
	p50, p99         time.Duration
	rssMiB           float64
	cpuMsPerReq      float64
	dbGrowth         int64
}

func measure(c config, s *server, sc scenario, d time.Duration, label string) (result, error) {
	conns := c.conns[sc.id]
	res := result{scenario: sc.id, server: s.name, conns: conns}
	var env []string
	if s.name == "bare" {
		env = []string{"APP_METHOD=GET", "APP_PATH=/", "APP_HEADERS=" + headerLines(nil)}
	} else {
		req, alt := sc.req(s)
		env = []string{"APP_METHOD=" + req.method, "APP_PATH=" + req.path, "APP_BODY=" + req.body, "APP_HEADERS=" + headerLines(req.headers)}
		if sc.rotate > 0 {
			env = append(env, "APP_ROTATE="+strconv.Itoa(sc.rotate))
		}
		if alt != nil {
			env = append(env, "APP_ALT_METHOD="+alt.method, "APP_ALT_PATH="+alt.path, "APP_ALT_HEADERS="+headerLines(alt.headers))
		}
	}
	settle(s)
	pids := s.pids()
	for _, p := range pids {
		// Writing 5 to clear_refs resets VmHWM to the current RSS, so the peak is this run's.
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0)
	}
	cpu0 := cpuTicks(pids)
	db0 := dbSize(s.db)
	ctx, cancel := context.WithTimeout(context.Background(), d+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", "-t"+strconv.Itoa(c.threads), "-c"+strconv.Itoa(conns),
		"-d"+d.String(), "--timeout", "10s", "--latency", "-s", filepath.Join(c.benchDir, "app.lua"), s.base+"/")
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("wrk: %v: %s", err, out.String())
	}
	// CPU is read once the server is idle again, so it includes the requests still in flight at
	// the end (at most conns of them), which wrk does not count: CPU/req errs high by ≤ conns/requests.
	settle(s)
	pids = s.pids()
	cpu1 := cpuTicks(pids)
	if c.raw != "" {
		_ = os.WriteFile(filepath.Join(c.raw, fmt.Sprintf("%s-%s-%s.txt", sc.id, s.name, label)), out.Bytes(), 0o644)
	}
	res.dbGrowth = dbSize(s.db) - db0
	for _, p := range pids {
		res.rssMiB += float64(vmHWM(p)) / 1024
	}
	if err := parseWrk(out.String(), &res); err != nil {
		return res, fmt.Errorf("%v: %s", err, out.String())
	}
	if res.requests > 0 {
		res.cpuMsPerReq = float64(cpu1-cpu0) * 1000 / float64(clockTicks) / float64(res.requests)
	}
	if s.name != "bare" {
		if sc.refused && res.non2xx != res.requests {
			return res, fmt.Errorf("%d of %d responses were 2xx/3xx, want none (a refusal scenario)", res.requests-res.non2xx, res.requests)
		}
		if !sc.refused && res.non2xx != 0 {
			return res, fmt.Errorf("%d of %d responses were not 2xx/3xx", res.non2xx, res.requests)
		}
	}
	return res, nil
}

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat: 100 on Linux.
const clockTicks = 100

func cpuTicks(pids []int) int64 {
	var t int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		// f[0] is field 3 (state); utime and stime are fields 14 and 15.
		if len(f) > 13 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			t += u + st
		}
	}
	return t
}

func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func dbSize(files []string) int64 {
	var n int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

var (
	reqsRE   = regexp.MustCompile(`(\d+) requests in`)
	rpsRE    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	non2xxRE = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	sockRE   = regexp.MustCompile(`Socket errors: ([^\n]*)`)
	pctRE    = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.0+)?%\s+(\S+)`)
)

func parseWrk(out string, r *result) error {
	m := reqsRE.FindStringSubmatch(out)
	if m == nil {
		return errors.New("no request count in wrk output")
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	if r.requests == 0 {
		// Nothing completed within the duration (a server that slow): zeros, not an error.
		return nil
	}
	if m := rpsRE.FindStringSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := non2xxRE.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	r.errors = "none"
	if m := sockRE.FindStringSubmatch(out); m != nil {
		r.errors = strings.TrimSpace(m[1])
	}
	for _, m := range pctRE.FindAllStringSubmatch(out, -1) {
		d, err := parseWrkDuration(m[2])
		if err != nil {
			return err
		}
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return errors.New("no latency distribution in wrk output")
	}
	return nil
}

func parseWrkDuration(s string) (time.Duration, error) {
	for _, u := range []struct {
		suf string
		d   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}} {
		if v, ok := strings.CutSuffix(s, u.suf); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(f * float64(u.d)), nil
		}
	}
	return 0, fmt.Errorf("wrk duration %q", s)
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms"
}

// summary is the median over runs of one scenario on one server (max for peak RSS).
type summary struct {
	rps, p50, p99, cpu, db float64
	rss                    float64
	requests, non2xx       int64
	errors                 []string
	n                      int
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarize(rs []result, scen, srv string) (summary, bool) {
	var rps, p50, p99, cpu, db []float64
	var s summary
	for _, r := range rs {
		if r.scenario != scen || r.server != srv {
			continue
		}
		rps = append(rps, r.rps)
		p50 = append(p50, float64(r.p50)/1e6)
		p99 = append(p99, float64(r.p99)/1e6)
		cpu = append(cpu, r.cpuMsPerReq)
		db = append(db, float64(r.dbGrowth)/1e6)
		s.rss = max(s.rss, r.rssMiB)
		s.requests += r.requests
		s.non2xx += r.non2xx
		if r.errors != "none" {
			s.errors = append(s.errors, r.errors)
		}
		s.n++
	}
	if s.n == 0 {
		return s, false
	}
	s.rps, s.p50, s.p99, s.cpu, s.db = median(rps), median(p50), median(p99), median(cpu), median(db)
	return s, true
}

func report(c config, env map[string]string, servers []*server, rs []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Whole app, wrk -t%d, %s per run, median of %d runs (peak RSS: the highest of the runs).\n\n", c.threads, c.duration, c.runs)
	b.WriteString("```\n")
	for _, k := range []string{"date", "commit", "cpu", "go", "django", "gunicorn", "wrk", "load before", "load after"} {
		fmt.Fprintf(&b, "%-12s %s\n", k+":", env[k])
	}
	b.WriteString("```\n\n")
	b.WriteString("| scenario | server | conns | req/s | p50 | p99 | peak RSS | CPU/req | DB growth/run | rampart ÷ Django | rampart ÷ bare |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var notes []string
	for _, sc := range scenarios {
		if !c.scenarios[sc.id] {
			continue
		}
		rp, okR := summarize(rs, sc.id, "rampart")
		dj, okD := summarize(rs, sc.id, "django")
		bare, okB := summarize(rs, sc.id, "bare")
		for _, s := range servers {
			sm, ok := summarize(rs, sc.id, s.name)
			if !ok {
				continue
			}
			rd, rb := "", ""
			if s.name == "rampart" {
				if okD && dj.rps > 0 {
					rd = fmt.Sprintf("**%.1f×**", rp.rps/dj.rps)
				}
				if okB && bare.rps > 0 && okR {
					rb = fmt.Sprintf("**%.2f×**", rp.rps/bare.rps)
				}
			}
			label := sc.id + ". " + sc.name
			if s.name != servers[0].name {
				label = ""
			}
			name := s.name
			if s.name == "bare" {
				name = "bare net/http hello (GET /)"
			}
			dbcol := "–"
			if s.name != "bare" {
				dbcol = fmt.Sprintf("%+.2f MB", sm.db)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %.2f ms | %.2f ms | %.0f MiB | %.3f ms | %s | %s | %s |\n",
				label, name, c.conns[sc.id], sm.rps, sm.p50, sm.p99, sm.rss, sm.cpu, dbcol, rd, rb)
			if len(sm.errors) > 0 {
				notes = append(notes, fmt.Sprintf("%s %s: wrk socket errors %s", sc.id, s.name, strings.Join(sm.errors, "; ")))
			}
		}
	}
	if len(notes) > 0 {
		b.WriteString("\nwrk socket errors (gunicorn's sync workers close every connection, so wrk reconnects):\n\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	b.WriteString("\nPer run:\n\n| scenario | server | run | req/s | p50 | p99 | peak RSS | CPU/req | DB growth | requests | non-2xx/3xx |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %s | %s | %.0f MiB | %.3f ms | %+.2f MB | %d | %d |\n",
			r.scenario, r.server, r.run, r.rps, ms(r.p50), ms(r.p99), r.rssMiB, r.cpuMsPerReq, float64(r.dbGrowth)/1e6, r.requests, r.non2xx)
	}
	return b.String()
}
