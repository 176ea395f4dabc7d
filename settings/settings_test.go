package settings

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/clientip"
)

const goodKey = "k3Q9vX2mP8rT5wY1zA7bC4dE6fG0hJ2kL5nM8pR1sU3vW6xZ9aB"

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func prodEnv() map[string]string {
	return map[string]string{
		"RAMPART_SECRET_KEY":    goodKey,
		"RAMPART_ALLOWED_HOSTS": "example.com,.example.org",
	}
}

func TestProductionDefaults(t *testing.T) {
	s, err := LoadFrom(envOf(prodEnv()), "")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Debug", s.Debug, false},
		{"InsecureDev", s.InsecureDev, false},
		{"Addr", s.Addr, "127.0.0.1:8000"},
		{"HSTSSeconds", s.HSTSSeconds, 31536000},
		{"HSTSIncludeSubdomains", s.HSTSIncludeSubdomains, true},
		{"HSTSPreload", s.HSTSPreload, false},
		{"SSLRedirect", s.SSLRedirect, true},
		{"ReferrerPolicy", s.ReferrerPolicy, "same-origin"},
		{"COOP", s.COOP, "same-origin"},
		{"CORP", s.CORP, "same-origin"},
		{"XFrameOptions", s.XFrameOptions, "DENY"},
		{"CSPReportOnly", s.CSPReportOnly, false},
		{"CSPReportURI", s.CSPReportURI, "/csp-report"},
		{"SessionCookieName", s.SessionCookieName, "__Host-rampart_session"},
		{"SessionCookieSecure", s.SessionCookieSecure, true},
		{"SessionCookieSameSite", s.SessionCookieSameSite, http.SameSiteLaxMode},
		{"SessionIdleTimeout", s.SessionIdleTimeout, 30 * time.Minute},
		{"SessionAbsoluteTimeout", s.SessionAbsoluteTimeout, 12 * time.Hour},
		{"CSRFCookieName", s.CSRFCookieName, "__Host-rampart_csrf"},
		{"CSRFCookieSecure", s.CSRFCookieSecure, true},
		{"PasswordMinLength", s.PasswordMinLength, 12},
		{"LockoutLimit", s.LockoutLimit, 5},
		{"LockoutCooloff", s.LockoutCooloff, 15 * time.Minute},
		{"LoginRate", s.LoginRate, Rate{N: 10, Per: time.Minute}},
		{"DatabaseURL", s.DatabaseURL.Reveal(), "sqlite://rampart.db"},
		{"RedisURL", s.RedisURL.Reveal(), ""},
		{"ReadHeaderTimeout", s.ReadHeaderTimeout, 5 * time.Second},
		{"MaxBodyBytes", s.MaxBodyBytes, int64(2621440)},
		{"AllowedHosts", strings.Join(s.AllowedHosts, ","), "example.com,.example.org"},
		{"SecretKeyEphemeral", s.SecretKeyEphemeral, false},
		{"ProxyHeader", s.ProxyHeader, clientip.XForwarded},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestInsecureDevDefaults(t *testing.T) {
	s, err := LoadFrom(envOf(map[string]string{"RAMPART_INSECURE_DEV": "1"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.SSLRedirect || s.HSTSSeconds != 0 || s.SessionCookieSecure || s.CSRFCookieSecure ||
		strings.HasPrefix(s.SessionCookieName, "__Host-") || strings.HasPrefix(s.CSRFCookieName, "__Host-") {
		t.Errorf("insecure dev kept production transport: %+v", s.Redacted())
	}
	if !s.SecretKeyEphemeral || len(s.SecretKey.Reveal()) < 50 {
		t.Error("no ephemeral key in dev mode")
	}
	if strings.Join(s.AllowedHosts, ",") != ".localhost,127.0.0.1,[::1]" {
		t.Errorf("AllowedHosts = %v", s.AllowedHosts)
	}
	// Debug alone keeps production transport settings.
	d, err := LoadFrom(envOf(map[string]string{"RAMPART_DEBUG": "true"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if !d.SSLRedirect || !d.SessionCookieSecure || d.HSTSSeconds == 0 {
		t.Error("debug mode relaxed transport security")
	}
}

func TestValidateProduction(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // substring; "" means valid
	}{
		{"good", nil, ""},
		{"missing key", map[string]string{"RAMPART_SECRET_KEY": ""}, "RAMPART_SECRET_KEY: is empty"},
		{"short key", map[string]string{"RAMPART_SECRET_KEY": goodKey[:49]}, "shorter than 50"},
		{"low unique", map[string]string{"RAMPART_SECRET_KEY": strings.Repeat("abcd", 20)}, "fewer than 5 distinct"},
		{"django-insecure", map[string]string{"RAMPART_SECRET_KEY": "django-insecure-" + goodKey}, "insecure prefix"},
		{"weak fallback", map[string]string{"RAMPART_SECRET_KEY_FALLBACKS": goodKey + ",short"}, "RAMPART_SECRET_KEY_FALLBACKS: entry 1"},
		{"no hosts", map[string]string{"RAMPART_ALLOWED_HOSTS": ""}, "RAMPART_ALLOWED_HOSTS: must not be empty"},
		{"debug public", map[string]string{"RAMPART_DEBUG": "1", "RAMPART_ADDR": "0.0.0.0:8000"}, "RAMPART_DEBUG: debug mode"},
		{"debug all interfaces", map[string]string{"RAMPART_DEBUG": "1", "RAMPART_ADDR": ":8000"}, "RAMPART_DEBUG"},
		{"debug loopback ok", map[string]string{"RAMPART_DEBUG": "1", "RAMPART_ADDR": "[::1]:8000", "RAMPART_SECRET_KEY": "short"}, ""},
		{"insecure dev public", map[string]string{"RAMPART_INSECURE_DEV": "1", "RAMPART_ADDR": "192.0.2.1:80"}, "RAMPART_INSECURE_DEV"},
		{"host cookie not secure", map[string]string{"RAMPART_SESSION_COOKIE_SECURE": "false"}, "RAMPART_SESSION_COOKIE_SECURE"},
		{"samesite none not secure", map[string]string{"RAMPART_CSRF_COOKIE_SECURE": "0", "RAMPART_CSRF_COOKIE_NAME": "c", "RAMPART_CSRF_COOKIE_SAMESITE": "none"}, "RAMPART_CSRF_COOKIE_SAMESITE"},
		{"idle above absolute", map[string]string{"RAMPART_SESSION_IDLE_TIMEOUT": "13h"}, "RAMPART_SESSION_IDLE_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := prodEnv()
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := LoadFrom(envOf(env), "")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			// Never echo the key itself in the error.
			if strings.Contains(err.Error(), goodKey) {
				t.Fatal("error message leaks the key")
			}
		})
	}
}

func TestParseErrorsNameVariable(t *testing.T) {
	tests := map[string]string{
		"RAMPART_DEBUG":                      "maybe",
		"RAMPART_HSTS_SECONDS":               "a year",
		"RAMPART_SESSION_IDLE_TIMEOUT":       "forever",
		"RAMPART_TRUSTED_PROXIES":            "10.0.0.0/33",
		"RAMPART_TRUSTED_ORIGINS":            "example.com",
		"RAMPART_DATABASE_URL":               "mysql://u:p@h/db",
		"RAMPART_REDIS_URL":                  "http://cache",
		"RAMPART_REFERRER_POLICY":            "invalid-value",
		"RAMPART_CROSS_ORIGIN_OPENER_POLICY": "allow-all",
		"RAMPART_X_FRAME_OPTIONS":            "ALLOW-FROM x",
		"RAMPART_ADDR":                       "8000",
		"RAMPART_ALLOWED_HOSTS":              "https://example.com",
		"RAMPART_LOGIN_RATE":                 "ten per minute",
		"RAMPART_PASSWORD_MIN_LENGTH":        "0",
		"RAMPART_SESSION_COOKIE_SAMESITE":    "sometimes",
		"RAMPART_CSP_REPORT_URI":             "http://x/report",
		"RAMPART_PROXY_HEADER":               "x-real-ip",
		"RAMPART_MAX_BODY_BYTES":             "-1",
		"RAMPART_SESSION_COOKIE_NAME":        "bad name",
	}
	for name, val := range tests {
		env := prodEnv()
		env[name] = val
		_, err := Parse(envOf(env), "")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v does not name the variable", name, val, err)
		}
	}
}

func TestTypedValues(t *testing.T) {
	env := prodEnv()
	env["RAMPART_TRUSTED_PROXIES"] = "10.0.0.0/8, 192.0.2.7"
	env["RAMPART_TRUSTED_ORIGINS"] = "https://Example.com, https://*.example.net:8443"
	env["RAMPART_REFERRER_POLICY"] = "strict-origin, origin"
	env["RAMPART_X_FRAME_OPTIONS"] = "sameorigin"
	env["RAMPART_SESSION_IDLE_TIMEOUT"] = "900"
	env["RAMPART_LOGIN_RATE"] = "100/5m"
	env["RAMPART_DATABASE_URL"] = "postgres://u:p@db:5432/app?sslmode=verify-full"
	env["RAMPART_PROXY_HEADER"] = "Forwarded"
	env["RAMPART_HSTS_PRELOAD"] = "ON"
	s, err := LoadFrom(envOf(env), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.TrustedProxies) != 2 || s.TrustedProxies[1].String() != "192.0.2.7/32" {
		t.Errorf("TrustedProxies = %v", s.TrustedProxies)
	}
	if strings.Join(s.TrustedOrigins, " ") != "https://example.com https://*.example.net:8443" {
		t.Errorf("TrustedOrigins = %v", s.TrustedOrigins)
	}
	if s.ReferrerPolicy != "strict-origin,origin" || s.XFrameOptions != "SAMEORIGIN" {
		t.Errorf("policies %q %q", s.ReferrerPolicy, s.XFrameOptions)
	}
	if s.SessionIdleTimeout != 15*time.Minute || s.LoginRate != (Rate{N: 100, Per: 5 * time.Minute}) {
		t.Errorf("durations %v %v", s.SessionIdleTimeout, s.LoginRate)
	}
	if s.ProxyHeader != clientip.Forwarded || !s.HSTSPreload {
		t.Error("enum/bool not parsed")
	}
}

func TestRate(t *testing.T) {
	for in, want := range map[string]Rate{
		"5/s": {N: 5, Per: time.Second}, "10/m": {N: 10, Per: time.Minute}, "3/h": {N: 3, Per: time.Hour}, "1000/d": {N: 1000, Per: 24 * time.Hour},
		"100/5m": {N: 100, Per: 5 * time.Minute}, "7/30": {N: 7, Per: 30 * time.Second}, "2/7d": {N: 2, Per: 7 * 24 * time.Hour},
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v", in, got, err)
		}
		if back, err := ParseRate(got.String()); err != nil || back != got {
			t.Errorf("String round trip %q: %v %v", got.String(), back, err)
		}
	}
	// One syntax with package ratelimit: no Go durations ("1h30m" is "90m"), at most 366 days.
	for _, in := range []string{"", "5", "0/m", "-1/m", "5/x", "5/0", "5/1ms", "5/1h30m", "1/400d"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

func TestFileVariantsAndDotenv(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(goodKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dotenv := filepath.Join(dir, ".env")
	content := "# comment\n" +
		"export RAMPART_ALLOWED_HOSTS=file.example\n" +
		"RAMPART_ADDR='127.0.0.1:9000' # trailing comment\n" +
		"RAMPART_CSP_REPORT_URI=\"/r#x\"\n" +
		"RAMPART_DEBUG=false # off\n" +
		"RAMPART_TYPO=1\n"
	if err := os.WriteFile(dotenv, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"RAMPART_SECRET_KEY_FILE": keyFile,
		"RAMPART_ALLOWED_HOSTS":   "env.example", // the environment wins over the file
	}
	s, err := LoadFrom(envOf(env), dotenv)
	if err != nil {
		t.Fatal(err)
	}
	if s.SecretKey.Reveal() != goodKey {
		t.Errorf("key from file = %q", s.SecretKey.Reveal())
	}
	if s.AllowedHosts[0] != "env.example" || s.Addr != "127.0.0.1:9000" || s.CSPReportURI != "/r#x" {
		t.Errorf("got hosts %v addr %q uri %q", s.AllowedHosts, s.Addr, s.CSPReportURI)
	}
	if len(s.Unknown) != 1 || s.Unknown[0] != "RAMPART_TYPO" {
		t.Errorf("Unknown = %v", s.Unknown)
	}

	// NAME and NAME_FILE together are an error, wherever each comes from.
	env["RAMPART_SECRET_KEY"] = goodKey
	if _, err := LoadFrom(envOf(env), dotenv); err == nil || !strings.Contains(err.Error(), "RAMPART_SECRET_KEY_FILE") {
		t.Errorf("both set: %v", err)
	}
	delete(env, "RAMPART_SECRET_KEY")
	env["RAMPART_SECRET_KEY_FILE"] = filepath.Join(dir, "missing")
	if _, err := LoadFrom(envOf(env), dotenv); err == nil || !strings.Contains(err.Error(), "RAMPART_SECRET_KEY_FILE") {
		t.Errorf("missing file: %v", err)
	}
	// A missing .env is fine.
	if _, err := LoadFrom(envOf(prodEnv()), filepath.Join(dir, "nope.env")); err != nil {
		t.Errorf("missing .env: %v", err)
	}
}

func TestDotenvSyntax(t *testing.T) {
	good := map[string]string{
		"A=1":                 "1",
		"A = spaced ":         "spaced",
		"A='raw \\n #x'":      "raw \\n #x",
		`A="esc\n\t\"q\""`:    "esc\n\t\"q\"",
		"A=x#notcomment":      "x#notcomment",
		"A=":                  "",
		"export A=e":          "e",
		"\ufeffA=bom":         "bom",
		`A="has # hash" # c`:  "has # hash",
		"A=a=b":               "a=b",
		"A=value\t# tabbed c": "value",
	}
	for line, want := range good {
		m, err := parseDotenv([]byte(line + "\n"))
		if err != nil || m["A"] != want {
			t.Errorf("%q: got %q, %v; want %q", line, m["A"], err, want)
		}
	}
	for _, line := range []string{"A", "1A=x", "A-B=x", "A='open", `A="open`, "A='x' junk", "=x"} {
		if _, err := parseDotenv([]byte("OK=1\n" + line + "\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: error %v, want one naming line 2", line, err)
		}
	}
	// Read leniently, a bad line is reported and its variable is unset unless a later line sets it
	// again (the last line wins, as it would have).
	for in, want := range map[string]string{
		"A=1\nA='open\nB=2\n": "B=2",
		"A='open\nA=1\nB=2\n": "A=1 B=2",
		"A\nB=2\n":            "B=2",
	} {
		m, bad := parseDotenvLines([]byte(in))
		var got []string
		for k, v := range m {
			got = append(got, k+"="+v)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != want || len(bad) != 1 {
			t.Errorf("%q: got %v and %d line errors, want %s and 1", in, got, len(bad), want)
		}
	}
}

func TestRedaction(t *testing.T) {
	env := prodEnv()
	env["RAMPART_SECRET_KEY_FALLBACKS"] = "old-" + goodKey
	env["RAMPART_DATABASE_URL"] = "postgres://app:hunter2pass@db.internal/app?sslmode=require"
	env["RAMPART_REDIS_URL"] = "rediss://:redispass99@cache:6380/0"
	s, err := LoadFrom(envOf(env), "")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{goodKey, "hunter2pass", "redispass99"}
	jsonBytes, _ := json.Marshal(s)
	var logBuf strings.Builder
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("settings", "s", s, "key", s.SecretKey)
	outputs := map[string]string{
		"%v":       fmt.Sprintf("%v", s),
		"%+v":      fmt.Sprintf("%+v", s),
		"%#v":      fmt.Sprintf("%#v", s),
		"%s key":   fmt.Sprintf("%s %v %q %#v", s.SecretKey, s.SecretKey, s.SecretKey, s.SecretKey),
		"json":     string(jsonBytes),
		"slog":     logBuf.String(),
		"Redacted": fmt.Sprint(s.Redacted()),
	}
	for name, out := range outputs {
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Errorf("%s output contains secret %q", name, sec)
			}
		}
	}
	red := map[string]string{}
	for _, f := range s.Redacted() {
		red[f.Name] = f.Value
	}
	if red["RAMPART_DATABASE_URL"] != "postgres://app:"+Mask+"@db.internal/app?sslmode=require" {
		t.Errorf("db url shown as %q", red["RAMPART_DATABASE_URL"])
	}
	if red["RAMPART_SECRET_KEY"] != Mask || red["RAMPART_SECRET_KEY_FALLBACKS"] != Mask || red["RAMPART_ADDR"] != "127.0.0.1:8000" {
		t.Errorf("redacted = %v", red)
	}
	sv := strings.Join(s.SecretValues(), "\n")
	for _, sec := range secrets {
		if !strings.Contains(sv, sec) {
			t.Errorf("SecretValues misses %q", sec)
		}
	}
}

func TestDatabaseURL(t *testing.T) {
	tests := []struct {
		in   string
		want Database
	}{
		{"sqlite://rampart.db", Database{Driver: "sqlite", DSN: "rampart.db"}},
		{"sqlite:///var/lib/r.db", Database{Driver: "sqlite", DSN: "/var/lib/r.db"}},
		{"sqlite::memory:", Database{Driver: "sqlite", DSN: ":memory:"}},
		{"file:x.db", Database{Driver: "sqlite", DSN: "x.db"}},
		{"file:///abs/x.db", Database{Driver: "sqlite", DSN: "/abs/x.db"}},
		{"sqlite://r.db?session_cache=off", Database{Driver: "sqlite", DSN: "r.db", SQLiteNoSessionCache: true}},
		{"sqlite://r.db?session_write_delay=50ms", Database{Driver: "sqlite", DSN: "r.db", SQLiteWriteDelay: 50 * time.Millisecond}},
		{"r.db?session_write_delay=0", Database{Driver: "sqlite", DSN: "r.db", SQLiteSyncWrites: true}},
		{"r.db?session_write_delay=0s&session_cache=on", Database{Driver: "sqlite", DSN: "r.db", SQLiteSyncWrites: true}},
		{"redis://:pw@cache.internal:6379/2", Database{Driver: "redis", DSN: "redis://:pw@cache.internal:6379/2", Host: "cache.internal", Password: true}},
		{"rediss://127.0.0.1:6380", Database{Driver: "redis", DSN: "rediss://127.0.0.1:6380", Host: "127.0.0.1", TLS: true}},
		{"./local.db", Database{Driver: "sqlite", DSN: "./local.db"}},
		{"/abs/x.db", Database{Driver: "sqlite", DSN: "/abs/x.db"}},
		{"postgres://u:p@db.example.com:5432/app", Database{Driver: "postgres", DSN: "postgres://u:p@db.example.com:5432/app", Host: "db.example.com", Password: true}},
		{"postgresql://u@127.0.0.1/app?sslmode=require", Database{Driver: "postgres", DSN: "postgresql://u@127.0.0.1/app?sslmode=require", Host: "127.0.0.1", TLS: true}},
		{"postgres:///app?host=/var/run/postgresql", Database{Driver: "postgres", DSN: "postgres:///app?host=/var/run/postgresql"}},
	}
	for _, tc := range tests {
		got, err := ParseDatabaseURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
	// SQLite's own options are refused (the store sets its pragmas); so are unknown values.
	for _, bad := range []string{"", "sqlite://", "sqlite:", "mysql://x/y", "postgres://%zz",
		"sqlite://data/r.db?_pragma=busy_timeout(5000)", "file:x.db?mode=rwc", "r.db?session_cache=no",
		"r.db?session_write_delay=-1s", "r.db?session_write_delay=soon", "r.db#frag", "sqlite::memory:?session_cache=off",
		"r.db?x=%zz"} {
		if _, err := ParseDatabaseURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8000": true, "[::1]:80": true, "localhost:1": true, "127.9.9.9:1": true, "app.localhost:1": true,
		":8000": false, "0.0.0.0:80": false, "[::]:80": false, "192.0.2.1:80": false, "example.com:80": false, "junk": false,
	} {
		if got := IsLoopbackAddr(addr); got != want {
			t.Errorf("IsLoopbackAddr(%q) = %v", addr, got)
		}
	}
}

// Every variable is documented in doc.go's table, and the table lists no variable that does not exist.
func TestDocTableMatchesVariables(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^//\s+\| (RAMPART_[A-Z_]+)\s+\|`).FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	for _, v := range variables {
		if !documented[Prefix+v.name] {
			t.Errorf("%s%s missing from doc.go table", Prefix, v.name)
		}
		delete(documented, Prefix+v.name)
	}
	for n := range documented {
		t.Errorf("doc.go documents unknown variable %s", n)
	}
}

func FuzzDotenv(f *testing.F) {
	f.Add([]byte("A=1\nexport B='x'\nC=\"y\\n\" # c\n"))
	f.Add([]byte("\ufeffA=\"unterminated"))
	f.Add([]byte("A=1\nA='open\nB\nC=2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseDotenv(b)
		if err == nil {
			for k := range m {
				if !validName(k) {
					t.Fatalf("invalid key %q accepted", k)
				}
			}
		}
		// The lenient reading keeps only valid keys, reports a line error exactly when the
		// strict one fails, and agrees with it on a good file.
		lm, bad := parseDotenvLines(b)
		if (len(bad) > 0) != (err != nil) {
			t.Fatalf("strict error %v but %d line errors", err, len(bad))
		}
		for k, v := range lm {
			if !validName(k) {
				t.Fatalf("invalid key %q kept", k)
			}
			if err == nil && m[k] != v {
				t.Fatalf("%s: lenient %q, strict %q", k, v, m[k])
			}
		}
		for _, l := range bad {
			if l.err == nil || (l.key != "" && !validName(l.key)) {
				t.Fatalf("bad line error %+v", l)
			}
		}
	})
}

func FuzzParseValues(f *testing.F) {
	f.Add("10/m")
	f.Add("https://*.example.com")
	f.Add("postgres://u:p@h/db")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseRate(s)
		_, _ = ParseDuration(s)
		_, _ = ParseOrigins(s)
		_, _ = ParseAllowedHosts(s)
		_, _ = ParseDatabaseURL(s)
		_, _ = ParseRedisURL(s)
		_ = RedactURL(s)
		_, _ = NormalizeReferrerPolicy(s)
	})
}

// Every default parses in every mode: ParsePartial falls back to them for a bad value.
func TestDefaultsParse(t *testing.T) {
	for _, mode := range []Settings{{}, {Debug: true}, {InsecureDev: true}, {Debug: true, InsecureDev: true}} {
		for _, v := range variables {
			s := mode
			if err := v.set(&s, v.def(&s)); err != nil {
				t.Errorf("debug=%v insecure_dev=%v: default of %s%s: %v", mode.Debug, mode.InsecureDev, Prefix, v.name, err)
			}
		}
	}
}

func TestParsePartial(t *testing.T) {
	dir := t.TempDir()
	dotenv := filepath.Join(dir, ".env")
	content := "RAMPART_ALLOWED_HOSTS=file.example\n" +
		"RAMPART_CSP_REPORT_ONLY=\"1\n" + // unterminated: the variable is lost
		"not a line\n" +
		"RAMPART_ADDR='127.0.0.1:1' junk\n" + // bad, but the environment sets RAMPART_ADDR anyway
		"OTHER_APP=\"x\n" + // bad, but not a setting
		"RAMPART_LOCKOUT_LIMIT=7\n"
	if err := os.WriteFile(dotenv, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"RAMPART_DEBUG":            "1",
		"RAMPART_SECRET_KEY":       "short",
		"RAMPART_ADDR":             "127.0.0.1:9000",
		"RAMPART_HSTS_SECONDS":     "a year",
		"RAMPART_X_FRAME_OPTIONS":  "ALLOWALL",
		"RAMPART_TOTP_ISSUER_FILE": filepath.Join(dir, "missing"),
	}
	s, bad, err := ParsePartial(envOf(env), dotenv)
	if err != nil {
		t.Fatal(err)
	}
	type got struct{ variable, msg string }
	want := []got{
		{"RAMPART_CSP_REPORT_ONLY", "line 2 (RAMPART_CSP_REPORT_ONLY)"}, // the variable is lost
		{"", "line 3: expected KEY=value"},
		{"", "line 4 (RAMPART_ADDR)"},
		{"", "line 5 (OTHER_APP)"},
		{"RAMPART_HSTS_SECONDS", "RAMPART_HSTS_SECONDS: \"a year\""},
		{"RAMPART_X_FRAME_OPTIONS", "RAMPART_X_FRAME_OPTIONS: \"ALLOWALL\""},
		{"RAMPART_TOTP_ISSUER", "RAMPART_TOTP_ISSUER_FILE: "},
	}
	if len(bad) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(bad), len(want), bad)
	}
	for i, w := range want {
		if bad[i].Variable != w.variable || !strings.Contains(bad[i].Error(), w.msg) {
			t.Errorf("error %d = {%q %q}, want {%q ...%q...}", i, bad[i].Variable, bad[i].Error(), w.variable, w.msg)
		}
	}
	// What parses is kept; what does not is at its default, as if unset.
	if !s.Debug || s.SecretKey.Reveal() != "short" || s.Addr != "127.0.0.1:9000" || s.LockoutLimit != 7 ||
		strings.Join(s.AllowedHosts, ",") != "file.example" || s.AllowedHostsLocalDefault {
		t.Errorf("parsed values lost: %v", s)
	}
	if s.HSTSSeconds != 31536000 || s.XFrameOptions != "DENY" || s.TOTPIssuer != "rampart" || s.CSPReportOnly {
		t.Errorf("bad values not at their defaults: %v", s)
	}

	// The strict readings refuse the same input and name every problem.
	for name, load := range map[string]func(func(string) (string, bool), string) (Settings, error){"Parse": Parse, "LoadFrom": LoadFrom} {
		_, err := load(envOf(env), dotenv)
		if err == nil {
			t.Fatalf("%s accepted bad values", name)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w.msg) {
				t.Errorf("%s error does not name %q: %v", name, w.msg, err)
			}
		}
	}

	// A .env file that exists but cannot be read is the one error that stops everything.
	if _, _, err := ParsePartial(envOf(env), dir); err == nil {
		t.Error("a directory as .env file was accepted")
	}
}

