package session

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCookieFlags(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		wantName string
		secure   bool
		sameSite http.SameSite
		maxAge   int
	}{
		{"default", Options{}, "__Host-session", true, http.SameSiteLaxMode, int(DefaultLifetime / time.Second)},
		{"strict", Options{SameSiteStrict: true}, "__Host-session", true, http.SameSiteStrictMode, int(DefaultLifetime / time.Second)},
		{"insecure dev", Options{InsecureNoSecureCookie: true}, "session", false, http.SameSiteLaxMode, int(DefaultLifetime / time.Second)},
		{"browser close", Options{ExpireAtBrowserClose: true}, "__Host-session", true, http.SameSiteLaxMode, 0},
		{"custom name and lifetime", Options{CookieName: "__Host-app", Lifetime: 2 * time.Hour}, "__Host-app", true, http.SameSiteLaxMode, 7200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts, nil)
			rec := e.do("", setFoo)
			c := e.sessionCookie(rec)
			if c == nil {
				t.Fatal("no session cookie set")
			}
			if c.Name != tt.wantName || c.Secure != tt.secure || !c.HttpOnly || c.SameSite != tt.sameSite ||
				c.Path != "/" || c.Domain != "" || c.MaxAge != tt.maxAge || !c.Expires.IsZero() {
				t.Errorf("cookie = %+v", c)
			}
			if !validToken(c.Value) {
				t.Errorf("token %q malformed", c.Value)
			}
			if got := rec.Header().Get("Cache-Control"); got != `no-cache="Set-Cookie"` {
				t.Errorf("Cache-Control = %q", got)
			}
			if !slices.Contains(rec.Header().Values("Vary"), "Cookie") {
				t.Errorf("Vary = %q", rec.Header().Values("Vary"))
			}
			// The store knows only the hash of the token.
			rows := e.st.rows
			if _, ok := rows[c.Value]; ok || len(rows) != 1 {
				t.Fatalf("rows %v", rows)
			}
			if _, ok := rows[storeKey(c.Value)]; !ok {
				t.Error("row not stored under sha256(token)")
			}
			if len(storeKey(c.Value)) != 64 {
				t.Error("key is not 64 hex chars")
			}
		})
	}
}

func TestServerErrorDoesNotSave(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	rec := e.do("", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).SetString("a", "b")
		w.WriteHeader(500)
	})
	if e.st.len() != 0 || e.sessionCookie(rec) != nil {
		t.Error("5xx response saved the session")
	}
	// A login done before the failure is already in the store: its cookie still goes out.
	rec = e.do("", func(w http.ResponseWriter, r *http.Request) {
		e.m.Login(r, "1", "h")
		w.WriteHeader(500)
	})
	if e.userOf(e.token(rec)) != "1" {
		t.Error("cookie of a completed login not sent")
	}
}

func TestCommittedResponse(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	e.do("", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "body first")
		if err := e.m.Login(r, "1", "h"); !errors.Is(err, ErrCommitted) {
			t.Errorf("Login after write: %v", err)
		}
	})
	if e.st.len() != 0 {
		t.Error("stored a session whose cookie cannot be sent")
	}
}

func TestFlushCommits(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	rec := e.do("", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).SetString("a", "b")
		w.(http.Flusher).Flush()
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController: %v", err)
		}
	})
	if !rec.Flushed || e.token(rec) == "" {
		t.Error("flush did not commit the session")
	}
}

// finalRecorder records like a server would: 1xx responses go out and the header map is
// snapshotted at the final status (httptest.ResponseRecorder treats 1xx as final).
type finalRecorder struct {
	h     http.Header
	codes []int
	final http.Header
}

func (f *finalRecorder) Header() http.Header { return f.h }

func (f *finalRecorder) Write(b []byte) (int, error) {
	if f.final == nil {
		f.WriteHeader(200)
	}
	return len(b), nil
}

func (f *finalRecorder) WriteHeader(code int) {
	f.codes = append(f.codes, code)
	if code >= 200 && f.final == nil {
		f.final = f.h.Clone()
	}
}

