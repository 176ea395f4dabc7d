package accounts

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/lockout"
	"github.com/rampart-go/rampart/password"
	"github.com/rampart-go/rampart/ratelimit"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/twofactor"
)

// Session keys of the pending second step. The password step renews the session ID before
// setting them, and they expire after pendingFor, like django-two-factor-auth's
// TWO_FACTOR_LOGIN_TIMEOUT; the password itself is never kept.
const (
	keyPendingUser = "2fa.user"
	keyPendingAt   = "2fa.at"
	pendingFor     = 10 * time.Minute
)

const genericLoginError = "Please enter a correct username and password. Note that both fields may be case-sensitive."

func formValues(r *http.Request, names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = r.PostFormValue(n)
	}
	return m
}

func (a *Accounts) register(w http.ResponseWriter, r *http.Request) {
	p := Page{Title: "Register", Data: a.helpTexts()}
	if r.Method != http.MethodPost {
		a.render(w, r, http.StatusOK, "register", p)
		return
	}
	if !a.allowLoginAttempt(w, r) {
		return
	}
	p.Form = formValues(r, "username", "email")
	pw1, pw2 := r.PostFormValue("password1"), r.PostFormValue("password2")
	if pw1 != pw2 {
		p.Errors = []string{"The two password fields didn’t match."}
		a.render(w, r, http.StatusOK, "register", p)
		return
	}
	if a.verify == VerifyMandatory {
		a.registerVerified(w, r, p, pw1)
		return
	}
	u, err := a.st.Accounts.CreateUser(r.Context(), p.Form["username"], p.Form["email"], pw1, false)
	if err != nil {
		var ve *password.ValidationError
		switch {
		case errors.As(err, &ve):
			p.Errors = ve.Messages()
		case errors.Is(err, store.ErrConflict):
			taken, terr := a.usernameTaken(r, p.Form["username"])
			if terr != nil {
				a.unavailable(w, r, terr)
				return
			}
			if taken {
				// Usernames are public on most sites (and typed at login); Django says so too.
				p.Errors = []string{"A user with that username already exists."}
			} else {
				// The e-mail is the taken one. Naming it would tell anyone which addresses
				// have accounts here, so the message names neither field.
				p.Errors = []string{registrationRefused}
			}
		case errors.Is(err, auth.ErrInvalidUsername):
			p.Errors = []string{invalidUsername}
		case errors.Is(err, auth.ErrInvalidEmail):
			p.Errors = []string{"Enter a valid e-mail address."}
		default:
			a.unavailable(w, r, err)
			return
		}
		a.render(w, r, http.StatusOK, "register", p)
		return
	}
	a.event(r, audit.KindUserCreate, &u, "", "self-registration")
	a.completeLogin(w, r, u, false, "/")
}

// invalidUsername answers a username auth refuses (Django's UnicodeUsernameValidator message).
const invalidUsername = "Enter a valid username: 150 characters or fewer, letters, digits and @/./+/-/_ only."

// registrationRefused answers a registration whose e-mail address is already used.
const registrationRefused = "An account could not be created with these details. If you already have an account, log in or reset your password."

