package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
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

	"github.com/rampart-go/rampart/internal/djangotest"
	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/twofactor"
)

// TestImportDjangoLogin is issue 14's proof: a real Django 3.2 site (Debian's python3-django
// and python3-django-otp) with users of every hasher, groups, confirmed TOTP devices (one
// whose last code was already accepted), static tokens and devices rampart must skip is
// imported by `rampart import-django` run as a process; then `rampart serve`, as a process on
// the imported store, logs every user in with the same password, and the users with TOTP
// with the code django-otp computes for their device (one with a static token instead). It
// runs on SQLite, and on PostgreSQL (both databases) when RAMPART_TEST_POSTGRES_URL is set.
func TestImportDjangoLogin(t *testing.T) {
	python := djangotest.Python(t, djangotest.SiteModules...)
	bin := filepath.Join(t.TempDir(), "rampart")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		django := filepath.Join(dir, "django.sqlite3")
		importAndLogin(t, bin, python, djangotest.DatabaseSettings(t, django, ""), "sqlite://"+django,
			"sqlite://"+filepath.Join(dir, "rampart.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		base := testbackends.PostgresURL(t)
		django := testbackends.PostgresDatabase(t, base)
		importAndLogin(t, bin, python, djangotest.DatabaseSettings(t, "", django), django, testbackends.PostgresDatabase(t, base))
	})
}

var importedRE = regexp.MustCompile(`users: (\d+) read, imported (\d+), (\d+) already present`)

func importAndLogin(t *testing.T, bin, python string, djangoDB map[string]string, djangoURL, rampartURL string) {
	site := djangotest.BuildSite(t, python, djangoDB)
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"RAMPART_SECRET_KEY=import-django-test-9f1c2e7a4b6d8035-rampart-secret-key-for-the-proof",
		"RAMPART_DATABASE_URL=" + rampartURL, "RAMPART_INSECURE_DEV=1", "RAMPART_ALLOWED_HOSTS=127.0.0.1",
		"RAMPART_ADDR=127.0.0.1:0", "RAMPART_RATE=100000/m", "RAMPART_LOGIN_RATE=100000/m"}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rampart %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("migrate")

	dry := run("import-django", "--dry-run", djangoURL)
	real := run("import-django", djangoURL)
	t.Logf("rampart import-django:\n%s", real)
	again := run("import-django", djangoURL)
	m := importedRE.FindStringSubmatch(real)
	if m == nil || !strings.Contains(dry, "dry run: nothing was written") {
		t.Fatalf("unexpected import output:\n%s\n%s", dry, real)
	}
	imported, _ := strconv.Atoi(m[2])
	if imported != len(site.Users) || !strings.Contains(dry, strings.Replace(m[0], "imported", "would import", 1)) {
		t.Errorf("imported %d of %d users (dry run said:\n%s)", imported, len(site.Users), dry)
	}
	if want := fmt.Sprintf("imported 0, %d already present", len(site.Users)); !strings.Contains(again, want) {
		t.Errorf("second import: want %q in\n%s", want, again)
	}

	base, stop := startServeProcess(t, bin, dir, env)
	var replayUser djangotest.SiteUser
	for _, u := range site.Users {
		if u.ReplayToken != "" {
			replayUser = u
		}
	}

	// The code django-otp already accepted is refused, as a replay: the server's audit log,
	// read once it stopped, says why (not merely a code out of the time window).
	c := newBrowser(t, base)
	if _, loc := c.login(replayUser.Username, replayUser.Password); !strings.Contains(loc, "/accounts/login/2fa") {
		t.Fatalf("%s: password step went to %q", replayUser.Username, loc)
	}
	c.get("/accounts/login/2fa")
	if resp, body := c.post("/accounts/login/2fa", url.Values{"code": {replayUser.ReplayToken}}); resp.StatusCode != http.StatusOK || !strings.Contains(body, "not valid") {
		t.Errorf("the TOTP code Django accepted (step %d) was not refused: %d %q", replayUser.LastT, resp.StatusCode, resp.Header.Get("Location"))
	}

	loggedIn, twoFA, wantTwoFA := 0, 0, 0
	for _, u := range site.Users {
		if u.TOTP {
			wantTwoFA++
		}
		c := newBrowser(t, base)
		status, loc := c.login(u.Username, u.Password)
		if status != http.StatusSeeOther || strings.HasSuffix(loc, "/accounts/login") {
			t.Errorf("%s (%s): password refused: %d %q", u.Username, u.Hasher, status, loc)
			continue
		}
		if strings.Contains(loc, "/accounts/login/2fa") != u.TOTP {
			t.Errorf("%s: second step asked: %q, want %v", u.Username, loc, u.TOTP)
			continue
		}
		if u.TOTP {
			var code string
			switch {
			case len(u.StaticTokens) > 0:
				code = u.StaticTokens[0]
			default:
				// Asked of django-otp now, for the replay user at least one step after its
				// accepted code.
				at := time.Now()
				if u.Username == replayUser.Username {
					at = time.Unix(max(at.Unix(), (replayUser.LastT+1)*30), 0)
				}
				code = djangotest.TOTPTokens(t, python, djangoDB, at, u.Username)[u.Username].Token
			}
			c.get("/accounts/login/2fa")
			resp, _ := c.post("/accounts/login/2fa", url.Values{"code": {code}})
			if resp.StatusCode == http.StatusTooManyRequests {
				// The replay user's refused code above throttles the next one for a second
				// (django-otp's back-off): wait as the server says, once.
				wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
				time.Sleep(time.Duration(min(max(wait, 1), 5)) * time.Second)
				c.get("/accounts/login/2fa")
				resp, _ = c.post("/accounts/login/2fa", url.Values{"code": {code}})
			}
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || strings.Contains(loc, "/accounts/login") {
				t.Errorf("%s: second factor refused: %d %q", u.Username, resp.StatusCode, loc)
				continue
			}
			twoFA++
		}
		if resp, _ := c.get("/accounts/sessions"); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: not logged in after the login: /accounts/sessions %d", u.Username, resp.StatusCode)
			continue
		}
		loggedIn++
	}
	logs := stop()
	replayed := false
	for _, l := range strings.Split(logs, "\n") {
		replayed = replayed || strings.Contains(l, "2fa.failure") && strings.Contains(l, replayUser.Username) &&
			strings.Contains(l, twofactor.ErrReplay.Error())
	}
	if !replayed {
		t.Errorf("the server did not log the refusal of %s's code as a replay (%q):\n%s", replayUser.Username, twofactor.ErrReplay, logs)
	}
	line := fmt.Sprintf("imported %d users, logged in %d/%d, 2FA %d/%d", imported, loggedIn, len(site.Users), twoFA, wantTwoFA)
	t.Log(line)
	fmt.Println("import-django proof (" + t.Name() + "): " + line + " (hashers: " + strings.Join(site.Hashers, ", ") + ")")
}

