// Package session provides server-side sessions for net/http: a random 256-bit token in a
// __Host- cookie (Secure, HttpOnly, SameSite=Lax by default), the session kept in a
// store.Sessions backend under the SHA-256 of the token, idle and absolute timeouts enforced
// on the server, ID rotation on login (session fixation), flash messages, typed values
// without gob, and a per-user index to list and end a user's sessions.
//
// Cost: a request without a session cookie never touches the store; a request with one costs
// one load, and a write only when the session changed or its LastSeen is older than
// Options.TouchInterval.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/internal/reqown"
	"github.com/rampart-go/rampart/store"
)

// Default timeouts. NIST SP 800-63B rev. 4 asks at AAL2 for an inactivity timeout of at most
// 1 hour and an overall one of at most 24 hours (rev. 3, still quoted by ASVS 4.0.3: 30
// minutes and 12 hours); the OWASP session cheat sheet asks for 15–30 minutes of idle time in
// low-risk applications and a few hours (4–8 h) absolute. 30 minutes idle and 12 hours
// absolute meet both revisions of NIST at AAL2 and OWASP's low-risk range; high-value
// applications should lower them (AAL3: 15 minutes, 12 hours).
const (
	DefaultIdleTimeout   = 30 * time.Minute
	DefaultLifetime      = 12 * time.Hour
	DefaultTouchInterval = time.Minute
)

// DefaultMaxSize is the default bound on a session's encoded data. A session holds a login,
// a CSRF secret, a few flashes and small application values: well under a kilobyte. 64 KiB
// leaves room for an application that keeps more, while a session that somehow keeps
// growing is refused long before it can fill the store.
const DefaultMaxSize = 64 << 10

// userAgentMax bounds the user agent kept for session lists: enough to recognise a browser,
// too little to store abuse.
const userAgentMax = 256

// Options configures a Manager. The zero value is the secure default.
type Options struct {
	// IdleTimeout ends a session this long after it was last seen (default
	// DefaultIdleTimeout). Because LastSeen is written at most every TouchInterval, a session
	// may end up to TouchInterval early, never late.
	IdleTimeout time.Duration
	// Lifetime ends a session this long after the login (or creation) however active it is
	// (default DefaultLifetime).
	Lifetime time.Duration
	// TouchInterval is how stale LastSeen may get before a read-only request writes it
	// (default DefaultTouchInterval, at most IdleTimeout/2). It trades idle-timeout precision
	// for writes: most read-only requests cost no write at all.
	TouchInterval time.Duration
	// ExpireAtBrowserClose sends the cookie without Max-Age, so the browser drops it when it
	// closes. The server-side timeouts apply either way.
	ExpireAtBrowserClose bool
	// SameSiteStrict sends the cookie with SameSite=Strict instead of Lax: following a link
	// from another site then arrives logged out.
	SameSiteStrict bool
	// CookieName overrides the cookie name ("__Host-session", or "session" without Secure).
	CookieName string
	// InsecureNoSecureCookie drops the Secure attribute (and the __Host- prefix that
	// requires it) so sessions work over plain HTTP in development. Never in production.
	InsecureNoSecureCookie bool
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
	// Logger receives store failures and other events (default slog.Default()).
	Logger *slog.Logger
	// MaxSize bounds the encoded session data in bytes (default DefaultMaxSize). A change
	// that would make the session larger is not saved: the request fails like a store
	// outage (OnError, 503 by default; Login returns an error wrapping ErrTooLarge) and the
	// stored session stays as it was.
	MaxSize int
	// OnError writes the response when the store fails (default: a plain 503). The headers
	// the handler had set for its own response are removed before it is called.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
}

// Updater is an optional extension of store.Sessions: UpdateSession replaces a session only
// if it still exists, returning store.ErrNotFound otherwise (Django's save with
// force_update). When the store implements it, a request that loaded a session just before
// another request ended it (logout in another tab, End, EndAll after a password change)
// cannot bring it back by saving it afterwards. Without it the Manager falls back to
// SaveSession, and that race remains open for requests in flight at that moment.
type Updater interface {
	UpdateSession(ctx context.Context, s store.Session) error
}

// DeferredUpdater is an optional extension of Updater for stores that can group-commit
// session updates (store/sqlite): UpdateSessionDeferred has UpdateSession's semantics and
// errors, and every later load in this process sees the new value at once, but the write may
// reach durable storage a few milliseconds after it returns, batched with others.
//
// The Manager uses it only for updates that change no credential: a touch, or application
// values and flashes. A login, an ID rotation, a logout, a password change (auth hash) and a
// new CSRF secret are always written before the response is sent, so a crash inside the
// store's window can lose a cart item or a LastSeen, never a logout or a rotation.
type DeferredUpdater interface {
	UpdateSessionDeferred(ctx context.Context, s store.Session) error
}

