package csrf

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/internal/vary"
)

// SecretStore keeps the per-client CSRF secret on the server side of the trust boundary.
// The session package implements it so the secret lives in the session (Django's
// CSRF_USE_SESSIONS); CookieStore is the default when no store is configured.
type SecretStore interface {
	// CSRFSecret returns the stored secret, or false when there is none. The value is
	// format-checked by the caller, so a store may return whatever it holds.
	CSRFSecret(r *http.Request) (string, bool)
	// SetCSRFSecret stores a new secret. It is called before the response is written
	// (from Token, TemplateField or Rotate). An error makes token issuing fail closed.
	SetCSRFSecret(w http.ResponseWriter, r *http.Request, secret string) error
}

// Cookie names. The __Host- prefix makes browsers refuse the cookie unless it is Secure,
// host-only and Path=/, so a sibling subdomain cannot toss its own secret in (the weakness
// of double-submit cookies noted against gorilla/csrf). Plain-HTTP development cannot use
// the prefix, so it gets a separate name that is never read over HTTPS.
const (
	SecureCookieName   = "__Host-csrftoken"
	InsecureCookieName = "csrftoken"
)

// DefaultCookieMaxAge is Django's CSRF_COOKIE_AGE (one year, 31449600 seconds).
const DefaultCookieMaxAge = 31449600 * time.Second

// CookieStore keeps the bare secret in a HttpOnly, SameSite=Lax, Path=/ cookie, Secure and
// __Host- prefixed when the request is HTTPS (as resolved by clientip). Its zero value is
// ready to use.
type CookieStore struct {
	// MaxAge is the cookie lifetime; zero means DefaultCookieMaxAge, negative means a
	// browser-session cookie.
	MaxAge time.Duration
	// Name replaces the cookie name. A name with the __Host- prefix is used on HTTPS only
	// (browsers refuse it over HTTP, where InsecureCookieName is used); any other name is
	// used on both. Zero means SecureCookieName.
	Name string
	// SameSite replaces the default SameSite=Lax (Strict is allowed; None is refused and
	// falls back to Lax, because a cross-site-sent CSRF cookie defeats its purpose).
	SameSite http.SameSite
}

func (c *CookieStore) cookieName(r *http.Request) (string, bool) {
	secure := clientip.SecureFromRequest(r)
	return c.nameFor(secure), secure
}

func (c *CookieStore) nameFor(secure bool) string {
	name := c.Name
	if name == "" {
		name = SecureCookieName
	}
	if !secure && strings.HasPrefix(name, "__Host-") {
		name = InsecureCookieName
	}
	return name
}

// CSRFSecret implements SecretStore.
func (c *CookieStore) CSRFSecret(r *http.Request) (string, bool) {
	return c.secret(r, clientip.SecureFromRequest(r))
}

// secret is CSRFSecret for a request already known to be secure or not.
func (c *CookieStore) secret(r *http.Request, secure bool) (string, bool) {
	return cookieValue(r.Header["Cookie"], c.nameFor(secure))
}

// cookieValue finds a cookie without allocating. r.Cookie parses into *http.Cookie values
// (two allocations), which is a third of the token path's cost. The value is not
// validated here: every caller runs checkFormat on it, which accepts only [a-zA-Z0-9].
func cookieValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			// Only SP and HTAB are white space in a Cookie header (RFC 6265 §5.2, 6265bis
			// §5.6): strings.TrimSpace would also strip U+00A0 and friends, so a cookie set by a
			// sibling subdomain as "\u00a0__Host-csrftoken" would be read as the __Host- one.
			part = strings.Trim(part, " \t")
			k, v, ok := strings.Cut(part, "=")
			if !ok || strings.Trim(k, " \t") != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// SetCSRFSecret implements SecretStore.
func (c *CookieStore) SetCSRFSecret(w http.ResponseWriter, r *http.Request, secret string) error {
	name, secure := c.cookieName(r)
	c.setCookie(w, name, secure, secret)
	return nil
}

func (c *CookieStore) setCookie(w http.ResponseWriter, name string, secure bool, secret string) {
	ss := http.SameSiteLaxMode
	if c.SameSite == http.SameSiteStrictMode {
		ss = http.SameSiteStrictMode
	}
	ck := &http.Cookie{
		Name:     name,
		Value:    secret,
		Path:     "/",
		Secure:   secure,
		HttpOnly: true,
		SameSite: ss,
	}
	switch {
	case c.MaxAge == 0:
		ck.MaxAge = int(DefaultCookieMaxAge / time.Second)
	case c.MaxAge > 0:
		ck.MaxAge = int(c.MaxAge / time.Second)
	}
	http.SetCookie(w, ck)
	vary.Cookie(w.Header())
}

// issue draws a new secret and stores it, as newSecret followed by SetCSRFSecret would, with
// the same Set-Cookie line that http.SetCookie writes. The secret is drawn straight into that
// line and both header values share one backing array, so issuing costs one or two
// allocations instead of five: a first visit to any page with a form pays it. Custom cookie
// names, which net/http validates, take the general path.
func (c *CookieStore) issue(w http.ResponseWriter, secure bool) (string, error) {
	name := c.nameFor(secure)
	if name != SecureCookieName && name != InsecureCookieName {
		s := newSecret()
		c.setCookie(w, name, secure, s)
		return s, nil
	}
	// The Max-Age attribute, built on the stack; a negative MaxAge means none.
	var attr [32]byte
	maxAge := attr[:0]
	switch {
	case c.MaxAge == 0:
		maxAge = strconv.AppendInt(append(maxAge, "; Max-Age="...), int64(DefaultCookieMaxAge/time.Second), 10)
	case c.MaxAge > 0:
		maxAge = strconv.AppendInt(append(maxAge, "; Max-Age="...), int64(c.MaxAge/time.Second), 10)
	}
	secureAttr := ""
	if secure {
		secureAttr = "; Secure"
	}
	sameSite := "; SameSite=Lax"
	if c.SameSite == http.SameSiteStrictMode {
		sameSite = "; SameSite=Strict"
	}
	var b strings.Builder
	b.Grow(len(name) + 1 + secretLength + len("; Path=/") + len(maxAge) + len("; HttpOnly") + len(secureAttr) + len(sameSite))
	b.WriteString(name)
	b.WriteByte('=')
	var secret [secretLength]byte
	randomAlnum(secret[:])
	b.Write(secret[:])
	b.WriteString("; Path=/")
	b.Write(maxAge)
	b.WriteString("; HttpOnly")
	b.WriteString(secureAttr)
	b.WriteString(sameSite)
	line := b.String()
	h := w.Header()
	_, hasCookie := h["Set-Cookie"]
	_, hasVary := h["Vary"]
	if !hasCookie && !hasVary {
		vals := &[2]string{line, "Cookie"}
		h["Set-Cookie"] = vals[0:1:1]
		h["Vary"] = vals[1:2:2]
	} else {
		h.Add("Set-Cookie", line)
		vary.Cookie(h)
	}
	return line[len(name)+1 : len(name)+1+secretLength], nil
}
