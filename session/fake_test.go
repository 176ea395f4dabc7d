package session

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

// fakeStore is a minimal in-memory store.Sessions with operation counters and failure
// injection (store/memory did not exist yet when this package was written).
type fakeStore struct {
	mu      sync.Mutex
	rows    map[string]store.Session
	loads   int
	saves   int
	deletes int
	fail    error // every call fails with it when set
}

func newFakeStore() *fakeStore { return &fakeStore{rows: map[string]store.Session{}} }

func (f *fakeStore) LoadSession(_ context.Context, key string, now time.Time) (store.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if f.fail != nil {
		return store.Session{}, f.fail
	}
	s, ok := f.rows[key]
	if !ok || !s.ExpiresAt.After(now) {
		return store.Session{}, store.ErrNotFound
	}
	s.Data = bytes.Clone(s.Data)
	return s, nil
}

func (f *fakeStore) SaveSession(_ context.Context, s store.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves++
	if f.fail != nil {
		return f.fail
	}
	s.Data = bytes.Clone(s.Data)
	f.rows[s.Key] = s
	return nil
}

func (f *fakeStore) DeleteSession(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes++
	if f.fail != nil {
		return f.fail
	}
	delete(f.rows, key)
	return nil
}

func (f *fakeStore) UserSessions(_ context.Context, userID string, now time.Time) ([]store.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.Session
	for _, s := range f.rows {
		if s.UserID == userID && userID != "" && s.ExpiresAt.After(now) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b store.Session) int { return b.LastSeen.Compare(a.LastSeen) })
	return out, nil
}

func (f *fakeStore) DeleteUserSessions(_ context.Context, userID, exceptKey string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	n := 0
	for k, s := range f.rows {
		if s.UserID == userID && userID != "" && k != exceptKey {
			delete(f.rows, k)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

func (f *fakeStore) counts() (loads, saves, deletes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads, f.saves, f.deletes
}

func (f *fakeStore) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.rows)
}

// updFakeStore also implements Updater (replace only if present).
type updFakeStore struct{ *fakeStore }

func (f updFakeStore) UpdateSession(_ context.Context, s store.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves++
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.rows[s.Key]; !ok {
		return store.ErrNotFound
	}
	s.Data = bytes.Clone(s.Data)
	f.rows[s.Key] = s
	return nil
}

// deferFakeStore also implements DeferredUpdater; it records which writes were deferred.
type deferFakeStore struct {
	updFakeStore
	deferred *[]string // data of each deferred update
}

func (f deferFakeStore) UpdateSessionDeferred(ctx context.Context, s store.Session) error {
	f.mu.Lock()
	*f.deferred = append(*f.deferred, string(s.Data))
	f.mu.Unlock()
	return f.UpdateSession(ctx, s)
}

var errOutage = errors.New("connection refused")

type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// env is one Manager over a fake store with an injected clock and captured logs.
type env struct {
	t    *testing.T
	st   *fakeStore
	clk  *clock
	m    *Manager
	logs *bytes.Buffer
	h    http.Handler
	fn   func(w http.ResponseWriter, r *http.Request)
	ran  bool
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, opts Options, st store.Sessions) *env {
	t.Helper()
	e := &env{t: t, clk: &clock{t: t0}, logs: &bytes.Buffer{}}
	if st == nil {
		st = newFakeStore()
	}
	switch s := st.(type) {
	case *fakeStore:
		e.st = s
	case updFakeStore:
		e.st = s.fakeStore
	case deferFakeStore:
		e.st = s.fakeStore
	}
	opts.Now = e.clk.Now
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	e.m = NewManager(st, opts)
	e.h = e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.ran = true
		if e.fn != nil {
			e.fn(w, r)
		}
	}))
	return e
}

// do runs one request carrying cookie (a token, "" for none) through the middleware.
func (e *env) do(cookie string, fn func(w http.ResponseWriter, r *http.Request)) *httptest.ResponseRecorder {
	return e.doReq(httptest.NewRequest("GET", "https://example.com/", nil), cookie, fn)
}

func (e *env) doReq(req *http.Request, cookie string, fn func(w http.ResponseWriter, r *http.Request)) *httptest.ResponseRecorder {
	e.t.Helper()
	if cookie != "" {
		req.Header.Add("Cookie", e.m.CookieName()+"="+cookie)
	}
	e.fn, e.ran = fn, false
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// sessionCookie returns the session Set-Cookie of rec, or nil.
func (e *env) sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	e.t.Helper()
	var found *http.Cookie
	for _, line := range rec.Result().Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			e.t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if c.Name == e.m.CookieName() {
			if found != nil {
				e.t.Fatalf("two session Set-Cookie headers: %v", rec.Result().Header.Values("Set-Cookie"))
			}
			found = c
		}
	}
	return found
}

// token returns the token the response set, failing when it set none.
func (e *env) token(rec *httptest.ResponseRecorder) string {
	e.t.Helper()
	c := e.sessionCookie(rec)
	if c == nil || c.MaxAge < 0 || c.Value == "" {
		e.t.Fatalf("response set no session cookie (status %d, headers %v)", rec.Code, rec.Result().Header)
	}
	return c.Value
}

// login logs userID in from a fresh client and returns its token.
func (e *env) login(userID, hash string) string {
	e.t.Helper()
	rec := e.do("", func(w http.ResponseWriter, r *http.Request) {
		if err := e.m.Login(r, userID, hash); err != nil {
			e.t.Fatalf("Login: %v", err)
		}
	})
	return e.token(rec)
}

// userOf returns the user ID a request with token sees.
func (e *env) userOf(token string) string {
	e.t.Helper()
	var uid string
	rec := e.do(token, func(w http.ResponseWriter, r *http.Request) { uid = FromRequest(r).UserID() })
	if rec.Code != 200 {
		e.t.Fatalf("status %d", rec.Code)
	}
	return uid
}