func TestAllowedHostsLocalDefault(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{"RAMPART_DEBUG": "1"}, true},
		{map[string]string{"RAMPART_INSECURE_DEV": "1"}, true},
		{map[string]string{"RAMPART_DEBUG": "1", "RAMPART_ALLOWED_HOSTS": ""}, true}, // empty counts as unset
		{map[string]string{"RAMPART_DEBUG": "1", "RAMPART_ALLOWED_HOSTS": "example.com"}, false},
		{map[string]string{"RAMPART_DEBUG": "1", "RAMPART_ALLOWED_HOSTS": "localhost"}, false},
		{map[string]string{}, false}, // production: the list is empty, not defaulted
	} {
		s, err := Parse(envOf(tc.env), "")
		if err != nil {
			t.Fatal(err)
		}
		if s.AllowedHostsLocalDefault != tc.want {
			t.Errorf("%v: AllowedHostsLocalDefault = %v, want %v", tc.env, s.AllowedHostsLocalDefault, tc.want)
		}
	}
}

// TestMetricsAddr: off by default, a bare port means loopback, a named interface is kept,
// and a malformed address is refused.
func TestMetricsAddr(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "", ""},
		{":9464", "127.0.0.1:9464", ""},
		{"[::1]:9464", "[::1]:9464", ""},
		{"0.0.0.0:9464", "0.0.0.0:9464", ""},
		{"9464", "", "RAMPART_METRICS_ADDR"},
		{"host:99999", "", "RAMPART_METRICS_ADDR"},
	} {
		env := map[string]string{"RAMPART_DEBUG": "1"}
		if tc.in != "" {
			env["RAMPART_METRICS_ADDR"] = tc.in
		}
		s, err := LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || s.MetricsAddr != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, s.MetricsAddr, err, tc.want)
		}
	}
}
