package accounts

import (
	"errors"
	"net/http"
	"time"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/password"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/signing"
	"github.com/rampart-go/rampart/store"
)

// EmailVerification says how registration treats the e-mail address.
type EmailVerification uint8

const (
	// VerifyNone creates the account and logs it in at once, as Django's own registration
	// does. A registration whose e-mail address is taken is refused (the message names
	// neither field), which still tells the registrant that the address has an account here:
	// sites where that matters use VerifyMandatory.
	VerifyNone EmailVerification = iota
	// VerifyMandatory requires an e-mail address, creates the account inactive and mails a
	// signed link that activates it (django-allauth's mandatory verification with
	// ACCOUNT_PREVENT_ENUMERATION). A new address and a taken one get the same answer, after
	// the same work; the owner of a taken address gets a mail saying someone tried to register
	// with it. A taken username is still named, as Django does: usernames are public.
	VerifyMandatory
)

// DefaultConfirmMaxAge is how long a confirmation link works (django-allauth's default).
const DefaultConfirmMaxAge = 72 * time.Hour

// RegisterDoneData is the register_done page's Data: the address the link was sent to.
type RegisterDoneData struct{ Email string }

// ConfirmEmailData is the confirm_email page's Data.
type ConfirmEmailData struct {
	// Valid is false for a link that is invalid, expired or already used.
	Valid bool
	Email string
	// Action is the URL the confirmation form posts to.
	Action string
}

// confirmClaim is what a confirmation link carries, signed with a timestamp.
type confirmClaim struct {
	ID    string `json:"i"`
	Email string `json:"e"`
}

func newConfirmSigner(a *Accounts) (*signing.TimestampSigner, error) {
	return a.st.TimestampSigner(signing.Namespace("rampart", "accounts", "confirm-email"), a.now)
}

// registerVerified is registration under VerifyMandatory. Both a new address and a taken one
// hash the password (the same work), and the mail goes out through the stack's mailer, which
// queues it, so neither the answer nor its timing says which it was.
func (a *Accounts) registerVerified(w http.ResponseWriter, r *http.Request, p Page, pw string) {
	ctx := r.Context()
	name, err := auth.NormalizeUsername(p.Form["username"])
	if err != nil {
		p.Errors = []string{invalidUsername}
		a.render(w, r, http.StatusOK, "register", p)
		return
	}
	email, err := auth.NormalizeEmail(p.Form["email"])
	if err != nil || email == "" {
		p.Errors = []string{"Enter a valid e-mail address."}
		a.render(w, r, http.StatusOK, "register", p)
		return
	}
	if err := a.st.Accounts.ValidatePassword(ctx, pw, name, email); err != nil {
		var ve *password.ValidationError
		if !errors.As(err, &ve) {
			a.unavailable(w, r, err)
			return
		}
		p.Errors = ve.Messages()
		a.render(w, r, http.StatusOK, "register", p)
		return
	}
	hash, err := a.st.Accounts.Hasher().Hash(ctx, pw)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	u, err := a.st.Store.CreateUser(ctx, store.User{Username: name, Email: email, PasswordHash: hash, DateJoined: a.now()})
	info := clientip.FromRequest(r)
	switch {
	case err == nil:
		tok, terr := a.confirmSigner.Dumps(confirmClaim{ID: u.ID, Email: u.Email}, false)
		if terr != nil {
			a.unavailable(w, r, terr)
			return
		}
		link := info.Scheme + "://" + info.Host + a.prefix + "/confirm-email/" + tok
		if err := a.st.Mailer.Send(ctx, mail.Message{To: email, Subject: "Confirm your e-mail address",
			Body: "Someone created the account " + name + " with this address.\n\n" +
				"To confirm it and start using the account, open:\n" + link + "\n\n" +
				"The link works once and expires in " + a.confirmMaxAge.String() + ". " +
				"If you did not ask for this, ignore this message: the account stays inactive.\n"}); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.event(r, audit.KindUserCreate, &u, "", "self-registration; e-mail not confirmed yet")
	case errors.Is(err, store.ErrConflict):
		taken, terr := a.usernameTaken(r, name)
		if terr != nil {
			a.unavailable(w, r, terr)
			return
		}
		if taken {
			p.Errors = []string{"A user with that username already exists."}
			a.render(w, r, http.StatusOK, "register", p)
			return
		}
		if err := a.st.Mailer.Send(ctx, mail.Message{To: email, Subject: "Someone tried to register with your address",
			Body: "Someone tried to create an account with this e-mail address, which already has one.\n\n" +
				"If it was you, log in or reset your password at:\n" + info.Scheme + "://" + info.Host + a.prefix + "/reset\n\n" +
				"If it was not you, ignore this message: nothing was changed.\n"}); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.event(r, audit.KindUserCreate, nil, name, "refused: registration with a taken e-mail address (the owner was mailed)")
	default:
		a.unavailable(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "register_done", Page{Title: "Check your e-mail", Data: RegisterDoneData{Email: email}})
}

// confirmEmail activates the account a confirmation link names. GET only shows a form (mail
// scanners fetch links; activating on GET would let them confirm addresses nobody read); the
// POST activates, once: the link is refused for an account that is already active, has ever
// logged in, or has another e-mail address now.
func (a *Accounts) confirmEmail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var c confirmClaim
	d := ConfirmEmailData{Action: r.URL.Path}
	err := a.confirmSigner.Loads(r.PathValue("token"), a.confirmMaxAge, &c)
	var u store.User
	if err == nil {
		u, err = a.st.Store.UserByID(ctx, c.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			a.unavailable(w, r, err)
			return
		}
	}
	if err != nil || u.IsActive || !u.LastLogin.IsZero() || u.Email != c.Email {
		a.render(w, r, http.StatusOK, "confirm_email", Page{Title: "Confirm your e-mail address", Data: d})
		return
	}
	d.Valid, d.Email = true, u.Email
	if r.Method != http.MethodPost {
		a.render(w, r, http.StatusOK, "confirm_email", Page{Title: "Confirm your e-mail address", Data: d})
		return
	}
	u.IsActive = true
	if err := a.st.Store.UpdateUser(ctx, u); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.event(r, "user.confirm", &u, "", "e-mail address confirmed")
	session.FromRequest(r).Flash("Your e-mail address is confirmed. You may log in now.")
	a.redirect(w, r, a.prefix+"/login")
}
