package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Default limits.
const (
	// DefaultMinLength is 12: ASVS 5.0 V6.2.1 asks for at least 8 and NIST 800-63B rev 4
	// for 15 when the password is the only factor; 12 is Django's test value and a common
	// middle ground for apps that add a second factor. Raise it to 15 without MFA.
	DefaultMinLength = 12
	// DefaultMaxLength is 4096 characters. NIST asks to allow at least 64 and forbids
	// truncation; argon2id pre-hashes the password with BLAKE2b, so the cost grows linearly with
	// its length — 4096 characters (at most 16 KiB of UTF-8) never limits a real passphrase yet
	// bounds the work an attacker can ask for. The 72-byte bcrypt limit does not apply: new
	// hashes are argon2id and imported bcrypt_sha256 hashes pre-hash with SHA-256.
	DefaultMaxLength = 4096
	// DefaultMaxSimilarity is Django's 0.7.
	DefaultMaxSimilarity = 0.7
)

func characters(n int) string {
	if n == 1 {
		return "character"
	}
	return "characters"
}

// MinimumLength rejects passwords shorter than Min characters (Unicode code points).
type MinimumLength struct {
	// Min is the minimum number of characters; zero means DefaultMinLength.
	Min int
}

func (v MinimumLength) min() int {
	if v.Min <= 0 {
		return DefaultMinLength
	}
	return v.Min
}

// Validate implements Validator.
func (v MinimumLength) Validate(_ context.Context, password string, _ UserAttrs) error {
	if n := v.min(); utf8.RuneCountInString(password) < n {
		return &Error{Code: "password_too_short",
			Message: fmt.Sprintf("This password is too short. It must contain at least %d %s.", n, characters(n))}
	}
	return nil
}

// HelpText implements Validator.
func (v MinimumLength) HelpText() string {
	n := v.min()
	return fmt.Sprintf("Your password must contain at least %d %s.", n, characters(n))
}

// MaximumLength rejects passwords longer than Max characters, bounding hashing work.
type MaximumLength struct {
	// Max is the maximum number of characters; zero means DefaultMaxLength.
	Max int
}

func (v MaximumLength) max() int {
	if v.Max <= 0 {
		return DefaultMaxLength
	}
	return v.Max
}

// Validate implements Validator.
func (v MaximumLength) Validate(_ context.Context, password string, _ UserAttrs) error {
	n := v.max()
	// len(password) bytes >= rune count, so the cheap test settles most cases.
	if len(password) > n && utf8.RuneCountInString(password) > n {
		return &Error{Code: "password_too_long",
			Message: fmt.Sprintf("This password is too long. It must contain at most %d %s.", n, characters(n))}
	}
	return nil
}

// HelpText implements Validator.
func (v MaximumLength) HelpText() string {
	n := v.max()
	return fmt.Sprintf("Your password must contain at most %d %s.", n, characters(n))
}

// NumericPassword rejects passwords made only of digits.
type NumericPassword struct{}

// Validate implements Validator. It treats every Unicode number (Nd, Nl, No: "٤٢", "²³") as a
// digit, a little wider than Python's str.isdigit, so no numeric-only password slips through.
func (NumericPassword) Validate(_ context.Context, password string, _ UserAttrs) error {
	if password == "" {
		return nil
	}
	for _, r := range password {
		if !unicode.IsNumber(r) {
			return nil
		}
	}
	return &Error{Code: "password_entirely_numeric", Message: "This password is entirely numeric."}
}

// HelpText implements Validator.
func (NumericPassword) HelpText() string { return "Your password can’t be entirely numeric." }

// CommonPassword rejects passwords found (lower-cased and trimmed, as in Django) in a list.
type CommonPassword struct {
	// List is the list to check; nil means DefaultWordlist() (embedded, see wordlist.go).
	List *Wordlist
}

// Validate implements Validator.
func (v CommonPassword) Validate(_ context.Context, password string, _ UserAttrs) error {
	list := v.List
	if list == nil {
		var err error
		if list, err = defaultWordlist(); err != nil {
			return err
		}
	}
	if list.Contains(password) {
		return &Error{Code: "password_too_common", Message: "This password is too common."}
	}
	return nil
}

// HelpText implements Validator.
func (CommonPassword) HelpText() string { return "Your password can’t be a commonly used password." }

// ErrMaxSimilarity reports a MaxSimilarity below 0.1, which would reject almost everything.
var ErrMaxSimilarity = errors.New("password: MaxSimilarity must be at least 0.1")

// UserAttributeSimilarity rejects passwords too similar to the user's username, e-mail, names
// (and Extra attributes), using difflib's quick_ratio like Django.
type UserAttributeSimilarity struct {
	// MaxSimilarity in [0.1, 1]; zero means DefaultMaxSimilarity (0.7). 1 still rejects
	// identical values. Below 0.1 Validate returns ErrMaxSimilarity (fails closed).
	MaxSimilarity float64
}

// Validate implements Validator. Each non-empty attribute is lower-cased and compared whole
// and piece by piece (split on non-word characters, so an e-mail's local part and domain count
// separately). A piece ten times shorter than the password and under max/2 of its length is
// skipped (Django's guard against quadratic work on long passwords).
func (v UserAttributeSimilarity) Validate(_ context.Context, password string, user UserAttrs) error {
	maxSim := v.MaxSimilarity
	if maxSim == 0 {
		maxSim = DefaultMaxSimilarity
	}
	if maxSim < 0.1 {
		return ErrMaxSimilarity
	}
	attrs := []Attr{
		{"username", user.Username},
		{"email address", user.Email},
		{"first name", user.FirstName},
		{"last name", user.LastName},
	}
	attrs = append(attrs, user.Extra...)
	pw := []rune(strings.ToLower(password))
	for _, a := range attrs {
		if a.Value == "" {
			continue
		}
		lower := strings.ToLower(a.Value)
		parts := append(strings.FieldsFunc(lower, func(r rune) bool { return !isWordRune(r) }), lower)
		for _, part := range parts {
			p := []rune(part)
			if exceedsMaxLengthRatio(len(pw), maxSim, len(p)) {
				continue
			}
			if quickRatio(pw, p) >= maxSim {
				return &Error{Code: "password_too_similar",
					Message: fmt.Sprintf("The password is too similar to the %s.", a.Name)}
			}
		}
	}
	return nil
}

// HelpText implements Validator.
func (UserAttributeSimilarity) HelpText() string {
	return "Your password can’t be too similar to your other personal information."
}

// isWordRune is Python's Unicode \w: alphanumeric (letters and every kind of number) or '_'.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// exceedsMaxLengthRatio is Django's exceeds_maximum_length_ratio.
func exceedsMaxLengthRatio(pwLen int, maxSim float64, valueLen int) bool {
	bound := maxSim / 2 * float64(pwLen)
	return pwLen >= 10*valueLen && float64(valueLen) < bound
}