// usernameTaken reports whether username (as registration normalises it) has an account.
func (a *Accounts) usernameTaken(r *http.Request, username string) (bool, error) {
	name, err := auth.NormalizeUsername(username)
	if err != nil {
		return false, nil
	}
	_, err = a.st.Store.UserByUsername(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (a *Accounts) helpTexts() []string {
	return []string{
		"Your password can’t be too similar to your other personal information.",
		"Your password must contain at least " + itoa(a.st.Settings.PasswordMinLength) + " characters.",
		"Your password can’t be a commonly used password.",
		"Your password can’t be entirely numeric.",
	}
}

// allowLoginAttempt applies the per-IP login rate limit; it answers 429 (or 503 when the
// limiter's store fails) and reports false when the request must stop here.
func (a *Accounts) allowLoginAttempt(w http.ResponseWriter, r *http.Request) bool {
	res, err := a.st.LoginLimiter.Allow(r.Context(), ratelimit.IPKey(clientip.FromRequest(r).IP))
	if err != nil {
		a.unavailable(w, r, err)
		return false
	}
	if !res.Allowed {
		retryAfter(w, res.RetryAfter)
		a.event(r, audit.KindRateLimited, nil, "", r.URL.Path)
		a.st.Errors.WriteMessage(w, r, http.StatusTooManyRequests, "Too many attempts from your network. Please wait and try again.")
		return false
	}
	return true
}

func (a *Accounts) login(w http.ResponseWriter, r *http.Request) {
	p := Page{Title: "Log in", Next: r.URL.Query().Get("next")}
	if r.Method != http.MethodPost {
		a.render(w, r, http.StatusOK, "login", p)
		return
	}
	username, pw := r.PostFormValue("username"), r.PostFormValue("password")
	p.Form = map[string]string{"username": username}
	if a.Login(w, r, username, pw) == LoginWrong {
		p.Errors = []string{genericLoginError}
		a.render(w, r, http.StatusOK, "login", p)
	}
}

// LoginResult says how Login answered a login attempt.
type LoginResult uint8

const (
	// LoginAnswered means Login wrote the response: a 303 to the checked next destination (or
	// to the second step when two-factor is on), 429 when the account, the address or the
	// login rate is locked, or 503 when a store failed.
	LoginAnswered LoginResult = iota
	// LoginWrong means the username or password was wrong and nothing was written: the page
	// shows its form again with a generic message naming neither field.
	LoginWrong
)

// Login runs the whole password login for a page of the application's own, in the one order
// that keeps the model: a lock once seen is refused from memory (no store round trip, no
// hash); the per-IP login rate limit; a lock found in the store, refused before any queueing;
// a turn in the hashing queue (first come, first served; a wait over the hasher's bound is
// answered 503 with Retry-After); a lockout slot taken atomically before the hash (so a
// burst of guesses gets no more hashes than the limit); the password check, counted and
// audited when wrong; the second step when two-factor is on (unless this browser is
// remembered); then a new session ID, a new CSRF secret, the recent-authentication window
// and a 303 to the request's next parameter when it stays on this site. A custom page cannot
// leave a step out: it reads the form and calls Login, and renders its form only on
// LoginWrong.
func (a *Accounts) Login(w http.ResponseWriter, r *http.Request, username, password string) LoginResult {
	ip := clientip.FromRequest(r).IP
	ctx := r.Context()
	if d, ok := a.st.Lockout.Remembered(username, ip); ok {
		a.refuseLocked(w, r, username, nil, d)
		return LoginAnswered
	}
	if !a.allowLoginAttempt(w, r) {
		return LoginAnswered
	}
	// No store read of the lock before the hashing queue: Remembered above answers a flood on
	// a locked account from memory once this instance has seen the lock, and the three
	// counter reads a Check would add to every login (TestStoreRoundTrips's budget) buy only
	// the first refusal per instance; Begin below still refuses it, after its turn.
	// The turn in the hashing queue comes before the lockout slot, so the slot is held for
	// the hash alone and not through the queue wait (auth.Hasher.Admit).
	hctx, done, err := a.st.Accounts.Hasher().Admit(ctx)
	if err != nil {
		a.hashingUnavailable(w, r, err)
		return LoginAnswered
	}
	defer done()
	att, d, err := a.st.Lockout.Begin(ctx, username, ip)
	if err != nil {
		a.unavailable(w, r, err)
		return LoginAnswered
	}
	if d.Locked {
		a.refuseLocked(w, r, username, nil, d)
		return LoginAnswered
	}
	defer a.release(r, att)
	u, err := a.st.Accounts.Authenticate(hctx, username, password)
	switch a.endAttempt(w, r, att, username, nil, "", err) {
	case passwordWrong:
		return LoginWrong
	case passwordAnswered:
		return LoginAnswered
	}
	if u.TOTPEnabled && !a.st.TwoFactor.Remembered(r, u) {
		sess := session.FromRequest(r)
		if err := a.st.Sessions.RenewID(r); err != nil {
			a.unavailable(w, r, err)
			return LoginAnswered
		}
		sess.SetString(keyPendingUser, u.ID)
		sess.SetInt64(keyPendingAt, a.now().Unix())
		a.redirect(w, r, a.prefix+"/login/2fa?next="+url.QueryEscape(SafeNext(r)))
		return LoginAnswered
	}
	// A remembered browser stands for the second factor (django-two-factor-auth's remember
	// cookie): the user proved possession of the device when it was remembered.
	a.completeLogin(w, r, u, u.TOTPEnabled, SafeNext(r))
	return LoginAnswered
}

// passwordResult is what endAttempt made of a password check.
type passwordResult uint8

const (
	passwordRight    passwordResult = iota // the caller goes on
	passwordWrong                          // the caller shows its form with an error
	passwordAnswered                       // the request was answered: locked (429) or unavailable (503)
)

// endAttempt ends the lockout attempt att (from Lockout.Begin) after a password check whose
// outcome is err: nil for the right password, auth.ErrInvalidCredentials for a wrong one,
// anything else when the check could not be made. Every password the app checks goes through
// it, the login's and the re-authentications' (password change, two-factor settings), so each
// is reserved before its hash, counted when wrong, audited, and answered alike when it trips
// the lock. u is the user when known (re-authentication); detail says which form it was.
func (a *Accounts) endAttempt(w http.ResponseWriter, r *http.Request, att *lockout.Attempt, username string, u *store.User, detail string, err error) passwordResult {
	// The outcome is recorded even if the client hangs up now: a guess whose result was
	// computed must count.
	ctx := context.WithoutCancel(r.Context())
	switch {
	case err == nil:
		if err := att.Succeed(ctx); err != nil {
			a.unavailable(w, r, err)
			return passwordAnswered
		}
		return passwordRight
	case errors.Is(err, auth.ErrInvalidCredentials):
		d, ferr := att.Fail(ctx)
		a.event(r, audit.KindLoginFailure, u, username, detail)
		if ferr != nil {
			a.unavailable(w, r, ferr)
			return passwordAnswered
		}
		if d.Tripped {
			a.event(r, audit.KindLockout, u, username, d.Reason)
		}
		if d.Locked {
			a.locked(w, r, d)
			return passwordAnswered
		}
		return passwordWrong
	default:
		a.release(r, att)
		a.hashingUnavailable(w, r, err)
		return passwordAnswered
	}
}

// hashingUnavailable answers 503 for a password check that could not be made; when the
// hashing queue was too long (auth.ErrBusy) it says when to retry.
func (a *Accounts) hashingUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	busy, ok := errors.AsType[*auth.BusyError](err)
	if !ok {
		a.unavailable(w, r, err)
		return
	}
	// Overload, not a failure: a warning, and not the store message.
	a.log.Warn("accounts: password hashing queue full", "path", r.URL.Path, "retry_after", busy.RetryAfter)
	retryAfter(w, busy.RetryAfter)
	a.st.Errors.WriteMessage(w, r, http.StatusServiceUnavailable, "The service is temporarily unavailable. Please try again shortly.")
}

// recheckPassword checks the logged-in user's password again (a re-authentication), as a
// login checks one: a lockout slot before the hash, counted and audited when wrong. It answers
// the request itself when locked or unavailable (passwordAnswered).
func (a *Accounts) recheckPassword(w http.ResponseWriter, r *http.Request, u *store.User, pw, detail string) passwordResult {
	ctx := r.Context()
	att, d, err := a.st.Lockout.Begin(ctx, u.Username, clientip.FromRequest(r).IP)
	if err != nil {
		a.unavailable(w, r, err)
		return passwordAnswered
	}
	if d.Locked {
		a.refuseLocked(w, r, u.Username, u, d)
		return passwordAnswered
	}
	defer a.release(r, att)
	ok, err := a.st.Accounts.Hasher().Verify(ctx, pw, u.PasswordHash)
	if err == nil && !ok {
		err = auth.ErrInvalidCredentials
	}
	return a.endAttempt(w, r, att, u.Username, u, detail, err)
}

// release gives back a lockout slot whose password was never checked; it does nothing once
// the attempt has ended, so it also serves as a deferred guard against a panic holding a slot.
// A failure is logged only: the slot then expires with the cool-off, which refuses more.
func (a *Accounts) release(r *http.Request, att *lockout.Attempt) {
	if err := att.Release(context.WithoutCancel(r.Context())); err != nil && !errors.Is(err, lockout.ErrAttemptEnded) {
		a.st.Logger.Warn("lockout: releasing an unused attempt", "err", err)
	}
}

// refuseLocked records an attempt refused under a lock, before any password check, and
// answers it (locked). Such refusals are what a flood on a locked account consists of: the
// audit logger counts them per client instead of storing each (audit.RefusalOptions); the
// lock itself was recorded once, as audit.KindLockout, when it was tripped.
func (a *Accounts) refuseLocked(w http.ResponseWriter, r *http.Request, username string, u *store.User, d lockout.Decision) {
	a.event(r, audit.KindLoginLocked, u, username, d.Reason)
	a.locked(w, r, d)
}

// locked answers 429 with the cached status page rather than the login form: refusing a
// locked account must stay cheaper than any attempt, and the form would be of no use until
// Retry-After has passed anyway.
func (a *Accounts) locked(w http.ResponseWriter, r *http.Request, d lockout.Decision) {
	retryAfter(w, d.RetryAfter)
	a.st.Errors.WriteMessage(w, r, http.StatusTooManyRequests, "Too many failed login attempts. Please try again later.")
}

// completeLogin is the one place a session becomes authenticated: new session ID (fixation),
// new CSRF secret (tokens planted before login die), last login recorded (reset tokens
// issued before die), the recent-authentication window, audit event, then a 303 to a
// checked destination. mfa says whether the login used a second factor.
func (a *Accounts) completeLogin(w http.ResponseWriter, r *http.Request, u store.User, mfa bool, next string) {
	ctx := r.Context()
	u, err := a.st.Accounts.RecordLogin(ctx, u)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	sess := session.FromRequest(r)
	sess.Delete(keyPendingUser)
	sess.Delete(keyPendingAt)
	// A login is an authentication: it opens the recent-authentication window, and says
	// whether a second factor was used (RequireSecondFactor). Set before Login, whose save
	// carries them.
	sess.SetInt64(keyAuthAt, a.now().Unix())
	if mfa {
		sess.SetInt64(keyMFA, 1)
	} else {
		sess.Delete(keyMFA)
	}
	if err := a.st.Sessions.Login(r, u.ID, a.st.Accounts.SessionAuthHash(u)); err != nil {
		a.unavailable(w, r, err)
		return
	}
	if err := csrf.Rotate(w, r); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.event(r, audit.KindLoginSuccess, &u, "", "")
	a.redirect(w, r, next)
}

func (a *Accounts) pendingUser(r *http.Request) (store.User, bool, error) {
	sess := session.FromRequest(r)
	id, ok := sess.GetString(keyPendingUser)
	at, ok2 := sess.GetInt64(keyPendingAt)
	if !ok || !ok2 || a.now().Sub(time.Unix(at, 0)) > pendingFor {
		return store.User{}, false, nil
	}
	u, err := a.st.Store.UserByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, nil
	}
	if err != nil {
		return store.User{}, false, err
	}
	return u, u.IsActive && u.TOTPEnabled, nil
}

