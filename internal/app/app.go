// Package app is rampart's reference application: every route of the contract in the design
// (register, login with lockout and two-factor, logout, password change and reset, 2FA
// enrollment, the user's sessions, sanitised comments, the security admin page, health),
// served through the default stack. It is the proof that the pieces work together, and the
// routes and form fields are stable because outside tests drive them.
package app

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/accounts/passkeys"
	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/internal/bufpool"
	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/passkey"
	"github.com/rampart-go/rampart/perms"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// App serves the reference application's routes. Wrap it with Stack.Handler.
type App struct {
	st       *rampart.Stack
	acc      *accounts.Accounts
	mux      *http.ServeMux
	handler  http.Handler
	pages    map[string]*template.Template
	comments comments.Store
	perms    *perms.Checker
	log      *slog.Logger
	now      func() time.Time
}

// Options configure New.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New builds the app on an assembled stack. The account routes are the public accounts
// package, mounted as any application mounts it; the app keeps its own pages (home,
// comments, the security admin page) and lends the accounts pages its layout.
func New(st *rampart.Stack, opts Options) (*App, error) {
	a := &App{st: st, mux: http.NewServeMux(), pages: map[string]*template.Template{}, log: st.Logger, now: opts.Now}
	if a.now == nil {
		a.now = time.Now
	}
	if c, ok := comments.For(st.Store); ok {
		a.comments = c
	} else {
		a.comments = &memComments{}
	}
	own, _ := fs.Sub(templateFS, "templates")
	acc, err := accounts.New(st, accounts.Options{Templates: own, Now: a.now,
		Passkeys: passkeys.New(st, passkey.Options{Now: a.now})})
	if err != nil {
		return nil, err
	}
	a.acc = acc
	layout, err := template.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	if a.perms, err = perms.New(st, perms.Options{Accounts: acc, Rules: []perms.Rule{commentAuthorRule}}); err != nil {
		return nil, err
	}
	for _, name := range []string{"home", "comments", "admin", "users", "user", "groups"} {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		a.pages[name] = t
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	a.mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	a.mux.HandleFunc("GET /healthz", st.Healthz)
	a.mux.HandleFunc("GET /{$}", a.home)
	a.mux.HandleFunc("GET /comments", a.listComments)
	a.mux.Handle("POST /comments", acc.RequireLogin(http.HandlerFunc(a.postComment)))
	// The admin page lists and lifts locks: staff holding the permission (superusers hold all),
	// and a recent password to lift one, like Django's admin behind django-sudo.
	a.mux.Handle("GET /admin/security", acc.RequireStaff(a.perms.RequirePermission("security.view")(http.HandlerFunc(a.admin))))
	a.mux.Handle("POST /admin/security", acc.RequireStaff(acc.RequireRecentAuth(a.perms.RequirePermission("security.change")(http.HandlerFunc(a.admin)))))
	a.authzRoutes()
	a.handler = acc.Handler(a.mux)
	return a, nil
}

// ServeHTTP resolves the logged-in user (accounts.Handler), then routes.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.handler.ServeHTTP(w, r)
}

// page is what every template sees.
type page struct {
	Title     string
	User      *store.User
	CSRFField template.HTML
	Flashes   []string
	Errors    []string
	Form      map[string]string
	Next      string
	Data      any
}

// render executes the page into a buffer first, so a template error becomes a clean 500 and
// the CSRF token and session flashes are taken before any header is written.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.User = accounts.User(r)
	p.CSRFField = csrf.TemplateField(r)
	p.Flashes = session.FromRequest(r).Flashes()
	buf := bufpool.Get()
	defer bufpool.Put(buf)
	if err := a.pages[name].ExecuteTemplate(buf, "layout", p); err != nil {
		a.log.Error("app: template", "page", name, "err", err)
		a.st.Errors.Write(w, r, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// unavailable answers 503 for a store failure; it is logged as an error unless the request
// was cancelled (the client hung up: see store.LogLevel).
func (a *App) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Log(r.Context(), store.LogLevel(r.Context(), err), "app: store unavailable", "path", r.URL.Path, "err", err)
	a.st.Errors.WriteMessage(w, r, http.StatusServiceUnavailable, "The service is temporarily unavailable. Please try again shortly.")
}

func (a *App) event(r *http.Request, kind string, u *store.User, username, detail string) {
	e := store.Event{Kind: kind, IP: clientip.FromRequest(r).IP.String(), Detail: detail, Username: username}
	if u != nil {
		e.UserID, e.Username = u.ID, u.Username
	}
	_ = a.st.Audit.Record(r.Context(), e)
}

// memComments keeps comments in memory for stores that do not persist them.
type memComments struct {
	mu   sync.Mutex
	list []comments.Comment
}

func (m *memComments) AddComment(_ context.Context, c comments.Comment) (comments.Comment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.ID = int64(len(m.list) + 1)
	m.list = append(m.list, c)
	return c, nil
}

func (m *memComments) RecentComments(_ context.Context, limit int) ([]comments.Comment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []comments.Comment
	for i := len(m.list) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, m.list[i])
	}
	return out, nil
}
