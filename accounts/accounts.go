// Package accounts is rampart's account system as one mountable handler: registration, login
// with lockout and a second factor, logout, password change and reset, TOTP enrolment,
// passkeys (opt-in: Options.Passkeys) and the user's sessions, in the order Django's auth and
// django-two-factor-auth apply them, plus the request's user, guards (login, staff, second
// factor, recent authentication) and a login function for custom pages.
//
//	acc, err := accounts.New(stack, accounts.Options{})
//	mux.Handle("GET /{$}", acc.RequireLogin(home))
//	http.ListenAndServe(addr, stack.Handler(acc.Handler(mux)))
//
// Passkeys are turned on with a [Passkeys] from the accounts/passkeys package, which links the
// WebAuthn library only into the applications that use it.
//
// Every step that makes the model hold is done here, once, so an application cannot leave one
// out: the per-IP login limit, a lockout slot taken before any password hash, the second
// factor, a new session ID and CSRF secret at login, a password change that ends the other
// sessions, audit events for every password check, and recent authentication ("sudo mode")
// before anything that would turn minutes of a stolen session into lasting access: turning
// two-factor on or off, new backup codes, adding or removing passkeys, ending other sessions.
//
// Pages are html/template files embedded in the package; Options.Templates replaces any of
// them, or only the layout, by file name. Each page's template data is a Page whose Data
// field holds the page's own struct (documented on each type).
package accounts

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/internal/bufpool"
	"github.com/rampart-go/rampart/redirect"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/signing"
	"github.com/rampart-go/rampart/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/passkeys.js
var passkeysJS []byte

// DefaultPrefix is where the account routes live unless Options.Prefix says otherwise.
const DefaultPrefix = "/accounts"

// DefaultRecentAuth is how long a login or a re-authentication counts as recent for the
// actions behind RequireRecentAuth (GitHub's sudo mode and Django's django-sudo use 2 hours and
// 3 hours; a short window limits what a stolen session can do, and re-entering a password
// now and then is cheap).
const DefaultRecentAuth = 10 * time.Minute

