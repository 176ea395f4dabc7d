// Package metrics counts what rampart refuses and how its stores answer, for Prometheus:
// CSRF rejections by reason, lockouts and the requests refused while locked, rate limiting,
// logins by result, two-factor failures, CSP violation reports by directive, and the latency
// and errors of store operations.
//
//	m := metrics.New()
//	stack, err := rampart.New(ctx, s, rampart.Options{Observer: m})
//	go http.ListenAndServe("127.0.0.1:9464", m.Handler()) // a separate, loopback listener
//
// # Prometheus first, OpenTelemetry through it
//
// Prometheus is the primary interface. Its text format is what both ecosystems scrape:
// Prometheus and Grafana Agent/Alloy read it directly, and the OpenTelemetry Collector's
// prometheus receiver scrapes the same endpoint into OTLP, so one endpoint serves both with
// no second SDK in the application. client_golang is small, stable and has no exporter
// pipeline to configure or to fail at startup; the OpenTelemetry Go SDK would add several
// modules and an exporter to every adopter whether or not they use it. An application
// that already runs an OpenTelemetry MeterProvider and pushes OTLP can hand Registry() to
// the Prometheus bridge (go.opentelemetry.io/contrib/bridges/prometheus: NewMetricProducer
// with WithGatherer(m.Registry())), which turns these metrics into OTel metrics under the
// same names; rampart itself does not depend on it.
//
// # Labels
//
// Every label value comes from a closed set fixed here (event kinds, CSRF reasons, lockout
// scopes, CSP directive names, store backends and operations); anything else is counted as
// "other" (or "unknown"). No username, address, path or other attacker-chosen text ever
// becomes a label, so a flood of forged requests cannot grow the number of series.
//
// # Exposure
//
// The handler shows how many attacks are refused and how; serve it on a separate listener
// bound to loopback or a private network (`rampart serve` does, with RAMPART_METRICS_ADDR),
// or behind a staff guard on the main one. Importing this package is the only way to link
// client_golang: a program that uses rampart.New alone does not.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/lockout"
	"github.com/rampart-go/rampart/store"
)

// Namespace starts every metric name.
const Namespace = "rampart"

// Metrics holds rampart's collectors in a registry of its own. Its methods are safe for
// concurrent use; a nil *Metrics counts nothing.
type Metrics struct {
	reg *prometheus.Registry

	events      *prometheus.CounterVec
	csrf        *prometheus.CounterVec
	logins      *prometheus.CounterVec
	lockouts    *prometheus.CounterVec
	refused     *prometheus.CounterVec
	limited     *prometheus.CounterVec
	twoFactor   *prometheus.CounterVec
	cspReports  *prometheus.CounterVec
	storeOps    *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
}

// Options configure New. The zero value is usable.
type Options struct {
	// NoRuntimeMetrics leaves out the Go runtime and process collectors (go_*, process_*),
	// for an application that registers them itself on a registry it merges with Registry().
	NoRuntimeMetrics bool
}

// New returns Metrics registered on a new registry.
func New() *Metrics { return NewWith(Options{}) }

