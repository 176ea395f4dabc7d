package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/store/memory"
)

func setFoo(w http.ResponseWriter, r *http.Request) { FromRequest(r).SetString("foo", "bar") }

func TestAnonymousNoStoreAccess(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	rec := e.do("", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		if s == nil || s.UserID() != "" {
			t.Fatal("want empty session")
		}
		if _, ok := s.GetString("foo"); ok {
			t.Error("value in new session")
		}
		_ = s.Flashes()
		s.Delete("foo")
		s.Clear()
		io.WriteString(w, "hi")
	})
	if l, s, d := e.st.counts(); l+s+d != 0 {
		t.Errorf("store calls: loads=%d saves=%d deletes=%d, want none", l, s, d)
	}
	if rec.Header().Get("Set-Cookie") != "" || rec.Header().Get("Vary") != "" {
		t.Errorf("headers %v", rec.Header())
	}
}

func TestReadOnlyRequestsDoNotWrite(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.token(e.do("", setFoo))
	_, saves0, _ := e.st.counts()
	for i := range 5 {
		e.clk.advance(10 * time.Second) // stays under TouchInterval (60 s) in total until i=5
		rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) {
			if v, _ := FromRequest(r).GetString("foo"); v != "bar" {
				t.Errorf("foo = %q", v)
			}
			FromRequest(r).SetString("foo", "bar") // same value: not a modification
		})
		if c := e.sessionCookie(rec); c != nil {
			t.Errorf("request %d set cookie %v", i, c)
		}
	}
	loads, saves, _ := e.st.counts()
	if saves != saves0 || loads != 5 {
		t.Errorf("loads=%d saves=%d (before %d): want 5 loads and no write", loads, saves, saves0)
	}
	// Once LastSeen is a TouchInterval old, one read-only request refreshes it.
	e.clk.advance(10 * time.Second)
	rec := e.do(tok, nil)
	if _, saves, _ = e.st.counts(); saves != saves0+1 {
		t.Errorf("saves = %d, want touch", saves)
	}
	if e.sessionCookie(rec) != nil {
		t.Error("touch must not re-send the cookie")
	}
	if got := e.st.rows[storeKey(tok)].LastSeen; !got.Equal(e.clk.Now()) {
		t.Errorf("LastSeen = %v", got)
	}
}

func TestIdleAndAbsoluteExpiry(t *testing.T) {
	const idle, life = 30 * time.Minute, 2 * time.Hour
	tests := []struct {
		name  string
		steps []time.Duration // gaps between requests after login
		alive bool            // whether the last request still sees the user
	}{
		{"just under idle", []time.Duration{idle - time.Second}, true},
		{"at idle", []time.Duration{idle}, false},
		{"activity slides idle", []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, true},
		// A touch happens only every TouchInterval, so idle can end a little early: never late.
		{"idle measured from last write", []time.Duration{30 * time.Second, idle - 15*time.Second}, false},
		{"active until lifetime", []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 19 * time.Minute}, true},
		{"absolute lifetime ends an active session", []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 20 * time.Minute}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{IdleTimeout: idle, Lifetime: life}, nil)
			tok := e.login("7", "h")
			var got string
			var rec *httptest.ResponseRecorder
			for _, d := range tt.steps {
				e.clk.advance(d)
				rec = e.do(tok, func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r).UserID() })
			}
			if (got == "7") != tt.alive {
				t.Fatalf("alive = %v, want %v", got == "7", tt.alive)
			}
			if !tt.alive {
				c := e.sessionCookie(rec)
				if c == nil || c.MaxAge >= 0 {
					t.Errorf("stale cookie not expired: %v", c)
				}
			}
		})
	}
}

func TestExpiryEnforcedServerSideEvenIfStoreKeepsRow(t *testing.T) {
	// A store that ignores ExpiresAt (or a timeout shortened by configuration) must not
	// extend a session: the Manager checks the timeouts itself.
	st := newFakeStore()
	e := newEnv(t, Options{IdleTimeout: time.Hour}, st)
	tok := e.login("7", "h")
	short := NewManager(st, Options{IdleTimeout: 10 * time.Minute, Now: e.clk.Now, Logger: e.m.opts.Logger})
	e.clk.advance(11 * time.Minute)
	var uid string
	short.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid = FromRequest(r).UserID()
	})).ServeHTTP(httptest.NewRecorder(), withCookie(short, tok))
	if uid != "" {
		t.Errorf("session past the configured idle timeout still logged in")
	}
}

