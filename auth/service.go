package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/password"
	"github.com/rampart-go/rampart/store"
)

// Errors returned by Service.
var (
	// ErrInvalidCredentials is the one error a login form should show, whatever went wrong
	// with the username or password (unknown user, wrong password, unusable password,
	// inactive account).
	ErrInvalidCredentials = errors.New("auth: invalid username or password")
	// ErrInactive is returned for a correct password on an inactive account. It matches
	// ErrInvalidCredentials with errors.Is, so a form shows the generic message, while audit
	// code can tell the cases apart. Showing it to the user would confirm the password.
	ErrInactive error = inactiveError{}
	// ErrInvalidToken reports a password-reset token that is malformed, forged, expired or
	// already used (the password or last login changed), or whose user is gone or inactive.
	ErrInvalidToken = errors.New("auth: invalid or expired password reset token")
	// ErrNoKeys reports Options without a usable secret key.
	ErrNoKeys = errors.New("auth: Options.Keys needs at least one key of 32 bytes or more")
)

type inactiveError struct{}

func (inactiveError) Error() string        { return "auth: account is inactive" }
func (inactiveError) Is(target error) bool { return target == ErrInvalidCredentials }

// DefaultResetTimeout is Django's PASSWORD_RESET_TIMEOUT: 3 days.
const DefaultResetTimeout = 3 * 24 * time.Hour

// MinKeyLen is the shortest secret key accepted (256 bits).
const MinKeyLen = 32

// Options configure a Service. The zero value of every field except Keys is secure.
type Options struct {
	// Hasher hashes and verifies passwords; nil means a zero Hasher (argon2id, OWASP costs).
	Hasher *Hasher
	// Validators check new passwords; nil or empty means password.Default().
	Validators []password.Validator
	// InsecureSkipValidation accepts any new password (for fixtures and imports only).
	InsecureSkipValidation bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Keys are secret keys, newest first, each at least MinKeyLen bytes. The first signs;
	// all verify, so a key can be rotated without logging everyone out or killing sent
	// reset links (Django's SECRET_KEY + SECRET_KEY_FALLBACKS).
	Keys [][]byte
	// ResetTimeout is how long a password-reset token lives; zero means DefaultResetTimeout.
	ResetTimeout time.Duration
	// Mailer delivers password-reset mail; nil means a mail.Log on slog.Default(), which writes
	// the reset link to the log (development only: the link is a credential).
	Mailer mail.Mailer
}

// Service is the account layer over a store.Users backend.
type Service struct {
	users        store.Users
	hasher       *Hasher
	validators   []password.Validator
	skipValidate bool
	now          func() time.Time
	keys         [][]byte
	authCache    authHashCache
	resetTimeout time.Duration
	mailer       mail.Mailer
}

