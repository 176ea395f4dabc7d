package accounts

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/internal/passkeyerr"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
)

// Passkeys runs the WebAuthn ceremonies behind the passkey routes (Options.Passkeys). Build
// one with the accounts/passkeys package: it is kept out of this package so that an
// application without passkeys does not link the WebAuthn library (CBOR, TPM attestation, JWT:
// about 3 MB). The errors are the passkey package's (passkeyerr.ErrInvalid, ...).
type Passkeys interface {
	// BeginRegistration starts adding a passkey for u; the result is sent to the browser as JSON.
	BeginRegistration(r *http.Request, u *store.User) (any, error)
	// FinishRegistration checks the browser's response and stores the passkey under name.
	FinishRegistration(r *http.Request, u *store.User, name string, body io.Reader) (PasskeyRow, error)
	// BeginLogin starts a login (or a re-authentication) with any passkey of this site.
	BeginLogin(r *http.Request) (any, error)
	// FinishLogin checks the browser's response and returns the passkey's owner. With
	// passkeyerr.ErrCloned it still names the owner, for the audit trail.
	FinishLogin(r *http.Request, body io.Reader) (userID string, err error)
	// List returns userID's passkeys, oldest first.
	List(ctx context.Context, userID string) ([]PasskeyRow, error)
	// Delete removes userID's passkey id; store.ErrNotFound when userID has none with it.
	Delete(ctx context.Context, userID string, id []byte) error
}

// Audit kinds of the passkey routes (the audit package's list covers the contract routes).
const (
	kindPasskeyAdd    = "passkey.add"
	kindPasskeyDelete = "passkey.delete"
	kindPasskeyLogin  = "passkey.login"
	kindPasskeyClone  = "passkey.clone"
)

// passkeys serves the passkey routes (additive: not in the design's contract table). A
// passkey login is multi-factor by itself (device possession + user verification, origin
// bound), so it completes the login without the TOTP step.
type passkeys struct {
	*Accounts
	m Passkeys
}

// passkeyRoutes registers the passkey routes on a's mux. Adding a passkey is a sensitive
// action (a stolen session would gain a lasting way in), so it needs recent authentication;
// the registration ceremony's begin and finish are JSON requests and get 403 without it.
func (a *Accounts) passkeyRoutes(m Passkeys) {
	p := &passkeys{Accounts: a, m: m}
	a.pk = p
	pre := a.prefix
	a.mux.HandleFunc("GET "+pre+"/static/passkeys.js", servePasskeysJS)
	a.mux.Handle("GET "+pre+"/passkeys", a.RequireLogin(http.HandlerFunc(p.page)))
	a.mux.Handle("POST "+pre+"/passkeys", a.RequireRecentAuth(http.HandlerFunc(p.delete)))
	a.mux.Handle("POST "+pre+"/passkeys/begin-register", a.RequireRecentAuth(http.HandlerFunc(p.beginRegister)))
	a.mux.Handle("POST "+pre+"/passkeys/finish-register", a.RequireRecentAuth(http.HandlerFunc(p.finishRegister)))
	a.mux.Handle("POST "+pre+"/confirm/passkey/begin", a.RequireLogin(http.HandlerFunc(p.beginLogin)))
	a.mux.Handle("POST "+pre+"/confirm/passkey/finish", a.RequireLogin(http.HandlerFunc(p.finishConfirm)))
	a.mux.HandleFunc("GET "+pre+"/login/passkey", p.loginPage)
	a.mux.HandleFunc("POST "+pre+"/login/passkey/begin", p.beginLogin)
	a.mux.HandleFunc("POST "+pre+"/login/passkey/finish", p.finishLogin)
}

// PasskeyRow is one line of the passkey list. ID is the credential ID, base64url without
// padding (the value the delete form posts).
type PasskeyRow struct {
	ID, Name string
	Created  time.Time
	LastUsed time.Time
}

// PasskeyData is the passkeys page's Data: the nonce lets the page load the passkey script
// under the strict CSP, the token goes in the X-CSRF-Token header of its JSON requests.
type PasskeyData struct {
	Nonce, CSRFToken, Next string
	Login                  bool
	Passkeys               []PasskeyRow
}

func (p *passkeys) page(w http.ResponseWriter, r *http.Request) {
	list, err := p.m.List(r.Context(), User(r).ID)
	if err != nil {
		p.unavailable(w, r, err)
		return
	}
	d := PasskeyData{Nonce: csp.Nonce(r), CSRFToken: csrf.Token(r), Passkeys: list}
	p.render(w, r, http.StatusOK, "passkeys", Page{Title: "Passkeys", Data: d})
}

func (p *passkeys) loginPage(w http.ResponseWriter, r *http.Request) {
	d := PasskeyData{Nonce: csp.Nonce(r), CSRFToken: csrf.Token(r), Login: true, Next: SafeNext(r)}
	p.render(w, r, http.StatusOK, "passkeys", Page{Title: "Log in with a passkey", Data: d})
}

func (p *passkeys) delete(w http.ResponseWriter, r *http.Request) {
	u := User(r)
	id, err := base64.RawURLEncoding.DecodeString(r.PostFormValue("id"))
	if err != nil || len(id) == 0 {
		p.st.Errors.WriteMessage(w, r, http.StatusBadRequest, "Unknown passkey.")
		return
	}
	err = p.m.Delete(r.Context(), u.ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.st.Errors.WriteMessage(w, r, http.StatusNotFound, "Unknown passkey.")
		return
	case err != nil:
		p.unavailable(w, r, err)
		return
	}
	p.event(r, kindPasskeyDelete, u, "", r.PostFormValue("id"))
	session.FromRequest(r).Flash("Passkey removed.")
	p.redirect(w, r, p.prefix+"/passkeys")
}