func withCookie(m *Manager, tok string) *http.Request {
	r := httptest.NewRequest("GET", "https://example.com/", nil)
	r.Header.Set("Cookie", m.CookieName()+"="+tok)
	return r
}

func TestBadCookies(t *testing.T) {
	valid := newToken()
	tests := []struct {
		name   string
		header string
		loads  int
	}{
		{"empty value", "__Host-session=", 0},
		{"short", "__Host-session=abc", 0},
		{"long", "__Host-session=" + valid + "A", 0},
		{"bad charset", "__Host-session=" + valid[:42] + "!", 0},
		{"padding", "__Host-session=" + valid[:42] + "=", 0},
		{"quoted", `__Host-session="` + valid[:41] + `"`, 0},
		{"space inside", "__Host-session=" + valid[:20] + " " + valid[21:], 0},
		{"non-ascii", "__Host-session=" + valid[:41] + "é", 0},
		{"well-formed unknown", "__Host-session=" + valid, 1},
		{"garbage then unknown", "__Host-session=x; __Host-session=" + valid, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{}, nil)
			e.login("1", "h") // a real session exists in the store
			l0, _, _ := e.st.counts()
			req := httptest.NewRequest("GET", "https://example.com/", nil)
			req.Header.Set("Cookie", "other=1; "+tt.header)
			var uid = "unset"
			rec := e.doReq(req, "", func(w http.ResponseWriter, r *http.Request) { uid = FromRequest(r).UserID() })
			if rec.Code != 200 || uid != "" {
				t.Fatalf("code %d user %q", rec.Code, uid)
			}
			if l, _, _ := e.st.counts(); l-l0 != tt.loads {
				t.Errorf("store loads = %d, want %d", l-l0, tt.loads)
			}
			if c := e.sessionCookie(rec); c == nil || c.MaxAge >= 0 {
				t.Errorf("bad cookie not expired: %v", c)
			}
		})
	}
}

func TestTamperedTokenIsUnknown(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.login("1", "h")
	b := []byte(tok)
	for i := range b {
		orig := b[i]
		b[i] = 'A'
		if b[i] == orig {
			b[i] = 'B'
		}
		if got := e.userOf(string(b)); got != "" {
			t.Fatalf("token altered at %d still logs in", i)
		}
		b[i] = orig
	}
	if e.userOf(tok) != "1" {
		t.Fatal("original token rejected")
	}
}

func TestFlash(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.token(e.do("", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Flash("saved")
		FromRequest(r).Flash("<b>twice</b>")
	}))
	var got1, got2 []string
	e.do(tok, func(w http.ResponseWriter, r *http.Request) { got1 = FromRequest(r).Flashes() })
	e.do(tok, func(w http.ResponseWriter, r *http.Request) { got2 = FromRequest(r).Flashes() })
	if !slices.Equal(got1, []string{"saved", "<b>twice</b>"}) || got2 != nil {
		t.Errorf("flashes = %q then %q", got1, got2)
	}
}

func TestTypedValues(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	const big = int64(1)<<62 + 1 // not representable as float64: JSON would corrupt it
	tok := e.token(e.do("", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.SetString("s", "héllo\x00")
		s.SetInt64("i", big)
		s.SetInt64("neg", -5)
		s.SetBool("t", true)
		s.SetBool("f", false)
		s.SetString("gone", "x")
		s.Delete("gone")
	}))
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		checks := []struct {
			name string
			ok   bool
		}{
			{"string", func() bool { v, ok := s.GetString("s"); return ok && v == "héllo\x00" }()},
			{"int", func() bool { v, ok := s.GetInt64("i"); return ok && v == big }()},
			{"neg", func() bool { v, ok := s.GetInt64("neg"); return ok && v == -5 }()},
			{"true", func() bool { v, ok := s.GetBool("t"); return ok && v }()},
			{"false", func() bool { v, ok := s.GetBool("f"); return ok && !v }()},
			{"deleted", func() bool { _, ok := s.GetString("gone"); return !ok }()},
			{"type mismatch", func() bool { _, ok := s.GetInt64("s"); return !ok }()},
			{"missing", func() bool { _, ok := s.GetBool("nope"); return !ok }()},
		}
		for _, c := range checks {
			if !c.ok {
				t.Errorf("%s: wrong value", c.name)
			}
		}
		s.Clear()
	})
	// Clear emptied an anonymous session: it is deleted and its cookie expired.
	rec := e.do(tok, nil)
	if e.st.len() != 0 {
		t.Errorf("empty session kept in store")
	}
	if c := e.sessionCookie(rec); c == nil || c.MaxAge >= 0 {
		t.Errorf("cookie of emptied session not expired: %v", c)
	}
}

