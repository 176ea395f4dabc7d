package check

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/settings"
)

const goodKey = "k3Q9vX2mP8rT5wY1zA7bC4dE6fG0hJ2kL5nM8pR1sU3vW6xZ9aB"

func goodEnv() map[string]string {
	return map[string]string{
		"RAMPART_SECRET_KEY":           goodKey,
		"RAMPART_SECRET_KEY_FALLBACKS": "old-" + goodKey,
		"RAMPART_ALLOWED_HOSTS":        "example.com,www.example.com",
		"RAMPART_TRUSTED_PROXIES":      "10.0.0.0/8",
		"RAMPART_TRUSTED_ORIGINS":      "https://admin.example.com",
		"RAMPART_HSTS_PRELOAD":         "true",
		"RAMPART_DATABASE_URL":         "postgres://app:pw@db.example.com/app?sslmode=verify-full",
		"RAMPART_REDIS_URL":            "rediss://:pw@cache.example.com:6380/0",
	}
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func parse(t *testing.T, env map[string]string) settings.Settings {
	t.Helper()
	s, err := settings.Parse(envOf(env), "")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return s
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestGoodProductionHasNoFindings(t *testing.T) {
	s := parse(t, goodEnv())
	if err := s.Validate(); err != nil {
		t.Fatalf("good env does not validate: %v", err)
	}
	if fs := Run(s); len(fs) != 0 {
		t.Fatalf("findings on a good env: %v", fs)
	}
	// Defaults alone (key and hosts set) give only the preload info finding.
	s = parse(t, map[string]string{"RAMPART_SECRET_KEY": goodKey, "RAMPART_ALLOWED_HOSTS": "example.com"})
	if got := ids(Run(s)); !slices.Equal(got, []string{"RAMPART-I001"}) {
		t.Fatalf("defaults: %v", got)
	}
}

// Each case changes the good env and must report exactly the listed IDs.
func TestEachCheckFires(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no key", map[string]string{"RAMPART_SECRET_KEY": ""}, []string{"RAMPART-E001"}},
		{"django-insecure key", map[string]string{"RAMPART_SECRET_KEY": "django-insecure-" + goodKey}, []string{"RAMPART-E001"}},
		{"weak fallbacks", map[string]string{"RAMPART_SECRET_KEY_FALLBACKS": "short," + goodKey + "," + strings.Repeat("ab", 30)}, []string{"RAMPART-E002", "RAMPART-E002"}},
		{"debug public", map[string]string{"RAMPART_DEBUG": "1", "RAMPART_ADDR": "0.0.0.0:8000"}, []string{"RAMPART-E003", "RAMPART-W001"}},
		{"insecure dev public", map[string]string{"RAMPART_INSECURE_DEV": "1", "RAMPART_ADDR": ":80", "RAMPART_HSTS_PRELOAD": "false"},
			[]string{"RAMPART-E004", "RAMPART-W002", "RAMPART-W003", "RAMPART-W006", "RAMPART-W007", "RAMPART-W008"}},
		{"no hosts", map[string]string{"RAMPART_ALLOWED_HOSTS": ""}, []string{"RAMPART-E005"}},
		{"samesite none insecure", map[string]string{"RAMPART_CSRF_COOKIE_SECURE": "0", "RAMPART_CSRF_COOKIE_SAMESITE": "None"}, []string{"RAMPART-E009", "RAMPART-E009", "RAMPART-W008"}},
		{"debug", map[string]string{"RAMPART_DEBUG": "1"}, []string{"RAMPART-W001"}},
		{"hsts off", map[string]string{"RAMPART_HSTS_SECONDS": "0"}, []string{"RAMPART-W003"}},
		{"hsts short", map[string]string{"RAMPART_HSTS_SECONDS": "3600", "RAMPART_HSTS_PRELOAD": "0"}, []string{"RAMPART-W004", "RAMPART-I001"}},
		{"no subdomains", map[string]string{"RAMPART_HSTS_INCLUDE_SUBDOMAINS": "0", "RAMPART_HSTS_PRELOAD": "0"}, []string{"RAMPART-W005", "RAMPART-I001"}},
		{"preload requirements", map[string]string{"RAMPART_HSTS_SECONDS": "20000000"}, []string{"RAMPART-W022"}},
		{"no redirect", map[string]string{"RAMPART_SSL_REDIRECT": "false"}, []string{"RAMPART-W006"}},
		{"session insecure", map[string]string{"RAMPART_SESSION_COOKIE_SECURE": "false", "RAMPART_SESSION_COOKIE_NAME": "sid"}, []string{"RAMPART-W007"}},
		{"csrf in session", map[string]string{"RAMPART_CSRF_COOKIE_SECURE": "false", "RAMPART_CSRF_COOKIE_NAME": "c", "RAMPART_CSRF_USE_SESSIONS": "1"}, nil},
		{"sameorigin", map[string]string{"RAMPART_X_FRAME_OPTIONS": "SAMEORIGIN"}, []string{"RAMPART-W009"}},
		{"any host", map[string]string{"RAMPART_ALLOWED_HOSTS": "*"}, []string{"RAMPART-W010"}},
		{"trust everyone", map[string]string{"RAMPART_TRUSTED_PROXIES": "0.0.0.0/0,::/0"}, []string{"RAMPART-W011", "RAMPART-W011"}},
		{"wide public", map[string]string{"RAMPART_TRUSTED_PROXIES": "8.0.0.0/8, 203.0.113.0/24, 2001:db8::/32, 10.1.0.0/16, 0.0.0.0/1"}, []string{"RAMPART-W012", "RAMPART-W012", "RAMPART-W012"}},
		{"report only", map[string]string{"RAMPART_CSP_REPORT_ONLY": "1"}, []string{"RAMPART-W013"}},
		{"http origin", map[string]string{"RAMPART_TRUSTED_ORIGINS": "http://other.example.com,http://localhost:3000"}, []string{"RAMPART-W014"}},
		{"db cleartext", map[string]string{"RAMPART_DATABASE_URL": "postgres://app:pw@db.example.com/app?sslmode=prefer"}, []string{"RAMPART-W015"}},
		{"db local cleartext ok", map[string]string{"RAMPART_DATABASE_URL": "postgres://app:pw@127.0.0.1/app"}, nil},
		{"redis db cleartext", map[string]string{"RAMPART_DATABASE_URL": "redis://:pw@cache.example.com:6379/0"}, []string{"RAMPART-W015"}},
		{"redis db tls", map[string]string{"RAMPART_DATABASE_URL": "rediss://:pw@cache.example.com:6380/0"}, nil},
		{"sqlite options", map[string]string{"RAMPART_DATABASE_URL": "sqlite://r.db?session_cache=off&session_write_delay=0"}, nil},
		{"memory store", map[string]string{"RAMPART_DATABASE_URL": "sqlite::memory:"}, []string{"RAMPART-W024"}},
		{"memory store in debug", map[string]string{"RAMPART_DATABASE_URL": "sqlite::memory:", "RAMPART_DEBUG": "1"}, []string{"RAMPART-W001"}},
		{"debug without hosts", map[string]string{"RAMPART_DEBUG": "1", "RAMPART_ALLOWED_HOSTS": ""}, []string{"RAMPART-W001", "RAMPART-W025"}},
		{"debug with local hosts set", map[string]string{"RAMPART_DEBUG": "1", "RAMPART_ALLOWED_HOSTS": "localhost"}, []string{"RAMPART-W001"}},
		{"redis cleartext", map[string]string{"RAMPART_REDIS_URL": "redis://:pw@cache.example.com:6379/0"}, []string{"RAMPART-W016"}},
		{"leaky referrer", map[string]string{"RAMPART_REFERRER_POLICY": "no-referrer-when-downgrade"}, []string{"RAMPART-W017"}},
		{"coop none", map[string]string{"RAMPART_CROSS_ORIGIN_OPENER_POLICY": "unsafe-none"}, []string{"RAMPART-W018"}},
		{"long sessions", map[string]string{"RAMPART_SESSION_IDLE_TIMEOUT": "2h", "RAMPART_SESSION_ABSOLUTE_TIMEOUT": "720h"}, []string{"RAMPART-W019", "RAMPART-W019"}},
		{"short passwords", map[string]string{"RAMPART_PASSWORD_MIN_LENGTH": "6"}, []string{"RAMPART-W020"}},
		{"samesite none", map[string]string{"RAMPART_SESSION_COOKIE_SAMESITE": "none"}, []string{"RAMPART-W021"}},
		{"redis persistence opt-out", map[string]string{"RAMPART_INSECURE_REDIS_NO_PERSISTENCE": "1"}, []string{"RAMPART-W030"}},
		{"redis persistence opt-out, redis database", map[string]string{"RAMPART_INSECURE_REDIS_NO_PERSISTENCE": "1",
			"RAMPART_DATABASE_URL": "rediss://:pw@cache.example.com:6380/0"}, []string{"RAMPART-W030"}},
		{"typo", map[string]string{"RAMPART_SSL_REDIRCT": "0"}, nil}, // not visible through a lookup func; see TestMainUnknown
		{"ephemeral key", map[string]string{"RAMPART_SECRET_KEY": "", "RAMPART_INSECURE_DEV": "1", "RAMPART_HSTS_PRELOAD": "0"},
			[]string{"RAMPART-W002", "RAMPART-W003", "RAMPART-W006", "RAMPART-W007", "RAMPART-W008", "RAMPART-I002"}},
		{"insecure dev without hosts", map[string]string{"RAMPART_INSECURE_DEV": "1", "RAMPART_ALLOWED_HOSTS": "", "RAMPART_HSTS_PRELOAD": "0"},
			[]string{"RAMPART-W002", "RAMPART-W003", "RAMPART-W006", "RAMPART-W007", "RAMPART-W008", "RAMPART-W025"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := goodEnv()
			for k, v := range tc.env {
				env[k] = v
			}
			got := ids(Run(parse(t, env)))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Settings built in Go (not through Parse) can hold values Parse would refuse.
func TestInvalidValuesInGoSettings(t *testing.T) {
	s := parse(t, goodEnv())
	s.ReferrerPolicy = "invalid-value"
	s.COOP = "nope"
	s.TrustedOrigins = []string{"example.com"}
	s.XFrameOptions = "ALLOWALL"
	s.DatabaseURL = "mysql://x/y"
	s.RedisURL = "http://x"
	want := []string{"RAMPART-E006", "RAMPART-E007", "RAMPART-E008", "RAMPART-E010", "RAMPART-E011", "RAMPART-E011"}
	if got := ids(Run(s)); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// The unsafe configuration of the acceptance test: every major kind of problem at once.
func TestUnsafeEnvListsExpectedIDs(t *testing.T) {
	env := map[string]string{
		"RAMPART_SECRET_KEY":          "django-insecure-changeme",
		"RAMPART_DEBUG":               "true",
		"RAMPART_INSECURE_DEV":        "1",
		"RAMPART_ADDR":                "0.0.0.0:8000",
		"RAMPART_ALLOWED_HOSTS":       "*",
		"RAMPART_TRUSTED_PROXIES":     "0.0.0.0/0",
		"RAMPART_CSP_REPORT_ONLY":     "1",
		"RAMPART_DATABASE_URL":        "postgres://app:secret@db.example.com/app",
		"RAMPART_REDIS_URL":           "redis://:secret@cache.example.com:6379/0",
		"RAMPART_X_FRAME_OPTIONS":     "SAMEORIGIN",
		"RAMPART_TRUSTED_ORIGINS":     "http://evil.example.net",
		"RAMPART_PASSWORD_MIN_LENGTH": "4",
	}
	got := ids(Run(parse(t, env)))
	for _, id := range []string{"RAMPART-E001", "RAMPART-E003", "RAMPART-E004", "RAMPART-W001", "RAMPART-W002", "RAMPART-W003",
		"RAMPART-W006", "RAMPART-W007", "RAMPART-W008", "RAMPART-W009", "RAMPART-W010", "RAMPART-W011", "RAMPART-W013",
		"RAMPART-W014", "RAMPART-W015", "RAMPART-W016", "RAMPART-W020"} {
		if !slices.Contains(got, id) {
			t.Errorf("missing %s in %v", id, got)
		}
	}
}

func TestMainCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, envOf(goodEnv()), &out, &errb); code != 0 {
		t.Fatalf("good env: exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "no issues") {
		t.Errorf("output %q", out.String())
	}

	bad := goodEnv()
	bad["RAMPART_DEBUG"] = "1"
	bad["RAMPART_SECRET_KEY"] = "short"
	out.Reset()
	if code := run([]string{"--json"}, envOf(bad), &out, &errb); code != 1 {
		t.Fatalf("bad env: exit %d", code)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("json: %v: %s", err, out.String())
	}
	if got := ids(rep.Findings); !slices.Equal(got, []string{"RAMPART-E001", "RAMPART-W001"}) || rep.Errors != 1 || rep.Warnings != 1 {
		t.Errorf("report %+v", rep)
	}
	if strings.Contains(out.String(), goodKey) || strings.Contains(out.String(), "short\"") {
		t.Error("output leaks a key")
	}

	// Unreadable settings: E000, exit 1.
	out.Reset()
	bad = goodEnv()
	bad["RAMPART_DEBUG"] = "maybe"
	if code := run(nil, envOf(bad), &out, &errb); code != 1 || !strings.Contains(out.String(), "RAMPART-E000") || !strings.Contains(out.String(), "RAMPART_DEBUG") {
		t.Errorf("unreadable: %q", out.String())
	}
	// Only info: exit 0.
	out.Reset()
	if code := run(nil, envOf(map[string]string{"RAMPART_SECRET_KEY": goodKey, "RAMPART_ALLOWED_HOSTS": "a.example"}), &out, &errb); code != 0 || !strings.Contains(out.String(), "RAMPART-I001") {
		t.Errorf("info only: %d %q", code, out.String())
	}
	// Usage errors.
	if code := run([]string{"--nope"}, envOf(goodEnv()), &out, &errb); code != 2 {
		t.Errorf("bad flag: %d", code)
	}
	if code := run([]string{"--env-file", "/nonexistent/.env"}, envOf(goodEnv()), &out, &errb); code != 2 {
		t.Errorf("missing env file: %d", code)
	}
}

func TestMainUnknownVariable(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/prod.env"
	content := "RAMPART_SECRET_KEY=" + goodKey + "\nRAMPART_ALLOWED_HOSTS=example.com\nRAMPART_HSTS_PRELOAD=1\nRAMPART_SSL_REDIRCT=0\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"--env-file", path}, envOf(nil), &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "RAMPART-W023") || !strings.Contains(out.String(), "RAMPART_SSL_REDIRCT") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}

// doc.go's table lists exactly the IDs the package can report.
func TestDocTableMatchesIDs(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^//\s+\| (RAMPART-[EWI]\d{3}) +\|`).FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
	}
	got := IDs()
	sort.Strings(got)
	sort.Strings(documented)
	if !slices.Equal(got, documented) {
		t.Fatalf("IDs %v\ndoc %v", got, documented)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("duplicate ID %s", id)
		}
		seen[id] = true
	}
}

// One unreadable value is reported on its own and does not hide the other findings: a weak key,
// debug mode and a bad value give E000 for the bad value, E001 and W001.
func TestUnreadableValueDoesNotHideTheRest(t *testing.T) {
	env := goodEnv()
	env["RAMPART_SECRET_KEY"] = "short"
	env["RAMPART_DEBUG"] = "1"
	env["RAMPART_HSTS_SECONDS"] = "a year"
	var out, errb bytes.Buffer
	if code := run([]string{"--json"}, envOf(env), &out, &errb); code != 1 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("json: %v: %s", err, out.String())
	}
	if got, want := ids(rep.Findings), []string{"RAMPART-E000", "RAMPART-E001", "RAMPART-W001"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v: %+v", got, want, rep.Findings)
	}
	if e := rep.Findings[0]; !strings.Contains(e.Message, "RAMPART_HSTS_SECONDS") || !strings.Contains(e.Message, `"a year"`) ||
		!strings.Contains(e.Message, "not a whole number") || strings.Contains(e.Hint, "nothing else") {
		t.Errorf("E000 finding does not name the variable and why: %+v", e)
	}
	if rep.Errors != 2 || rep.Warnings != 1 {
		t.Errorf("counts: %+v", rep)
	}
	if strings.Contains(out.String(), goodKey) || strings.Contains(out.String(), `"short"`) {
		t.Error("output leaks a key")
	}
}

// Each unreadable variable or .env line is its own E000; a finding about a variable whose value
// could not be read is not reported, since it would judge the default in its place.
func TestEachUnreadableVariable(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/prod.env"
	content := "RAMPART_HSTS_PRELOAD=1\n" +
		"RAMPART_CSP_REPORT_ONLY='1\n" + // unterminated quote
		"garbage line\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := goodEnv()
	env["RAMPART_ALLOWED_HOSTS"] = "https://example.com" // not a host name: would otherwise read as empty (E005)
	env["RAMPART_SECRET_KEY_FILE"] = dir + "/missing"    // unreadable: would otherwise read as no key (E001)
	delete(env, "RAMPART_SECRET_KEY")
	env["RAMPART_X_FRAME_OPTIONS"] = "ALLOWALL"
	env["RAMPART_SSL_REDIRECT"] = "0" // readable: still judged
	var out, errb bytes.Buffer
	if code := run([]string{"--json", "--env-file", path}, envOf(env), &out, &errb); code != 1 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("json: %v: %s", err, out.String())
	}
	wantE000 := []string{"line 2 (RAMPART_CSP_REPORT_ONLY)", "line 3: expected KEY=value", "RAMPART_SECRET_KEY_FILE",
		"RAMPART_ALLOWED_HOSTS", "RAMPART_X_FRAME_OPTIONS"}
	var rest []string
	for _, f := range rep.Findings {
		if f.ID != "RAMPART-E000" {
			rest = append(rest, f.ID)
			continue
		}
		if len(wantE000) == 0 || !strings.Contains(f.Message, wantE000[0]) {
			t.Errorf("unexpected E000 %q; want next %v", f.Message, wantE000)
			continue
		}
		wantE000 = wantE000[1:]
	}
	if len(wantE000) > 0 {
		t.Errorf("E000 missing for %v in %+v", wantE000, rep.Findings)
	}
	if !slices.Equal(rest, []string{"RAMPART-W006"}) {
		t.Errorf("other findings %v, want [RAMPART-W006]", rest)
	}

	// An .env file that cannot be read at all still stops the check, with one E000.
	out.Reset()
	if code := run([]string{"--env-file", dir}, envOf(goodEnv()), &out, &errb); code != 1 ||
		!strings.Contains(out.String(), "RAMPART-E000") || !strings.Contains(out.String(), "nothing else was checked") {
		t.Errorf("unreadable .env: exit %d %q", code, out.String())
	}
}

func TestMentions(t *testing.T) {
	for _, tc := range []struct {
		msg, name string
		want      bool
	}{
		{"RAMPART_SECRET_KEY is empty", "RAMPART_SECRET_KEY", true},
		{"RAMPART_SECRET_KEY_FALLBACKS[0] is short", "RAMPART_SECRET_KEY", false},
		{"RAMPART_SECRET_KEY_FALLBACKS[0] is short", "RAMPART_SECRET_KEY_FALLBACKS", true},
		{"RAMPART_LOGIN_RATE 5/m", "RAMPART_RATE", false},
		{"x RAMPART_RATE=5/m", "RAMPART_RATE", true},
		{"RAMPART_CSRF_COOKIE_SAMESITE=None requires Secure", "RAMPART_CSRF_COOKIE_SAMESITE", true},
		{"MY_RAMPART_DEBUG is on", "RAMPART_DEBUG", false},
	} {
		if got := mentions(tc.msg, tc.name); got != tc.want {
			t.Errorf("mentions(%q, %q) = %v", tc.msg, tc.name, got)
		}
	}
}
