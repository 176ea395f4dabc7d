package session

// The commit path: the response writer saves the session and sets its cookie at the moment
// the response starts, and lateSave stores what a handler changed after that.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/rampart-go/rampart/internal/vary"
	"github.com/rampart-go/rampart/store"
)

// lateSave stores changes made after the response had started: typically flashes consumed
// or a CSRF secret created while a template was being written. A stored session needs no new
// cookie, so it can still be saved (a failure can only be logged now); a session that does
// not exist yet cannot, since its cookie can no longer be sent.
func (m *Manager) lateSave(s *Session, status int) {
	if status >= 500 {
		return
	}
	ctx := s.r.Context()
	if !s.stored {
		m.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "session changed after the response started; not saved",
			slog.String("event", "session.late_change"))
		return
	}
	var err error
	if s.empty() {
		err = m.st.DeleteSession(ctx, s.key)
	} else {
		var data []byte
		if data, err = m.encode(s.key, &s.p); err == nil {
			err = m.write(ctx, s, m.opts.Now(), data, true)
		}
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		m.logStoreError(ctx, "late_save", err)
	}
}

// save runs when the response starts: it stores what changed and decides the cookie.
func (s *Session) save(ctx context.Context, status int) error {
	m := s.m
	now := m.opts.Now()
	// Like Django, a failed (5xx) response saves nothing it changed; only cookie changes
	// already made in the store by Login/RenewID/Logout are still sent.
	if status < 500 {
		var err error
		switch {
		case s.modified && s.empty():
			if s.stored {
				err = m.st.DeleteSession(ctx, s.key)
				if err == nil {
					s.reset()
				}
			}
			s.modified = false
		case s.modified:
			existed := s.stored
			var data []byte
			if data, err = m.encode(s.key, &s.p); err != nil {
				return err
			}
			if s.token == "" {
				s.token = newToken()
				s.key = storeKey(s.token)
				s.createdAt = now
				s.sendCookie = true
			}
			err = m.write(ctx, s, now, data, existed)
		case s.stored && now.Sub(s.lastSeen) >= m.opts.TouchInterval:
			err = m.write(ctx, s, now, s.raw, true)
		}
		if errors.Is(err, store.ErrNotFound) {
			// Ended by another request after we loaded it: stay ended, drop our changes.
			m.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "session ended during request; changes dropped",
				slog.String("event", "session.interrupted"), slog.String("session", derivePublicID(s.key)))
			s.reset()
			err = nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// setCookie adds the session's Set-Cookie (new token or expiry) to h, if any is due.
func (s *Session) setCookie(h http.Header) {
	m := s.m
	c := http.Cookie{
		Name: m.cookieName, Path: "/", HttpOnly: true,
		Secure: !m.opts.InsecureNoSecureCookie, SameSite: http.SameSiteLaxMode,
	}
	if m.opts.SameSiteStrict {
		c.SameSite = http.SameSiteStrictMode
	}
	switch {
	case s.stored && s.sendCookie:
		c.Value = s.token
		if !m.opts.ExpireAtBrowserClose {
			left := s.createdAt.Add(m.opts.Lifetime).Sub(m.opts.Now())
			c.MaxAge = max(int((left+time.Second-1)/time.Second), 1)
		}
	case !s.stored && s.hadCookie:
		c.MaxAge = -1
	default:
		if s.hadCookie {
			vary.Cookie(h)
		}
		return
	}
	h.Add("Set-Cookie", c.String())
	vary.Cookie(h)
	if h.Get("Cache-Control") == "" {
		// A shared cache must never hand one user's session cookie to another.
		h.Set("Cache-Control", `no-cache="Set-Cookie"`)
	}
}

// writer saves the session just before the response headers go out, the last moment the
// cookie can still be set and a store failure can still turn into a 503.
type writer struct {
	http.ResponseWriter
	s      *Session
	status int // status the response was committed with
	failed bool
}

var errUnavailable = errors.New("session: store unavailable")

// commit saves the session and sets the cookie; it reports false when the store failed and
// the error response was written instead.
func (w *writer) commit(status int) bool {
	s := w.s
	s.committed = true
	w.status = status
	if err := s.save(s.r.Context(), status); err != nil {
		w.failed = true
		s.m.fail(w.ResponseWriter, s.r, "save", err)
		return false
	}
	s.setCookie(w.ResponseWriter.Header())
	return true
}

func (w *writer) WriteHeader(code int) {
	if w.failed {
		return
	}
	// 1xx informational responses (103 Early Hints) come before the real one, except 101
	// which ends HTTP for the connection.
	if !w.s.committed && (code >= 200 || code == http.StatusSwitchingProtocols) {
		if !w.commit(code) {
			return
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.s.committed && !w.commit(http.StatusOK) {
		return 0, errUnavailable
	}
	if w.failed {
		return 0, errUnavailable
	}
	return w.ResponseWriter.Write(b)
}

// WriteString is Write for io.WriteString callers: the underlying writer's WriteString
// (net/http has one) is used, so the string is not copied into a new []byte.
func (w *writer) WriteString(str string) (int, error) {
	if !w.s.committed && !w.commit(http.StatusOK) {
		return 0, errUnavailable
	}
	if w.failed {
		return 0, errUnavailable
	}
	return io.WriteString(w.ResponseWriter, str)
}

// Flush commits the session and flushes, for streaming handlers.
func (w *writer) Flush() {
	if !w.s.committed && !w.commit(http.StatusOK) {
		return
	}
	if w.failed {
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer (Hijack, deadlines).
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
