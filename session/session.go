package session

import (
	"context"
	"net/http"
	"time"
)

// Session is the server-side session of one request. It is used by that request only and is
// not safe for concurrent use (like *http.Request); the Manager that made it is.
//
// A nil *Session (the Middleware did not run) reads as an empty anonymous session, and its
// setters do nothing, so a misconfigured handler does not panic.
type Session struct {
	m *Manager
	r *http.Request // the request as the Middleware saw it (for IP and user agent on save)

	token string // cookie token; "" until one is issued
	key   string // storeKey(token)

	userID    string
	createdAt time.Time
	lastSeen  time.Time
	raw       []byte // Data as loaded, re-saved untouched by a LastSeen touch
	p         payload
	// savedAuth and savedCSRF are p's credentials as last loaded or written: an update that
	// changes either is never deferred (see DeferredUpdater).
	savedAuth, savedCSRF string

	stored     bool // a row exists under key
	modified   bool // p or userID changed since the last save
	sendCookie bool // token changed: the response must set the cookie
	hadCookie  bool // the request carried a cookie of our name (valid or not)
	committed  bool // the response headers were decided; no more cookie changes
}

type ctxKey struct{}

// FromRequest returns the session the Middleware attached to r, or nil when it did not run.
func FromRequest(r *http.Request) *Session {
	return fromContext(r.Context())
}

func fromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

func (s *Session) find(key string) int {
	for i := range s.p.vals {
		if s.p.vals[i].key == key {
			return i
		}
	}
	return -1
}

func (s *Session) get(key string, kind byte) (entry, bool) {
	if s == nil {
		return entry{}, false
	}
	if i := s.find(key); i >= 0 && s.p.vals[i].kind == kind {
		return s.p.vals[i], true
	}
	return entry{}, false
}

func (s *Session) set(e entry) {
	if s == nil {
		return
	}
	if i := s.find(e.key); i >= 0 {
		if s.p.vals[i] == e {
			return // unchanged: no write
		}
		s.p.vals[i] = e
	} else {
		s.p.vals = append(s.p.vals, e)
	}
	s.modified = true
}

// GetString returns the string stored under key; ok is false when there is none (or the
// value under key is of another type).
func (s *Session) GetString(key string) (v string, ok bool) {
	e, ok := s.get(key, kindString)
	return e.s, ok
}

// SetString stores v under key. Setting the value already stored does not mark the session
// modified, so it costs no write.
func (s *Session) SetString(key, v string) { s.set(entry{key: key, kind: kindString, s: v}) }

// GetInt64 returns the int64 stored under key; ok is false when there is none.
func (s *Session) GetInt64(key string) (v int64, ok bool) {
	e, ok := s.get(key, kindInt)
	return e.i, ok
}

// SetInt64 stores v under key.
func (s *Session) SetInt64(key string, v int64) { s.set(entry{key: key, kind: kindInt, i: v}) }

// GetBool returns the bool stored under key; ok is false when there is none.
func (s *Session) GetBool(key string) (v, ok bool) {
	e, ok := s.get(key, kindBool)
	return e.i == 1, ok
}

// SetBool stores v under key.
func (s *Session) SetBool(key string, v bool) {
	var i int64
	if v {
		i = 1
	}
	s.set(entry{key: key, kind: kindBool, i: i})
}

// Delete removes key.
func (s *Session) Delete(key string) {
	if s == nil {
		return
	}
	if i := s.find(key); i >= 0 {
		s.p.vals = append(s.p.vals[:i], s.p.vals[i+1:]...)
		s.modified = true
	}
}

// Clear removes every application value and pending flash. The login (user ID, auth hash)
// and the CSRF secret stay: ending a login is Manager.Logout's job, which also deletes the
// stored session and expires the cookie.
func (s *Session) Clear() {
	if s == nil || (len(s.p.vals) == 0 && len(s.p.flashes) == 0) {
		return
	}
	s.p.vals = nil
	s.p.flashes = nil
	s.modified = true
}

// maxFlashes bounds the flashes a session keeps. Every request may queue one, and a client
// that keeps posting without ever loading the page that shows them (an empty comment, over
// and over) would otherwise grow its own session, rewritten in the shared store on each
// request, without limit. Ten is more than any page shows at once.
const maxFlashes = 10

// Flash queues msg to be shown on a later request (typically after a redirect). A session
// keeps at most the 10 newest flashes: queueing an eleventh drops the oldest.
func (s *Session) Flash(msg string) {
	if s == nil {
		return
	}
	if n := len(s.p.flashes); n >= maxFlashes {
		// Shift in place rather than reslice, so the backing array does not creep forward
		// and reallocate on every call.
		copy(s.p.flashes, s.p.flashes[n-maxFlashes+1:])
		s.p.flashes = s.p.flashes[:maxFlashes-1]
	}
	s.p.flashes = append(s.p.flashes, msg)
	s.modified = true
}

// Flashes returns the queued messages, oldest first, and removes them from the session.
func (s *Session) Flashes() []string {
	if s == nil || len(s.p.flashes) == 0 {
		return nil
	}
	f := s.p.flashes
	s.p.flashes = nil
	s.modified = true
	return f
}

// UserID is the logged-in user's ID, or "" for an anonymous session.
func (s *Session) UserID() string {
	if s == nil {
		return ""
	}
	return s.userID
}

// AuthHash is the session auth hash given to Manager.Login (Django's session auth hash:
// derived from the user's password hash). The auth layer compares it with the user's
// current one on each request and logs the session out when they differ, so changing the
// password ends every session that was made with the old one.
func (s *Session) AuthHash() string {
	if s == nil {
		return ""
	}
	return s.p.authHash
}

// PublicID is the non-secret identifier of the session as shown by Manager.List, or ""
// when the session is not stored yet.
func (s *Session) PublicID() string {
	if s == nil || !s.stored {
		return ""
	}
	return derivePublicID(s.key)
}

// reset makes s an empty anonymous session with no token: what is left after Logout or
// after the stored session was ended. The cookie is expired at commit if the request had one.
func (s *Session) reset() {
	s.token, s.key, s.userID = "", "", ""
	s.raw = nil
	s.p = payload{}
	s.savedAuth, s.savedCSRF = "", ""
	s.stored, s.modified, s.sendCookie = false, false, false
	s.createdAt, s.lastSeen = time.Time{}, time.Time{}
}

func (s *Session) empty() bool { return s.userID == "" && s.p.empty() }