// Options configure New. The zero value serves every route under /accounts with the embedded
// pages and a recent-authentication window of DefaultRecentAuth.
type Options struct {
	// Prefix is the path the account routes are served under, without a trailing slash.
	// Empty means DefaultPrefix.
	Prefix string
	// Templates replaces embedded pages by file name: layout.html (it must define "layout"
	// and call {{template "content" .}}), login.html, login2fa.html, register.html,
	// password.html, reset.html, reset_confirm.html, twofactor.html, sessions.html,
	// passkeys.html, confirm.html (each defines "content"). Files it lacks keep the default.
	Templates fs.FS
	// RecentAuth is how long a login or re-authentication lets the user take the sensitive
	// actions without being asked again. Zero means the settings' RecentAuth
	// (RAMPART_RECENT_AUTH), and DefaultRecentAuth when that is unset too.
	RecentAuth time.Duration
	// OnEvent is called after each account event is recorded in the audit trail (login,
	// login failure, lockout, logout, password change and reset, two-factor and passkey
	// changes, ...), like Django's and axes' signals: the place to notify the user ("new
	// sign-in", "two-factor was turned off"). It runs on the request's goroutine. It is also
	// told of every login refused under a lock (audit.KindLoginLocked), which an attacker can
	// send at flood rates: keep it cheap for those.
	OnEvent func(r *http.Request, e store.Event)
	// EmailVerification says whether registration confirms the e-mail address first; the
	// zero value, VerifyNone, logs new accounts in at once. See VerifyMandatory.
	EmailVerification EmailVerification
	// RequireTwoFactor makes users enrol a second factor before they can use the site
	// (django-two-factor-auth's enforcement): a logged-in user it covers who has no TOTP
	// device is sent to the enrolment page from every page but the account routes. The zero
	// value, TwoFactorOptional, leaves it to each user.
	RequireTwoFactor TwoFactorPolicy
	// Passkeys turns on passkeys (WebAuthn): the pages to add and remove them, passwordless
	// login, and re-authentication with one. Nil leaves them off and the WebAuthn library out
	// of the binary; accounts/passkeys.New builds one on the stack's store:
	//
	//	acc, err := accounts.New(stack, accounts.Options{Passkeys: passkeys.New(stack, passkey.Options{})})
	Passkeys Passkeys
	// ConfirmMaxAge is how long a confirmation link works. Zero means DefaultConfirmMaxAge.
	ConfirmMaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Accounts serves the account routes and resolves the request's user. Build it with New.
type Accounts struct {
	st      *rampart.Stack
	mux     *http.ServeMux
	pages   map[string]*template.Template
	log     *slog.Logger
	now     func() time.Time
	prefix  string
	recent  time.Duration
	onEvent func(r *http.Request, e store.Event)
	pk      *passkeys

	force         TwoFactorPolicy
	verify        EmailVerification
	confirmMaxAge time.Duration
	confirmSigner *signing.TimestampSigner
}

// pageNames are the pages New parses, each from <name>.html.
var pageNames = []string{"register", "register_done", "confirm_email", "login", "login2fa", "password", "reset", "reset_confirm", "twofactor", "sessions", "passkeys", "confirm"}

// New builds the account system on an assembled stack.
func New(st *rampart.Stack, opts Options) (*Accounts, error) {
	a := &Accounts{st: st, mux: http.NewServeMux(), pages: map[string]*template.Template{}, log: st.Logger,
		now: opts.Now, prefix: strings.TrimSuffix(opts.Prefix, "/"), recent: opts.RecentAuth, onEvent: opts.OnEvent}
	if a.now == nil {
		a.now = time.Now
	}
	if a.prefix == "" {
		a.prefix = DefaultPrefix
	}
	if !strings.HasPrefix(a.prefix, "/") || strings.ContainsAny(a.prefix, "{}?#") {
		return nil, fmt.Errorf("accounts: Prefix %q must be a path starting with /", opts.Prefix)
	}
	if a.recent <= 0 {
		a.recent = st.Settings.RecentAuth
	}
	if a.recent <= 0 {
		a.recent = DefaultRecentAuth
	}
	a.verify, a.confirmMaxAge, a.force = opts.EmailVerification, opts.ConfirmMaxAge, opts.RequireTwoFactor
	if a.confirmMaxAge <= 0 {
		a.confirmMaxAge = DefaultConfirmMaxAge
	}
	var err error
	if a.confirmSigner, err = newConfirmSigner(a); err != nil {
		return nil, err
	}
	read := func(name string) (string, error) {
		if opts.Templates != nil {
			if b, err := fs.ReadFile(opts.Templates, name); err == nil {
				return string(b), nil
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("accounts: reading template %s: %w", name, err)
			}
		}
		b, err := templateFS.ReadFile("templates/" + name)
		return string(b), err
	}
	layoutText, err := read("layout.html")
	if err != nil {
		return nil, err
	}
	layout, err := template.New("layout.html").Parse(layoutText)
	if err != nil {
		return nil, fmt.Errorf("accounts: layout.html: %w", err)
	}
	for _, name := range pageNames {
		text, err := read(name + ".html")
		if err != nil {
			return nil, err
		}
		t, err := template.Must(layout.Clone()).New(name + ".html").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("accounts: %s.html: %w", name, err)
		}
		a.pages[name] = t
	}
	p := a.prefix
	a.mux.HandleFunc("GET "+p+"/register", a.register)
	a.mux.HandleFunc("POST "+p+"/register", a.register)
	a.mux.HandleFunc("GET "+p+"/login", a.login)
	a.mux.HandleFunc("POST "+p+"/login", a.login)
	a.mux.HandleFunc("GET "+p+"/login/2fa", a.login2FA)
	a.mux.HandleFunc("POST "+p+"/login/2fa", a.login2FA)
	a.mux.HandleFunc("POST "+p+"/logout", a.logout)
	a.mux.Handle("GET "+p+"/password", a.RequireLogin(http.HandlerFunc(a.changePassword)))
	a.mux.Handle("POST "+p+"/password", a.RequireLogin(http.HandlerFunc(a.changePassword)))
	a.mux.HandleFunc("GET "+p+"/confirm-email/{token}", a.confirmEmail)
	a.mux.HandleFunc("POST "+p+"/confirm-email/{token}", a.confirmEmail)
	a.mux.HandleFunc("GET "+p+"/reset", a.reset)
	a.mux.HandleFunc("POST "+p+"/reset", a.reset)
	a.mux.HandleFunc("GET "+p+"/reset/{token}", a.resetConfirm)
	a.mux.HandleFunc("POST "+p+"/reset/{token}", a.resetConfirm)
	// Seeing the enrolment secret is as sensitive as confirming it: a stolen session that
	// read it could later read the owner's codes.
	a.mux.Handle("GET "+p+"/2fa", a.RequireRecentAuth(http.HandlerFunc(a.twoFactor)))
	a.mux.Handle("POST "+p+"/2fa", a.RequireRecentAuth(http.HandlerFunc(a.twoFactor)))
	a.mux.Handle("GET "+p+"/sessions", a.RequireLogin(http.HandlerFunc(a.sessions)))
	a.mux.Handle("POST "+p+"/sessions", a.RequireRecentAuth(http.HandlerFunc(a.sessions)))
	a.mux.Handle("GET "+p+"/confirm", a.RequireLogin(http.HandlerFunc(a.confirm)))
	a.mux.Handle("POST "+p+"/confirm", a.RequireLogin(http.HandlerFunc(a.confirm)))
	if opts.Passkeys != nil {
		a.passkeyRoutes(opts.Passkeys)
	}
	return a, nil
}