// startServeProcess runs `rampart serve` as its own process on the imported store and returns
// its base URL, and stop, which ends it and returns what it logged.
func startServeProcess(t *testing.T, bin, dir string, env []string) (string, func() string) {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Dir, cmd.Env = dir, env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // written by exec's copying goroutine until Wait returns
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() string {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		})
		return logs.String()
	}
	t.Cleanup(func() { stop() })
	banner, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("rampart serve printed no banner: %v\n%s", err, stop())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	m := regexp.MustCompile(`:(\d+)/ `).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no port in %q", banner)
	}
	return "http://127.0.0.1:" + m[1], stop
}

// TestImportDjangoRefuses checks the command's refusals: no arguments, no server key (the
// sealed secrets would not open on the server), and a Django database that is not there
// (which must not be created).
func TestImportDjangoRefuses(t *testing.T) {
	dir := newUserDir(t)
	django := filepath.Join(dir, "db.sqlite3")
	if code, _, stderr := runTool(t, "", "import-django"); code != 2 || !strings.Contains(stderr, "usage:") {
		t.Errorf("no argument: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runTool(t, "", "import-django", django); code != 1 || !strings.Contains(stderr, "RAMPART_SECRET_KEY") {
		t.Errorf("no key: exit %d, %q", code, stderr)
	}
	t.Setenv("RAMPART_SECRET_KEY", "import-django-test-9f1c2e7a4b6d8035-rampart-secret-key-for-the-proof")
	if code, _, stderr := runTool(t, "", "import-django", "--dry-run", django); code != 1 || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing Django database: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(django); err == nil {
		t.Error("the missing Django database was created")
	}
}
