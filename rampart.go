// Package rampart assembles rampart's default security stack for a net/http application:
// client IP/scheme/host resolution, panic recovery, allowed hosts, HTTPS redirect and
// security headers, a nonce-based Content Security Policy, per-client rate limiting,
// server-side sessions and CSRF protection, in that order, plus the account services
// (password hashing and validation, lockout, two-factor, audit) the handlers use.
//
//	import _ "github.com/rampart-go/rampart/store/sqlite" // the backend RAMPART_DATABASE_URL names
//
//	s, err := settings.Load()
//	stack, err := rampart.New(ctx, s, rampart.Options{})
//	err = stack.Serve(ctx, myMux) // timeouts, slow-client limits, graceful shutdown, Close
//
// Every layer is also usable alone from its own package; this file is the one place that
// decides their order, so the order is reviewed once.
package rampart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/errorpage"
	"github.com/rampart-go/rampart/headers"
	"github.com/rampart-go/rampart/hosts"
	"github.com/rampart-go/rampart/internal/reqown"
	"github.com/rampart-go/rampart/lockout"
	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/password"
	"github.com/rampart-go/rampart/ratelimit"
	"github.com/rampart-go/rampart/server"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/signing"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/open"
	"github.com/rampart-go/rampart/twofactor"
)

// Options are what the settings cannot express: injected services. The zero value opens the
// stores named by the settings (whose backend packages the program imports; see store/open)
// and logs to slog.Default().
type Options struct {
	// Store replaces the stores opened from Settings.DatabaseURL and RedisURL. Its backends'
	// own Options.Timeout then bound each operation, not Settings.StoreTimeout.
	Store store.Store
	// Mailer delivers password-reset mail, from a background queue (mail.Queue; Close waits
	// up to 10 s for it to drain). Nil means an SMTP sender for Settings.EmailURL (package
	// mail), or without one a mail.Outbox (kept in memory; in debug and development modes
	// each message's links are also logged, so that a reset can be finished locally).
	Mailer mail.Mailer
	// Logger receives security events and errors. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for every layer. Nil means time.Now.
	Now func() time.Time
	// Policy replaces the default Content Security Policy.
	Policy *csp.Policy
	// Observer, when set, is told of every security event, CSP report, request refused by
	// the rate limit or by a lock, and store operation: the hooks package metrics counts
	// for Prometheus. Nil counts nothing (and links no metrics library).
	Observer Observer
}

// Observer receives what the stack counts for monitoring. *metrics.Metrics implements it.
// Every method runs on the request's goroutine and must be quick.
type Observer interface {
	// ObserveStore is told of each operation of the stores the stack opens (not of
	// Options.Store's, whose backend options are the caller's).
	store.Observer
	// ObserveEvent is given every audit event (audit.Options.Observe).
	ObserveEvent(store.Event)
	// ObserveCSPReport is given each CSP report's effective directive, as reported.
	ObserveCSPReport(directive string)
	// ObserveRequestLimited is told of each request refused by the per-client rate limit.
	ObserveRequestLimited()
	// ObserveLockoutRefusal is told of each attempt refused under a lock (lockout.Options.OnRefused).
	ObserveLockoutRefusal(reason string)
}

// Stack is the assembled default stack and the services handlers need.
type Stack struct {
	Settings  settings.Settings
	Store     store.Store
	Resolver  *clientip.Resolver
	Sessions  *session.Manager
	Accounts  *auth.Service
	Lockout   *lockout.Guard
	TwoFactor *twofactor.Manager
	Audit     *audit.Logger
	// CSPReports counts the CSP violation reports received at Settings.CSPReportURI, per
	// hour, apart from the security events of Audit.
	CSPReports *csp.Aggregator
	// LoginLimiter limits login POSTs per client IP (Settings.LoginRate).
	LoginLimiter ratelimit.Limiter
	// RequestLimiter limits every request per client IP (Settings.RequestRate).
	RequestLimiter ratelimit.Limiter
	Mailer         mail.Mailer
	Outbox         *mail.Outbox // non-nil when no Mailer and no Settings.EmailURL are given
	Logger         *slog.Logger
	Errors         errorpage.Options

	keys      [][]byte // the secret key and its fallbacks, newest first; see TimestampSigner
	hosts     *hosts.Checker
	headers   *headers.Security
	csp       *csp.Header
	csrf      *csrf.Protector
	cspReport http.Handler
	recover   func(http.Handler) http.Handler
	ownsStore bool
	stopSweep context.CancelFunc
	mailQueue *mail.Queue // in front of Options.Mailer or the SMTP sender
	observer  Observer
	closeOnce sync.Once
	closeErr  error
}