// ErrNoSession is returned by Manager methods called with a request that did not pass
// through the Manager's Middleware.
var ErrNoSession = errors.New("session: no session in request (is the Middleware installed?)")

// ErrCommitted is returned when a method that must change the cookie is called after the
// response headers were written.
var ErrCommitted = errors.New("session: response headers already written")

// ErrTooLarge is returned (wrapped) when a session would be saved with more than
// Options.MaxSize bytes of data.
var ErrTooLarge = errors.New("session: session data too large")

// ErrNotLoggedIn is returned by EndOthers for an anonymous session.
var ErrNotLoggedIn = errors.New("session: not logged in")

// Manager loads and saves sessions. It is safe for concurrent use.
type Manager struct {
	st         store.Sessions
	upd        Updater
	dupd       DeferredUpdater
	opts       Options
	cookieName string
}

// NewManager returns a Manager keeping sessions in st.
func NewManager(st store.Sessions, opts Options) *Manager {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.TouchInterval <= 0 {
		opts.TouchInterval = DefaultTouchInterval
	}
	if opts.TouchInterval > opts.IdleTimeout/2 {
		opts.TouchInterval = opts.IdleTimeout / 2
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.OnError == nil {
		opts.OnError = unavailable
	}
	m := &Manager{st: st, opts: opts, cookieName: opts.CookieName}
	m.upd, _ = st.(Updater)
	if m.upd != nil {
		m.dupd, _ = st.(DeferredUpdater)
	}
	if m.cookieName == "" {
		m.cookieName = "__Host-session"
		if opts.InsecureNoSecureCookie {
			m.cookieName = "session"
		}
	}
	return m
}

// CookieName is the name of the session cookie.
func (m *Manager) CookieName() string { return m.cookieName }

func unavailable(w http.ResponseWriter, _ *http.Request, _ error) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, "503 Service Unavailable\n")
}

// responseHeaders are dropped before OnError runs: they describe the handler's response,
// not the error page (a stale Content-Length would even break the connection).
var responseHeaders = []string{
	"Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Content-Disposition",
	"Transfer-Encoding", "Location", "Set-Cookie", "Etag", "Last-Modified", "Cache-Control",
}

func (m *Manager) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	m.logStoreError(r.Context(), op, err)
	h := w.Header()
	for _, k := range responseHeaders {
		delete(h, k)
	}
	m.opts.OnError(w, r, err)
}

// logStoreError logs a store failure at error level, or at debug level when the request was
// cancelled (a client that hung up is not a store outage; see store.LogLevel).
func (m *Manager) logStoreError(ctx context.Context, op string, err error) {
	if errors.Is(err, ErrTooLarge) {
		// Not the store's fault: the application (or a client driving it) put too much in
		// the session. Logged apart so that it is not mistaken for an outage.
		m.opts.Logger.LogAttrs(ctx, slog.LevelError, "session too large; not saved",
			slog.String("event", "session.too_large"), slog.String("op", op), slog.Any("err", err))
		return
	}
	m.opts.Logger.LogAttrs(ctx, store.LogLevel(ctx, err), "session store failed",
		slog.String("event", "session.store_error"), slog.String("op", op), slog.Any("err", err))
}

// reqState puts a request's context (carrying the Session), the Session and its response
// writer in one allocation: context.WithValue would add one more on every request.
type reqState struct {
	context.Context
	s Session
	w writer
}

// Value returns the request's Session for ctxKey and defers every other key to the parent.
func (st *reqState) Value(key any) any {
	if key == (ctxKey{}) {
		return &st.s
	}
	return st.Context.Value(key)
}

// Middleware loads the session of each request before next runs and saves it when the
// response starts. Without a (well-formed) session cookie it does not touch the store; with
// one, a store failure answers 503 and next does not run, rather than running next with an
// empty session that would pretend the user is anonymous.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{}
		s := &st.s
		s.m = m
		token, present := findCookie(r.Header, m.cookieName)
		s.hadCookie = present
		if token != "" {
			if err := m.load(r.Context(), s, token); err != nil {
				m.fail(w, r, "load", err)
				return
			}
		}
		st.Context = r.Context()
		r = reqown.WithContext(r, st)
		s.r = r
		st.w = writer{ResponseWriter: w, s: s}
		next.ServeHTTP(&st.w, r)
		if !s.committed {
			st.w.commit(http.StatusOK)
		} else if s.modified && !st.w.failed {
			m.lateSave(s, st.w.status)
		}
	})
}

