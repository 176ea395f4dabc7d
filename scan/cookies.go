package scan

import (
	"strconv"
	"strings"
)

// Cookie is a parsed Set-Cookie line, keeping what grading needs.
//
// Parsed by hand (RFC 6265bis §5.6) rather than with net/http.ParseSetCookie:
// the stdlib drops cookies whose value holds bytes browsers accept (so an
// insecure cookie could escape grading) and folds unknown SameSite values
// into "default", losing the raw value the Observatory inspects.
type Cookie struct {
	Name     string `json:"name"`
	Domain   string `json:"domain,omitempty"`
	Path     string `json:"path,omitempty"`
	Secure   bool   `json:"secure"`
	HttpOnly bool   `json:"httponly"`
	// SameSite is "strict", "lax", "none", or "" when absent or unrecognised.
	SameSite string `json:"samesite,omitempty"`
	// SameSiteRaw is the attribute value as sent ("" when absent).
	SameSiteRaw string `json:"-"`
	// Expired is true for Max-Age <= 0 (a deletion).
	Expired bool `json:"-"`
}

// ParseSetCookie parses one Set-Cookie header value the way browsers do:
// name=value up to the first ';' (a line with no '=' is a nameless value),
// then attributes, last one wins. ok is false when the line must be ignored.
func ParseSetCookie(line string) (c Cookie, ok bool) {
	parts := strings.Split(line, ";")
	nv := parts[0]
	eq := strings.IndexByte(nv, '=')
	if eq < 0 {
		c.Name = ""
	} else {
		c.Name = strings.TrimSpace(nv[:eq])
	}
	if strings.ContainsAny(nv, "\x00\r\n") {
		return Cookie{}, false
	}
	if eq < 0 && strings.TrimSpace(nv) == "" {
		return Cookie{}, false
	}
	for _, a := range parts[1:] {
		k, v, _ := strings.Cut(a, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		switch k {
		case "secure":
			c.Secure = true
		case "httponly":
			c.HttpOnly = true
		case "samesite":
			c.SameSiteRaw = v
			switch lv := strings.ToLower(v); lv {
			case "strict", "lax", "none":
				c.SameSite = lv
			default:
				c.SameSite = ""
			}
		case "domain":
			c.Domain = strings.ToLower(strings.TrimPrefix(v, "."))
		case "path":
			c.Path = v
		case "max-age":
			if n, err := strconv.Atoi(v); err == nil {
				c.Expired = n <= 0
			}
		}
	}
	return c, true
}

// ContainsInvalidSameSite reports whether a raw Set-Cookie line carries a
// SameSite attribute that is empty or not Strict/Lax/None (Observatory rule:
// split on ';', then each part on '=' keeping only the first two pieces).
func ContainsInvalidSameSite(line string) bool {
	for _, p := range strings.Split(strings.TrimSpace(line), ";") {
		pieces := strings.Split(strings.TrimSpace(p), "=")
		if strings.ToLower(strings.TrimSpace(pieces[0])) != "samesite" {
			continue
		}
		if len(pieces) < 2 || pieces[1] == "" {
			return true
		}
		switch strings.ToLower(strings.TrimSpace(pieces[1])) {
		case "lax", "strict", "none":
		default:
			return true
		}
	}
	return false
}

// cookieJar replays Set-Cookie lines like a cookie store: a later cookie with
// the same name, domain and path replaces an earlier one, a deletion removes
// it, and nameless cookies are dropped (the Observatory filters empty keys and
// Heroku's session-affinity cookie).
func cookieJar(lines []string, host string) []Cookie {
	type key struct{ name, domain, path string }
	var order []key
	jar := map[key]Cookie{}
	for _, l := range lines {
		c, ok := ParseSetCookie(l)
		if !ok || c.Name == "" || c.Name == "heroku-session-affinity" {
			continue
		}
		d := c.Domain
		if d == "" {
			d = strings.ToLower(host)
		}
		k := key{c.Name, d, c.Path}
		if c.Expired {
			delete(jar, k)
			continue
		}
		if _, seen := jar[k]; !seen {
			order = append(order, k)
		}
		jar[k] = c
	}
	out := make([]Cookie, 0, len(jar))
	for _, k := range order {
		if c, ok := jar[k]; ok {
			out = append(out, c)
			delete(jar, k) // a key re-added after deletion appears once
		}
	}
	return out
}