// writeJSON answers the JS with no caching (the options hold a single-use challenge).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// ceremonyError maps the passkey package's errors to statuses; a store failure is 503.
func (p *passkeys) ceremonyError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, passkeyerr.ErrNoCeremony):
		jsonError(w, http.StatusBadRequest, "The passkey request expired. Please try again.")
	case errors.Is(err, passkeyerr.ErrInvalid):
		jsonError(w, http.StatusBadRequest, "The passkey response was not valid.")
	case errors.Is(err, passkeyerr.ErrUnknownCredential):
		jsonError(w, http.StatusUnauthorized, "This passkey is not registered here.")
	case errors.Is(err, passkeyerr.ErrCloned):
		jsonError(w, http.StatusForbidden, "This passkey was refused. Please contact support.")
	case errors.Is(err, passkeyerr.ErrRelyingParty):
		jsonError(w, http.StatusBadRequest, "Passkeys need the site's domain name, not an IP address.")
	case errors.Is(err, passkeyerr.ErrDuplicate):
		jsonError(w, http.StatusConflict, "This passkey is already registered.")
	default:
		p.log.Log(r.Context(), store.LogLevel(r.Context(), err), "app: passkey store unavailable", "path", r.URL.Path, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "The service is temporarily unavailable. Please try again shortly.")
	}
}

func (p *passkeys) beginRegister(w http.ResponseWriter, r *http.Request) {
	u := User(r)
	if u == nil {
		jsonError(w, http.StatusUnauthorized, "Please log in first.")
		return
	}
	opts, err := p.m.BeginRegistration(r, u)
	if err != nil {
		p.ceremonyError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

func (p *passkeys) finishRegister(w http.ResponseWriter, r *http.Request) {
	u := User(r)
	if u == nil {
		jsonError(w, http.StatusUnauthorized, "Please log in first.")
		return
	}
	c, err := p.m.FinishRegistration(r, u, r.URL.Query().Get("name"), r.Body)
	if err != nil {
		p.event(r, kindPasskeyAdd, u, "", "refused: "+err.Error())
		p.ceremonyError(w, r, err)
		return
	}
	p.event(r, kindPasskeyAdd, u, "", c.Name)
	writeJSON(w, http.StatusOK, map[string]string{"id": c.ID, "name": c.Name})
}

func (p *passkeys) beginLogin(w http.ResponseWriter, r *http.Request) {
	opts, err := p.m.BeginLogin(r)
	if err != nil {
		p.ceremonyError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// finishLogin is rate limited per IP like the password form, refuses locked and inactive
// accounts, and ends in completeLogin (new session ID, new CSRF secret, last login, audit),
// whose answer to the script's JSON request is {"redirect": next}; the script goes there.
func (p *passkeys) finishLogin(w http.ResponseWriter, r *http.Request) {
	if !p.allowLoginAttempt(w, r) {
		return
	}
	ctx := r.Context()
	userID, err := p.m.FinishLogin(r, r.Body)
	if err != nil {
		switch {
		case errors.Is(err, passkeyerr.ErrCloned):
			p.event(r, kindPasskeyClone, &store.User{ID: userID}, "", err.Error())
		case errors.Is(err, passkeyerr.ErrNoCeremony), errors.Is(err, passkeyerr.ErrInvalid), errors.Is(err, passkeyerr.ErrUnknownCredential):
			p.event(r, audit.KindLoginFailure, nil, "", err.Error())
		}
		p.ceremonyError(w, r, err)
		return
	}
	u, err := p.st.Store.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.IsActive) {
		p.event(r, audit.KindLoginFailure, nil, "", "passkey: inactive or deleted user "+userID)
		jsonError(w, http.StatusUnauthorized, "This passkey is not registered here.")
		return
	}
	if err != nil {
		p.ceremonyError(w, r, err)
		return
	}
	ip := clientip.FromRequest(r).IP
	d, err := p.st.Lockout.Check(ctx, u.Username, ip)
	if err != nil {
		p.ceremonyError(w, r, err)
		return
	}
	if d.Locked {
		retryAfter(w, d.RetryAfter)
		jsonError(w, http.StatusTooManyRequests, "Too many failed login attempts. Please try again later.")
		return
	}
	if err := p.st.Lockout.Succeed(ctx, u.Username, ip); err != nil {
		p.ceremonyError(w, r, err)
		return
	}
	p.event(r, kindPasskeyLogin, &u, "", "")
	p.completeLogin(w, r, u, true, SafeNext(r))
}

// finishConfirm re-authenticates the logged-in user with one of their own passkeys (sudo
// mode): the assertion must verify and name this user. A passkey of another account is
// refused and audited.
func (p *passkeys) finishConfirm(w http.ResponseWriter, r *http.Request) {
	u := User(r)
	userID, err := p.m.FinishLogin(r, r.Body)
	if err != nil {
		if errors.Is(err, passkeyerr.ErrCloned) {
			p.event(r, kindPasskeyClone, u, "", err.Error())
		}
		p.ceremonyError(w, r, err)
		return
	}
	if userID != u.ID {
		p.event(r, "reauth.failure", u, "", "passkey of another account")
		jsonError(w, http.StatusForbidden, "This passkey belongs to another account.")
		return
	}
	p.confirmed(w, r, u, "passkey")
}

// hasPasskeys reports whether u has a passkey to confirm with: never when passkeys are off.
func (p *passkeys) hasPasskeys(r *http.Request, u *store.User) (bool, error) {
	if p == nil {
		return false, nil
	}
	list, err := p.m.List(r.Context(), u.ID)
	return len(list) > 0, err
}
