package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// newUserDir starts a test as a new user would: in a fresh directory (a clone without
// rampart.db or .rampart-dev-key) with no RAMPART_* setting from the developer's own shell.
func newUserDir(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "RAMPART_") && !strings.HasPrefix(k, "RAMPART_TEST_") {
			t.Setenv(k, "") // an empty value counts as unset
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

// startServe runs `rampart serve` in this process with the current environment and returns
// the URL its banner prints; the server is stopped (and must exit 0) when the test ends.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	base, _ := startServeLog(t, args...)
	return base
}

// startServeLog is startServe that also returns what the server logs.
func startServeLog(t *testing.T, args ...string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		code := serveContext(ctx, append([]string{}, args...), pw, &stderr)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewReader(pr)
	banner, err := lines.ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve printed no banner (exit %d): %v\n%s", <-done, err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, lines) }() // later lines must not block serve
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d\n%s", code, stderr.String())
		}
	})
	m := regexp.MustCompile(`(https?://\S+?)/ `).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no URL in the banner %q", banner)
	}
	return m[1], &stderr
}

// runTool runs one command line as a separate terminal would (in-process, same directory).
func runTool(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// browser is the smallest client of the reference app's forms: cookies, the CSRF token of the
// last page, same-origin headers.
type browser struct {
	t     *testing.T
	base  string
	http  *http.Client
	token string
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, http: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(body); m != nil {
		b.token = string(m[1])
	}
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

// login posts the login form and returns the status and where it redirects.
func (b *browser) login(username, password string) (int, string) {
	b.t.Helper()
	b.get("/accounts/login")
	form := url.Values{"username": {username}, "password": {password}, "csrf_token": {b.token}}
	req, _ := http.NewRequest("POST", b.base+"/accounts/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, _ := b.do(req)
	return resp.StatusCode, resp.Header.Get("Location")
}

// TestToolsBesideDevServer is the README's first steps: `RAMPART_INSECURE_DEV=1 rampart serve`
// in one terminal, then createuser, unlock and migrate in another terminal that has none of
// the server's environment. The tools must act on the server's database, and say what they did.
func TestToolsBesideDevServer(t *testing.T) {
	newUserDir(t)
	t.Setenv("RAMPART_INSECURE_DEV", "1")
	t.Setenv("RAMPART_ADDR", "127.0.0.1:0")
	t.Setenv("RAMPART_LOGIN_RATE", "100/m") // this test posts more than 10 logins a minute
	base := startServe(t)
	// The other terminal.
	t.Setenv("RAMPART_INSECURE_DEV", "")
	t.Setenv("RAMPART_ADDR", "")
	t.Setenv("RAMPART_LOGIN_RATE", "")

	const pw = "correct horse battery staple 7"
	code, out, errs := runTool(t, pw+"\n", "createuser", "--username", "admin", "--staff", "--password-stdin")
	if code != 0 || !strings.Contains(out, `created user "admin"`) || !strings.Contains(out, "sqlite://rampart.db") {
		t.Fatalf("createuser without the server's environment: exit %d, out %q, err %q", code, out, errs)
	}
	b := newBrowser(t, base)
	if status, loc := b.login("admin", pw); status != http.StatusSeeOther || strings.Contains(loc, "/accounts/login") {
		t.Fatalf("the user createuser made cannot log in on the server: %d %q", status, loc)
	}

	// The same name again: a clear message, not the store's constraint error.
	code, out, errs = runTool(t, pw+"\n", "createuser", "--username", "ADMIN", "--password-stdin")
	if code != 1 || !strings.Contains(errs, `a user named "ADMIN" already exists`) || strings.Contains(strings.ToLower(errs), "constraint") {
		t.Errorf("duplicate createuser: exit %d, out %q, err %q; want exit 1 and a user named \"ADMIN\" already exists", code, out, errs)
	}

	code, out, errs = runTool(t, "", "unlock", "--ip", "203.0.113.7")
	if code != 0 || !strings.Contains(out, "nothing was locked for 203.0.113.7") || strings.Contains(out, "unlocked") {
		t.Errorf("unlock of an IP that was never locked: exit %d, out %q, err %q", code, out, errs)
	}
	code, out, errs = runTool(t, "", "unlock", "--username", "nobody")
	if code != 0 || !strings.Contains(out, `nothing was locked for username "nobody"`) {
		t.Errorf("unlock of a username that was never locked: exit %d, out %q, err %q", code, out, errs)
	}

	// Lock the (admin, 127.0.0.1) pair on the server: five wrong passwords (RAMPART_LOCKOUT_LIMIT).
	for i := range 5 {
		want := http.StatusOK // the form again
		if i == 4 {
			want = http.StatusTooManyRequests // the failure that trips the lock
		}
		if status, _ := b.login("admin", "wrong password here 1"); status != want {
			t.Fatalf("wrong password %d: status %d, want %d", i+1, status, want)
		}
	}
	if status, _ := b.login("admin", pw); status != http.StatusTooManyRequests {
		t.Fatalf("right password after 5 failures: status %d, want 429 (locked)", status)
	}
	code, out, errs = runTool(t, "", "unlock", "--list")
	if code != 0 || !strings.Contains(out, `user="admin" ip=127.0.0.1 failures=5`) {
		t.Fatalf("unlock --list: exit %d, out %q, err %q; want the (admin, 127.0.0.1) lock", code, out, errs)
	}
	code, out, errs = runTool(t, "", "unlock", "--ip", "127.0.0.1")
	if code != 0 || !strings.Contains(out, "unlocked 127.0.0.1") || !strings.Contains(out, `username+ip user="admin" ip=127.0.0.1 failures=5`) {
		t.Errorf("unlock --ip of a locked pair: exit %d, out %q, err %q", code, out, errs)
	}
	if code, out, _ = runTool(t, "", "unlock", "--list"); code != 0 || !strings.Contains(out, "nothing is locked") {
		t.Errorf("after unlock --ip, unlock --list says %q", out)
	}
	// The account counter (5 of 20) was not a lock: said so, and cleared.
	code, out, errs = runTool(t, "", "unlock", "--username", "admin")
	if code != 0 || !strings.Contains(out, `nothing was locked for username "admin"`) || !strings.Contains(out, "1 failure counter") {
		t.Errorf("unlock --username with failures below the limit: exit %d, out %q, err %q", code, out, errs)
	}

	// --all, as the help lists it. (Another name: the server may remember admin's lock for
	// up to a second after an unlock made by another process; see lockout.Options.LockCacheTTL.)
	for i := range 5 {
		if status, _ := b.login("bob", "wrong password here 2"); status != http.StatusOK && i < 4 {
			t.Fatalf("wrong password %d for bob: status %d", i+1, status)
		}
	}
	code, out, errs = runTool(t, "", "unlock", "--all")
	if code != 0 || !strings.Contains(out, "unlocked everything") || !strings.Contains(out, `user="bob" ip=127.0.0.1 failures=5`) {
		t.Errorf("unlock --all: exit %d, out %q, err %q", code, out, errs)
	}
	if code, out, _ = runTool(t, "", "unlock", "--list"); code != 0 || !strings.Contains(out, "nothing is locked") {
		t.Errorf("after unlock --all, unlock --list says %q", out)
	}
	code, out, errs = runTool(t, "", "unlock", "--all")
	if code != 0 || !strings.Contains(out, "nothing was locked") {
		t.Errorf("unlock --all with nothing locked: exit %d, out %q, err %q", code, out, errs)
	}

	code, out, errs = runTool(t, "", "migrate")
	if code != 0 || !strings.Contains(out, "migrated sqlite://rampart.db") {
		t.Errorf("migrate without the server's environment: exit %d, out %q, err %q", code, out, errs)
	}
}

// TestToolsNameWhatIsMissing: where the tools cannot find the server's database they say so,
// naming the variable and the file, and create nothing (a user made in a stray new rampart.db
// would silently never reach the server).
func TestToolsNameWhatIsMissing(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"no database here", nil, []string{"createuser", "--username", "admin", "--password-stdin"},
			[]string{"RAMPART_DATABASE_URL", "rampart.db", "does not exist", "rampart migrate"}},
		{"no database here, unlock", nil, []string{"unlock", "--list"},
			[]string{"RAMPART_DATABASE_URL", "rampart.db", "does not exist"}},
		{"memory store", map[string]string{"RAMPART_DATABASE_URL": "sqlite::memory:"}, []string{"createuser", "--username", "admin", "--password-stdin"},
			[]string{"RAMPART_DATABASE_URL", "sqlite::memory:", "inside the server process"}},
		{"bad value", map[string]string{"RAMPART_LOCKOUT_LIMIT": "many"}, []string{"unlock", "--all"},
			[]string{"RAMPART_LOCKOUT_LIMIT"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := newUserDir(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, out, errs := runTool(t, "long enough passphrase 1\n", c.args...)
			if code != 1 {
				t.Fatalf("exit %d, out %q, err %q; want 1", code, out, errs)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("message %q does not mention %q", errs, w)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("the failed command left %d files in the directory (%s...)", len(entries), entries[0].Name())
			}
		})
	}
	// A path chosen explicitly is created, as the server would (and as scaletest does).
	t.Run("explicit path", func(t *testing.T) {
		newUserDir(t)
		t.Setenv("RAMPART_DATABASE_URL", "sqlite://other.db")
		if code, out, errs := runTool(t, "long enough passphrase 1\n", "createuser", "--username", "admin", "--password-stdin"); code != 0 || !strings.Contains(out, "sqlite://other.db") {
			t.Fatalf("createuser: exit %d, out %q, err %q", code, out, errs)
		}
	})
	t.Run("migrate creates it", func(t *testing.T) {
		newUserDir(t)
		if code, out, errs := runTool(t, "", "migrate"); code != 0 || !strings.Contains(out, "sqlite://rampart.db") {
			t.Fatalf("migrate: exit %d, out %q, err %q", code, out, errs)
		}
		if code, out, errs := runTool(t, "long enough passphrase 1\n", "createuser", "--username", "admin", "--password-stdin"); code != 0 {
			t.Fatalf("createuser after migrate: exit %d, out %q, err %q", code, out, errs)
		}
	})
}

// TestDevURLWorksForPasskeys: the dev server prints a URL whose host is a domain (WebAuthn
// refuses IP addresses as relying party IDs), and a passkey ceremony begun there names it.
func TestDevURLWorksForPasskeys(t *testing.T) {
	newUserDir(t)
	t.Setenv("RAMPART_INSECURE_DEV", "1")
	t.Setenv("RAMPART_ADDR", "127.0.0.1:0")
	base := startServe(t)
	u, err := url.Parse(base)
	if err != nil || u.Hostname() != "localhost" {
		t.Fatalf("serve printed %q, want http://localhost:PORT", base)
	}
	b := newBrowser(t, base)
	if resp, _ := b.get("/accounts/login"); resp.StatusCode != http.StatusOK || b.token == "" {
		t.Fatalf("GET %s/accounts/login: %d (token %q)", base, resp.StatusCode, b.token)
	}
	req, _ := http.NewRequest("POST", base+"/accounts/login/passkey/begin", nil)
	req.Header.Set("X-CSRF-Token", b.token)
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, body := b.do(req)
	var opts struct {
		PublicKey struct {
			RPID string `json:"rpId"`
		} `json:"publicKey"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &opts) != nil || opts.PublicKey.RPID != u.Hostname() {
		t.Fatalf("passkey login begun at %s: %d %s; want 200 with rpId %q", base, resp.StatusCode, body, u.Hostname())
	}
}

func TestDisplayURL(t *testing.T) {
	dev := []string{".localhost", "127.0.0.1", "[::1]"}
	cases := []struct {
		addr    string
		allowed []string
		want    string
	}{
		{"127.0.0.1:8000", dev, "localhost:8000"},
		{"[::1]:8000", dev, "localhost:8000"},
		{"0.0.0.0:8000", dev, "localhost:8000"},
		{"[::]:8443", []string{"localhost"}, "localhost:8443"},
		{"127.0.0.1:8000", []string{"example.com"}, "127.0.0.1:8000"}, // localhost would answer 400
		{"0.0.0.0:8000", []string{"example.com"}, "127.0.0.1:8000"},
		{"192.0.2.10:8000", dev, "192.0.2.10:8000"},
		{"127.0.0.1:8000", []string{"*"}, "localhost:8000"},
	}
	for _, c := range cases {
		if got := displayAddr(c.addr, c.allowed); got != c.want {
			t.Errorf("displayAddr(%q, %q) = %q, want %q", c.addr, c.allowed, got, c.want)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the server goroutine and the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
