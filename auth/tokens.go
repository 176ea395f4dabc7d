package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store"
)

// Key salts separate the purposes a key signs for (a session hash can never pass as a reset
// token).
const (
	saltSessionAuthHash = "rampart/auth.SessionAuthHash"
	saltResetToken      = "rampart/auth.ResetToken"
)

// resetEpoch is Django's token epoch (2001-01-01), in UTC rather than Django's local time.
var resetEpoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// saltedHMAC is Django's salted_hmac with SHA-256: key = SHA-256(salt || secret), then
// HMAC-SHA-256(key, fields). Fields are length-prefixed (unlike Django's plain concatenation,
// which is not injective: see CVE-2026-6873), so no two field lists share a MAC input.
func saltedHMAC(salt string, secret []byte, fields ...string) []byte {
	k := sha256.Sum256(append([]byte(salt), secret...))
	m := hmac.New(sha256.New, k[:])
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return m.Sum(nil)
}

// SessionAuthHash is Django's get_session_auth_hash: an HMAC of the user's password hash under
// the newest key. A session stores it at login; when the password changes it no longer
// matches and the session ends. Keep the current session alive after a password change by
// storing the new value in it.
func (s *Service) SessionAuthHash(u store.User) string {
	return hex.EncodeToString(saltedHMAC(saltSessionAuthHash, s.keys[0], u.ID, u.PasswordHash))
}

// CheckSessionAuthHash reports whether h is u's session auth hash under any key. When it
// matched an older key (h != SessionAuthHash(u)), store the fresh value in the session.
//
// It runs on every request of a logged-in user, so the hashes of each user's current password
// hash are computed once and remembered (they depend only on the keys, the user ID and the
// password hash, all part of the lookup): the check is then a map lookup and a constant-time
// comparison per key instead of two SHA-256 HMACs per key.
func (s *Service) CheckSessionAuthHash(u store.User, h string) bool {
	want := s.authHashes(u)
	ok := 0
	for _, w := range want {
		ok |= subtle.ConstantTimeCompare([]byte(h), []byte(w))
	}
	return ok == 1
}

// authHashCache maps a user ID to the session auth hashes (hex, one per key) of the password
// hash last seen for that user. It is bounded: past maxAuthHashes users it starts afresh.
type authHashCache struct {
	mu sync.Mutex
	m  map[string]authHashEntry
}

type authHashEntry struct {
	pwHash string
	hashes []string
}

const maxAuthHashes = 1 << 14

func (s *Service) authHashes(u store.User) []string {
	c := &s.authCache
	c.mu.Lock()
	e, ok := c.m[u.ID]
	c.mu.Unlock()
	if ok && e.pwHash == u.PasswordHash {
		return e.hashes
	}
	e = authHashEntry{pwHash: u.PasswordHash, hashes: make([]string, len(s.keys))}
	for i, k := range s.keys {
		e.hashes[i] = hex.EncodeToString(saltedHMAC(saltSessionAuthHash, k, u.ID, u.PasswordHash))
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxAuthHashes {
		c.m = make(map[string]authHashEntry)
	}
	c.m[u.ID] = e
	c.mu.Unlock()
	return e.hashes
}

// ResetToken returns a password-reset token for u: "<base64url(user id)>.<base36 seconds since
// 2001>.<32 hex MAC>", URL-safe, carrying the user id so one path segment is enough. The MAC
// covers the id, password hash, last login, timestamp and e-mail, so the token dies when any
// of them changes: after a reset (new hash) or a login (new LastLogin) it no longer verifies,
// which makes it single-use without server-side state (Django's PasswordResetTokenGenerator).
func (s *Service) ResetToken(u store.User) string {
	ts := int64(s.now().Sub(resetEpoch) / time.Second)
	return base64.RawURLEncoding.EncodeToString([]byte(u.ID)) + "." + strconv.FormatInt(ts, 36) + "." +
		resetMAC(s.keys[0], u, ts)
}

func resetMAC(key []byte, u store.User, ts int64) string {
	last := ""
	if !u.LastLogin.IsZero() {
		// Whole seconds: backends store times with different precision.
		last = strconv.FormatInt(u.LastLogin.Unix(), 10)
	}
	mac := saltedHMAC(saltResetToken, key, u.ID, u.PasswordHash, last, strconv.FormatInt(ts, 10),
		strings.ToLower(u.Email))
	return hex.EncodeToString(mac[:16])
}

// resetTokenUserID extracts the user id from a token (not yet verified).
func resetTokenUserID(token string) (string, bool) {
	idPart, _, ok := strings.Cut(token, ".")
	if !ok || len(idPart) > 512 {
		return "", false
	}
	id, err := base64.RawURLEncoding.Strict().DecodeString(idPart)
	if err != nil || len(id) == 0 {
		return "", false
	}
	return string(id), true
}

// CheckResetToken reports whether token is a live reset token for u: well-formed, for u's
// id, MAC valid under any key, not older than ResetTimeout, and made for u's current password
// hash, last login and e-mail.
func (s *Service) CheckResetToken(u store.User, token string) bool {
	if u.ID == "" || len(token) > 1024 {
		return false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[1]) > 12 || len(parts[2]) != 32 {
		return false
	}
	if id, ok := resetTokenUserID(token); !ok || id != u.ID {
		return false
	}
	ts, err := strconv.ParseInt(parts[1], 36, 64)
	if err != nil || ts < 0 || parts[1] != strconv.FormatInt(ts, 36) {
		return false
	}
	ok := false
	for _, k := range s.keys {
		if hmac.Equal([]byte(parts[2]), []byte(resetMAC(k, u, ts))) {
			ok = true
		}
	}
	if !ok {
		return false
	}
	age := s.now().Sub(resetEpoch.Add(time.Duration(ts) * time.Second))
	return age <= s.resetTimeout
}