// load fills s from the store. A missing, expired or unreadable session leaves s anonymous
// (its stale cookie is expired at commit); only a store that cannot answer is an error.
func (m *Manager) load(ctx context.Context, s *Session, token string) error {
	now := m.opts.Now()
	key := storeKey(token)
	rec, err := m.st.LoadSession(ctx, key, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// The store honours ExpiresAt; the timeouts are checked again here because they may have
	// been shortened since the session was saved.
	if !now.Before(rec.LastSeen.Add(m.opts.IdleTimeout)) || !now.Before(rec.CreatedAt.Add(m.opts.Lifetime)) {
		m.dropBestEffort(ctx, key)
		return nil
	}
	p, err := decode(rec.Data)
	if err != nil {
		// Our own data, unreadable: a bug or a damaged row, not a reason to lock the user
		// out of the site. Drop it; the user starts anonymous and must log in again.
		m.opts.Logger.LogAttrs(ctx, slog.LevelError, "session data unreadable; session dropped",
			slog.String("event", "session.corrupt"), slog.String("session", derivePublicID(key)))
		m.dropBestEffort(ctx, key)
		return nil
	}
	s.token, s.key = token, key
	s.userID = rec.UserID
	s.createdAt, s.lastSeen = rec.CreatedAt, rec.LastSeen
	s.raw = rec.Data
	s.p = p
	s.savedAuth, s.savedCSRF = p.authHash, p.csrf
	s.stored = true
	return nil
}

// dropBestEffort deletes a session that is already unusable (expired, unreadable). A failure
// only leaves a dead row for the store's sweep, so it is logged, not turned into a 503.
func (m *Manager) dropBestEffort(ctx context.Context, key string) {
	if err := m.st.DeleteSession(ctx, key); err != nil {
		level := slog.LevelWarn
		if store.LogLevel(ctx, err) == slog.LevelDebug { // the client hung up
			level = slog.LevelDebug
		}
		m.opts.Logger.LogAttrs(ctx, level, "could not delete dead session",
			slog.String("event", "session.store_error"), slog.String("op", "drop"), slog.Any("err", err))
	}
}

func truncateUA(ua string) string {
	if len(ua) <= userAgentMax {
		return ua
	}
	i := userAgentMax
	for i > 0 && !utf8.RuneStart(ua[i]) {
		i--
	}
	return ua[:i]
}

// encode returns p's encoding, or an error wrapping ErrTooLarge when it exceeds
// Options.MaxSize. key identifies the session in the error ("" for one not stored yet).
func (m *Manager) encode(key string, p *payload) ([]byte, error) {
	data := p.encode()
	if len(data) > m.opts.MaxSize {
		id := "new"
		if key != "" {
			id = derivePublicID(key)
		}
		return nil, fmt.Errorf("%w: %d bytes, limit %d (session %s, %d flashes, %d values)",
			ErrTooLarge, len(data), m.opts.MaxSize, id, len(p.flashes), len(p.vals))
	}
	return data, nil
}

// record builds the stored form of s as of now.
func (m *Manager) record(s *Session, now time.Time, data []byte) store.Session {
	exp := now.Add(m.opts.IdleTimeout)
	if abs := s.createdAt.Add(m.opts.Lifetime); abs.Before(exp) {
		exp = abs
	}
	rec := store.Session{
		Key: s.key, UserID: s.userID, Data: data,
		CreatedAt: s.createdAt, LastSeen: now, ExpiresAt: exp,
	}
	if s.r != nil {
		if ip := clientip.FromRequest(s.r).IP; ip.IsValid() {
			rec.IP = ip.String()
		}
		rec.UserAgent = truncateUA(s.r.UserAgent())
	}
	return rec
}

// write stores s. update asks for replace-only-if-present semantics when the store offers
// them; it reports store.ErrNotFound when the session was ended meanwhile. An update that
// changes no credential since the last write (see DeferredUpdater) may be deferred.
func (m *Manager) write(ctx context.Context, s *Session, now time.Time, data []byte, update bool) error {
	rec := m.record(s, now, data)
	var err error
	switch {
	case update && m.dupd != nil && s.p.authHash == s.savedAuth && s.p.csrf == s.savedCSRF:
		err = m.dupd.UpdateSessionDeferred(ctx, rec)
	case update && m.upd != nil:
		err = m.upd.UpdateSession(ctx, rec)
	default:
		err = m.st.SaveSession(ctx, rec)
	}
	if err != nil {
		return err
	}
	s.raw = data
	s.savedAuth, s.savedCSRF = s.p.authHash, s.p.csrf
	s.lastSeen = now
	s.stored = true
	s.modified = false
	return nil
}
