package session

// The CSRF secret kept in the session, for the csrf package's server-side secret store.

import "net/http"

// CSRFSecret returns the CSRF secret kept in the request's session (the csrf package keeps
// its secret server-side through this method and SetCSRFSecret).
func (m *Manager) CSRFSecret(r *http.Request) (string, bool) {
	s := FromRequest(r)
	if s == nil || s.p.csrf == "" {
		return "", false
	}
	return s.p.csrf, true
}

// SetCSRFSecret keeps secret in the request's session, under a field of its own that no
// application key can overwrite. It survives ID rotation; Login for another user and Logout
// drop it. For a session that is not stored yet it must be called before the response
// starts (ErrCommitted otherwise: the new cookie could not be sent); for a stored one it may
// be called later, even while a template is being written. w is unused: the signature is
// csrf.Store's, whose cookie store needs it.
func (m *Manager) SetCSRFSecret(w http.ResponseWriter, r *http.Request, secret string) error {
	s := FromRequest(r)
	if s == nil {
		return ErrNoSession
	}
	if s.p.csrf != secret {
		if s.committed && !s.stored { // a new session's cookie can no longer be sent
			return ErrCommitted
		}
		s.p.csrf = secret
		s.modified = true
	}
	return nil
}