func (a *Accounts) login2FA(w http.ResponseWriter, r *http.Request) {
	u, ok, err := a.pendingUser(r)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	if !ok {
		session.FromRequest(r).Flash("Your login timed out. Please log in again.")
		a.redirect(w, r, a.prefix+"/login")
		return
	}
	p := Page{Title: "Two-factor authentication", Next: SafeNext(r)}
	if r.Method != http.MethodPost {
		a.render(w, r, http.StatusOK, "login2fa", p)
		return
	}
	method, err := a.st.TwoFactor.Verify(r.Context(), u, r.PostFormValue("code"))
	if err != nil {
		var te *twofactor.ThrottledError
		switch {
		case errors.As(err, &te):
			retryAfter(w, te.RetryAfter)
			p.Errors = []string{"Too many wrong codes. Wait a moment and try again."}
			a.event(r, audit.Kind2FAFailure, &u, "", "throttled")
			a.render(w, r, http.StatusTooManyRequests, "login2fa", p)
		case errors.Is(err, twofactor.ErrInvalidCode), errors.Is(err, twofactor.ErrReplay):
			p.Errors = []string{"That code is not valid. Codes work once; wait for the next one."}
			a.event(r, audit.Kind2FAFailure, &u, "", err.Error())
			a.render(w, r, http.StatusOK, "login2fa", p)
		default:
			a.unavailable(w, r, err)
		}
		return
	}
	if r.PostFormValue("remember") != "" {
		http.SetCookie(w, a.st.TwoFactor.RememberCookie(u))
	}
	a.event(r, audit.Kind2FASuccess, &u, "", string(method))
	a.completeLogin(w, r, u, true, SafeNext(r))
}