func TestNilSessionIsSafe(t *testing.T) {
	var s *Session
	s.SetString("a", "b")
	s.SetInt64("a", 1)
	s.SetBool("a", true)
	s.Delete("a")
	s.Clear()
	s.Flash("x")
	if _, ok := s.GetString("a"); ok || s.Flashes() != nil || s.UserID() != "" || s.AuthHash() != "" || s.PublicID() != "" {
		t.Error("nil session not empty")
	}
	m := NewManager(newFakeStore(), Options{})
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	if FromRequest(r) != nil {
		t.Error("session without middleware")
	}
	for name, err := range map[string]error{
		"Login":         m.Login(r, "1", "h"),
		"Logout":        m.Logout(r),
		"RenewID":       m.RenewID(r),
		"SetCSRFSecret": m.SetCSRFSecret(w, r, "x"),
	} {
		if !errors.Is(err, ErrNoSession) {
			t.Errorf("%s without middleware: %v", name, err)
		}
	}
}

func TestStoreOutage(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.login("1", "h")

	// Load fails for an existing cookie: 503, the handler does not run.
	e.st.setFail(errOutage)
	rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret page") })
	if rec.Code != 503 || e.ran || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("load outage: code %d ran %v body %q", rec.Code, e.ran, rec.Body)
	}
	if !strings.Contains(e.logs.String(), "session.store_error") || !strings.Contains(e.logs.String(), "op=load") {
		t.Errorf("no log event: %s", e.logs)
	}

	// No cookie: no store needed, the request is served.
	rec = e.do("", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "home") })
	if rec.Code != 200 || rec.Body.String() != "home" {
		t.Errorf("anonymous request during outage: %d", rec.Code)
	}

	// Save fails after the handler changed the session: 503 instead of the handler's response.
	rec = e.do("", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).SetString("a", "b")
		w.Header().Set("Location", "/next")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusSeeOther)
		if _, err := io.WriteString(w, "ok"); err == nil {
			t.Error("write after failed commit succeeded")
		}
	})
	if rec.Code != 503 || rec.Header().Get("Location") != "" || rec.Header().Get("Set-Cookie") != "" || strings.Contains(rec.Body.String(), "ok") {
		t.Errorf("save outage: code %d headers %v body %q", rec.Code, rec.Header(), rec.Body)
	}
	// Same when the handler never writes.
	if rec = e.do("", setFoo); rec.Code != 503 {
		t.Errorf("save outage, silent handler: %d", rec.Code)
	}

	// Login, Logout, List and the End family report the error.
	e.do("", func(w http.ResponseWriter, r *http.Request) {
		if err := e.m.Login(r, "1", "h"); !errors.Is(err, errOutage) {
			t.Errorf("Login: %v", err)
		}
		if FromRequest(r).UserID() != "" {
			t.Error("logged in despite store failure")
		}
		if _, err := e.m.List(r.Context(), "1"); !errors.Is(err, errOutage) {
			t.Errorf("List: %v", err)
		}
		if _, err := e.m.EndAll(r.Context(), "1"); !errors.Is(err, errOutage) {
			t.Errorf("EndAll: %v", err)
		}
		if err := e.m.End(r.Context(), "1", strings.Repeat("a", 16)); !errors.Is(err, errOutage) {
			t.Errorf("End: %v", err)
		}
	})

	// Recovery: the session is still there once the store answers.
	e.st.setFail(nil)
	if e.userOf(tok) != "1" {
		t.Fatal("session lost after outage")
	}
	e.st.setFail(errOutage)
	e.do(tok, nil) // 503 at load; Logout below needs a loaded session
	e.st.setFail(nil)
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		e.st.setFail(errOutage)
		if err := e.m.Logout(r); !errors.Is(err, errOutage) {
			t.Errorf("Logout: %v", err)
		}
		if FromRequest(r).UserID() != "1" {
			t.Error("Logout failed but session looks logged out")
		}
		e.st.setFail(nil)
	})
	if e.userOf(tok) != "1" {
		t.Error("failed logout lost the session")
	}
}

