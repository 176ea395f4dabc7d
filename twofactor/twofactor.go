// Package twofactor adds a second factor to password logins: TOTP (RFC 6238) with replay
// refused atomically in the store, hashed single-use backup codes, QR enrollment and a
// remember-device cookie.
//
// It follows django-otp and django-two-factor-auth and fixes their weak spots: backup codes
// are stored as keyed hashes instead of plaintext, the remember cookie is Secure by default
// and bound to the password and a revocable device epoch, the TOTP secret is sealed at rest,
// and the last accepted time step is claimed with one atomic store operation so two
// instances racing the same code cannot both accept it.
package twofactor

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/rampart-go/rampart/store"
)

// Errors returned by verification. They are distinct so the caller can log precisely,
// but a login page should show one generic message for all of them.
var (
	// ErrInvalidCode reports a code that matches neither the TOTP window nor a backup code.
	ErrInvalidCode = errors.New("twofactor: invalid code")
	// ErrReplay reports a TOTP code whose time step was already used (or is older).
	ErrReplay = errors.New("twofactor: code already used")
	// ErrThrottled reports that too many wrong codes were entered recently; see Throttled.
	ErrThrottled = errors.New("twofactor: too many attempts, wait before trying again")
	// ErrNotEnrolled reports that the user has no confirmed TOTP device.
	ErrNotEnrolled = errors.New("twofactor: two-factor authentication is not enabled")
	// ErrAlreadyEnabled reports an enrollment attempt for a user who already has 2FA on.
	ErrAlreadyEnabled = errors.New("twofactor: two-factor authentication is already enabled")
)

// ThrottledError carries how long to wait after ErrThrottled.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string { return ErrThrottled.Error() }

// Unwrap makes errors.Is(err, ErrThrottled) work.
func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// Method names how a second factor was proven.
type Method string

// The methods Verify can report.
const (
	MethodTOTP   Method = "totp"
	MethodBackup Method = "backup"
)

// Store is the state twofactor needs; every rampart backend provides it.
type Store interface {
	store.Users
	store.OTPSteps
	store.BackupCodes
	store.Counters
}