// TwoFactorPolicy says who must enrol a second factor (Options.RequireTwoFactor).
type TwoFactorPolicy uint8

const (
	// TwoFactorOptional leaves two-factor to each user.
	TwoFactorOptional TwoFactorPolicy = iota
	// TwoFactorStaff requires it of staff users.
	TwoFactorStaff
	// TwoFactorEveryone requires it of every user.
	TwoFactorEveryone
)

func (a *Accounts) mustEnrol(u *store.User) bool {
	return a.force == TwoFactorEveryone || a.force == TwoFactorStaff && u.IsStaff
}

// Prefix is the path the account routes are served under.
func (a *Accounts) Prefix() string { return a.prefix }

// Handler serves the account routes and passes every other request to next, after resolving
// the request's user (see User) for both. Forms are read here, once, so that one over the
// body cap is answered 413 before any view sees it (PostFormValue would hide the error and
// hand a login an empty username, answered "wrong password" and audited as a failed login).
func (a *Accounts) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, a.st.Settings.MaxBodyBytes)
			if err := r.ParseForm(); err != nil {
				if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
					a.st.Errors.WriteMessage(w, r, http.StatusRequestEntityTooLarge, "The form is too large.")
					return
				}
			}
		}
		r, err := a.withUser(w, r)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		if r.URL.Path == a.prefix || strings.HasPrefix(r.URL.Path, a.prefix+"/") {
			a.mux.ServeHTTP(w, r)
			return
		}
		if u := User(r); u != nil && !u.TOTPEnabled && a.mustEnrol(u) {
			if wantsJSON(r) {
				jsonError(w, http.StatusForbidden, "Turn on two-factor authentication first.")
				return
			}
			session.FromRequest(r).Flash("Turn on two-factor authentication to continue.")
			a.redirect(w, r, a.prefix+"/2fa")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Page is what every account page's template sees.
type Page struct {
	Title string
	// User is the logged-in user, nil for anonymous requests.
	User *store.User
	// CSRFField is the hidden input every form must carry.
	CSRFField template.HTML
	// Prefix is where the account routes are served: forms post to {{.Prefix}}/login etc.
	Prefix  string
	Flashes []string
	Errors  []string
	// Form holds the submitted values a form shows again (never passwords).
	Form map[string]string
	// Next is the checked destination after the page's form succeeds.
	Next string
	// Passkeys is set when passkeys are on (Options.Passkeys): the layout links their pages.
	Passkeys bool
	// Data is the page's own: TwoFactorData, []SessionRow, PasskeyData, ConfirmData,
	// RegisterDoneData, ConfirmEmailData; []string for register (the password rules); a
	// string for reset_confirm (the form's action, empty for an invalid link).
	Data any
}

// render executes the page into a buffer first, so a template error becomes a clean 500 and
// the CSRF token and session flashes are taken before any header is written.
func (a *Accounts) render(w http.ResponseWriter, r *http.Request, status int, name string, p Page) {
	p.User = User(r)
	p.CSRFField = csrf.TemplateField(r)
	p.Flashes = session.FromRequest(r).Flashes()
	p.Prefix = a.prefix
	p.Passkeys = a.pk != nil
	if wantsJSON(r) {
		jp := jsonPage{Title: p.Title, Errors: p.Errors, Flashes: p.Flashes, Form: p.Form, Next: p.Next, Data: p.Data}
		if p.User != nil {
			jp.User = p.User.Username
		}
		writeJSON(w, status, jp)
		return
	}
	buf := bufpool.Get()
	defer bufpool.Put(buf)
	if err := a.pages[name].ExecuteTemplate(buf, "layout", p); err != nil {
		a.log.Error("accounts: template", "page", name, "err", err)
		a.st.Errors.Write(w, r, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// jsonPage is a page for clients that ask for JSON (an SPA, htmx, a mobile app): the same
// answer as the HTML page, as data. Flashes are the session's one-time messages.
type jsonPage struct {
	Title   string            `json:"title"`
	User    string            `json:"user,omitempty"`
	Errors  []string          `json:"errors,omitempty"`
	Flashes []string          `json:"flashes,omitempty"`
	Form    map[string]string `json:"form,omitempty"`
	Next    string            `json:"next,omitempty"`
	Data    any               `json:"data,omitempty"`
}

// redirect answers a finished step: 303 to url, or for a client that wants JSON, 200 with
// {"redirect": url, "csrf_token": token} (fetch would follow a 303 to an HTML page the script
// cannot use; a login rotates the CSRF secret, so the script gets the new token at once).
func (a *Accounts) redirect(w http.ResponseWriter, r *http.Request, url string) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"redirect": url, "csrf_token": csrf.Token(r)})
		return
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
}

// unavailable answers 503 for a store failure; it is logged as an error unless the request
// was cancelled (the client hung up: see store.LogLevel).
func (a *Accounts) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Log(r.Context(), store.LogLevel(r.Context(), err), "accounts: store unavailable", "path", r.URL.Path, "err", err)
	a.st.Errors.WriteMessage(w, r, http.StatusServiceUnavailable, "The service is temporarily unavailable. Please try again shortly.")
}

// event records an account event in the audit trail and tells Options.OnEvent.
func (a *Accounts) event(r *http.Request, kind string, u *store.User, username, detail string) {
	e := store.Event{Kind: kind, IP: clientip.FromRequest(r).IP.String(), Detail: detail, Username: username}
	if u != nil {
		e.UserID, e.Username = u.ID, u.Username
	}
	_ = a.st.Audit.Record(r.Context(), e)
	if a.onEvent != nil {
		a.onEvent(r, e)
	}
}

// SafeNext returns the request's next parameter when it stays on this site, else "/".
func SafeNext(r *http.Request) string {
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

func servePasskeysJS(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(passkeysJS)
}