func TestInformationalDoesNotCommit(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	e.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		FromRequest(r).SetString("a", "b")
		if err := e.m.Login(r, "1", "h"); err != nil {
			t.Fatal(err)
		}
		w.WriteHeader(200)
	}
	fr := &finalRecorder{h: http.Header{}}
	e.h.ServeHTTP(fr, httptest.NewRequest("GET", "https://example.com/", nil))
	if !slices.Equal(fr.codes, []int{103, 200}) {
		t.Fatalf("codes %v", fr.codes)
	}
	rec := httptest.NewRecorder()
	for k, v := range fr.final {
		rec.Header()[k] = v
	}
	if e.userOf(e.token(rec)) != "1" {
		t.Error("103 committed the session early")
	}
}

func TestChangesAfterResponseStarted(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.login("1", "h")
	e.do(tok, func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Flash("hello") })
	// A template writes the page and consumes the flashes as it goes.
	var shown []string
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>")
		shown = FromRequest(r).Flashes()
		FromRequest(r).SetString("late", "v")
		if err := e.m.SetCSRFSecret(w, r, "late-secret"); err != nil {
			t.Errorf("SetCSRFSecret on stored session after write: %v", err)
		}
	})
	var again []string
	var late, csrf string
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		again = FromRequest(r).Flashes()
		late, _ = FromRequest(r).GetString("late")
		csrf, _ = e.m.CSRFSecret(r)
	})
	if !slices.Equal(shown, []string{"hello"}) || again != nil || late != "v" || csrf != "late-secret" {
		t.Errorf("shown %q, again %q, late %q, csrf %q", shown, again, late, csrf)
	}
	// A session that does not exist yet cannot be created once the response started.
	e.do("", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>")
		if err := e.m.SetCSRFSecret(w, r, "x"); !errors.Is(err, ErrCommitted) {
			t.Errorf("SetCSRFSecret on new session after write: %v", err)
		}
		FromRequest(r).SetString("lost", "v")
	})
	if e.st.len() != 1 || !strings.Contains(e.logs.String(), "session.late_change") {
		t.Errorf("late change to a new session: rows %d, logs %s", e.st.len(), e.logs)
	}
}

// A request that only reads a stored session writes nothing, even when the response was
// started (body written) before the handler returned.
func TestReadAfterResponseStartedDoesNotWrite(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.token(e.do("", setFoo))
	_, saves, deletes := e.st.counts()
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello"))
		_, _ = FromRequest(r).GetString("foo")
	})
	if _, s2, d2 := e.st.counts(); s2 != saves || d2 != deletes {
		t.Errorf("a read-only request wrote: saves %d→%d, deletes %d→%d", saves, s2, deletes, d2)
	}
}

// A late change (after the response started) is kept only when the response succeeded: a
// handler that answers 500 after writing its status saves nothing it changed, as with any
// 5xx; a 499 saves. Emptying a stored session late deletes its row.
func TestLateChangeAndStatus(t *testing.T) {
	for _, c := range []struct {
		status int
		saved  bool
	}{{http.StatusInternalServerError, false}, {499, true}} {
		e := newEnv(t, Options{}, nil)
		tok := e.login("1", "h")
		e.do(tok, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			FromRequest(r).SetString("late", "v")
		})
		var late string
		e.do(tok, func(w http.ResponseWriter, r *http.Request) { late, _ = FromRequest(r).GetString("late") })
		if (late == "v") != c.saved {
			t.Errorf("status %d: late change saved = %v, want %v", c.status, late == "v", c.saved)
		}
		if strings.Contains(e.logs.String(), "store_error") {
			t.Errorf("status %d: a store error was logged with none happening: %s", c.status, e.logs)
		}
	}
	e := newEnv(t, Options{}, nil)
	tok := e.token(e.do("", setFoo))
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>")
		FromRequest(r).Delete("foo")
	})
	if e.st.len() != 0 {
		t.Errorf("a stored session emptied after the response started still has %d rows", e.st.len())
	}
}