func TestCustomOnError(t *testing.T) {
	var gotErr error
	e := newEnv(t, Options{OnError: func(w http.ResponseWriter, r *http.Request, err error) {
		gotErr = err
		w.WriteHeader(http.StatusTeapot)
	}}, nil)
	tok := e.login("1", "h")
	e.st.setFail(errOutage)
	if rec := e.do(tok, nil); rec.Code != http.StatusTeapot || !errors.Is(gotErr, errOutage) {
		t.Errorf("code %d err %v", rec.Code, gotErr)
	}
}

func TestConcurrentEndDoesNotResurrect(t *testing.T) {
	e := newEnv(t, Options{}, updFakeStore{newFakeStore()})
	tok := e.login("1", "h")
	e.clk.advance(2 * DefaultTouchInterval)
	// This request loaded the session; while it runs, the password changes elsewhere.
	rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		if _, err := e.m.EndAll(context.Background(), "1"); err != nil {
			t.Fatal(err)
		}
		FromRequest(r).SetString("late", "write")
	})
	if e.st.len() != 0 || e.userOf(tok) != "" {
		t.Fatal("in-flight request brought an ended session back")
	}
	if c := e.sessionCookie(rec); c == nil || c.MaxAge >= 0 {
		t.Errorf("cookie of ended session not expired: %v", c)
	}
	if !strings.Contains(e.logs.String(), "session.interrupted") {
		t.Error("no event logged")
	}
}

func TestCorruptDataDropsSession(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.login("1", "h")
	row := e.st.rows[storeKey(tok)]
	row.Data = []byte{9, 9, 9}
	e.st.rows[row.Key] = row
	if e.userOf(tok) != "" || e.st.len() != 0 || !strings.Contains(e.logs.String(), "session.corrupt") {
		t.Error("corrupt session not dropped")
	}
}

func TestTouchIntervalClamped(t *testing.T) {
	m := NewManager(newFakeStore(), Options{IdleTimeout: time.Minute, TouchInterval: time.Hour})
	if m.opts.TouchInterval != 30*time.Second {
		t.Errorf("TouchInterval = %v", m.opts.TouchInterval)
	}
}

func TestClientIPFromResolver(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	req := httptest.NewRequest("GET", "https://example.com/", nil)
	info := clientip.Info{IP: netip.MustParseAddr("192.0.2.77"), Scheme: "https"}
	req = req.WithContext(clientip.NewContext(req.Context(), info))
	tok := e.token(e.doReq(req, "", func(w http.ResponseWriter, r *http.Request) { e.m.Login(r, "1", "h") }))
	if got := e.st.rows[storeKey(tok)].IP; got != "192.0.2.77" {
		t.Errorf("IP = %q", got)
	}
}

