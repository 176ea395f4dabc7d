package scaletest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testbackends/redisserver"
)

// TestLockSurvivesRedisRestart is issue 11 item 2: with RAMPART_REDIS_URL on a Redis that keeps
// nothing (--save "" --appendonly no, as CI runs it), a Redis restart used to clear every lock.
// The lockout and 2FA counters now live in the database beside Redis, so the restart logs
// everyone out (sessions are in Redis: the control that the state really went) but the locked
// account stays locked, on the instance that saw the lock and on a new one that never did (no
// in-process lock cache can be what refuses it there).
func TestLockSurvivesRedisRestart(t *testing.T) {
	const password = "Redis restart pass 5b7e"
	rs := redisserver.Start(t) // private, non-persistent; restarted below
	rampartBinary(t)
	db := filepath.Join(t.TempDir(), "rampart.db")
	// session_cache=off: two servers on one SQLite file (sessions are in Redis anyway).
	vars := baseEnv("sqlite://"+db+"?session_cache=off", rs.URL(), map[string]string{"RAMPART_LOCKOUT_LIMIT": fmt.Sprint(lockoutLimit)})
	createUsers(t, vars, password, "victim", "alice")
	A := startInstance(t, "A", vars)

	alice := newClient(t, "192.0.2.60")
	alice.mustLogin(A.URL, "alice", password)
	if r := alice.get(A.URL, "/accounts/sessions"); r.Status != http.StatusOK {
		t.Fatalf("alice's sessions page before the restart: status %d err %v", r.Status, r.Err)
	}
	at := attack(t, []string{A.URL}, "victim", "203.0.113")
	if r := newClient(t, "198.51.100.7").login(A.URL, "victim", password); r.Status != http.StatusTooManyRequests {
		t.Fatalf("right password for the locked account before the restart: status %d, want 429", r.Status)
	}

	rs.Restart(t) // SIGKILL and start again on the same port: nothing was persisted
	B := startInstance(t, "B", vars)

	// Control: Redis really lost its state; alice's session is gone (on both instances).
	for _, in := range []*instance{B, A} {
		r := alice.get(in.URL, "/accounts/sessions")
		if r.Status != http.StatusSeeOther || !strings.Contains(r.Location, "/accounts/login") {
			t.Fatalf("alice on %s after the Redis restart: status %d location %q err %v, want a redirect to the login page (session lost with Redis)",
				in.Name, r.Status, r.Location, r.Err)
		}
	}
	// The lock holds: the right password is refused, from an address never seen, on the new
	// instance (which never saw the lock) and on the old one.
	for i, in := range []*instance{B, A} {
		r := newClient(t, fmt.Sprintf("198.51.100.%d", 20+i)).login(in.URL, "victim", password)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("right password for the locked account on %s after the Redis restart: status %d location %q, want 429 (the restart lifted the lock)",
				in.Name, r.Status, r.Location)
		}
	}
	// And logins still work: alice logs in again on the new instance.
	alice.mustLogin(B.URL, "alice", password)
	report(t, "redis restart (no persistence): locked at guess %d; after the restart sessions were gone and the lock still held on both instances", at)
	A.Stop(t)
	B.Stop(t)
	checkLogs(t, A, B)
	// Read once stopped: stderr is copied to the log by a goroutine that ends with the process.
	if l := A.logs.String(); !strings.Contains(l, "RAMPART-W030") || !strings.Contains(l, "RAMPART_REDIS_URL") {
		t.Errorf("serve did not warn that its Redis does not persist:\n%s", tail(l, 3000))
	}
}

// TestServeRedisPersistence: `rampart serve` with everything in a Redis that keeps nothing
// refuses to start in production, naming the fix; RAMPART_INSECURE_REDIS_NO_PERSISTENCE lets
// it start with a warning; a Redis with an append-only file starts without one; `rampart
// check` reports the same RAMPART-W030.
func TestServeRedisPersistence(t *testing.T) {
	bin := rampartBinary(t)
	none := redisserver.Start(t)
	aof := redisserver.Start(t, "--appendonly", "yes")
	prod := func(dbURL string, extra map[string]string) map[string]string {
		m := map[string]string{
			"RAMPART_SECRET_KEY":    testKey,
			"RAMPART_ALLOWED_HOSTS": "127.0.0.1",
			"RAMPART_ADDR":          "127.0.0.1:0",
			"RAMPART_DATABASE_URL":  dbURL,
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	run := func(vars map[string]string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env(vars)
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run(prod(none.URL(), nil), "serve")
	if err == nil {
		t.Fatalf("serve started on a Redis-only store that keeps nothing:\n%s", out)
	}
	for _, want := range []string{"RAMPART-W030", "RAMPART_DATABASE_URL", "does not persist", "unlocks every locked account",
		"appendonly yes", "RAMPART_INSECURE_REDIS_NO_PERSISTENCE=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal does not say %q:\n%s", want, out)
		}
	}
	report(t, "serve on a non-persistent Redis-only store refused: %s", strings.TrimSpace(out))

	// Logs are read once the process stopped (its stderr is copied by a goroutine until then).
	in := startInstance(t, "opt-out", prod(none.URL(), map[string]string{"RAMPART_INSECURE_REDIS_NO_PERSISTENCE": "1"}))
	in.Stop(t)
	if l := in.logs.String(); !strings.Contains(l, "RAMPART-W030") || !strings.Contains(l, "RAMPART_INSECURE_REDIS_NO_PERSISTENCE is on") {
		t.Errorf("opt-out: no warning in the log:\n%s", tail(l, 3000))
	}
	ok := startInstance(t, "aof", prod(aof.URL(), nil))
	ok.Stop(t)
	if l := ok.logs.String(); strings.Contains(l, "RAMPART-W030") || !strings.Contains(l, "reference app on") {
		t.Errorf("aof: a warning, or no start:\n%s", tail(l, 3000))
	}
	checkLogs(t, in, ok)

	for _, tc := range []struct {
		db   string
		want bool
	}{{none.URL(), true}, {aof.URL(), false}} {
		out, _ := run(prod(tc.db, nil), "check", "--json", "--env-file", "")
		var rep struct {
			Findings []struct{ ID, Message string } `json:"findings"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("check --json: %v\n%s", err, out)
		}
		got := false
		for _, f := range rep.Findings {
			got = got || f.ID == "RAMPART-W030"
		}
		if got != tc.want {
			t.Errorf("check on %s: W030 reported %v, want %v:\n%s", tc.db, got, tc.want, out)
		}
	}
}