// New returns a Service. It fails when users is nil or no key is given.
func New(users store.Users, o Options) (*Service, error) {
	if users == nil {
		return nil, errors.New("auth: nil store.Users")
	}
	if len(o.Keys) == 0 {
		return nil, ErrNoKeys
	}
	s := &Service{users: users, hasher: o.Hasher, validators: o.Validators, skipValidate: o.InsecureSkipValidation,
		now: o.Now, resetTimeout: o.ResetTimeout, mailer: o.Mailer}
	for _, k := range o.Keys {
		if len(k) < MinKeyLen {
			return nil, ErrNoKeys
		}
		s.keys = append(s.keys, append([]byte(nil), k...))
	}
	if s.hasher == nil {
		s.hasher = &Hasher{}
	}
	if len(s.validators) == 0 {
		s.validators = password.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.resetTimeout <= 0 {
		s.resetTimeout = DefaultResetTimeout
	}
	if s.mailer == nil {
		s.mailer = mail.Log{Logger: slog.Default()}
	}
	return s, nil
}

// Hasher returns the Service's hasher (for tools that hash outside a user, e.g. imports).
func (s *Service) Hasher() *Hasher { return s.hasher }

func attrs(username, email string) password.UserAttrs {
	return password.UserAttrs{Username: username, Email: email}
}

// ValidatePassword runs the configured validators for a user-to-be; the error is a
// *password.ValidationError listing every broken rule, or an operational error.
func (s *Service) ValidatePassword(ctx context.Context, pw, username, email string) error {
	if s.skipValidate {
		return nil
	}
	return password.Validate(ctx, pw, attrs(username, email), s.validators...)
}

// CreateUser normalises username (NormalizeUsername) and email (NormalizeEmail), validates the
// password against them, hashes it and stores an active user. A taken username or e-mail is
// reported as store.ErrConflict (wrapped).
func (s *Service) CreateUser(ctx context.Context, username, email, pw string, staff bool) (store.User, error) {
	username, err := NormalizeUsername(username)
	if err != nil {
		return store.User{}, err
	}
	if email, err = NormalizeEmail(email); err != nil {
		return store.User{}, err
	}
	if err := s.ValidatePassword(ctx, pw, username, email); err != nil {
		return store.User{}, err
	}
	h, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return store.User{}, err
	}
	u, err := s.users.CreateUser(ctx, store.User{Username: username, Email: email, PasswordHash: h,
		IsActive: true, IsStaff: staff, DateJoined: s.now().UTC()})
	if err != nil {
		return store.User{}, fmt.Errorf("auth: create user: %w", err)
	}
	return u, nil
}

// Authenticate checks a username and password. Every failure that concerns the credentials
// returns ErrInvalidCredentials (or ErrInactive, which matches it) after the same hashing work
// — an unknown or malformed username runs the hasher on a dummy, as Django does — so neither
// the answer nor its timing tells whether the account exists. Any other error is the store
// or the context failing: deny (503), do not treat it as a wrong password.
//
// On success, a hash in an old algorithm or with lower costs is replaced by a fresh argon2id
// hash (Hasher.Upgrade: never cheaper than the one it replaces) and stored. Authenticate
// does not touch LastLogin: call RecordLogin once the login is
// complete (after a second factor), which also invalidates outstanding reset tokens.
func (s *Service) Authenticate(ctx context.Context, username, pw string) (store.User, error) {
	norm, nerr := NormalizeUsername(username)
	var u store.User
	var err error
	if nerr == nil {
		u, err = s.users.UserByUsername(ctx, norm)
	}
	if nerr != nil || errors.Is(err, store.ErrNotFound) {
		if err := s.hasher.dummy(ctx, pw); err != nil {
			return store.User{}, err
		}
		return store.User{}, ErrInvalidCredentials
	}
	if err != nil {
		return store.User{}, fmt.Errorf("auth: load user: %w", err)
	}
	ok, err := s.hasher.Verify(ctx, pw, u.PasswordHash)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, ErrInvalidCredentials
	}
	// Checked after the password, as Django's ModelBackend does, so inactive accounts cost the same.
	if !u.IsActive {
		return store.User{}, ErrInactive
	}
	if s.hasher.NeedsUpgrade(u.PasswordHash) {
		h, err := s.hasher.Upgrade(ctx, pw, u.PasswordHash)
		if err != nil {
			return store.User{}, err
		}
		u.PasswordHash = h
		if err := s.users.UpdateUser(ctx, u); err != nil {
			return store.User{}, fmt.Errorf("auth: store upgraded hash: %w", err)
		}
	}
	return u, nil
}

// RecordLogin sets LastLogin to now and stores the user (Django's user_logged_in handler).
func (s *Service) RecordLogin(ctx context.Context, u store.User) (store.User, error) {
	u.LastLogin = s.now().UTC()
	if err := s.users.UpdateUser(ctx, u); err != nil {
		return store.User{}, fmt.Errorf("auth: record login: %w", err)
	}
	return u, nil
}

