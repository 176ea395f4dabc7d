package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/metrics"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
)

// scrape returns m's exposition text.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	return rec.Body.String()
}

// value is the sample of series (name{labels}) in text, or -1 when absent.
func value(text, series string) float64 {
	for line := range strings.SplitSeq(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}

func TestEventsAreCountedWithBoundedLabels(t *testing.T) {
	m := metrics.NewWith(metrics.Options{NoRuntimeMetrics: true})
	events := []store.Event{
		{Kind: audit.KindCSRFReject, Detail: "CSRF token from POST has incorrect length."},
		{Kind: audit.KindCSRFReject, Detail: "CSRF cookie not set."},
		{Kind: audit.KindCSRFReject, Detail: "Origin checking failed - https://evil.example does not match any trusted origins."},
		{Kind: audit.KindCSRFReject, Detail: "Referer checking failed - CSRF cookie not set. does not match any trusted origins."},
		{Kind: audit.KindCSRFReject, Detail: "attacker text {evil=\"x\"}"},
		{Kind: audit.KindLoginFailure, Username: "mallory\" 1\nrampart_fake 9"},
		{Kind: audit.KindLoginSuccess},
		{Kind: audit.KindLockout, Detail: "username+ip,ip"},
		{Kind: audit.KindLockout, Detail: "bogus,scope"},
		{Kind: audit.KindRateLimited, Detail: "/accounts/login"},
		{Kind: audit.Kind2FAFailure, Detail: "throttled"},
		{Kind: audit.Kind2FAFailure, Detail: "twofactor: code not valid"},
		{Kind: audit.KindCSPReport, Detail: "script-src-elem"},
		{Kind: "made.up.kind"},
	}
	for _, e := range events {
		m.ObserveEvent(e)
	}
	m.ObserveCSPReport("style-src 'self'")
	m.ObserveCSPReport("x-invented-" + strings.Repeat("a", 100))
	m.ObserveRequestLimited()
	m.ObserveLockoutRefusal("username")
	m.ObserveLockoutRefusal("unavailable")
	m.ObserveLockoutRefusal("<script>")
	var nilM *metrics.Metrics
	nilM.ObserveEvent(events[0]) // counts nothing, does not panic

	text := scrape(t, m)
	for series, want := range map[string]float64{
		`rampart_csrf_rejections_total{reason="token_length"}`:          1,
		`rampart_csrf_rejections_total{reason="no_cookie"}`:             1,
		`rampart_csrf_rejections_total{reason="bad_origin"}`:            1,
		`rampart_csrf_rejections_total{reason="other"}`:                 1,
		`rampart_csrf_rejections_total{reason="token_missing"}`:         0,
		`rampart_logins_total{result="failure"}`:                        1,
		`rampart_logins_total{result="success"}`:                        1,
		`rampart_lockouts_total{scope="username+ip,ip"}`:                1,
		`rampart_lockouts_total{scope="other"}`:                         1,
		`rampart_lockout_refusals_total{reason="username"}`:             1,
		`rampart_lockout_refusals_total{reason="unavailable"}`:          1,
		`rampart_lockout_refusals_total{reason="other"}`:                1,
		`rampart_rate_limited_total{limiter="login"}`:                   1,
		`rampart_rate_limited_total{limiter="request"}`:                 1,
		`rampart_twofactor_failures_total{reason="throttled"}`:          1,
		`rampart_twofactor_failures_total{reason="invalid"}`:            1,
		`rampart_csp_reports_total{directive="script-src-elem"}`:        1,
		`rampart_csp_reports_total{directive="style-src"}`:              1,
		`rampart_csp_reports_total{directive="unknown"}`:                1,
		`rampart_security_events_total{kind="csrf.reject"}`:             5,
		`rampart_security_events_total{kind="other"}`:                   1,
		`rampart_security_events_total{kind="csp.report"}`:              1,
		`rampart_security_events_total{kind="login.failure"}`:           1,
		`rampart_security_events_total{kind="2fa.failure"}`:             2,
		`rampart_security_events_total{kind="ratelimit"}`:               1,
		`rampart_security_events_total{kind="lockout"}`:                 2,
		`rampart_security_events_total{kind="login.success"}`:           1,
		`rampart_lockout_refusals_total{reason="username+ip"}`:          -1, // never seen: no series
		`rampart_security_events_total{kind="made.up.kind"}`:            -1,
		`rampart_csp_reports_total{directive="x-invented-aaaaaaaaaaa"}`: -1,
	} {
		if got := value(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, bad := range []string{"mallory", "rampart_fake", "evil", "<script>", "accounts/login"} {
		if strings.Contains(text, bad) {
			t.Errorf("attacker text %q reached the exposition", bad)
		}
	}
}

// TestStackFeedsMetrics: rampart.New with the Observer counts a CSRF rejection and a
// request refused by the rate limit, end to end through Stack.Handler.
func TestStackFeedsMetrics(t *testing.T) {
	env := map[string]string{
		"RAMPART_SECRET_KEY": "rampart-test-key-metrics-0123456789abcdefghijklmnopqrstuvwxyz", "RAMPART_INSECURE_DEV": "1",
		"RAMPART_ALLOWED_HOSTS": "127.0.0.1", "RAMPART_DATABASE_URL": "sqlite::memory:", "RAMPART_RATE": "3/m",
	}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.NewWith(metrics.Options{NoRuntimeMetrics: true})
	st, err := rampart.New(t.Context(), s, rampart.Options{Observer: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := st.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	codes := []int{}
	for range 4 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://127.0.0.1/form", strings.NewReader("a=b")))
		codes = append(codes, rec.Code)
	}
	if fmt.Sprint(codes) != "[403 403 403 429]" {
		t.Fatalf("codes %v", codes)
	}
	text := scrape(t, m)
	for series, want := range map[string]float64{
		`rampart_csrf_rejections_total{reason="no_cookie"}`: 3,
		`rampart_rate_limited_total{limiter="request"}`:     1,
		`rampart_security_events_total{kind="csrf.reject"}`: 3,
	} {
		if got := value(text, series); got != want {
			t.Errorf("%s = %v, want %v\n%s", series, got, want, text)
		}
	}
}

// TestPromtoolAcceptsExposition runs Prometheus's own linter on a scrape with every metric
// family populated. It skips without promtool, except when RAMPART_TEST_PROMTOOL names it
// (CI), where it must run.
func TestPromtoolAcceptsExposition(t *testing.T) {
	tool := os.Getenv("RAMPART_TEST_PROMTOOL")
	if tool == "" {
		p, err := exec.LookPath("promtool")
		if err != nil {
			t.Skip("promtool not installed (Debian: apt-get install prometheus); set RAMPART_TEST_PROMTOOL to require it")
		}
		tool = p
	}
	m := metrics.New()
	m.ObserveEvent(store.Event{Kind: audit.KindCSRFReject, Detail: "CSRF token missing."})
	m.ObserveEvent(store.Event{Kind: audit.KindLockout, Detail: "username"})
	m.ObserveEvent(store.Event{Kind: audit.Kind2FAFailure})
	m.ObserveCSPReport("img-src")
	m.ObserveLockoutRefusal("ip")
	m.ObserveStore("postgres", "query", 3*time.Millisecond, nil)
	m.ObserveStore("redis", "command", time.Second, context.DeadlineExceeded)
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape(t, m))
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestCoreDoesNotLinkPrometheus: a program that builds the stack with rampart.New alone
// must not carry client_golang; only importing package metrics does.
func TestCoreDoesNotLinkPrometheus(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/rampart-go/rampart", "github.com/rampart-go/rampart/accounts").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "prometheus") {
		t.Fatalf("rampart or accounts depends on prometheus:\n%s", out)
	}
	out, err = exec.Command(goTool, "list", "-deps", "github.com/rampart-go/rampart/metrics").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "github.com/prometheus/client_golang/prometheus\n") {
		t.Fatalf("the check itself is blind: metrics' deps lack client_golang (%v)", err)
	}
}

// TestStoreOperationsObserved: the PostgreSQL and Redis backends report their operations,
// a missing item as a success and a failure as an error. Real servers; skipped without them.
func TestStoreOperationsObserved(t *testing.T) {
	type open func(t *testing.T, o store.Observer) store.Store
	for _, tc := range []struct {
		backend string
		open    open
	}{
		{"postgres", func(t *testing.T, o store.Observer) store.Store {
			return testbackends.Postgres(t, postgres.Options{Observer: o})
		}},
		{"redis", func(t *testing.T, o store.Observer) store.Store {
			return testbackends.Redis(t, redis.Options{Observer: o})
		}},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			m := metrics.NewWith(metrics.Options{NoRuntimeMetrics: true})
			st := tc.open(t, m)
			ctx := t.Context()
			now := time.Now()
			if _, err := st.LoadSession(ctx, "missing", now); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("LoadSession: %v", err)
			}
			if err := st.SaveSession(ctx, store.Session{Key: "k", Data: []byte("d"), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := st.LoadSession(cctx, "k", now); err == nil {
				t.Fatal("LoadSession on a cancelled context succeeded")
			}
			text := scrape(t, m)
			count := 0.0
			errs := 0.0
			for line := range strings.SplitSeq(text, "\n") {
				if strings.HasPrefix(line, `rampart_store_operation_duration_seconds_count{backend="`+tc.backend+`"`) {
					var v float64
					fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
					count += v
				}
				if strings.HasPrefix(line, `rampart_store_errors_total{backend="`+tc.backend+`"`) {
					var v float64
					fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
					errs += v
					if !strings.Contains(line, `reason="canceled"`) {
						t.Errorf("unexpected error series %s", line)
					}
				}
			}
			if count < 3 || errs < 1 {
				t.Fatalf("%s: %v operations, %v errors observed, want >= 3 and >= 1\n%s", tc.backend, count, errs, text)
			}
		})
	}
}