// New validates s and builds the stack. It opens the stores unless opts.Store is set; the
// caller must Close the stack.
func New(ctx context.Context, s settings.Settings, opts Options) (*Stack, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	st := &Stack{Settings: s, Logger: log, observer: opts.Observer}
	st.keys = append(st.keys, []byte(s.SecretKey.Reveal()))
	for _, k := range s.SecretKeyFallbacks {
		st.keys = append(st.keys, []byte(k.Reveal()))
	}

	st.Store = opts.Store
	if st.Store == nil {
		var err error
		oo := open.Options{Logger: log, Timeout: s.StoreTimeout}
		if opts.Observer != nil {
			oo.Observer = opts.Observer
		}
		st.Store, err = open.OpenWith(ctx, s.DatabaseURL.Reveal(), s.RedisURL.Reveal(), oo)
		if err != nil {
			return nil, fmt.Errorf("rampart: opening stores: %w", err)
		}
		st.ownsStore = true
	}
	fail := func(err error) (*Stack, error) {
		st.Close()
		return nil, err
	}
	if st.ownsStore {
		if err := checkRedisPersistence(ctx, s, log); err != nil {
			return fail(err)
		}
	}

	st.Resolver = &clientip.Resolver{TrustedProxies: s.TrustedProxies, Header: s.ProxyHeader}
	var err error
	// A refused host is an audit event (set below), counted per client in a flood rather
	// than logged line by line.
	if st.hosts, err = hosts.New(hosts.Options{Allowed: s.AllowedHosts, Logger: log, Record: func(r *http.Request, host string, reason error) {
		e := audit.NewEvent(r, audit.KindHostReject)
		e.Detail = reason.Error() + ": " + strconv.Quote(host)
		_ = st.Audit.Record(r.Context(), e)
	}}); err != nil {
		return fail(fmt.Errorf("rampart: RAMPART_ALLOWED_HOSTS: %w", err))
	}
	if st.headers, err = headers.New(headers.Options{
		InsecureAllowHTTP:         s.InsecureDev || !s.SSLRedirect,
		RedirectHost:              s.SSLHost,
		HSTSMaxAge:                time.Duration(s.HSTSSeconds) * time.Second,
		InsecureNoHSTS:            s.HSTSSeconds == 0,
		HSTSExcludeSubdomains:     !s.HSTSIncludeSubdomains,
		HSTSPreload:               s.HSTSPreload,
		ReferrerPolicy:            s.ReferrerPolicy,
		FrameOptions:              s.XFrameOptions,
		CrossOriginOpenerPolicy:   s.COOP,
		CrossOriginResourcePolicy: s.CORP,
	}); err != nil {
		return fail(fmt.Errorf("rampart: security headers: %w", err))
	}
	policy := opts.Policy
	if policy == nil {
		policy = csp.DefaultPolicy()
	}
	if st.csp, err = csp.New(csp.Options{Policy: policy, ReportOnly: s.CSPReportOnly, ReportURI: s.CSPReportURI}); err != nil {
		return fail(fmt.Errorf("rampart: content security policy: %w", err))
	}

	ao := audit.Options{Log: log, Now: now}
	if opts.Observer != nil {
		ao.Observe = opts.Observer.ObserveEvent
	}
	st.Audit = audit.New(st.Store, ao)
	// CSP reports are counted per window apart from the audit trail: anyone can send them,
	// 2,000 a minute per client, and as events they pushed real security events out of it.
	st.CSPReports = csp.NewAggregator(st.Store, csp.AggregatorOptions{Log: log, Now: now})
	st.cspReport = &csp.ReportHandler{
		OnReports: func(ctx context.Context, reps []csp.Report) {
			if opts.Observer != nil {
				for _, r := range reps {
					opts.Observer.ObserveCSPReport(r.EffectiveDirective)
				}
			}
			_ = st.CSPReports.Add(ctx, reps) // logged by Add, at most once a minute
		},
		Now: now,
	}

	st.Sessions = session.NewManager(st.Store, session.Options{
		IdleTimeout:            s.SessionIdleTimeout,
		Lifetime:               s.SessionAbsoluteTimeout,
		SameSiteStrict:         s.SessionCookieSameSite == http.SameSiteStrictMode,
		CookieName:             s.SessionCookieName,
		InsecureNoSecureCookie: !s.SessionCookieSecure,
		Now:                    now,
		Logger:                 log,
	})

	st.Errors = errorpage.Options{Debug: s.Debug, Logger: log, Settings: s.Redacted(), Scrub: s.SecretValues(), Nonce: csp.Nonce}
	st.recover = errorpage.Recover(st.Errors)

	csrfOpts := csrf.Options{TrustedOrigins: s.TrustedOrigins, Logger: log, FieldName: s.CSRFFieldName, HeaderName: s.CSRFHeaderName,
		OnFailureLogs: true, // through audit, which counts a flood instead of logging each
		OnFailure: func(w http.ResponseWriter, r *http.Request, reason error) {
			e := audit.NewEvent(r, audit.KindCSRFReject)
			e.Detail = reason.Error()
			_ = st.Audit.Record(r.Context(), e)
			st.Errors.WriteMessage(w, r, http.StatusForbidden, "This request was refused by the site's cross-site request forgery protection. Reload the page and try again.")
		}}
	if s.CSRFUseSessions {
		csrfOpts.Store = st.Sessions
	} else {
		// The cookie is Secure (and __Host- prefixed) exactly when the request is HTTPS as
		// resolved by clientip, so RAMPART_CSRF_COOKIE_SECURE only feeds `rampart check`.
		csrfOpts.Store = &csrf.CookieStore{MaxAge: s.CSRFCookieAge, Name: s.CSRFCookieName, SameSite: s.CSRFCookieSameSite}
	}
	if st.csrf, err = csrf.New(csrfOpts); err != nil {
		return fail(fmt.Errorf("rampart: RAMPART_TRUSTED_ORIGINS, RAMPART_CSRF_FIELD_NAME or RAMPART_CSRF_HEADER_NAME: %w", err))
	}

	mailer := opts.Mailer
	if mailer == nil && s.EmailURL != "" {
		if mailer, err = mail.New(s.EmailURL.Reveal(), mail.Options{From: s.EmailFrom}); err != nil {
			return fail(fmt.Errorf("rampart: %w", err))
		}
	}
	switch {
	case mailer != nil:
		// Delivered in the background so that a reset request answers alike, in time and in
		// errors, whether or not the address has an account (see mail.Queue).
		st.mailQueue = mail.NewQueue(mailer, mail.QueueOptions{Logger: log})
		st.Mailer = st.mailQueue
	case s.Debug || s.InsecureDev:
		// The in-memory Outbox needs no queue: it cannot be slow or fail.
		st.Outbox = &mail.Outbox{}
		st.Mailer = mail.Log{Logger: log, Next: st.Outbox}
	default:
		st.Outbox = &mail.Outbox{}
		st.Mailer = st.Outbox
		log.Warn("rampart: RAMPART_EMAIL_URL is not set: password-reset mail is kept in memory and never sent")
	}
	validators := []password.Validator{
		&password.UserAttributeSimilarity{},
		&password.MinimumLength{Min: s.PasswordMinLength},
		&password.MaximumLength{},
		&password.CommonPassword{},
		&password.NumericPassword{},
	}
	if st.Accounts, err = auth.New(st.Store, auth.Options{Keys: st.keys, Validators: validators, Now: now,
		ResetTimeout: s.PasswordResetTimeout, Mailer: st.Mailer}); err != nil {
		return fail(err)
	}
	locks, tfState := lockState(st.Store) // lockout and 2FA counters: the database beside Redis
	lo := lockout.Options{FailureLimit: s.LockoutLimit, CoolOff: s.LockoutCooloff, Now: now}
	if opts.Observer != nil {
		lo.OnRefused = opts.Observer.ObserveLockoutRefusal
	}
	st.Lockout = lockout.New(locks, lo)
	st.LoginLimiter = ratelimit.NewStore(st.Store, s.LoginRate,
		ratelimit.StoreOptions{Name: "login", Now: now})
	st.RequestLimiter = ratelimit.NewMemory(s.RequestRate,
		ratelimit.MemoryOptions{Now: now})
	if st.TwoFactor, err = twofactor.New(tfState, twofactor.Options{Keys: st.keys, Issuer: s.TOTPIssuer,
		InsecureCookies: s.InsecureDev, Now: now}); err != nil {
		return fail(err)
	}
	if st.ownsStore {
		// SQL backends keep expired sessions and counters until swept; Redis expires them itself.
		sweepCtx, cancel := context.WithCancel(context.Background())
		st.stopSweep = cancel
		go open.SweepEvery(sweepCtx, st.Store, 10*time.Minute, func(err error) { log.Warn("rampart: sweeping expired state", "err", err) })
	}
	return st, nil
}

