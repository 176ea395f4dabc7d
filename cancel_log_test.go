package rampart_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/internal/app"
	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/sqlite"
)

// records is a slog.Handler that keeps every record.
type records struct {
	mu   sync.Mutex
	list []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.list = append(h.list, r.Clone())
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

func (h *records) take() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.list
	h.list = nil
	return out
}

func text(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	return b.String()
}

// A request whose client hung up (its context cancelled) while a store call was waiting is
// not a store outage: the session layer, the app and /healthz log it at debug level. The
// same failure from a store that let the deadline pass is logged as an error. SQLite, with
// its session cache off, checks the context on every call, as a networked store does.
func TestCancelledRequestIsNotLoggedAsAnOutage(t *testing.T) {
	env := map[string]string{"RAMPART_SECRET_KEY": apptest.TestKey, "RAMPART_ALLOWED_HOSTS": "127.0.0.1",
		"RAMPART_INSECURE_DEV": "1", "RAMPART_RATE": "100000/m", "RAMPART_LOGIN_RATE": "100000/m"}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.OpenWith(filepath.Join(t.TempDir(), "r.db"), sqlite.Options{NoSessionCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &records{}
	stack, err := rampart.New(t.Context(), s, rampart.Options{Store: db, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	a, err := app.New(stack, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := stack.Handler(a)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &apptest.Env{URL: srv.URL, Server: srv, Stack: stack, App: a, Settings: s}
	e.CreateUser(t, "ann", "a long unusual passphrase 42", false)
	c := e.Client(t)
	if r := c.Login("ann", "a long unusual passphrase 42"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	base, _ := url.Parse(srv.URL)
	cookies := c.HTTP.Jar.Cookies(base)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()

	for _, tc := range []struct {
		name, path string
		session    bool
		msg        string // what logs the failure
	}{
		{"session load", "/accounts/sessions", true, "session store failed"},
		{"app page", "/comments", false, "app: store unavailable"},
		{"health", "/healthz", false, "healthz: store unavailable"},
	} {
		for _, ctx := range []struct {
			name string
			ctx  context.Context
			want slog.Level
		}{{"client gone", cancelled, slog.LevelDebug}, {"deadline", expired, slog.LevelError}} {
			t.Run(tc.name+"/"+ctx.name, func(t *testing.T) {
				logs.take()
				req := httptest.NewRequestWithContext(ctx.ctx, "GET", srv.URL+tc.path, nil)
				req.RemoteAddr = "127.0.0.1:40000"
				if tc.session {
					for _, ck := range cookies {
						req.AddCookie(ck)
					}
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusServiceUnavailable {
					t.Errorf("status %d, want 503 (the store call failed)", w.Code)
				}
				var found bool
				for _, r := range logs.take() {
					if r.Level >= slog.LevelWarn && r.Level != ctx.want {
						t.Errorf("logged at %v: %s", r.Level, text(r))
					}
					if r.Message == tc.msg {
						found = true
						if r.Level != ctx.want {
							t.Errorf("%q logged at %v, want %v: %s", tc.msg, r.Level, ctx.want, text(r))
						}
					}
				}
				if !found {
					t.Errorf("no %q record", tc.msg)
				}
			})
		}
	}
}
