// Package audit records security events (logins, lockouts, CSRF rejections, password and
// 2FA changes) twice: as structured log/slog records, for log shipping, and in
// store.Events, for the admin page. A slow or failing store never holds a request for longer
// than a short timeout; the slog record is written first, so an event is never lost entirely.
//
// CSP violation reports are not events here: anyone can send thousands a minute, which would
// push real events out of the capped trail. csp.Aggregator counts them instead.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/store"
)

// Event kinds. Stable strings: dashboards and alert rules match on them.
const (
	KindLoginSuccess     = "login.success"
	KindLoginFailure     = "login.failure"
	KindLogout           = "logout"
	KindLockout          = "lockout"
	KindUnlock           = "lockout.unlock"
	KindRateLimited      = "ratelimit"
	KindCSRFReject       = "csrf.reject"
	KindCSPReport        = "csp.report" // for applications that record single reports; rampart.New counts them with csp.Aggregator
	KindHostReject       = "host.reject"
	KindPasswordChange   = "password.change"
	KindPasswordReset    = "password.reset"
	KindPasswordResetReq = "password.reset_request"
	KindSessionEnd       = "session.end"
	KindUserCreate       = "user.create"
	Kind2FAEnable        = "2fa.enable"
	Kind2FADisable       = "2fa.disable"
	Kind2FASuccess       = "2fa.success"
	Kind2FAFailure       = "2fa.failure"
	Kind2FABackupCode    = "2fa.backup_code"
	KindAccessDenied     = "access.denied"
	// KindLoginLocked is a login attempt refused because a lock is in force (the lock's
	// scope in Detail), before any password check. The lock's start is KindLockout.
	KindLoginLocked = "login.locked"
)

// warnKinds are logged at slog.LevelWarn: a control rejected something.
var warnKinds = map[string]bool{
	KindLoginFailure: true, KindLockout: true, KindRateLimited: true, KindCSRFReject: true,
	KindHostReject: true, Kind2FAFailure: true, KindAccessDenied: true, KindCSPReport: true,
	KindLoginLocked: true,
}

// Defaults.
const (
	DefaultTimeout      = 100 * time.Millisecond
	DefaultWriteTimeout = 5 * time.Second
	DefaultMaxPending   = 64
	DefaultRecent       = 50
	MaxRecent           = 1000
)

// Field length caps (bytes). Events carry attacker-chosen text (usernames, CSP report URLs);
// the caps keep one request from writing megabytes to the log and the store.
const (
	maxKind   = 64
	maxID     = 128
	maxName   = 150
	maxIP     = 64
	maxDetail = 2048
)

var (
	// ErrTimeout reports that the store did not take the event within Options.Timeout. The
	// write goes on in the background (bounded by WriteTimeout); the event is in the log.
	ErrTimeout = errors.New("audit: event store slow; event logged, store write pending")
	// ErrBusy reports that MaxPending store writes were already in flight, so this event went
	// to the log only.
	ErrBusy = errors.New("audit: event store saturated; event logged only")
)

// Options configure New. The zero value is usable.
type Options struct {
	// Log receives every event. Nil means slog.Default().
	Log *slog.Logger
	// Timeout is the longest Record waits for the store. Zero means 100ms.
	Timeout time.Duration
	// WriteTimeout bounds a store write that outlived Timeout. Zero means 5s.
	WriteTimeout time.Duration
	// MaxPending bounds store writes in flight, so a hung store cannot pile up goroutines.
	// Zero means 64.
	MaxPending int
	// Now is the clock for events without a Time. Nil means time.Now.
	Now func() time.Time
	// Observe, when set, is given every event as recorded (fields cut and escaped), before
	// the store write and whether or not it succeeds: the one hook for counting events
	// (package metrics). It runs on the request's goroutine, so it must be quick. It sees
	// every refusal, also those only counted (see Refusals), and never a summary.
	Observe func(store.Event)
	// Refusals configure how refused requests (CSRF, foreign host, rate limit, lock) are
	// counted instead of stored and logged one by one. The zero value aggregates them.
	Refusals RefusalOptions
}

// Logger records security events. A nil *Logger records nothing, so wiring is optional.
type Logger struct {
	events   store.Events
	log      *slog.Logger
	timeout  time.Duration
	writeTO  time.Duration
	inflight chan struct{}
	now      func() time.Time
	observe  func(store.Event)
	refusals *refusals // nil with RefusalOptions.InsecurePerRefusal
}

// New returns a Logger writing to opts.Log and, when events is not nil, to events.
func New(events store.Events, opts Options) *Logger {
	l := &Logger{events: events, log: opts.Log, timeout: opts.Timeout, writeTO: opts.WriteTimeout, now: opts.Now, observe: opts.Observe,
		refusals: newRefusals(opts.Refusals)}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.writeTO <= 0 {
		l.writeTO = DefaultWriteTimeout
	}
	if l.writeTO < l.timeout {
		l.writeTO = l.timeout
	}
	if l.now == nil {
		l.now = time.Now
	}
	n := opts.MaxPending
	if n <= 0 {
		n = DefaultMaxPending
	}
	l.inflight = make(chan struct{}, n)
	return l
}

