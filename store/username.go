package store

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// UsernameKey is the identity of a username: every backend's uniqueness index and lookups
// compare it, and package lockout counts failures under it, so two spellings share a lockout
// counter exactly when they name one account. It is NFKC (Django's normalize_username),
// surrounding white space removed, then lower-cased with [strings.ToLower], which is the
// same in every backend (SQL lower() is ASCII-only in SQLite and collation-dependent in
// PostgreSQL). auth.NormalizeUsername gives the spelling that is stored and shown; its
// UsernameKey is its lower-case form.
func UsernameKey(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.ToLower(strings.TrimSpace(norm.NFKC.String(s)))
		}
	}
	// NFKC leaves ASCII alone: skip its tables on the path every login takes.
	return strings.ToLower(strings.TrimSpace(s))
}
