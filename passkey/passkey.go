// Package passkey adds WebAuthn passkeys (registration and passwordless login) to rampart, on
// github.com/go-webauthn/webauthn, which does the protocol work (CBOR, attestation, signature
// and origin checks): rampart adds ceremony state kept server-side in the session, the
// relying party derived from the already validated request host, credentials in every store
// backend, and a sign-counter check that refuses a cloned authenticator atomically.
//
// A passkey login is multi-factor on its own: the private key never leaves the authenticator
// (possession) and user verification is required (a PIN or biometric on the device), and the
// browser binds the signature to the site's origin, so it cannot be phished. An application
// therefore lets a passkey login skip the TOTP step (NIST SP 800-63B AAL2/AAL3 "multi-factor
// cryptographic authenticator").
//
// Login is discoverable (no username first): the browser offers the passkeys it holds for
// this site, and the credential ID it returns names the user.
package passkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/internal/passkeyerr"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
)

// Errors returned by Manager. Applications map them to statuses: ErrNoCeremony, ErrInvalid
// and ErrRelyingParty to 400, ErrUnknownCredential to 401, ErrCloned to 403, ErrDuplicate to
// 409; anything else is a store failure (503).
var (
	// ErrNoCeremony: no ceremony was begun in this session, it expired, it was already
	// finished, or it was begun for another user.
	ErrNoCeremony = passkeyerr.ErrNoCeremony
	// ErrInvalid: the browser's response is malformed or fails verification (signature,
	// challenge, origin, RP ID, user verification).
	ErrInvalid = passkeyerr.ErrInvalid
	// ErrUnknownCredential: the credential is not registered (or was deleted).
	ErrUnknownCredential = passkeyerr.ErrUnknownCredential
	// ErrCloned: the authenticator's signature counter did not move forward, so two copies
	// of the private key may exist. The login is refused; the application should audit it.
	ErrCloned = passkeyerr.ErrCloned
	// ErrDuplicate: the credential is already registered.
	ErrDuplicate = passkeyerr.ErrDuplicate
	// ErrRelyingParty: no valid relying party for this request, typically a site reached by
	// IP address (an RP ID must be a domain name) or a misconfigured Options.RPID.
	ErrRelyingParty = passkeyerr.ErrRelyingParty
)

// MaxResponseBytes bounds the browser's JSON response read by the Finish methods.
const MaxResponseBytes = 64 << 10

// DefaultTimeout is how long a begun ceremony stays valid.
const DefaultTimeout = 5 * time.Minute

// Session keys of the pending ceremonies.
const (
	keyRegister = "_passkey_register"
	keyLogin    = "_passkey_login"
)

// Credential is one registered passkey.
type Credential struct {
	// ID is the credential ID (arbitrary bytes chosen by the authenticator).
	ID []byte
	// Name is the user's label.
	Name string
	// Record is the library's credential record (public key, flags, sign count).
	Record    webauthn.Credential
	CreatedAt time.Time
	// LastUsed is the zero time until the first login.
	LastUsed time.Time
}

// CredentialStore keeps users' credentials. FromStore adapts any store.Passkeys backend.
type CredentialStore interface {
	// AddCredential stores c for userID; an error wrapping ErrDuplicate when its ID exists.
	AddCredential(ctx context.Context, userID string, c Credential) error
	// Credentials lists userID's credentials, oldest first.
	Credentials(ctx context.Context, userID string) ([]Credential, error)
	// CredentialByID finds a credential and its owner; store.ErrNotFound when missing.
	CredentialByID(ctx context.Context, credID []byte) (userID string, c Credential, err error)
	// UpdateSignCount records a login at time at with the authenticator's counter; ErrCloned
	// (changing nothing) when count does not move forward, atomically.
	UpdateSignCount(ctx context.Context, credID []byte, count uint32, at time.Time) error
	// DeleteCredential removes userID's credential; store.ErrNotFound when userID has none
	// with this ID.
	DeleteCredential(ctx context.Context, userID string, credID []byte) error
}