func (a *Accounts) logout(w http.ResponseWriter, r *http.Request) {
	if u := User(r); u != nil {
		a.event(r, audit.KindLogout, u, "", "")
	}
	if err := a.st.Sessions.Logout(r); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.redirect(w, r, "/")
}

func (a *Accounts) changePassword(w http.ResponseWriter, r *http.Request) {
	u := *User(r)
	p := Page{Title: "Change password"}
	if r.Method != http.MethodPost {
		a.render(w, r, http.StatusOK, "password", p)
		return
	}
	ctx := r.Context()
	n1, n2 := r.PostFormValue("new_password1"), r.PostFormValue("new_password2")
	if n1 != n2 {
		p.Errors = []string{"The two password fields didn’t match."}
		a.render(w, r, http.StatusOK, "password", p)
		return
	}
	// The old password is a credential check like a login: the same lockout applies, so a
	// stolen session cannot be used to brute-force the password.
	att, d, err := a.st.Lockout.Begin(ctx, u.Username, clientip.FromRequest(r).IP)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	if d.Locked {
		retryAfter(w, d.RetryAfter)
		p.Errors = []string{"Too many failed attempts. Please try again later."}
		a.render(w, r, http.StatusTooManyRequests, "password", p)
		return
	}
	defer a.release(r, att)
	nu, err := a.st.Accounts.ChangePassword(ctx, u, r.PostFormValue("old_password"), n1)
	var ve *password.ValidationError
	checkErr := err
	if errors.As(err, &ve) {
		checkErr = nil // the old password was right; the new one was refused
	}
	switch a.endAttempt(w, r, att, u.Username, &u, "re-authentication: password change", checkErr) {
	case passwordWrong:
		p.Errors = []string{"Your old password was entered incorrectly. Please enter it again."}
		a.render(w, r, http.StatusOK, "password", p)
		return
	case passwordAnswered:
		return
	}
	if ve != nil {
		p.Errors = ve.Messages()
		a.render(w, r, http.StatusOK, "password", p)
		return
	}
	if _, err := a.st.Sessions.EndOthers(r); err != nil {
		a.unavailable(w, r, err)
		return
	}
	if err := a.st.Sessions.Login(r, nu.ID, a.st.Accounts.SessionAuthHash(nu)); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.event(r, audit.KindPasswordChange, &nu, "", "other sessions ended")
	session.FromRequest(r).Flash("Your password was changed. You were logged out everywhere else.")
	a.redirect(w, r, "/")
}