// NewWith is New with options.
func NewWith(opts Options) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		events:    counter("security_events_total", "Security events recorded by the audit log, by kind.", "kind"),
		csrf:      counter("csrf_rejections_total", "Requests refused by the CSRF protection, by reason.", "reason"),
		logins:    counter("logins_total", "Password and passkey login attempts that were checked, by result (success, failure).", "result"),
		lockouts:  counter("lockouts_total", "Lockouts started by failed logins, by the scopes that locked (username+ip, username, ip).", "scope"),
		refused:   counter("lockout_refusals_total", "Login attempts refused without a password check because a lock applied, by reason (the locked scopes, or unavailable when the store could not answer).", "reason"),
		limited:   counter("rate_limited_total", "Requests refused by a rate limit, by limiter (request: every request per client IP; login: login attempts per client IP).", "limiter"),
		twoFactor: counter("twofactor_failures_total", "Second-step codes refused, by reason (invalid, throttled).", "reason"),
		cspReports: counter("csp_reports_total",
			"CSP violation reports received, by effective directive (known directive names; unknown otherwise).", "directive"),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_operation_duration_seconds",
			Help: "Time taken by store operations (statements, commands), by backend and operation, failed ones included.",
			// From a cached Redis command to the 2 s store timeout.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"backend", "op"}),
		storeErrors: counter("store_errors_total", "Store operations that failed, by backend, operation and reason (timeout, canceled, error).", "backend", "op", "reason"),
	}
	m.reg.MustRegister(m.events, m.csrf, m.logins, m.lockouts, m.refused, m.limited, m.twoFactor, m.cspReports, m.storeOps, m.storeErrors)
	if !opts.NoRuntimeMetrics {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	// Series for the values alert rules compare against exist from the start, at zero, so a
	// rate() over the first refusal is not lost.
	for _, r := range csrfReasons {
		m.csrf.WithLabelValues(r)
	}
	for _, r := range []string{"success", "failure"} {
		m.logins.WithLabelValues(r)
	}
	for _, r := range []string{"request", "login"} {
		m.limited.WithLabelValues(r)
	}
	return m
}

// Registry is the registry holding rampart's collectors, for merging with an application's
// own (prometheus.Gatherers) or for the OpenTelemetry Prometheus bridge.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats. It is not guarded: serve
// it on a private listener or behind a staff check (see the package doc).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// kinds are the audit event kinds counted under their own name; any other is "other".
var kinds = map[string]bool{
	audit.KindLoginSuccess: true, audit.KindLoginFailure: true, audit.KindLogout: true, audit.KindLockout: true,
	audit.KindUnlock: true, audit.KindRateLimited: true, audit.KindCSRFReject: true, audit.KindCSPReport: true,
	audit.KindHostReject: true, audit.KindPasswordChange: true, audit.KindPasswordReset: true,
	audit.KindPasswordResetReq: true, audit.KindSessionEnd: true, audit.KindUserCreate: true,
	audit.Kind2FAEnable: true, audit.Kind2FADisable: true, audit.Kind2FASuccess: true, audit.Kind2FAFailure: true,
	audit.Kind2FABackupCode: true, audit.KindAccessDenied: true, audit.KindLoginLocked: true,
}

// csrfReasons are the CSRF rejection labels, in the order they are pre-created.
var csrfReasons = []string{"cross_site", "bad_origin", "no_referer", "bad_referer", "malformed_referer",
	"insecure_referer", "no_cookie", "token_missing", "token_incorrect", "token_length", "token_characters"}

// csrfExact are the reasons whose text has no variable part.
var csrfExact = map[string]string{
	csrf.ErrNoReferer.Error():          "no_referer",
	csrf.ErrMalformedReferer.Error():   "malformed_referer",
	csrf.ErrInsecureReferer.Error():    "insecure_referer",
	csrf.ErrNoCSRFCookie.Error():       "no_cookie",
	csrf.ErrCSRFTokenMissing.Error():   "token_missing",
	csrf.ErrCSRFTokenIncorrect.Error(): "token_incorrect",
}

// CSRFReason is the label for a CSRF rejection's text (an audit event's Detail, the text of
// the error csrf passed to OnFailure): one of a fixed set, "other" when none matches. The
// texts that quote a request header (Origin, Referer, Sec-Fetch-Site) are told apart by
// their fixed start, never by what the client put in the middle.
func CSRFReason(detail string) string {
	if r, ok := csrfExact[detail]; ok {
		return r
	}
	switch {
	case strings.HasPrefix(detail, "Sec-Fetch-Site checking failed - "):
		return "cross_site"
	case strings.HasPrefix(detail, "Origin checking failed - "):
		return "bad_origin"
	case strings.HasPrefix(detail, "Referer checking failed - "):
		return "bad_referer"
	case !strings.HasPrefix(detail, "CSRF "):
		return "other"
	case strings.HasSuffix(detail, " "+csrf.ErrIncorrectLength.Error()+"."):
		return "token_length"
	case strings.HasSuffix(detail, " "+csrf.ErrInvalidCharacters.Error()+"."):
		return "token_characters"
	case strings.HasSuffix(detail, " incorrect."):
		return "token_incorrect"
	}
	return "other"
}