// NewEvent starts an event of kind for request r, with the client IP resolved by clientip.
func NewEvent(r *http.Request, kind string) store.Event {
	e := store.Event{Kind: kind}
	if ip := clientip.FromRequest(r).IP; ip.IsValid() {
		e.IP = ip.String()
	}
	return e
}

// Record logs e and appends it to the event store. It returns once the store took the event
// or after Options.Timeout, whichever comes first; cancelling ctx (a client hanging up) does
// not drop the stored event. A zero e.Time is set to now, in UTC. Text fields are cut to fixed
// lengths and control characters are escaped (no forged log lines). Never put passwords or
// tokens in an event. The error is for the caller's log; the request should go on.
//
// A refusal (a kind of Options.Refusals) beyond the first few of its kind, client and detail
// in a window is only counted: it is neither logged nor stored until the window's summary
// event (see RefusalOptions), and Record returns nil at once.
func (l *Logger) Record(ctx context.Context, e store.Event) error {
	if l == nil {
		return nil
	}
	e = l.clean(e)
	if strings.HasPrefix(e.Detail, SummaryMark) {
		e.Detail = "x" + e.Detail[len(SummaryMark):] // only summaries carry a count
	}
	if a := l.refusals; a != nil && a.kinds[e.Kind] {
		keep, ended := l.admit(e, l.now())
		if len(ended) > 0 {
			go func() {
				l.writeSummaries(context.Background(), ended)
				a.done()
			}()
		}
		if !keep {
			if l.observe != nil {
				l.observe(e)
			}
			return nil
		}
	}
	l.logEvent(ctx, e)
	if l.observe != nil {
		l.observe(e)
	}
	if l.events == nil {
		return nil
	}

	if q, ok := l.events.(store.EventQueue); ok && q.TryAppendEvent(e) {
		return nil // taken without waiting: no goroutine or timer needed
	}
	select {
	case l.inflight <- struct{}{}:
	default:
		l.log.LogAttrs(ctx, slog.LevelError, "audit: event store saturated", slog.String("kind", e.Kind))
		return ErrBusy
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-l.inflight }()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.writeTO)
		defer cancel()
		err := l.events.AppendEvent(wctx, e)
		if err != nil {
			l.log.LogAttrs(wctx, slog.LevelError, "audit: storing event failed",
				slog.String("kind", e.Kind), slog.String("error", err.Error()))
		}
		done <- err
	}()
	t := time.NewTimer(l.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("audit: store: %w", err)
		}
		return nil
	case <-t.C:
		return ErrTimeout
	}
}

// logEvent writes the "security event" log line of e.
func (l *Logger) logEvent(ctx context.Context, e store.Event, extra ...slog.Attr) {
	level := slog.LevelInfo
	if warnKinds[e.Kind] {
		level = slog.LevelWarn
	}
	attrs := make([]slog.Attr, 0, 6+len(extra))
	attrs = append(attrs, slog.String("kind", e.Kind), slog.Time("time", e.Time))
	for _, kv := range [...][2]string{{"user_id", e.UserID}, {"username", e.Username}, {"ip", e.IP}, {"detail", e.Detail}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	attrs = append(attrs, extra...)
	l.log.LogAttrs(ctx, level, "security event", slog.GroupAttrs("audit", attrs...))
}

// Recent returns up to n stored events, newest first (n <= 0 means 50; at most 1000). The
// summaries of the refusals counted in the current window and not stored yet come first,
// with ID 0, so that a flood in progress shows at once (see Count).
func (l *Logger) Recent(ctx context.Context, n int) ([]store.Event, error) {
	if l == nil || l.events == nil {
		return nil, errors.New("audit: no event store")
	}
	if n <= 0 {
		n = DefaultRecent
	}
	n = min(n, MaxRecent)
	var live []store.Event
	if l.refusals != nil {
		live = l.refusals.pending()
	}
	ev, err := l.events.RecentEvents(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("audit: store: %w", err)
	}
	if len(live) == 0 {
		return ev, nil
	}
	out := append(live[:min(len(live), n):min(len(live), n)], ev...)
	return out[:min(len(out), n)], nil
}

func (l *Logger) clean(e store.Event) store.Event {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	e.Kind = clean(e.Kind, maxKind)
	if e.Kind == "" {
		e.Kind = "unknown"
	}
	e.UserID = clean(e.UserID, maxID)
	e.Username = clean(e.Username, maxName)
	e.IP = clean(e.IP, maxIP)
	e.Detail = clean(e.Detail, maxDetail)
	return e
}

// clean escapes control characters and invalid UTF-8 (so no field can start a new log line
// or confuse a terminal; ASVS V16.4.1) and cuts s to at most max bytes on a rune boundary,
// marking the cut with "…".
func clean(s string, max int) string {
	needs := len(s) > max || !utf8.ValidString(s)
	if !needs {
		for _, r := range s {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				needs = true
				break
			}
		}
	}
	if !needs {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if b.Len() > max {
			break
		}
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if len(out) > max {
		cut := max - len("…")
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}
