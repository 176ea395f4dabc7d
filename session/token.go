package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
)

// tokenBytes is the entropy of a session token: 256 bits, twice what ASVS V7.2.3 and the
// OWASP session cheat sheet ask for (128), so a token never needs a second secret beside it.
const tokenBytes = 32

// tokenLen is the length of a token in the cookie: unpadded base64url of tokenBytes.
const tokenLen = (tokenBytes*8 + 5) / 6

// newToken returns a fresh random cookie token. crypto/rand.Read never fails (since Go 1.24
// it aborts the program rather than return weak randomness).
func newToken() string {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// storeKey is the key under which the session of token is stored: hex(SHA-256(token)). The
// store never sees the token, so a leaked session table (or Redis dump, or backup) holds
// nothing that can be replayed as a cookie. A fast hash is enough: the token has 256 bits of
// entropy, there is nothing to brute-force.
func storeKey(token string) string {
	// Tokens are copied to a fixed array: a plain []byte(token) of 43 bytes would be a heap
	// allocation on every request (only conversions up to 32 bytes stay on the stack).
	var tb [tokenLen]byte
	var sum [sha256.Size]byte
	if n := copy(tb[:], token); n == len(token) {
		sum = sha256.Sum256(tb[:n])
	} else {
		sum = sha256.Sum256([]byte(token))
	}
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], sum[:])
	return string(buf[:])
}

// derivePublicID derives the short, non-secret identifier shown in session lists from the store
// key. It is a separate hash (not a prefix of the key) so that what is shown to users and
// put in forms tells nothing about the store's keys; 64 bits are plenty to tell one user's
// sessions apart.
func derivePublicID(key string) string {
	sum := sha256.Sum256([]byte("rampart/session/public-id\x00" + key))
	return hex.EncodeToString(sum[:8])
}

// validPublicID reports whether s has the shape of a public ID, so End can reject hostile
// form input before asking the store.
func validPublicID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validToken reports whether v has the exact shape of a token we issue: 43 characters of the
// base64url alphabet. Anything else is rejected without a store lookup.
func validToken(v string) bool {
	if len(v) != tokenLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// findCookie scans the request's Cookie headers for name. It returns the first value that is
// a well-formed token, and reports whether any cookie of that name was sent (so a stale or
// garbage cookie can be expired).
//
// It is written by hand rather than with r.Cookie because r.Cookie parses and allocates
// every cookie of the request, and this runs on every request; it only needs to split on ';'
// and compare one name, which is easy to get right and is fuzzed.
func findCookie(h http.Header, name string) (token string, present bool) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			if i := strings.IndexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				part, line = line, ""
			}
			part = strings.Trim(part, " \t")
			if len(part) <= len(name) || part[len(name)] != '=' || part[:len(name)] != name {
				continue
			}
			present = true
			if v := part[len(name)+1:]; token == "" && validToken(v) {
				token = v
			}
		}
	}
	return token, present
}