// scopes is the label for a lockout reason: comma-separated scope names, or unavailable.
func scopes(reason string) string {
	if reason == lockout.ReasonUnavailable {
		return reason
	}
	if reason == "" {
		return "other"
	}
	for part := range strings.SplitSeq(reason, ",") {
		switch part {
		case "username+ip", "username", "ip":
		default:
			return "other"
		}
	}
	return reason
}

// ObserveEvent counts one audit event (audit.Options.Observe). Besides the event counter by
// kind it feeds the counter for that kind of refusal: CSRF by reason, logins by result,
// lockouts by scope, login rate limiting, two-factor failures, CSP reports by directive
// (Detail holding the reported directive).
func (m *Metrics) ObserveEvent(e store.Event) {
	if m == nil {
		return
	}
	k := e.Kind
	if !kinds[k] {
		k = "other"
	}
	m.events.WithLabelValues(k).Inc()
	switch e.Kind {
	case audit.KindCSRFReject:
		m.csrf.WithLabelValues(CSRFReason(e.Detail)).Inc()
	case audit.KindLoginSuccess:
		m.logins.WithLabelValues("success").Inc()
	case audit.KindLoginFailure:
		m.logins.WithLabelValues("failure").Inc()
	case audit.KindLockout:
		m.lockouts.WithLabelValues(scopes(e.Detail)).Inc()
	case audit.KindRateLimited:
		m.limited.WithLabelValues("login").Inc()
	case audit.Kind2FAFailure:
		reason := "invalid"
		if e.Detail == "throttled" {
			reason = "throttled"
		}
		m.twoFactor.WithLabelValues(reason).Inc()
	case audit.KindCSPReport:
		m.ObserveCSPReport(e.Detail)
	}
}

// ObserveCSPReport counts one CSP violation report by its effective directive (reduced to a
// known directive name by csp.DirectiveName).
func (m *Metrics) ObserveCSPReport(directive string) {
	if m == nil {
		return
	}
	d := csp.DirectiveName(directive)
	if strings.HasPrefix(d, "(") {
		d = "unknown"
	}
	m.cspReports.WithLabelValues(d).Inc()
}

// ObserveRequestLimited counts one request refused by the per-client request rate limit.
func (m *Metrics) ObserveRequestLimited() {
	if m == nil {
		return
	}
	m.limited.WithLabelValues("request").Inc()
}

// ObserveLockoutRefusal counts one attempt refused because a lock applied
// (lockout.Options.OnRefused).
func (m *Metrics) ObserveLockoutRefusal(reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(scopes(reason)).Inc()
}

// storeBackends and storeOps bound the store labels.
var (
	storeBackends = map[string]bool{"postgres": true, "redis": true, "sqlite": true, "memory": true}
	storeOpNames  = map[string]bool{"exec": true, "query": true, "begin": true, "batch": true, "command": true, "pipeline": true, "tx": true}
)

// ObserveStore records one store operation of backend (postgres, redis, sqlite, memory) and
// kind op (exec, query, begin, batch, command, pipeline, tx) that took d and ended with err
// (nil for success; a missing item is a success).
func (m *Metrics) ObserveStore(backend, op string, d time.Duration, err error) {
	if m == nil {
		return
	}
	if !storeBackends[backend] {
		backend = "other"
	}
	if !storeOpNames[op] {
		op = "other"
	}
	m.storeOps.WithLabelValues(backend, op).Observe(d.Seconds())
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return
	}
	reason := "error"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		reason = "timeout"
	case errors.Is(err, context.Canceled):
		reason = "canceled"
	}
	m.storeErrors.WithLabelValues(backend, op, reason).Inc()
}