// TimestampSigner returns a signer for the application's own signed, expiring values (links
// in mail, one-time tokens): it signs with Settings.SecretKey and verifies with it and
// Settings.SecretKeyFallbacks, so rotating the key keeps recent values valid. salt separates
// one purpose from another (use signing.Namespace): a value signed for one purpose does not
// verify for another. now is the clock for expiry (nil means time.Now). The raw keys stay
// inside the stack.
func (st *Stack) TimestampSigner(salt string, now func() time.Time) (*signing.TimestampSigner, error) {
	if len(st.keys) == 0 {
		return nil, errors.New("rampart: the stack has no secret key")
	}
	fallbacks := make([]string, 0, len(st.keys)-1)
	for _, k := range st.keys[1:] {
		fallbacks = append(fallbacks, string(k))
	}
	if now == nil {
		now = time.Now
	}
	return signing.NewTimestamp(signing.Options{Key: string(st.keys[0]), Fallbacks: fallbacks, Salt: salt}, now)
}

// Handler wraps app in the default stack. The order is the design's:
//
//	client IP/scheme/host -> panic recovery -> allowed host -> HTTPS redirect + security
//	headers -> CSP nonce -> rate limit -> session -> CSRF -> app
//
// The CSP report endpoint (Settings.CSPReportURI) is answered before sessions and CSRF,
// because browsers post reports without cookies or tokens; it has its own size and rate limits.
func (st *Stack) Handler(app http.Handler) http.Handler {
	// The application gets a request no rampart layer changes in place any more (reqown.Release).
	inner := st.Sessions.Middleware(st.csrf.Middleware(reqown.Release(app)))
	limited := ratelimit.Middleware(st.RequestLimiter, ratelimit.ByIP, ratelimit.Options{Headers: true,
		OnLimited: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if st.observer != nil {
				st.observer.ObserveRequestLimited()
			}
			st.Errors.WriteMessage(w, r, http.StatusTooManyRequests, "Too many requests. Please slow down.")
		})})(inner)
	maxBody := st.Settings.MaxBodyBytes
	reportPath := st.Settings.CSPReportURI
	if !strings.HasPrefix(reportPath, "/") {
		reportPath = ""
	}
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reportPath != "" && r.URL.Path == reportPath {
			st.cspReport.ServeHTTP(w, r)
			return
		}
		// Bodies are capped before any layer reads them (csrf may parse a form for its token).
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		limited.ServeHTTP(w, r)
	})
	h := st.csp.Middleware(routed)
	h = st.headers.Middleware(h)
	h = st.hosts.Middleware(h)
	h = st.recover(h)
	// One copy of the request for the whole stack: every layer below updates its context
	// in place instead of copying it again (see internal/reqown).
	return reqown.Middleware(st.Resolver.Middleware(h))
}