func TestConcurrentRequests(t *testing.T) {
	st := newFakeStore()
	m := NewManager(st, Options{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, _ := s.GetInt64("n")
		s.SetInt64("n", n+1)
		if r.URL.Path == "/login" {
			if err := m.Login(r, "u", "h"); err != nil {
				t.Error(err)
			}
		}
	}))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var tok string
			for i := range 50 {
				path := "/"
				if i%10 == 0 {
					path = "/login"
				}
				req := httptest.NewRequest("GET", "https://example.com"+path, nil)
				if tok != "" {
					req.Header.Set("Cookie", m.CookieName()+"="+tok)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				for _, c := range rec.Result().Cookies() {
					tok = c.Value
				}
				if rec.Code != 200 {
					t.Errorf("goroutine %d: %d", g, rec.Code)
				}
			}
			if _, err := m.List(context.Background(), "u"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, err := m.List(context.Background(), "u"); err != nil || len(got) != 8 {
		t.Errorf("List = %d, %v (want one session per client)", len(got), err)
	}
}

// TestWithMemoryStore runs the main flows on the real in-memory backend, not the fake.
func TestWithMemoryStore(t *testing.T) {
	e := newEnv(t, Options{}, memory.New())
	a := e.login("u", "h")
	b := e.login("u", "h")
	if e.userOf(a) != "u" || e.userOf(b) != "u" {
		t.Fatal("login")
	}
	var list []Info
	e.do(a, func(w http.ResponseWriter, r *http.Request) { list, _ = e.m.List(r.Context(), "u") })
	if len(list) != 2 || list[0].Current == list[1].Current {
		t.Fatalf("List = %+v", list)
	}
	e.clk.advance(DefaultIdleTimeout)
	if e.userOf(a) != "" {
		t.Error("idle session alive")
	}
	c := e.login("u", "h")
	if n, err := e.m.EndAll(context.Background(), "u"); err != nil || n < 1 || e.userOf(c) != "" {
		t.Errorf("EndAll = %d, %v", n, err)
	}
	if list, err := e.m.List(context.Background(), ""); err != nil || list != nil {
		t.Errorf("List of anonymous = %v, %v", list, err)
	}
}

// Only updates that change no credential go to a DeferredUpdater: a touch and application
// values do; a login, rotation, new auth hash or CSRF secret and a new session do not.
func TestDeferredOnlyWithoutCredentialChange(t *testing.T) {
	var deferred []string
	st := deferFakeStore{updFakeStore{newFakeStore()}, &deferred}
	e := newEnv(t, Options{}, st)
	deferredNow := func() int { return len(deferred) }
	steps := []struct {
		name      string
		fn        func(w http.ResponseWriter, r *http.Request)
		advance   time.Duration
		wantDefer bool
	}{
		{"new session", setFoo, 0, false},
		{"application value", func(w http.ResponseWriter, r *http.Request) { FromRequest(r).SetString("foo", "baz") }, 0, true},
		{"first CSRF secret", func(w http.ResponseWriter, r *http.Request) { e.m.SetCSRFSecret(w, r, "s1") }, 0, false},
		{"flash", func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Flash("hi") }, 0, true},
		{"login", func(w http.ResponseWriter, r *http.Request) { e.m.Login(r, "u1", "h1") }, 0, false},
		{"touch", nil, 2 * DefaultTouchInterval, true},
		{"value and new CSRF secret", func(w http.ResponseWriter, r *http.Request) {
			FromRequest(r).SetInt64("n", 1)
			e.m.SetCSRFSecret(w, r, "s2")
		}, 0, false},
		{"new auth hash (password change)", func(w http.ResponseWriter, r *http.Request) { e.m.Login(r, "u1", "h2") }, 0, false},
		{"value after the password change", func(w http.ResponseWriter, r *http.Request) { FromRequest(r).SetInt64("n", 2) }, 0, true},
		{"renew ID", func(w http.ResponseWriter, r *http.Request) { e.m.RenewID(r) }, 0, false},
	}
	tok := ""
	for _, step := range steps {
		e.clk.advance(step.advance)
		before := deferredNow()
		rec := e.do(tok, step.fn)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", step.name, rec.Code)
		}
		if c := e.sessionCookie(rec); c != nil && c.Value != "" {
			tok = c.Value
		}
		if got := deferredNow() > before; got != step.wantDefer {
			t.Errorf("%s: deferred = %v, want %v", step.name, got, step.wantDefer)
		}
	}
	// The state written through both paths is the session's.
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, _ := s.GetInt64("n")
		csrf, _ := e.m.CSRFSecret(r)
		if s.UserID() != "u1" || s.AuthHash() != "h2" || n != 2 || csrf != "s2" {
			t.Errorf("final session: user %q hash %q n %d csrf %q", s.UserID(), s.AuthHash(), n, csrf)
		}
	})
}

