package csrf

import (
	"crypto/rand"
	"crypto/subtle"
)

// The token format is Django's (django.middleware.csrf), so tokens, fixtures and tests can be
// shared with Django and so the format has years of review behind it: a 32-character secret
// over [a-zA-Z0-9], and 64-character masked tokens (mask ‖ cipher) where every call draws a
// fresh mask, so the bytes of the token never repeat in compressed responses (BREACH).
// No library implements this format in Go, hence the hand-written code.
const (
	alphabet     = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretLength = 32
	tokenLength  = 2 * secretLength
)

// alphabet2 is alphabet twice, so that (i mod 62) for i in [0, 124) is a plain index: the
// masking loops run on every token without a division.
const alphabet2 = alphabet + alphabet

// alphaIndex maps a byte to its position in alphabet, or 0xff when it is not in it.
var alphaIndex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// randomAlnum fills dst with characters drawn uniformly from alphabet.
// Bytes >= 248 (= 4*62) are rejected so that the modulo does not bias the draw.
func randomAlnum(dst []byte) {
	// 97% of bytes are accepted, so len(dst)+8 bytes almost always suffice (for 32 characters
	// another read is needed about 3 times in 10^6 calls); reading only that much matters because
	// crypto/rand's cost grows with the length (measured here: 145 ns for 32 bytes, 268 ns
	// for 64).
	var buf [tokenLength + 8]byte
	n := 0
	for n < len(dst) {
		chunk := buf[:min(len(buf), len(dst)-n+8)]
		_, _ = rand.Read(chunk) // crypto/rand.Read never returns an error since Go 1.24.
		for _, b := range chunk {
			if b >= 248 {
				continue
			}
			dst[n] = alphabet[b%62]
			n++
			if n == len(dst) {
				return
			}
		}
	}
}

// newSecret returns a fresh 32-character secret.
func newSecret() string {
	var b [secretLength]byte
	randomAlnum(b[:])
	return string(b[:])
}

// maskSecret returns a freshly masked 64-character token for a valid secret.
func maskSecret(secret string) string {
	var out [tokenLength]byte
	randomAlnum(out[:secretLength])
	for i := 0; i < secretLength; i++ {
		s := int(alphaIndex[secret[i]])
		m := int(alphaIndex[out[i]])
		out[secretLength+i] = alphabet2[s+m] // s+m < 124
	}
	return string(out[:])
}

// unmask writes the secret hidden in a 64-character token into dst. The token must
// already have passed checkFormat.
func unmask(dst *[secretLength]byte, token string) {
	for i := 0; i < secretLength; i++ {
		m := int(alphaIndex[token[i]])
		c := int(alphaIndex[token[secretLength+i]])
		dst[i] = alphabet2[c-m+62] // 0 < c-m+62 < 124
	}
}

// formatError is the reason a secret or token is malformed: ErrIncorrectLength or
// ErrInvalidCharacters. nil means the format is valid (32 or 64 alphanumerics).
func checkFormat(s string) error {
	if len(s) != secretLength && len(s) != tokenLength {
		return ErrIncorrectLength
	}
	for i := 0; i < len(s); i++ {
		if alphaIndex[s[i]] == 0xff {
			return ErrInvalidCharacters
		}
	}
	return nil
}

// validSecret reports whether s is a bare 32-character secret.
func validSecret(s string) bool {
	return len(s) == secretLength && checkFormat(s) == nil
}

// storedSecret writes the secret a stored value carries into dst: the value itself when it
// is a bare 32-character secret, unmasked when it is a 64-character masked one (the cookies
// Django wrote before 4.1). The value must already have passed checkFormat.
func storedSecret(dst *[secretLength]byte, stored string) {
	if len(stored) == tokenLength {
		unmask(dst, stored)
		return
	}
	copy(dst[:], stored)
}

// tokenMatchesSecret reports, in constant time for well-formed input, whether token (32 or
// 64 characters, already format-checked) carries secret.
func tokenMatchesSecret(token string, secret *[secretLength]byte) bool {
	var got [secretLength]byte
	switch len(token) {
	case tokenLength:
		unmask(&got, token)
	case secretLength:
		copy(got[:], token)
	default:
		return false
	}
	return subtle.ConstantTimeCompare(got[:], secret[:]) == 1
}

// tokenMatches reports, in constant time for well-formed input, whether token (32 or 64
// characters, already format-checked) carries secret (32 characters, format-checked).
func tokenMatches(token, secret string) bool {
	var got [secretLength]byte
	switch len(token) {
	case tokenLength:
		unmask(&got, token)
	case secretLength:
		copy(got[:], token)
	default:
		return false
	}
	if len(secret) != secretLength {
		return false
	}
	return subtle.ConstantTimeCompare(got[:], []byte(secret)) == 1
}
