package accounts

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/internal/reqown"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/twofactor"
)

// Session keys of the authentication state. keyAuthAt is when the session last proved who it
// is (a login, or a re-authentication on the confirm page); keyMFA marks a login that used a
// second factor (TOTP, a backup code, a remembered browser, or a passkey).
const (
	keyAuthAt = "auth.at"
	keyMFA    = "auth.mfa"
)

type userKey struct{}

// userCtx carries the request's user: the context and the user in one allocation.
type userCtx struct {
	context.Context
	u store.User
}

func (c *userCtx) Value(key any) any {
	if key == (userKey{}) {
		return &c.u
	}
	return c.Context.Value(key)
}

// User returns the logged-in user of a request that went through Accounts.Handler, or nil.
// The user was loaded once for the request, and the session was checked against the user's
// password hash and active flag as Django's get_user does: a password change, a reset or a
// deactivation ends every older session at its next request.
func User(r *http.Request) *store.User {
	u, _ := r.Context().Value(userKey{}).(*store.User)
	return u
}

// withUser loads the session's user into the request's context, logging the session out when
// the user is gone, inactive, or changed password since.
func (a *Accounts) withUser(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	sess := session.FromRequest(r)
	id := sess.UserID()
	if id == "" {
		return r, nil
	}
	u, err := a.st.Store.UserByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return r, a.st.Sessions.Logout(r)
	}
	if err != nil {
		return r, err
	}
	if !u.IsActive || !a.st.Accounts.CheckSessionAuthHash(u, sess.AuthHash()) {
		return r, a.st.Sessions.Logout(r)
	}
	// A new request, never the caller's updated in place (application middleware may run
	// between the stack and this handler and keep the request it was given; the stack ended
	// its ownership before the application): reqown copies it, with the context and the user
	// in the same allocation.
	r, _ = reqown.WithValueContext(r, userCtx{Context: r.Context(), u: u})
	return r, nil
}

// wantsJSON reports whether the client asked for JSON (an API, SPA or passkey request: it
// accepts JSON first, or sends a JSON body), which gets a status and a JSON error instead of
// a redirect to a page.
func wantsJSON(r *http.Request) bool {
	isJSON := func(v string) bool { return len(v) >= 16 && strings.EqualFold(v[:16], "application/json") }
	if isJSON(r.Header.Get("Content-Type")) {
		return true
	}
	for _, v := range r.Header.Values("Accept") {
		if isJSON(v) {
			return true
		}
	}
	return false
}