// SetPassword validates pw for u, hashes and stores it. The new hash changes u's
// SessionAuthHash (other sessions end) and kills its reset tokens.
func (s *Service) SetPassword(ctx context.Context, u store.User, pw string) (store.User, error) {
	if err := s.ValidatePassword(ctx, pw, u.Username, u.Email); err != nil {
		return store.User{}, err
	}
	h, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return store.User{}, err
	}
	u.PasswordHash = h
	if err := s.users.UpdateUser(ctx, u); err != nil {
		return store.User{}, fmt.Errorf("auth: store password: %w", err)
	}
	return u, nil
}

// SetUnusablePassword stores an unusable marker (password login disabled; reset mail is not sent).
func (s *Service) SetUnusablePassword(ctx context.Context, u store.User) (store.User, error) {
	u.PasswordHash = UnusablePassword()
	if err := s.users.UpdateUser(ctx, u); err != nil {
		return store.User{}, fmt.Errorf("auth: store password: %w", err)
	}
	return u, nil
}

// ChangePassword checks old against the stored hash (reloaded, so a stale u cannot be used)
// and sets newPw. A wrong old password is ErrInvalidCredentials.
func (s *Service) ChangePassword(ctx context.Context, u store.User, old, newPw string) (store.User, error) {
	cur, err := s.users.UserByID(ctx, u.ID)
	if err != nil {
		return store.User{}, fmt.Errorf("auth: load user: %w", err)
	}
	ok, err := s.hasher.Verify(ctx, old, cur.PasswordHash)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, ErrInvalidCredentials
	}
	return s.SetPassword(ctx, cur, newPw)
}

// SendPasswordReset mails a reset link to the active account with this e-mail and a usable
// password. link turns the token into the URL (e.g. "https://host/accounts/reset/"+token).
// Unknown addresses, inactive accounts and unusable passwords return nil without sending, so
// the answer does not reveal which addresses have accounts. Sending takes time the silent
// paths do not: where that matters, call this outside the request (a queue).
func (s *Service) SendPasswordReset(ctx context.Context, email string, link func(token string) string) error {
	email, err := NormalizeEmail(email)
	if err != nil || email == "" {
		return nil
	}
	u, err := s.users.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("auth: load user: %w", err)
	}
	if !u.IsActive || !IsUsable(u.PasswordHash) || !strings.EqualFold(u.Email, email) {
		return nil
	}
	url := link(s.ResetToken(u))
	return s.mailer.Send(ctx, mail.Message{
		To:      u.Email,
		Subject: "Password reset",
		Body: "Someone asked to reset the password of the account " + u.Username + ".\n\n" +
			"To choose a new password, open:\n" + url + "\n\n" +
			"The link works once and expires in " + s.resetTimeout.String() + ". " +
			"If you did not ask for this, ignore this message.\n",
	})
}

// ResetPassword checks token and sets newPw on its user (validated). A bad token, or a user
// that is gone or inactive, is ErrInvalidToken; the token dies with the new password.
func (s *Service) ResetPassword(ctx context.Context, token, newPw string) (store.User, error) {
	u, err := s.UserForResetToken(ctx, token)
	if err != nil {
		return store.User{}, err
	}
	return s.SetPassword(ctx, u, newPw)
}

// UserForResetToken returns the active user a valid token belongs to (for showing the
// "choose a new password" form before it is posted).
func (s *Service) UserForResetToken(ctx context.Context, token string) (store.User, error) {
	id, ok := resetTokenUserID(token)
	if !ok {
		return store.User{}, ErrInvalidToken
	}
	u, err := s.users.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrInvalidToken
	}
	if err != nil {
		return store.User{}, fmt.Errorf("auth: load user: %w", err)
	}
	if !u.IsActive || !s.CheckResetToken(u, token) {
		return store.User{}, ErrInvalidToken
	}
	return u, nil
}
