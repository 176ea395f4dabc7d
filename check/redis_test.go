package check

import (
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/testbackends/redisserver"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return strconv.Itoa(port)
}

// `rampart check` connects to each Redis the settings name (real redis-servers started here)
// and reports RAMPART-W030 when one does not keep an append-only file, or cannot be reached,
// without hiding the other findings.
func TestLiveRedisPersistence(t *testing.T) {
	aof := redisserver.Start(t, "--appendonly", "yes")
	none := redisserver.Start(t) // --save "" --appendonly no, as CI runs its Redis
	rdb := redisserver.Start(t, "--save", "3600 1 300 100 60 10000")
	unreachable := "redis://127.0.0.1:" + closedPort(t) + "/0"
	base := func() map[string]string {
		return map[string]string{
			"RAMPART_SECRET_KEY":    goodKey,
			"RAMPART_ALLOWED_HOSTS": "example.com",
			"RAMPART_HSTS_PRELOAD":  "true",
			// A SQLite file that does not exist: Database (the legacy-hash count) reads nothing.
			"RAMPART_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "absent.db"),
		}
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string // IDs
		msgs []string // substrings of the W030 messages, in order
	}{
		{"aof redis url", map[string]string{"RAMPART_REDIS_URL": aof.URL()}, nil, nil},
		{"aof redis database", map[string]string{"RAMPART_DATABASE_URL": aof.URL()}, nil, nil},
		{"no persistence, redis url", map[string]string{"RAMPART_REDIS_URL": none.URL()}, []string{"RAMPART-W030"},
			[]string{"RAMPART_REDIS_URL (" + none.URL() + ") does not persist (appendonly no, save \"\"): a restart of Redis logs every user out"}},
		{"no persistence, redis database", map[string]string{"RAMPART_DATABASE_URL": none.URL()}, []string{"RAMPART-W030"},
			[]string{"unlocks every locked account; rampart serve refuses to start with it in production"}},
		{"no persistence, redis database, opt-out", map[string]string{"RAMPART_DATABASE_URL": none.URL(), "RAMPART_INSECURE_REDIS_NO_PERSISTENCE": "1"},
			[]string{"RAMPART-W030", "RAMPART-W030"},
			[]string{"RAMPART_INSECURE_REDIS_NO_PERSISTENCE is on", "unlocks every locked account"}},
		{"snapshots only", map[string]string{"RAMPART_REDIS_URL": rdb.URL()}, []string{"RAMPART-W030"},
			[]string{"keeps RDB snapshots only (save \"3600 1 300 100 60 10000\", appendonly no): a crash loses the sessions and login rate-limit counters changed since the last snapshot, and a single change waits up to 1h0m0s for one"}},
		{"both, one persisting", map[string]string{"RAMPART_DATABASE_URL": aof.URL(), "RAMPART_REDIS_URL": none.URL()}, []string{"RAMPART-W030"},
			[]string{"RAMPART_REDIS_URL"}},
		// An unreachable Redis is its own finding, and the others (DEBUG, I001) are still there.
		{"unreachable", map[string]string{"RAMPART_REDIS_URL": unreachable, "RAMPART_DEBUG": "1", "RAMPART_HSTS_PRELOAD": "false"},
			[]string{"RAMPART-W001", "RAMPART-W030", "RAMPART-I001"}, []string{"could not connect to the Redis in RAMPART_REDIS_URL"}},
		{"unreachable with a password", map[string]string{"RAMPART_REDIS_URL": strings.Replace(unreachable, "redis://", "redis://:hunter2-secret@", 1)},
			[]string{"RAMPART-W030"}, []string{"could not connect"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := base()
			for k, v := range tc.env {
				env[k] = v
			}
			var out, errb bytes.Buffer
			code := runWith([]string{"--json"}, envOf(env), true, &out, &errb)
			var rep Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("json: %v: %s", err, out.String())
			}
			if got := ids(rep.Findings); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v\n%s", got, tc.want, out.String())
			}
			if wantCode := min(len(tc.want)-rep.Infos, 1); code != wantCode {
				t.Errorf("exit %d, want %d", code, wantCode)
			}
			var w030 []Finding
			for _, f := range rep.Findings {
				if f.ID == "RAMPART-W030" {
					w030 = append(w030, f)
				}
			}
			for i, m := range tc.msgs {
				if !strings.Contains(w030[i].Message, m) {
					t.Errorf("finding %d: %q does not contain %q", i, w030[i].Message, m)
				}
				if w030[i].Hint == "" {
					t.Errorf("finding %d has no hint", i)
				}
			}
			if strings.Contains(out.String(), "hunter2-secret") {
				t.Errorf("output leaks the Redis password: %s", out.String())
			}
			t.Logf("%s", out.String())

			// --offline connects to nothing and reports only what Run does.
			out.Reset()
			runWith([]string{"--json", "--offline"}, envOf(env), true, &out, &errb)
			var off Report
			if err := json.Unmarshal(out.Bytes(), &off); err != nil {
				t.Fatal(err)
			}
			if got, want := ids(off.Findings), ids(Run(parse(t, env))); !slices.Equal(got, want) {
				t.Errorf("--offline: %v, Run: %v", got, want)
			}
		})
	}
}

// Main (the command) runs Live on the process environment; --offline turns it off.
func TestMainIsLive(t *testing.T) {
	t.Setenv("RAMPART_SECRET_KEY", goodKey)
	t.Setenv("RAMPART_ALLOWED_HOSTS", "example.com")
	t.Setenv("RAMPART_HSTS_PRELOAD", "true")
	t.Setenv("RAMPART_REDIS_URL", "redis://127.0.0.1:"+closedPort(t)+"/0")
	var out, errb bytes.Buffer
	if code := Main([]string{"--env-file", ""}, &out, &errb); code != 1 || !strings.Contains(out.String(), "RAMPART-W030") ||
		!strings.Contains(out.String(), "could not connect") {
		t.Errorf("Main: exit %d: %s", code, out.String())
	}
	out.Reset()
	// (The exit code is not compared: other RAMPART_* variables of the test's own environment,
	// such as RAMPART_CORPORA, are reported as unknown.)
	if Main([]string{"--env-file", "", "--offline"}, &out, &errb); strings.Contains(out.String(), "RAMPART-W030") {
		t.Errorf("Main --offline dialled Redis: %s", out.String())
	}
}

func TestMerge(t *testing.T) {
	f := func(ids ...string) []Finding {
		var out []Finding
		for _, id := range ids {
			out = append(out, Finding{ID: id})
		}
		return out
	}
	got := ids(merge(f("RAMPART-E001", "RAMPART-W001", "RAMPART-W030", "RAMPART-I001"), f("RAMPART-W030", "RAMPART-W030")))
	want := []string{"RAMPART-E001", "RAMPART-W001", "RAMPART-W030", "RAMPART-W030", "RAMPART-W030", "RAMPART-I001"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v", got)
	}
	if got := ids(merge(nil, f("RAMPART-W030"))); !slices.Equal(got, []string{"RAMPART-W030"}) {
		t.Errorf("into nothing: %v", got)
	}
}