// RequireLogin lets logged-in users through. Anonymous page requests are redirected to the
// login page with the current URL as next (Django's login_required); requests that want JSON
// get 401.
func (a *Accounts) RequireLogin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if User(r) == nil {
			if wantsJSON(r) {
				jsonError(w, http.StatusUnauthorized, "Please log in.")
				return
			}
			http.Redirect(w, r, a.prefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// RequireStaff lets staff users through; other logged-in users get 403, anonymous ones the
// login redirect (Django's staff_member_required).
func (a *Accounts) RequireStaff(h http.Handler) http.Handler {
	return a.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !User(r).IsStaff {
			if wantsJSON(r) {
				jsonError(w, http.StatusForbidden, "Staff only.")
				return
			}
			a.st.Errors.Write(w, r, http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// RequireSecondFactor lets through users whose login in this session used a second factor
// (django-otp's otp_required): a TOTP or backup code, a remembered browser, or a passkey.
// Others are sent to enrol (or, for JSON, get 403): a user without two-factor must turn it on
// before reaching what this guards.
func (a *Accounts) RequireSecondFactor(h http.Handler) http.Handler {
	return a.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := session.FromRequest(r).GetInt64(keyMFA); !ok {
			if wantsJSON(r) {
				jsonError(w, http.StatusForbidden, "Two-factor authentication is required.")
				return
			}
			session.FromRequest(r).Flash("This page needs two-factor authentication. Turn it on, then log in again with your code.")
			http.Redirect(w, r, a.prefix+"/2fa?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// Recent reports whether the request's session logged in or re-authenticated within
// Options.RecentAuth.
func (a *Accounts) Recent(r *http.Request) bool {
	at, ok := session.FromRequest(r).GetInt64(keyAuthAt)
	if !ok {
		return false
	}
	age := a.now().Sub(time.Unix(at, 0))
	return age >= -time.Minute && age <= a.recent
}

// RequireRecentAuth lets a logged-in user through when the session proved who it is within
// Options.RecentAuth (GitHub's "sudo mode"): a stolen session cookie alone cannot take the
// actions behind it. Others are asked to re-enter their password (or a TOTP code, or to use
// one of their passkeys) on the confirm page and come back; a form posted without it is not carried out (the user submits
// it again), and JSON requests get 403 with "reauthenticate" in the body.
func (a *Accounts) RequireRecentAuth(h http.Handler) http.Handler {
	return a.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.Recent(r) {
			if wantsJSON(r) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": "Please confirm your password first.", "reauthenticate": a.prefix + "/confirm"})
				return
			}
			back := r.URL.RequestURI()
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				back = r.URL.Path // the page the form came from, shown again after confirming
			}
			http.Redirect(w, r, a.prefix+"/confirm?next="+url.QueryEscape(back), http.StatusSeeOther)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// ConfirmData is the confirm page's Data.
type ConfirmData struct {
	// TOTP is set when the user may confirm with an authenticator code instead of the password.
	TOTP bool
	// Passkey is set when the user may confirm with a passkey; Nonce and CSRFToken are then
	// what the passkey script needs (its script tag and its JSON requests' header).
	Passkey          bool
	Nonce, CSRFToken string
}

// confirm is the re-authentication page behind RequireRecentAuth: the password (reserved in
// the lockout and audited like a login's) or, with two-factor on, a TOTP or backup code
// (throttled like the login's second step).
func (a *Accounts) confirm(w http.ResponseWriter, r *http.Request) {
	u := User(r)
	p := Page{Title: "Confirm it's you", Next: SafeNext(r), Data: ConfirmData{TOTP: u.TOTPEnabled}}
	if r.Method != http.MethodPost {
		has, err := a.pk.hasPasskeys(r, u)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		p.Data = ConfirmData{TOTP: u.TOTPEnabled, Passkey: has, Nonce: csp.Nonce(r), CSRFToken: csrf.Token(r)}
		a.render(w, r, http.StatusOK, "confirm", p)
		return
	}
	ctx := r.Context()
	if code := r.PostFormValue("code"); code != "" && u.TOTPEnabled {
		if _, err := a.st.TwoFactor.Verify(ctx, *u, code); err != nil {
			var te *twofactor.ThrottledError
			switch {
			case errors.As(err, &te):
				retryAfter(w, te.RetryAfter)
				p.Errors = []string{"Too many wrong codes. Wait a moment and try again."}
				a.event(r, "2fa.failure", u, "", "re-authentication: throttled")
				a.render(w, r, http.StatusTooManyRequests, "confirm", p)
			case errors.Is(err, twofactor.ErrInvalidCode), errors.Is(err, twofactor.ErrReplay):
				p.Errors = []string{"That code is not valid."}
				a.event(r, "2fa.failure", u, "", "re-authentication: "+err.Error())
				a.render(w, r, http.StatusOK, "confirm", p)
			default:
				a.unavailable(w, r, err)
			}
			return
		}
		a.confirmed(w, r, u, "totp")
		return
	}
	switch a.recheckPassword(w, r, u, r.PostFormValue("password"), "re-authentication") {
	case passwordWrong:
		p.Errors = []string{"Your password was entered incorrectly."}
		a.render(w, r, http.StatusOK, "confirm", p)
		return
	case passwordAnswered:
		return
	}
	a.confirmed(w, r, u, "password")
}

// confirmed starts a new recent-authentication window with a new session ID (the session's
// privileges just grew) and goes back to where the user was.
func (a *Accounts) confirmed(w http.ResponseWriter, r *http.Request, u *store.User, how string) {
	if err := a.st.Sessions.RenewID(r); err != nil {
		a.unavailable(w, r, err)
		return
	}
	session.FromRequest(r).SetInt64(keyAuthAt, a.now().Unix())
	a.event(r, "reauth", u, "", how)
	a.redirect(w, r, SafeNext(r))
}

// FuncMap holds template functions for an application's own pages: {{currentUser .Req}} is
// the request's logged-in user (nil when anonymous), when the page's data carries the
// *http.Request as Req (or any field: the function takes the request).
var FuncMap = map[string]any{"currentUser": User}
