package auth

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxUsernameLen is Django's username max_length (code points).
const MaxUsernameLen = 150

// Username and e-mail errors.
var (
	ErrInvalidUsername = errors.New("auth: enter a valid username: up to 150 letters, digits and @/./+/-/_ characters")
	ErrInvalidEmail    = errors.New("auth: enter a valid e-mail address")
)

// ValidateUsername applies Django's UnicodeUsernameValidator (^[\w.@+-]+\Z, Python's
// Unicode \w) and max_length 150. No trimming: a trailing newline is an error (the "$" vs "\Z"
// bug Django fixed).
func ValidateUsername(s string) error {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxUsernameLen {
		return ErrInvalidUsername
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r == '@' || r == '+' || r == '-' || unicode.IsLetter(r) || unicode.IsNumber(r)) {
			return ErrInvalidUsername
		}
	}
	return nil
}

// NormalizeUsername applies NFKC (Django's normalize_username, so "ᴮᴵᴳᴮᴵᴿᴰ" and "BIGBIRD" are one
// account), trims surrounding white space (what Django's form fields do) and validates.
// Lookups are case-insensitive in the store, so case is kept as typed.
func NormalizeUsername(s string) (string, error) {
	if !utf8.ValidString(s) || len(s) > 4*MaxUsernameLen+64 {
		return "", ErrInvalidUsername
	}
	s = strings.TrimSpace(norm.NFKC.String(s))
	if err := ValidateUsername(s); err != nil {
		return "", err
	}
	return s, nil
}

// NormalizeEmail trims the address and lower-cases its domain (Django's normalize_email);
// empty stays empty (e-mail is optional). It rejects what cannot be a mailbox: no single "@",
// an empty side, spaces, control characters, more than 254 bytes.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > 254 || !utf8.ValidString(s) {
		return "", ErrInvalidEmail
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", ErrInvalidEmail
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == ',' || r == ';' {
			return "", ErrInvalidEmail
		}
	}
	return local + "@" + strings.ToLower(domain), nil
}