func (a *Accounts) reset(w http.ResponseWriter, r *http.Request) {
	p := Page{Title: "Reset password"}
	if r.Method != http.MethodPost {
		a.render(w, r, http.StatusOK, "reset", p)
		return
	}
	if !a.allowLoginAttempt(w, r) {
		return
	}
	info := clientip.FromRequest(r)
	base := info.Scheme + "://" + info.Host + a.prefix + "/reset/"
	email := strings.TrimSpace(r.PostFormValue("email"))
	if err := a.st.Accounts.SendPasswordReset(r.Context(), email, func(tok string) string { return base + tok }); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.event(r, audit.KindPasswordResetReq, nil, "", "")
	session.FromRequest(r).Flash("If an account uses that e-mail address, we have sent it a link to reset the password.")
	a.redirect(w, r, a.prefix+"/login")
}

func (a *Accounts) resetConfirm(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	p := Page{Title: "Choose a new password"}
	ctx := r.Context()
	if _, err := a.st.Accounts.UserForResetToken(ctx, token); err != nil {
		if !errors.Is(err, auth.ErrInvalidToken) {
			a.unavailable(w, r, err)
			return
		}
		a.render(w, r, http.StatusOK, "reset_confirm", p) // Data nil: "invalid link"
		return
	}
	p.Data = r.URL.Path
	if r.Method != http.MethodPost {
		a.render(w, r, http.StatusOK, "reset_confirm", p)
		return
	}
	n1, n2 := r.PostFormValue("new_password1"), r.PostFormValue("new_password2")
	if n1 != n2 {
		p.Errors = []string{"The two password fields didn’t match."}
		a.render(w, r, http.StatusOK, "reset_confirm", p)
		return
	}
	u, err := a.st.Accounts.ResetPassword(ctx, token, n1)
	if err != nil {
		var ve *password.ValidationError
		switch {
		case errors.As(err, &ve):
			p.Errors = ve.Messages()
		case errors.Is(err, auth.ErrInvalidToken):
			p.Data = nil
		default:
			a.unavailable(w, r, err)
			return
		}
		a.render(w, r, http.StatusOK, "reset_confirm", p)
		return
	}
	if _, err := a.st.Sessions.EndAll(ctx, u.ID); err != nil {
		a.unavailable(w, r, err)
		return
	}
	if err := a.st.Lockout.Unlock(ctx, u.Username); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.event(r, audit.KindPasswordReset, &u, "", "password reset; all sessions ended")
	session.FromRequest(r).Flash("Your password has been set. You may log in now.")
	a.redirect(w, r, a.prefix+"/login")
}