// Stored user agents are cut to userAgentMax bytes at a character boundary: a short one is
// kept whole, a long ASCII one keeps exactly userAgentMax bytes.
func TestTruncateUA(t *testing.T) {
	exact := strings.Repeat("a", userAgentMax)
	if got := truncateUA(exact); got != exact {
		t.Errorf("a %d-byte UA was cut to %d", userAgentMax, len(got))
	}
	if got := truncateUA(exact + "b"); got != exact {
		t.Errorf("a long ASCII UA was cut to %d bytes, want %d", len(got), userAgentMax)
	}
	// Hostile bytes: no character starts anywhere, so nothing is kept (and nothing panics).
	if got := truncateUA(strings.Repeat("\x80", 2*userAgentMax)); got != "" {
		t.Errorf("continuation bytes only: kept %d bytes", len(got))
	}
	// "é" is two bytes: one starting at byte userAgentMax-1 is dropped whole.
	ua := strings.Repeat("a", userAgentMax-1) + "é"
	if got := truncateUA(ua); got != strings.Repeat("a", userAgentMax-1) {
		t.Errorf("a UA cut inside a character: %q", got[len(got)-3:])
	}
}

// Delete and Clear remove what they are asked to, whichever value came first, and Clear
// drops pending flashes even when there are no values.
func TestDeleteAndClear(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.token(e.do("", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.SetString("a", "1")
		s.SetString("b", "2")
		s.Delete("a")
		if _, ok := s.GetString("a"); ok {
			t.Error("the first value survived Delete")
		}
		if v, _ := s.GetString("b"); v != "2" {
			t.Error("Delete removed another value")
		}
	}))
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.Delete("b")
		s.Flash("pending")
		s.Clear()
		if f := s.Flashes(); f != nil {
			t.Errorf("flashes after Clear: %q", f)
		}
	})
}

// TouchInterval is at most half of IdleTimeout, so an active session is always touched before
// it idles out; a shorter one is kept.
func TestTouchIntervalAtMostHalfIdle(t *testing.T) {
	for _, c := range []struct{ idle, touch, want time.Duration }{
		{time.Minute, 45 * time.Second, 30 * time.Second},
		{time.Minute, 30 * time.Second, 30 * time.Second},
		{time.Minute, 10 * time.Second, 10 * time.Second},
	} {
		m := NewManager(newFakeStore(), Options{IdleTimeout: c.idle, TouchInterval: c.touch})
		if m.opts.TouchInterval != c.want {
			t.Errorf("idle %v, touch %v: TouchInterval %v, want %v", c.idle, c.touch, m.opts.TouchInterval, c.want)
		}
	}
}

// Store errors are logged when they happen and only then: dropping a dead session and ending
// a user's other sessions log nothing when the store answers, and log the failure when it
// does not. Emptying a stored session deletes its row and expires the cookie.
func TestStoreErrorsLoggedOnlyOnFailure(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.login("1", "h")
	row := e.st.rows[storeKey(tok)]
	row.Data = []byte{9, 9, 9}
	e.st.rows[row.Key] = row
	e.userOf(tok) // drops the corrupt session
	if strings.Contains(e.logs.String(), "could not delete dead session") {
		t.Errorf("a successful drop was logged as a failure: %s", e.logs)
	}

	e = newEnv(t, Options{}, nil)
	a := e.login("u", "h")
	e.login("u", "h") // a second device
	e.do(a, func(w http.ResponseWriter, r *http.Request) {
		if n, err := e.m.EndOthers(r); err != nil || n != 1 {
			t.Errorf("EndOthers = %d, %v", n, err)
		}
	})
	if strings.Contains(e.logs.String(), "store_error") {
		t.Errorf("a successful EndOthers logged a store error: %s", e.logs)
	}
	e.do(a, func(w http.ResponseWriter, r *http.Request) {
		e.st.setFail(errOutage)
		defer e.st.setFail(nil)
		if _, err := e.m.EndOthers(r); err == nil {
			t.Error("EndOthers with the store down succeeded")
		}
	})
	if !strings.Contains(e.logs.String(), "op=end_others") {
		t.Errorf("a failed EndOthers was not logged: %s", e.logs)
	}

	e = newEnv(t, Options{}, nil)
	tok = e.token(e.do("", setFoo))
	rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Delete("foo") })
	if c := e.sessionCookie(rec); c == nil || c.MaxAge >= 0 || e.st.len() != 0 {
		t.Errorf("emptied session: cookie %v, %d rows", c, e.st.len())
	}
}
