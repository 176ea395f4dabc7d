package session

// The per-user index: listing a user's sessions and ending one, all but the current one,
// or all of them.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/rampart-go/rampart/store"
)

// Info describes one of a user's sessions, for a "your sessions" page.
type Info struct {
	// PublicID identifies the session in forms and URLs (for End). It is derived from the
	// store key by a one-way hash: it cannot be turned into a cookie.
	PublicID  string
	CreatedAt time.Time
	LastSeen  time.Time
	// IP and UserAgent are those of the last request that wrote the session (they are
	// refreshed at most every TouchInterval).
	IP        netip.Addr
	UserAgent string
	// Current is true for the session of the request whose context was passed to List.
	Current bool
}

// List returns the live sessions of userID, most recently seen first. Pass the request's
// context (r.Context()) so that the request's own session is marked Current.
func (m *Manager) List(ctx context.Context, userID string) ([]Info, error) {
	if userID == "" {
		return nil, nil // anonymous sessions have no index
	}
	recs, err := m.st.UserSessions(ctx, userID, m.opts.Now())
	if err != nil {
		m.logStoreError(ctx, "list", err)
		return nil, err
	}
	cur := fromContext(ctx)
	out := make([]Info, 0, len(recs))
	for _, rec := range recs {
		ip, _ := netip.ParseAddr(rec.IP)
		out = append(out, Info{
			PublicID:  derivePublicID(rec.Key),
			CreatedAt: rec.CreatedAt,
			LastSeen:  rec.LastSeen,
			IP:        ip,
			UserAgent: rec.UserAgent,
			Current:   cur != nil && cur.stored && cur.key == rec.Key,
		})
	}
	return out, nil
}

// End ends userID's session with the given public ID. It returns an error wrapping
// store.ErrNotFound when userID has no such session (so a user cannot end someone else's).
// Ending the request's own session leaves the request anonymous and expires its cookie.
func (m *Manager) End(ctx context.Context, userID, publicID string) error {
	if userID == "" || !validPublicID(publicID) {
		return fmt.Errorf("session: malformed session id: %w", store.ErrNotFound)
	}
	recs, err := m.st.UserSessions(ctx, userID, m.opts.Now())
	if err != nil {
		m.logStoreError(ctx, "end", err)
		return err
	}
	for _, rec := range recs {
		if derivePublicID(rec.Key) != publicID {
			continue
		}
		if err := m.st.DeleteSession(ctx, rec.Key); err != nil {
			m.logStoreError(ctx, "end", err)
			return err
		}
		if cur := fromContext(ctx); cur != nil && cur.stored && cur.key == rec.Key {
			cur.reset()
		}
		return nil
	}
	return fmt.Errorf("session: no session %s for this user: %w", publicID, store.ErrNotFound)
}

// EndOthers ends every session of the request's user except the request's own (offered
// after a password or second-factor change, ASVS V7.4.3) and reports how many ended.
func (m *Manager) EndOthers(r *http.Request) (int, error) {
	s := FromRequest(r)
	if s == nil {
		return 0, ErrNoSession
	}
	if s.userID == "" || !s.stored {
		return 0, ErrNotLoggedIn
	}
	n, err := m.st.DeleteUserSessions(r.Context(), s.userID, s.key)
	if err != nil {
		m.logStoreError(r.Context(), "end_others", err)
	}
	return n, err
}

// EndAll ends every session of userID (password change or reset, account disabled, admin
// action) and reports how many ended. If ctx is a request's context whose session belongs
// to userID, that request continues anonymous and its cookie is expired.
func (m *Manager) EndAll(ctx context.Context, userID string) (int, error) {
	if userID == "" {
		return 0, errors.New("session: EndAll with an empty user ID")
	}
	n, err := m.st.DeleteUserSessions(ctx, userID, "")
	if err != nil {
		m.logStoreError(ctx, "end_all", err)
		return n, err
	}
	if cur := fromContext(ctx); cur != nil && cur.userID == userID {
		cur.reset()
	}
	return n, nil
}
