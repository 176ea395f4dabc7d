package twofactor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-go/rampart/store"
)

// RememberCookie returns the cookie that lets this browser skip the second factor for u
// until RememberFor elapses. The value is MAC'd over the user, the device epoch, the expiry
// and a digest of the password hash, so it dies when the password changes, when the user
// forgets all devices (DeviceEpoch++), or when it expires — whichever comes first.
func (m *Manager) RememberCookie(u store.User) *http.Cookie {
	exp := m.opts.Now().Add(m.opts.RememberFor)
	return &http.Cookie{
		Name:     m.opts.RememberCookieName,
		Value:    m.rememberValue(m.mem[0], u, exp.Unix()),
		Path:     "/",
		MaxAge:   int(m.opts.RememberFor / time.Second),
		Secure:   !m.opts.InsecureCookies,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// ForgetCookie returns a cookie that deletes the remember cookie.
func (m *Manager) ForgetCookie() *http.Cookie {
	return &http.Cookie{Name: m.opts.RememberCookieName, Value: "", Path: "/", MaxAge: -1,
		Secure: !m.opts.InsecureCookies, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// Remembered reports whether r carries a valid remember cookie for u.
func (m *Manager) Remembered(r *http.Request, u store.User) bool {
	c, err := r.Cookie(m.opts.RememberCookieName)
	if err != nil || len(c.Value) > 512 {
		return false
	}
	return m.checkRemember(c.Value, u)
}

func (m *Manager) checkRemember(value string, u store.User) bool {
	parts := strings.Split(value, ".")
	if len(parts) != 5 || parts[0] != "v1" {
		return false
	}
	uid, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || string(uid) != u.ID {
		return false
	}
	epoch, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || epoch != u.DeviceEpoch {
		return false
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || m.opts.Now().Unix() >= exp {
		return false
	}
	for _, k := range m.mem {
		if hmac.Equal([]byte(m.rememberValue(k, u, exp)), []byte(value)) {
			return true
		}
	}
	return false
}

func (m *Manager) rememberValue(key []byte, u store.User, exp int64) string {
	pw := sha256.Sum256([]byte(u.PasswordHash))
	head := "v1." + base64.RawURLEncoding.EncodeToString([]byte(u.ID)) + "." +
		strconv.FormatInt(u.DeviceEpoch, 10) + "." + strconv.FormatInt(exp, 10)
	h := hmac.New(sha256.New, key)
	h.Write([]byte(head))
	h.Write([]byte{0})
	h.Write(pw[:])
	return head + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// ForgetDevices revokes every remembered browser of u by bumping its device epoch.
// The caller stores the returned user.
func ForgetDevices(u store.User) store.User {
	u.DeviceEpoch++
	return u
}