// Healthz answers 200 when the stores answer, within Settings.StoreTimeout like any store
// operation (SQLite also checks that a write can be committed), and 503 otherwise.
func (st *Stack) Healthz(w http.ResponseWriter, r *http.Request) {
	timeout := st.Settings.StoreTimeout
	if timeout <= 0 {
		timeout = store.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	w.Header().Set("Cache-Control", "no-store")
	if err := st.Store.Ping(ctx); err != nil {
		st.Logger.Log(r.Context(), store.LogLevel(r.Context(), err), "healthz: store unavailable", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Serve serves app behind the stack (Handler) on Settings.Addr with the settings' timeouts and
// slow-client limits until ctx ends or the process gets SIGINT or SIGTERM; then it lets the
// requests in flight finish and closes the stack (see package server). It returns nil after
// such a stop.
func (st *Stack) Serve(ctx context.Context, app http.Handler) error {
	return server.New(st.Settings, st.Handler(app), server.Options{Logger: st.Logger}).Run(ctx, st)
}

// Close sends the queued mail (waiting up to 10 s), stores the counts of the refusals the
// audit logger aggregated, and releases the stores the stack opened, committing their
// deferred writes. Calls after the first return the first's result.
func (st *Stack) Close() error {
	st.closeOnce.Do(func() { st.closeErr = st.close() })
	return st.closeErr
}

func (st *Stack) close() error {
	if st.stopSweep != nil {
		st.stopSweep()
	}
	if st.mailQueue != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := st.mailQueue.Close(ctx)
		cancel()
		if err != nil {
			st.Logger.Error("mail queue not drained at close", "err", err)
		}
	}
	if st.Audit != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := st.Audit.Close(ctx)
		cancel()
		if err != nil {
			st.Logger.Error("audit: refusal counts not stored at close", "err", err)
		}
	}
	if st.ownsStore && st.Store != nil {
		return st.Store.Close()
	}
	return nil
}
