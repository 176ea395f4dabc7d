// Package app is rampart's reference application: every route of the contract in the design
// (register, login with lockout and two-factor, logout, password change and reset, 2FA
// enrollment, the user's sessions, sanitised comments, the security admin page, health),
// served through the default stack. It is the proof that the pieces work together, and the
// routes and form fields are stable because outside tests drive them.
package app

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/redirect"
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
	mux      *http.ServeMux
	pages    map[string]*template.Template
	comments store.Comments
	log      *slog.Logger
	now      func() time.Time
}

// Options configure New.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New builds the app on an assembled stack.
func New(st *rampart.Stack, opts Options) (*App, error) {
	a := &App{st: st, mux: http.NewServeMux(), pages: map[string]*template.Template{}, log: st.Logger, now: opts.Now}
	if a.now == nil {
		a.now = time.Now
	}
	if c, ok := st.Store.(store.Comments); ok {
		a.comments = c
	} else {
		a.comments = &memComments{}
	}
	layout, err := template.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"home", "register", "login", "login2fa", "password", "reset", "reset_confirm", "twofactor", "sessions", "comments", "admin"} {
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
	a.mux.HandleFunc("GET /accounts/register", a.register)
	a.mux.HandleFunc("POST /accounts/register", a.register)
	a.mux.HandleFunc("GET /accounts/login", a.login)
	a.mux.HandleFunc("POST /accounts/login", a.login)
	a.mux.HandleFunc("GET /accounts/login/2fa", a.login2FA)
	a.mux.HandleFunc("POST /accounts/login/2fa", a.login2FA)
	a.mux.HandleFunc("POST /accounts/logout", a.logout)
	a.mux.HandleFunc("GET /accounts/password", a.requireLogin(a.changePassword))
	a.mux.HandleFunc("POST /accounts/password", a.requireLogin(a.changePassword))
	a.mux.HandleFunc("GET /accounts/reset", a.reset)
	a.mux.HandleFunc("POST /accounts/reset", a.reset)
	a.mux.HandleFunc("GET /accounts/reset/{token}", a.resetConfirm)
	a.mux.HandleFunc("POST /accounts/reset/{token}", a.resetConfirm)
	a.mux.HandleFunc("GET /accounts/2fa", a.requireLogin(a.twoFactor))
	a.mux.HandleFunc("POST /accounts/2fa", a.requireLogin(a.twoFactor))
	a.mux.HandleFunc("GET /accounts/sessions", a.requireLogin(a.sessions))
	a.mux.HandleFunc("POST /accounts/sessions", a.requireLogin(a.sessions))
	a.mux.HandleFunc("GET /comments", a.listComments)
	a.mux.HandleFunc("POST /comments", a.requireLogin(a.postComment))
	a.mux.HandleFunc("GET /admin/security", a.requireStaff(a.admin))
	a.mux.HandleFunc("POST /admin/security", a.requireStaff(a.admin))
	if err := a.passkeyRoutes(); err != nil { // passkeys.go: additive routes outside the contract
		return nil, err
	}
	return a, nil
}

// ServeHTTP resolves the logged-in user, then routes.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, a.st.Settings.MaxBodyBytes)
	// Forms are read here, once, so that one over the cap is answered 413 before any view
	// sees it: PostFormValue would hide the error and hand a login an empty username, which
	// then answered "wrong password" and was audited as a failed login.
	if err := r.ParseForm(); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			a.st.Errors.WriteMessage(w, r, http.StatusRequestEntityTooLarge, "The form is too large.")
			return
		}
	}
	u, err := a.currentUser(w, r)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	if u != nil {
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
	}
	a.mux.ServeHTTP(w, r)
}

type userKey struct{}

func userFrom(r *http.Request) *store.User {
	u, _ := r.Context().Value(userKey{}).(*store.User)
	return u
}

// currentUser loads the session's user and logs the session out when the user is gone,
// inactive, or changed password since (Django's session auth hash check).
func (a *App) currentUser(w http.ResponseWriter, r *http.Request) (*store.User, error) {
	sess := session.FromRequest(r)
	id := sess.UserID()
	if id == "" {
		return nil, nil
	}
	u, err := a.st.Store.UserByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.st.Sessions.Logout(w, r)
	}
	if err != nil {
		return nil, err
	}
	if !u.IsActive || !a.st.Accounts.CheckSessionAuthHash(u, sess.AuthHash()) {
		return nil, a.st.Sessions.Logout(w, r)
	}
	return &u, nil
}

func (a *App) requireLogin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if userFrom(r) == nil {
			http.Redirect(w, r, "/accounts/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r)
	}
}

func (a *App) requireStaff(h http.HandlerFunc) http.HandlerFunc {
	return a.requireLogin(func(w http.ResponseWriter, r *http.Request) {
		if !userFrom(r).IsStaff {
			a.st.Errors.Write(w, r, http.StatusForbidden)
			return
		}
		h(w, r)
	})
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
	p.User = userFrom(r)
	p.CSRFField = csrf.TemplateField(r)
	p.Flashes = session.FromRequest(r).Flashes()
	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
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

// safeNext returns the request's next parameter when it stays on this site, else "/".
func safeNext(r *http.Request) string {
	next := r.URL.Query().Get("next")
	if next == "" {
		return "/"
	}
	info := clientip.FromRequest(r)
	if !redirect.IsSafe(next, []string{info.Host}, info.Secure()) {
		return "/"
	}
	return next
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(s, 10))
}

// memComments keeps comments in memory for stores that do not persist them.
type memComments struct {
	mu   sync.Mutex
	list []store.Comment
}

func (m *memComments) AddComment(_ context.Context, c store.Comment) (store.Comment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.ID = int64(len(m.list) + 1)
	m.list = append(m.list, c)
	return c, nil
}

func (m *memComments) RecentComments(_ context.Context, limit int) ([]store.Comment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Comment
	for i := len(m.list) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, m.list[i])
	}
	return out, nil
}