// TwoFactorData is the twofactor page's Data: the state of the user's second factor, and the
// enrolment QR code and key while it is off.
type TwoFactorData struct {
	Enabled     bool
	BackupLeft  int
	BackupCodes []string
	// QR is template.URL because html/template rewrites any data: URL in src to #ZgotmplZ;
	// this one is built by twofactor.Begin (a base64 PNG), never from user input.
	QR     template.URL
	Secret string
}

func (a *Accounts) twoFactor(w http.ResponseWriter, r *http.Request) {
	u := *User(r)
	ctx := r.Context()
	p := Page{Title: "Two-factor authentication"}
	data := TwoFactorData{Enabled: u.TOTPEnabled}
	if r.Method == http.MethodPost {
		switch r.PostFormValue("action") {
		case "enable":
			codes, err := a.st.TwoFactor.Confirm(ctx, u, r.PostFormValue("code"))
			switch {
			case err == nil:
				data.Enabled, data.BackupCodes = true, codes
				a.event(r, audit.Kind2FAEnable, &u, "", "")
				if err := a.st.Sessions.RenewID(r); err != nil {
					a.unavailable(w, r, err)
					return
				}
			case errors.Is(err, twofactor.ErrInvalidCode), errors.Is(err, twofactor.ErrReplay), errors.Is(err, twofactor.ErrNotEnrolled):
				p.Errors = []string{"That code is not valid. Check your device's clock and try the next code."}
			default:
				a.unavailable(w, r, err)
				return
			}
		case "disable", "backup":
			// A password check like a login's: reserved in the lockout before the hash,
			// counted and audited when wrong, so a stolen session cannot guess it here.
			res := a.recheckPassword(w, r, &u, r.PostFormValue("password"), "re-authentication: two-factor settings")
			if res == passwordAnswered {
				return
			}
			if res == passwordWrong {
				p.Errors = []string{"Your password was entered incorrectly."}
				break
			}
			if r.PostFormValue("action") == "disable" {
				if _, err := a.st.TwoFactor.Disable(ctx, u); err != nil {
					a.unavailable(w, r, err)
					return
				}
				a.event(r, audit.Kind2FADisable, &u, "", "")
				session.FromRequest(r).Flash("Two-factor authentication is off.")
				a.redirect(w, r, a.prefix+"/2fa")
				return
			}
			codes, err := a.st.TwoFactor.NewBackupCodes(ctx, u)
			if err != nil {
				a.unavailable(w, r, err)
				return
			}
			data.BackupCodes = codes
		case "forget-devices":
			u.DeviceEpoch++
			if err := a.st.Store.UpdateUser(ctx, u); err != nil {
				a.unavailable(w, r, err)
				return
			}
			http.SetCookie(w, a.st.TwoFactor.ForgetCookie())
			session.FromRequest(r).Flash("Every remembered browser must use a code again.")
			a.redirect(w, r, a.prefix+"/2fa")
			return
		default:
			a.st.Errors.Write(w, r, http.StatusBadRequest)
			return
		}
	}
	if data.Enabled {
		n, err := a.st.TwoFactor.BackupCodesLeft(ctx, u)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		data.BackupLeft = n
	} else {
		fresh, err := a.st.Store.UserByID(ctx, u.ID)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		e, err := a.st.TwoFactor.Begin(ctx, fresh)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		data.QR, data.Secret = template.URL(e.QRDataURL), e.Secret
	}
	p.Data = data
	a.render(w, r, http.StatusOK, "twofactor", p)
}

