// Package redirect decides whether a user-supplied redirect target (a "next" parameter) is safe
// to send the browser to, with the rules of Django's url_has_allowed_host_and_scheme plus a few
// stricter ones.
//
// It is hand-written because net/url parses differently from browsers (it keeps backslashes,
// accepts "///host" as a path, and treats control characters leniently); the checks below
// follow what browsers do, as Django's do.
package redirect

import (
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-go/rampart/clientip"
)

// IsSafe reports whether target is a relative URL, or an absolute http(s) URL whose host
// (netloc, userinfo and port included, compared ASCII case-insensitively) is exactly one of
// allowedHosts. With requireHTTPS only https is accepted for absolute URLs. There are no
// wildcards: list every host the site may redirect to.
//
// Beyond Django it rejects targets holding any character RFC 3986 does not allow in a URI:
// control characters (browsers silently drop tabs and newlines, so "java\nscript:" runs),
// non-ASCII (IRIs must be percent-encoded; look-alikes such as "〱" or fullwidth forms are
// normalised by some browsers), backslashes, quotes, angle brackets and spaces; malformed
// percent-escapes, and targets whose path becomes unsafe once percent-decoded ("/%2f%2fevil",
// "/%5cevil"), because a later layer that decodes once must not turn them into an off-site
// redirect.
//
// True does not mean the string can be written into HTML unescaped; let html/template
// escape it.
func IsSafe(target string, allowedHosts []string, requireHTTPS bool) bool {
	target = strings.TrimSpace(target)
	if target == "" || !uriChars(target) {
		return false
	}
	if !safeForm(target, allowedHosts, requireHTTPS) {
		return false
	}
	// The part before the query/fragment decoded once must be just as safe.
	end := strings.IndexAny(target, "?#")
	if end < 0 {
		end = len(target)
	}
	// And read as HTML would read it: "&#106;avascript:x" is a harmless relative path in a
	// Location header, but a javascript: URL to any code that puts it in markup unescaped.
	if !safeAsHTML(target, allowedHosts, requireHTTPS) {
		return false
	}
	if strings.IndexByte(target[:end], '%') < 0 {
		return true
	}
	dec, err := url.PathUnescape(target[:end])
	if err != nil || dec == "" || hasControl(dec) {
		// Decoded text may hold any printable character, but controls are never legitimate.
		return false
	}
	return safeForm(dec, allowedHosts, requireHTTPS)
}

// safeAsHTML checks target with its HTML character references decoded, as often as they
// decode (a bounded number of times: "&amp;#106;" is "&#106;" is "j"). Only the decoded part
// before "?" or "#" is checked, the part that decides where a browser goes; the undecoded
// target may not even have one, since "#" starts both a fragment and a numeric reference.
func safeAsHTML(target string, allowed []string, requireHTTPS bool) bool {
	if strings.IndexByte(target, '&') < 0 {
		return true
	}
	dec := target
	for range 4 {
		next := html.UnescapeString(dec)
		if next == dec {
			break
		}
		dec = next
	}
	if dec == target {
		return true
	}
	if end := strings.IndexAny(dec, "?#"); end >= 0 {
		dec = dec[:end]
	}
	if strings.TrimSpace(dec) == "" {
		return true
	}
	return uriChars(dec) && safeForm(dec, allowed, requireHTTPS)
}

// safeForm checks s as written and with every backslash read as a slash, because browsers
// treat "\" as "/" in special URLs but it may also be part of userinfo.
func safeForm(s string, allowed []string, requireHTTPS bool) bool {
	return check(s, allowed, requireHTTPS) &&
		check(strings.ReplaceAll(s, `\`, "/"), allowed, requireHTTPS)
}

// uriChars reports whether s holds only the characters of an RFC 3986 URI reference:
// unreserved, reserved and "%".
func uriChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && unicode.In(r, unicode.C)) {
			return true
		}
	}
	return false
}

// check mirrors Django's _url_has_allowed_host_and_scheme on one form of the URL.
func check(s string, allowed []string, requireHTTPS bool) bool {
	// Browsers treat three or more leading slashes as scheme-relative; url parsers do not.
	if strings.HasPrefix(s, "///") {
		return false
	}
	scheme, rest := splitScheme(s)
	var netloc string
	if strings.HasPrefix(rest, "//") {
		netloc = rest[2:]
		if i := strings.IndexAny(netloc, "/?#"); i >= 0 {
			netloc = netloc[:i]
		}
		if !validBrackets(netloc) {
			return false
		}
	}
	// "http:///evil.com" or "http:999999999": a scheme without a host is read by
	// browsers as having one, so it is refused.
	if netloc == "" && scheme != "" {
		return false
	}
	if netloc != "" && scheme == "" {
		scheme = "http"
	}
	switch scheme {
	case "":
	case "https":
	case "http":
		if requireHTTPS {
			return false
		}
	default:
		return false
	}
	if netloc == "" {
		return true
	}
	for _, h := range allowed {
		if equalFoldASCII(netloc, h) {
			return true
		}
	}
	return false
}

// splitScheme returns the lower-cased scheme and the remainder, as Python's urlsplit does:
// a scheme starts with an ASCII letter and holds only letters, digits, "+", "-" and ".".
func splitScheme(s string) (string, string) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || !isLetter(s[0]) {
		return "", s
	}
	for j := 1; j < i; j++ {
		c := s[j]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
			return "", s
		}
	}
	return strings.ToLower(s[:i]), s[i+1:]
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// validBrackets refuses a netloc with unbalanced brackets or a bracketed part that is not an
// IPv6 address (Python raises ValueError there, which Django treats as unsafe).
func validBrackets(netloc string) bool {
	open, close := strings.IndexByte(netloc, '['), strings.IndexByte(netloc, ']')
	if open < 0 && close < 0 {
		return true
	}
	if open < 0 || close < open || strings.Count(netloc, "[") != 1 || strings.Count(netloc, "]") != 1 {
		return false
	}
	a, err := netip.ParseAddr(netloc[open+1 : close])
	return err == nil && a.Is6() && a.Zone() == ""
}

// equalFoldASCII compares host names case-insensitively without Unicode folding, so that
// e.g. the Kelvin sign never matches "k".
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Target returns target when it is safe for this request, else fallback: the allowed hosts
// are the host the client addressed (clientip.FromRequest) plus extraHosts, and HTTPS is
// required when the request itself is secure, as Django's LoginView does. Use it for "next".
func Target(r *http.Request, target, fallback string, extraHosts ...string) string {
	info := clientip.FromRequest(r)
	allowed := append([]string{info.Host}, extraHosts...)
	if IsSafe(target, allowed, info.Secure()) {
		return strings.TrimSpace(target)
	}
	return fallback
}