// FromStore keeps credentials in a store backend (every backend in this module implements
// store.Passkeys).
func FromStore(ps store.Passkeys) CredentialStore { return backend{ps} }

type backend struct{ ps store.Passkeys }

func (b backend) AddCredential(ctx context.Context, userID string, c Credential) error {
	data, err := json.Marshal(c.Record)
	if err != nil {
		return err
	}
	err = b.ps.AddPasskey(ctx, store.Passkey{ID: c.ID, UserID: userID, Name: c.Name, Data: data,
		SignCount: c.Record.Authenticator.SignCount, CreatedAt: c.CreatedAt, LastUsed: c.LastUsed})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %w", ErrDuplicate, err)
	}
	return err
}

func decode(p store.Passkey) (Credential, error) {
	c := Credential{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, LastUsed: p.LastUsed}
	if err := json.Unmarshal(p.Data, &c.Record); err != nil {
		return Credential{}, fmt.Errorf("passkey: stored credential %x is corrupt: %w", p.ID, err)
	}
	// The store's counter is authoritative: UsePasskey moves it without rewriting Data.
	c.Record.ID, c.Record.Authenticator.SignCount = p.ID, p.SignCount
	return c, nil
}

func (b backend) Credentials(ctx context.Context, userID string) ([]Credential, error) {
	list, err := b.ps.UserPasskeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Credential, 0, len(list))
	for _, p := range list {
		c, err := decode(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (b backend) CredentialByID(ctx context.Context, id []byte) (string, Credential, error) {
	p, err := b.ps.PasskeyByID(ctx, id)
	if err != nil {
		return "", Credential{}, err
	}
	c, err := decode(p)
	return p.UserID, c, err
}

func (b backend) UpdateSignCount(ctx context.Context, id []byte, count uint32, at time.Time) error {
	ok, err := b.ps.UsePasskey(ctx, id, count, at)
	if err == nil && !ok {
		return ErrCloned
	}
	return err
}

func (b backend) DeleteCredential(ctx context.Context, userID string, id []byte) error {
	ok, err := b.ps.DeletePasskey(ctx, userID, id)
	if err == nil && !ok {
		return store.ErrNotFound
	}
	return err
}

// Options configure a Manager. The zero value is secure: the relying party is the request's
// host (already checked against AllowedHosts by the hosts middleware) and the only accepted
// origin is the request's own, scheme included, from clientip.
type Options struct {
	// RPID is the relying party ID, a registrable domain suffix of the site's host (set it to
	// "example.com" to share passkeys between login.example.com and www.example.com). Empty
	// means the request's host name. It cannot be an IP address (browsers refuse).
	RPID string
	// RPDisplayName is shown by the browser; empty means "rampart".
	RPDisplayName string
	// RPOrigins are the origins ("https://login.example.com") whose responses are accepted.
	// Empty means the request's own origin.
	RPOrigins []string
	// Timeout bounds a ceremony; 0 means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// User is the account a passkey is registered for.
type User struct {
	// ID is the store's user ID; it is the WebAuthn user handle the authenticator returns at
	// login (an opaque identifier, never the username or e-mail).
	ID string
	// Name and DisplayName are shown by the authenticator's account picker.
	Name, DisplayName string
}

// Manager runs registration and login ceremonies. It is safe for concurrent use.
type Manager struct {
	store CredentialStore
	opts  Options
}

// New returns a Manager keeping credentials in cs.
func New(cs CredentialStore, opts Options) *Manager {
	if opts.RPDisplayName == "" {
		opts.RPDisplayName = "rampart"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Manager{store: cs, opts: opts}
}

// Store returns the credential store (to list or delete a user's passkeys).
func (m *Manager) Store() CredentialStore { return m.store }

// relyingParty builds the library for this request's host. Building it per request keeps
// the zero-config case (RP from the request) simple; ceremonies are rare and it is cheap.
func (m *Manager) relyingParty(r *http.Request) (*webauthn.WebAuthn, error) {
	info := clientip.FromRequest(r)
	host := info.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rpid := m.opts.RPID
	if rpid == "" {
		rpid = strings.ToLower(strings.TrimSuffix(host, "."))
	}
	origins := m.opts.RPOrigins
	if len(origins) == 0 {
		origins = []string{info.Scheme + "://" + info.Host}
	}
	tc := webauthn.TimeoutConfig{Enforce: true, Timeout: m.opts.Timeout, TimeoutUVD: m.opts.Timeout}
	rp, err := webauthn.New(&webauthn.Config{
		RPID: rpid, RPDisplayName: m.opts.RPDisplayName, RPOrigins: origins,
		Timeouts: webauthn.TimeoutsConfig{Login: tc, Registration: tc},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRelyingParty, err)
	}
	return rp, nil
}

// ceremony is what the session keeps between Begin and Finish.
type ceremony struct {
	Data   webauthn.SessionData `json:"d"`
	UserID string               `json:"u,omitempty"`
	At     int64                `json:"at"` // Unix seconds on the injected clock
}

func (m *Manager) save(r *http.Request, key, userID string, sd *webauthn.SessionData) error {
	b, err := json.Marshal(ceremony{Data: *sd, UserID: userID, At: m.opts.Now().Unix()})
	if err != nil {
		return err
	}
	sess := session.FromRequest(r)
	if sess == nil {
		return session.ErrNoSession
	}
	sess.SetString(key, string(b))
	return nil
}

// take removes the pending ceremony (a challenge is answered once) and returns it when it
// is still valid and belongs to userID.
func (m *Manager) take(r *http.Request, key, userID string) (webauthn.SessionData, error) {
	sess := session.FromRequest(r)
	raw, ok := sess.GetString(key)
	sess.Delete(key)
	var c ceremony
	if !ok || json.Unmarshal([]byte(raw), &c) != nil || c.UserID != userID {
		return webauthn.SessionData{}, ErrNoCeremony
	}
	if age := m.opts.Now().Sub(time.Unix(c.At, 0)); age < 0 || age > m.opts.Timeout {
		return webauthn.SessionData{}, ErrNoCeremony
	}
	return c.Data, nil
}

// waUser adapts a user and its credentials to the library.
type waUser struct {
	u     User
	creds []webauthn.Credential
}

func (w *waUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w *waUser) WebAuthnName() string                       { return w.u.Name }
func (w *waUser) WebAuthnDisplayName() string                { return w.u.DisplayName }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func (m *Manager) loadUser(ctx context.Context, u User) (*waUser, []Credential, error) {
	list, err := m.store.Credentials(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	w := &waUser{u: u}
	for _, c := range list {
		w.creds = append(w.creds, c.Record)
	}
	return w, list, nil
}

// BeginRegistration starts adding a passkey for the logged-in user u: it keeps the challenge
// in the session and returns the options for navigator.credentials.create. The options ask
// for a discoverable credential with user verification, and exclude the user's existing
// passkeys so one authenticator is not registered twice.
func (m *Manager) BeginRegistration(r *http.Request, u User) (*protocol.CredentialCreation, error) {
	if u.ID == "" {
		return nil, ErrNoCeremony
	}
	rp, err := m.relyingParty(r)
	if err != nil {
		return nil, err
	}
	w, list, err := m.loadUser(r.Context(), u)
	if err != nil {
		return nil, err
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(list))
	for _, c := range list {
		exclude = append(exclude, c.Record.Descriptor())
	}
	rk := true
	opts, sd, err := rp.BeginRegistration(w,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			RequireResidentKey: &rk,
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithExclusions(exclude),
	)
	if err != nil {
		return nil, err
	}
	if err := m.save(r, keyRegister, u.ID, sd); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishRegistration verifies the browser's answer (the JSON of the PublicKeyCredential) to
// the ceremony begun for u in this session and stores the new credential under name.
func (m *Manager) FinishRegistration(r *http.Request, u User, name string, body io.Reader) (Credential, error) {
	sd, err := m.take(r, keyRegister, u.ID)
	if err != nil {
		return Credential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(io.LimitReader(body, MaxResponseBytes))
	if err != nil {
		return Credential{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	rp, err := m.relyingParty(r)
	if err != nil {
		return Credential{}, err
	}
	w, _, err := m.loadUser(r.Context(), u)
	if err != nil {
		return Credential{}, err
	}
	rec, err := rp.CreateCredential(w, sd, parsed)
	if err != nil {
		return Credential{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	now := m.opts.Now()
	c := Credential{ID: rec.ID, Name: cleanName(name, now), Record: *rec, CreatedAt: now}
	if err := m.store.AddCredential(r.Context(), u.ID, c); err != nil {
		return Credential{}, err
	}
	return c, nil
}

// cleanName bounds a user's label to 64 printable characters; empty means a dated default.
func cleanName(name string, now time.Time) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	name = strings.TrimSpace(name)
	if rs := []rune(name); len(rs) > 64 {
		name = string(rs[:64])
	}
	if name == "" {
		name = "Passkey added " + now.UTC().Format("2006-01-02")
	}
	return name
}

// BeginLogin starts a discoverable login: no user is named; the browser offers the passkeys
// it holds for this relying party. User verification is required, so the passkey alone is
// a multi-factor login.
func (m *Manager) BeginLogin(r *http.Request) (*protocol.CredentialAssertion, error) {
	rp, err := m.relyingParty(r)
	if err != nil {
		return nil, err
	}
	opts, sd, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, err
	}
	if err := m.save(r, keyLogin, "", sd); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishLogin verifies the browser's assertion against the login ceremony of this session
// and returns the user it authenticates. The signature counter must move forward (or stay
// zero for authenticators without one): ErrCloned otherwise, checked again atomically in the
// store so that two racing logins with one counter value cannot both succeed.
func (m *Manager) FinishLogin(r *http.Request, body io.Reader) (userID string, c Credential, err error) {
	sd, err := m.take(r, keyLogin, "")
	if err != nil {
		return "", Credential{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(io.LimitReader(body, MaxResponseBytes))
	if err != nil {
		return "", Credential{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	rp, err := m.relyingParty(r)
	if err != nil {
		return "", Credential{}, err
	}
	ctx := r.Context()
	var found Credential
	var lookupErr error
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		owner, cred, err := m.store.CredentialByID(ctx, rawID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			lookupErr = ErrUnknownCredential
			return nil, lookupErr
		case err != nil:
			lookupErr = err
			return nil, err
		case !bytes.Equal(userHandle, []byte(owner)):
			// The authenticator's user handle names someone else: a credential that was
			// deleted and its ID reused, or a forged response.
			lookupErr = ErrUnknownCredential
			return nil, lookupErr
		}
		userID, found = owner, cred
		return &waUser{u: User{ID: owner}, creds: []webauthn.Credential{cred.Record}}, nil
	}
	_, rec, err := rp.ValidatePasskeyLogin(handler, sd, parsed)
	if err != nil {
		if lookupErr != nil {
			if errors.Is(lookupErr, ErrUnknownCredential) {
				return "", Credential{}, ErrUnknownCredential
			}
			return "", Credential{}, lookupErr
		}
		return "", Credential{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if rec.Authenticator.CloneWarning {
		return userID, found, ErrCloned
	}
	now := m.opts.Now()
	if err := m.store.UpdateSignCount(ctx, rec.ID, rec.Authenticator.SignCount, now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", Credential{}, ErrUnknownCredential // deleted during the ceremony
		}
		return userID, found, err
	}
	found.Record, found.LastUsed = *rec, now
	return userID, found, nil
}