// SessionRow is one line of the sessions page's Data ([]SessionRow): one of the user's
// sessions, ID being the public ID the page posts to end it.
type SessionRow struct {
	ID       string
	Created  time.Time
	LastSeen time.Time
	// Started and Seen are Created and LastSeen as the page shows them ("2006-01-02 15:04"),
	// formatted in Go: a method call from a template (reflection) costs more than the rest of
	// the row.
	Started, Seen string
	IP            string
	UserAgent     string
	Current       bool
}

// sessionTime is how the sessions page shows times.
const sessionTime = "2006-01-02 15:04"

func (a *Accounts) sessions(w http.ResponseWriter, r *http.Request) {
	u := User(r)
	ctx := r.Context()
	if r.Method == http.MethodPost {
		switch {
		case r.PostFormValue("all") == "1":
			n, err := a.st.Sessions.EndOthers(r)
			if err != nil {
				a.unavailable(w, r, err)
				return
			}
			a.event(r, audit.KindSessionEnd, u, "", itoa(n)+" other sessions ended")
			session.FromRequest(r).Flash("You were logged out everywhere else.")
		case r.PostFormValue("session") != "":
			err := a.st.Sessions.End(ctx, u.ID, r.PostFormValue("session"))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				a.unavailable(w, r, err)
				return
			}
			if err == nil {
				a.event(r, audit.KindSessionEnd, u, "", "one session ended")
				session.FromRequest(r).Flash("That session was ended.")
			}
		}
		a.redirect(w, r, a.prefix+"/sessions")
		return
	}
	list, err := a.st.Sessions.List(ctx, u.ID)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	rows := make([]SessionRow, 0, len(list))
	for _, s := range list {
		ip := ""
		if s.IP.IsValid() {
			ip = s.IP.String()
		}
		rows = append(rows, SessionRow{ID: s.PublicID, Created: s.CreatedAt, LastSeen: s.LastSeen,
			Started: s.CreatedAt.Format(sessionTime), Seen: s.LastSeen.Format(sessionTime),
			IP: ip, UserAgent: s.UserAgent, Current: s.Current})
	}
	a.render(w, r, http.StatusOK, "sessions", Page{Title: "Sessions", Data: rows})
}

func itoa(n int) string { return strconv.Itoa(n) }
