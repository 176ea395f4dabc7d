package session

// Login and ID rotation: Login, RenewID and Logout change the token of the request's
// session, so they must run before the response starts.

import (
	"context"
	"errors"
	"net/http"
)

// Login logs userID in on the request's session: it issues a new token (the old one is
// deleted from the store at once, so a token planted before login — session fixation — is
// worthless), records userID and authHash, restarts the absolute lifetime and saves. Values
// of an anonymous session (a cart) are kept; those of another user's session are dropped.
// Calling it again for the same user (after a password change, with the new hash) renews the
// ID and keeps the data, like Django's update_session_auth_hash.
//
// On a store error the session is left anonymous and the error returned (the caller should
// answer 503). A session that would exceed Options.MaxSize is left as it was, and the error
// wraps ErrTooLarge. The new cookie goes out with the response's headers (the middleware writes it).
func (m *Manager) Login(r *http.Request, userID, authHash string) error {
	s, err := m.mutable(r)
	if err != nil {
		return err
	}
	if userID == "" {
		return errors.New("session: Login with an empty user ID")
	}
	p := s.p
	if s.userID != "" && s.userID != userID {
		p = payload{}
	}
	p.authHash = authHash
	return m.rotate(r.Context(), s, userID, p, true)
}

// RenewID gives the session a new token and deletes the old one at once, keeping its data
// and lifetime. Call it on any privilege change other than login (the auth layer rotates
// the CSRF secret separately).
func (m *Manager) RenewID(r *http.Request) error {
	s, err := m.mutable(r)
	if err != nil {
		return err
	}
	if !s.stored {
		if s.token != "" { // issued earlier in this request, not saved yet
			s.token = newToken()
			s.key = storeKey(s.token)
			s.sendCookie = true
		}
		return nil
	}
	return m.rotate(r.Context(), s, s.userID, s.p, false)
}

func (m *Manager) mutable(r *http.Request) (*Session, error) {
	s := FromRequest(r)
	if s == nil {
		return nil, ErrNoSession
	}
	if s.committed {
		return nil, ErrCommitted
	}
	return s, nil
}

// rotate moves s to a new token holding userID and p: delete the old row first (if that
// fails nothing has changed), then save the new one (if that fails the user is logged out,
// which is the safe side).
func (m *Manager) rotate(ctx context.Context, s *Session, userID string, p payload, restart bool) error {
	now := m.opts.Now()
	// Checked before anything changes: a session too large to store stays as it was.
	data, err := m.encode(s.key, &p)
	if err != nil {
		m.logStoreError(ctx, "rotate", err)
		return err
	}
	if s.stored {
		if err := m.st.DeleteSession(ctx, s.key); err != nil {
			m.logStoreError(ctx, "rotate", err)
			return err
		}
	}
	created := s.createdAt
	if restart || created.IsZero() {
		created = now
	}
	s.reset()
	s.token = newToken()
	s.key = storeKey(s.token)
	s.userID, s.p, s.createdAt = userID, p, created
	if err := m.write(ctx, s, now, data, false); err != nil {
		m.logStoreError(ctx, "rotate", err)
		s.reset()
		return err
	}
	s.sendCookie = true
	return nil
}

// Logout deletes the session from the store and expires the cookie; the request goes on
// with an empty anonymous session (a flash set afterwards starts a new one). On a store
// error nothing changes and the error is returned: the session is still valid, and the
// caller should answer 503 rather than claim the user is logged out.
func (m *Manager) Logout(r *http.Request) error {
	s, err := m.mutable(r)
	if err != nil {
		return err
	}
	if s.stored {
		if err := m.st.DeleteSession(r.Context(), s.key); err != nil {
			m.logStoreError(r.Context(), "logout", err)
			return err
		}
	}
	s.reset()
	return nil
}