// Options configure a Manager. The zero value (plus Keys) is the recommended setting:
// SHA-1, 6 digits, 30 s steps, ±1 step, 10 backup codes, throttling on.
type Options struct {
	// Keys are the server secrets, newest first (the settings' secret key and its fallbacks).
	// Sub-keys for sealing, code hashing and cookies are derived from them; older keys are
	// only used to read what they wrote, so rotating the secret key does not lock anyone out.
	Keys [][]byte
	// Issuer is shown in authenticator apps. Default "rampart".
	Issuer string
	// Skew is how many steps either side of now are accepted. Default 1; negative means 0.
	Skew int
	// BackupCodeCount is how many backup codes a generation makes. Default 10.
	BackupCodeCount int
	// ThrottleFactor: after n consecutive failures the next attempt is refused for
	// factor × 2^(n−1) (django-otp). Default 1 s. A negative value disables throttling
	// and `rampart check` should flag it.
	ThrottleFactor time.Duration
	// RememberFor is how long a remembered device skips the second factor. Default 30 days.
	RememberFor time.Duration
	// RememberCookieName defaults to "__Host-rampart-2fa" (or "rampart-2fa" when InsecureCookies).
	RememberCookieName string
	// InsecureCookies drops the Secure flag for plain-HTTP development on loopback.
	InsecureCookies bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Manager runs enrollment, verification and the remember-device cookie.
type Manager struct {
	st   Store
	opts Options
	seal [][]byte // AES-256 keys, newest first
	code [][]byte // HMAC keys for backup codes
	mem  [][]byte // HMAC keys for remember cookies
}

const (
	period = 30
	digits = otp.DigitsSix
)

// New returns a Manager. It fails when no key is given, because every secret it writes is
// derived from one.
func New(st Store, opts Options) (*Manager, error) {
	if len(opts.Keys) == 0 {
		return nil, errors.New("twofactor: Options.Keys is empty")
	}
	if opts.Issuer == "" {
		opts.Issuer = "rampart"
	}
	opts.Issuer = strings.ReplaceAll(opts.Issuer, ":", "")
	if opts.Skew == 0 {
		opts.Skew = 1
	} else if opts.Skew < 0 {
		opts.Skew = 0
	}
	if opts.BackupCodeCount <= 0 {
		opts.BackupCodeCount = 10
	}
	if opts.ThrottleFactor == 0 {
		opts.ThrottleFactor = time.Second
	}
	if opts.RememberFor <= 0 {
		opts.RememberFor = 30 * 24 * time.Hour
	}
	if opts.RememberCookieName == "" {
		if opts.InsecureCookies {
			opts.RememberCookieName = "rampart-2fa"
		} else {
			opts.RememberCookieName = "__Host-rampart-2fa"
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{st: st, opts: opts}
	for _, k := range opts.Keys {
		m.seal = append(m.seal, derive(k, "rampart.twofactor.seal"))
		m.code = append(m.code, derive(k, "rampart.twofactor.backup"))
		m.mem = append(m.mem, derive(k, "rampart.twofactor.remember"))
	}
	return m, nil
}

func derive(key []byte, purpose string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(purpose))
	return h.Sum(nil)
}

// Enrollment is what a user needs to add the account to an authenticator app.
type Enrollment struct {
	// Secret is the base32 secret for manual entry.
	Secret string
	// URI is the otpauth:// URI encoded in the QR code.
	URI string
	// QRDataURL is a PNG QR code as a data: URL (allowed by rampart's CSP img-src).
	QRDataURL string
}

// Begin starts (or resumes) enrollment: a new secret is generated and stored sealed, but
// not active until Confirm sees a first valid code. Calling Begin again before Confirm
// returns the same secret, so reloading the page shows the same QR code.
func (m *Manager) Begin(ctx context.Context, u store.User) (Enrollment, error) {
	if u.TOTPEnabled {
		return Enrollment{}, ErrAlreadyEnabled
	}
	secret, err := m.open(u.TOTPSecret)
	if err != nil || len(secret) == 0 {
		secret = make([]byte, 20) // RFC 4226 recommends 160 bits
		if _, err := rand.Read(secret); err != nil {
			return Enrollment{}, err
		}
		sealed, err := m.sealSecret(secret)
		if err != nil {
			return Enrollment{}, err
		}
		u.TOTPSecret = sealed
		if err := m.st.UpdateUser(ctx, u); err != nil {
			return Enrollment{}, fmt.Errorf("twofactor: saving pending secret: %w", err)
		}
		if err := m.st.ResetSteps(ctx, u.ID); err != nil {
			return Enrollment{}, fmt.Errorf("twofactor: resetting replay state: %w", err)
		}
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	uri := otpauthURI(m.opts.Issuer, u.Username, b32)
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return Enrollment{}, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return Enrollment{}, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, err
	}
	return Enrollment{
		Secret:    b32,
		URI:       uri,
		QRDataURL: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}

func otpauthURI(issuer, account, secret string) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", "6")
	q.Set("period", "30")
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// Confirm activates the pending secret when code is valid, and returns the first set of
// backup codes (shown once; only their hashes are kept).
func (m *Manager) Confirm(ctx context.Context, u store.User, code string) ([]string, error) {
	if u.TOTPEnabled {
		return nil, ErrAlreadyEnabled
	}
	secret, err := m.open(u.TOTPSecret)
	if err != nil || len(secret) == 0 {
		return nil, ErrNotEnrolled
	}
	if err := m.verifyTOTP(ctx, u.ID, secret, code); err != nil {
		return nil, err
	}
	u.TOTPEnabled = true
	if err := m.st.UpdateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("twofactor: enabling: %w", err)
	}
	return m.NewBackupCodes(ctx, u)
}

// Disable turns 2FA off: the secret, the backup codes and every remembered device go.
// The caller must have re-checked the user's password first.
func (m *Manager) Disable(ctx context.Context, u store.User) (store.User, error) {
	u.TOTPSecret = nil
	u.TOTPEnabled = false
	u.DeviceEpoch++
	if err := m.st.UpdateUser(ctx, u); err != nil {
		return u, fmt.Errorf("twofactor: disabling: %w", err)
	}
	if err := m.st.ReplaceBackupCodes(ctx, u.ID, nil); err != nil {
		return u, fmt.Errorf("twofactor: dropping backup codes: %w", err)
	}
	if err := m.st.ResetSteps(ctx, u.ID); err != nil {
		return u, fmt.Errorf("twofactor: resetting replay state: %w", err)
	}
	return u, nil
}

// Verify checks a second-factor code for a user with 2FA enabled: a 6-digit TOTP code or a
// backup code. Failures are throttled with django-otp's exponential back-off, kept in the
// store so every instance sees them; a store error fails closed.
//
// One code per user is checked at a time, across instances: the check takes the user's
// verification slot in the store first (an atomic reservation), so a burst of concurrent
// guesses cannot all read the throttle before any failure is counted. A guess that finds the
// slot taken is refused as throttled.
func (m *Manager) Verify(ctx context.Context, u store.User, code string) (method Method, err error) {
	if !u.TOTPEnabled {
		return "", ErrNotEnrolled
	}
	if m.opts.ThrottleFactor >= 0 {
		now := m.opts.Now()
		// rerr, not err: the deferred release below must see Verify's own result.
		c, ok, rerr := m.st.Reserve(ctx, busyKey(u.ID), 1, now, verifyHold)
		if rerr != nil {
			return "", fmt.Errorf("twofactor: throttle: %w", rerr)
		}
		if !ok {
			return "", &ThrottledError{RetryAfter: max(c.ExpiresAt.Sub(now), time.Second)}
		}
		defer func() {
			// Without the release the slot still expires after verifyHold, which only
			// refuses more; the caller learns of it, as of any store error.
			if derr := m.st.DeleteCounter(context.WithoutCancel(ctx), busyKey(u.ID)); derr != nil && err == nil {
				method, err = "", fmt.Errorf("twofactor: throttle: %w", derr)
			}
		}()
	}
	if err := m.checkThrottle(ctx, u.ID); err != nil {
		return "", err
	}
	code = strings.TrimSpace(code)
	method, err = m.verify(ctx, u, code)
	if err != nil {
		if errors.Is(err, ErrInvalidCode) || errors.Is(err, ErrReplay) {
			if ferr := m.fail(ctx, u.ID); ferr != nil {
				return "", ferr
			}
		}
		return "", err
	}
	if err := m.st.DeleteCounter(ctx, throttleKey(u.ID)); err != nil {
		return "", fmt.Errorf("twofactor: resetting throttle: %w", err)
	}
	return method, nil
}

func (m *Manager) verify(ctx context.Context, u store.User, code string) (Method, error) {
	if isDigits(code) && len(code) == digits.Length() {
		secret, err := m.open(u.TOTPSecret)
		if err != nil || len(secret) == 0 {
			return "", ErrNotEnrolled
		}
		err = m.verifyTOTP(ctx, u.ID, secret, code)
		if !errors.Is(err, ErrInvalidCode) {
			return MethodTOTP, err
		}
		// Not a TOTP code of now: it may still be an imported static token of six digits
		// (django-otp lets an administrator choose any token).
	}
	norm := normaliseBackup(code)
	if norm == "" || len(norm) > maxBackupLen {
		return "", ErrInvalidCode
	}
	for _, k := range m.code {
		ok, err := m.st.UseBackupCode(ctx, u.ID, hashBackup(k, norm))
		if err != nil {
			return "", fmt.Errorf("twofactor: backup code: %w", err)
		}
		if ok {
			return MethodBackup, nil
		}
	}
	return "", ErrInvalidCode
}

// verifyTOTP accepts code at steps now-skew..now+skew. Matching is constant-time per step;
// the matched step is then claimed atomically so a replay (same or older step) loses.
func (m *Manager) verifyTOTP(ctx context.Context, device string, secret []byte, code string) error {
	if len(code) != digits.Length() || !isDigits(code) {
		return ErrInvalidCode
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	now := m.opts.Now().Unix()
	if now < 0 {
		return ErrInvalidCode
	}
	cur := now / period
	matched := int64(-1)
	for off := -m.opts.Skew; off <= m.opts.Skew; off++ {
		step := cur + int64(off)
		if step < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(b32, uint64(step), hotp.ValidateOpts{Digits: digits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && matched < 0 {
			matched = step
		}
	}
	if matched < 0 {
		return ErrInvalidCode
	}
	ok, err := m.st.ClaimStep(ctx, device, matched)
	if err != nil {
		return fmt.Errorf("twofactor: replay check: %w", err)
	}
	if !ok {
		return ErrReplay
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func throttleKey(userID string) string { return "2fa:fail:" + userID }

// busyKey holds a user's verification slot while one code is being checked.
func busyKey(userID string) string { return "2fa:busy:" + userID }

// verifyHold bounds how long a verification slot is held if its holder never releases it (a
// crashed instance): long enough for any check whose store calls meet their deadlines.
const verifyHold = 10 * time.Second

// throttleWindow bounds how long a failure streak is remembered.
const throttleWindow = 24 * time.Hour

func (m *Manager) checkThrottle(ctx context.Context, userID string) error {
	if m.opts.ThrottleFactor < 0 {
		return nil
	}
	now := m.opts.Now()
	c, err := m.st.GetCounter(ctx, throttleKey(userID), now)
	if err != nil {
		return fmt.Errorf("twofactor: throttle: %w", err)
	}
	if c.N <= 0 {
		return nil
	}
	last := c.ExpiresAt.Add(-throttleWindow)
	exp := math.Min(float64(c.N-1), 30)
	until := last.Add(time.Duration(float64(m.opts.ThrottleFactor) * math.Pow(2, exp)))
	if now.Before(until) {
		return &ThrottledError{RetryAfter: until.Sub(now)}
	}
	return nil
}

func (m *Manager) fail(ctx context.Context, userID string) error {
	if m.opts.ThrottleFactor < 0 {
		return nil
	}
	if _, err := m.st.Incr(ctx, throttleKey(userID), 1, m.opts.Now(), throttleWindow, true); err != nil {
		return fmt.Errorf("twofactor: throttle: %w", err)
	}
	return nil
}

// Backup codes: 10 characters from a 31-letter alphabet without look-alikes (49.5 bits),
// shown as xxxxx-xxxxx. They are random, so a keyed HMAC is a sufficient hash: without the
// server key a stolen table cannot be brute-forced, and lookup stays one indexed query.
//
// Codes imported from another system (django-otp's static tokens, see HashBackupCode) may
// have another length, up to maxBackupLen.
const (
	backupAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	backupLen      = 10
	maxBackupLen   = 64
)

// NewBackupCodes replaces the user's backup codes with a fresh set and returns them.
func (m *Manager) NewBackupCodes(ctx context.Context, u store.User) ([]string, error) {
	codes := make([]string, m.opts.BackupCodeCount)
	hashes := make([]string, len(codes))
	for i := range codes {
		raw := make([]byte, backupLen)
		for j := range raw {
			raw[j] = backupAlphabet[randIndex(len(backupAlphabet))]
		}
		codes[i] = string(raw[:5]) + "-" + string(raw[5:])
		hashes[i] = hashBackup(m.code[0], string(raw))
	}
	if err := m.st.ReplaceBackupCodes(ctx, u.ID, hashes); err != nil {
		return nil, fmt.Errorf("twofactor: storing backup codes: %w", err)
	}
	return codes, nil
}

// HashBackupCode returns the stored form of a backup code taken from another system (such as
// a django-otp static token), for store.BackupCodes or store.ImportedAccount: the code is
// normalised as Verify normalises what the user types (lower case, without '-' and spaces) and
// hashed under the newest key. It returns "" for a code Verify could never accept (empty
// after normalisation, or longer than 64 characters).
func (m *Manager) HashBackupCode(code string) string {
	norm := normaliseBackup(strings.TrimSpace(code))
	if norm == "" || len(norm) > maxBackupLen {
		return ""
	}
	return hashBackup(m.code[0], norm)
}

// SealSecret seals a TOTP secret taken from another system (such as a django-otp device's
// key) for store.User.TOTPSecret, as enrollment seals the secrets it generates. Verify
// checks codes of 6 digits in 30-second steps counted from the Unix epoch with HMAC-SHA-1;
// a device with other parameters cannot be carried over.
func (m *Manager) SealSecret(secret []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, errors.New("twofactor: empty TOTP secret")
	}
	return m.sealSecret(secret)
}

// BackupCodesLeft reports how many unused backup codes the user has.
func (m *Manager) BackupCodesLeft(ctx context.Context, u store.User) (int, error) {
	return m.st.CountBackupCodes(ctx, u.ID)
}

func randIndex(n int) int {
	// Rejection sampling keeps the distribution uniform.
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("twofactor: crypto/rand failed: " + err.Error())
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

func normaliseBackup(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if r == '-' || r == ' ' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hashBackup(key []byte, code string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(code))
	return hex.EncodeToString(h.Sum(nil))
}

// sealSecret encrypts the TOTP secret with AES-256-GCM under the newest key, so a copy of the
// users table alone does not let anyone mint codes.
func (m *Manager) sealSecret(secret []byte) ([]byte, error) {
	block, err := aes.NewCipher(m.seal[0])
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{1}, nonce...)
	return gcm.Seal(out, nonce, secret, []byte("rampart.totp")), nil
}

func (m *Manager) open(sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	if sealed[0] != 1 {
		return nil, errors.New("twofactor: unknown sealed-secret version")
	}
	for _, k := range m.seal {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		if len(sealed) < 1+gcm.NonceSize()+gcm.Overhead() {
			return nil, errors.New("twofactor: sealed secret truncated")
		}
		nonce := sealed[1 : 1+gcm.NonceSize()]
		if pt, err := gcm.Open(nil, nonce, sealed[1+gcm.NonceSize():], []byte("rampart.totp")); err == nil {
			return pt, nil
		}
	}
	return nil, errors.New("twofactor: sealed secret does not open with any key")
}
