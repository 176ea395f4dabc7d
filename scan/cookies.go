package scan

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/rampart-go/rampart/internal/ascii"
)

// Cookie is a parsed Set-Cookie line, keeping what grading needs.
//
// Parsed by hand (RFC 6265bis §5.6) rather than with net/http.ParseSetCookie:
// the stdlib drops cookies whose value holds bytes browsers accept (so an
// insecure cookie could escape grading) and folds unknown SameSite values
// into "default", losing the raw value the Observatory inspects.
type Cookie struct {
	Name string `json:"name"`
	// Domain is the Domain attribute without one leading '.', lower-cased;
	// "" when absent or empty (a host-only cookie).
	Domain string `json:"domain,omitempty"`
	// Path is the Path attribute when it starts with '/'; "" when absent or
	// when the browser replaces it with the default path.
	Path     string `json:"path,omitempty"`
	Secure   bool   `json:"secure"`
	HttpOnly bool   `json:"httponly"`
	// SameSite is "strict", "lax", "none", or "" when absent or unrecognised.
	SameSite string `json:"samesite,omitempty"`
	// SameSiteRaw is the attribute value as sent ("" when absent).
	SameSiteRaw string `json:"-"`

	value         string
	hasPath       bool      // a Path attribute was present, whatever its value
	hasMaxAge     bool      // a valid Max-Age attribute was present
	maxAgeExpired bool      // the last valid Max-Age was <= 0
	expires       time.Time // the last valid Expires attribute (zero: none)
}

// ExpiredAt reports whether the cookie is a deletion at now: Max-Age <= 0,
// or, without a valid Max-Age, an Expires date not after now.
func (c Cookie) ExpiredAt(now time.Time) bool {
	if c.hasMaxAge {
		return c.maxAgeExpired
	}
	return !c.expires.IsZero() && !c.expires.After(now)
}

// Browsers ignore a cookie whose name and value together exceed this, and an
// attribute whose value exceeds maxAttrValue (RFC 6265bis §5.6).
const (
	maxNameValue = 4096
	maxAttrValue = 1024
)

// ParseSetCookie parses one Set-Cookie header value the way browsers do
// (RFC 6265bis §5.6): name=value up to the first ';' (a line with no '=' is a
// nameless value), then attributes, last one wins. ok is false when a browser
// ignores the line whatever its origin (a control character, name and value
// over 4096 bytes, nothing at all). Whether a browser then stores the cookie
// depends on where it came from: see cookieJar.
func ParseSetCookie(line string) (c Cookie, ok bool) {
	c, why := parseSetCookie(line)
	return c, why == ""
}

// parseSetCookie is ParseSetCookie with the reason a line is ignored ("" if
// it is not).
// On refusal c holds the name only, to report it.
func parseSetCookie(line string) (c Cookie, why string) {
	nv, attrs, _ := strings.Cut(line, ";")
	if name, value, found := strings.Cut(nv, "="); found {
		c.Name, c.value = trimWSP(name), trimWSP(value)
	} else {
		c.value = trimWSP(nv)
	}
	for i := 0; i < len(line); i++ {
		if b := line[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return Cookie{Name: c.Name}, "contains a control character"
		}
	}
	if c.Name == "" && c.value == "" {
		return Cookie{}, "empty"
	}
	if len(c.Name)+len(c.value) > maxNameValue {
		return Cookie{Name: c.Name}, fmt.Sprintf("name and value exceed %d bytes", maxNameValue)
	}
	for attrs != "" {
		var av string
		av, attrs, _ = strings.Cut(attrs, ";")
		k, v, _ := strings.Cut(av, "=")
		k, v = ascii.Lower(trimWSP(k)), trimWSP(v)
		if len(v) > maxAttrValue {
			continue
		}
		switch k {
		case "secure":
			c.Secure = true
		case "httponly":
			c.HttpOnly = true
		case "samesite":
			c.SameSiteRaw = v
			switch lv := ascii.Lower(v); lv {
			case "strict", "lax", "none":
				c.SameSite = lv
			default:
				c.SameSite = ""
			}
		case "domain":
			// Lower-cased only once it is known to be ASCII (cookieJar
			// refuses a non-ASCII Domain), so no Unicode folding applies.
			c.Domain = strings.TrimPrefix(v, ".")
		case "path":
			c.hasPath = true
			c.Path = ""
			if strings.HasPrefix(v, "/") {
				c.Path = v
			}
		case "max-age":
			if expired, valid := parseMaxAge(v); valid {
				c.hasMaxAge, c.maxAgeExpired = true, expired
			}
		case "expires":
			if t, valid := parseCookieDate(v); valid {
				c.expires = t
			}
		}
	}
	if isASCII(c.Domain) {
		c.Domain = ascii.Lower(c.Domain)
	}
	return c, ""
}

// parseMaxAge applies RFC 6265bis §5.6.2: an optional '-' then digits only,
// else the attribute is ignored. Only the sign matters here, so values too
// large for an integer are still understood.
func parseMaxAge(v string) (expired, valid bool) {
	digits := strings.TrimPrefix(v, "-")
	if digits == "" {
		return false, false
	}
	nonZero := false
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false, false
		}
		nonZero = nonZero || digits[i] != '0'
	}
	return !nonZero || len(digits) != len(v), true
}

var cookieMonths = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// parseCookieDate is the cookie-date algorithm of RFC 6265bis §5.1.1, which
// browsers use for Expires (far more lenient than http.ParseTime).
func parseCookieDate(s string) (time.Time, bool) {
	isDelim := func(b byte) bool {
		return b == 0x09 || b >= 0x20 && b <= 0x2f || b >= 0x3b && b <= 0x40 || b >= 0x5b && b <= 0x60 || b >= 0x7b && b <= 0x7e
	}
	// leadingDigits returns the value of the 1..max digits starting tok and
	// whether they are followed by a non-digit or the end (and at least min).
	leadingDigits := func(tok string, min, max int) (int, int, bool) {
		n, v := 0, 0
		for n < len(tok) && tok[n] >= '0' && tok[n] <= '9' {
			if n == max {
				return 0, 0, false
			}
			v = v*10 + int(tok[n]-'0')
			n++
		}
		return v, n, n >= min
	}
	var (
		foundTime, foundDay, foundMonth, foundYear bool
		hour, minute, second, day, month, year     int
	)
	for i := 0; i < len(s); {
		for i < len(s) && isDelim(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isDelim(s[j]) {
			j++
		}
		tok := s[i:j]
		i = j
		if tok == "" {
			continue
		}
		if !foundTime {
			if h, n, ok := leadingDigits(tok, 1, 2); ok && n < len(tok) && tok[n] == ':' {
				if m, n2, ok := leadingDigits(tok[n+1:], 1, 2); ok && n+1+n2 < len(tok) && tok[n+1+n2] == ':' {
					if sec, _, ok := leadingDigits(tok[n+1+n2+1:], 1, 2); ok {
						foundTime, hour, minute, second = true, h, m, sec
						continue
					}
				}
			}
		}
		if !foundDay {
			if d, _, ok := leadingDigits(tok, 1, 2); ok {
				foundDay, day = true, d
				continue
			}
		}
		if !foundMonth && len(tok) >= 3 {
			if m := indexOf(cookieMonths[:], ascii.Lower(tok[:3])); m >= 0 {
				foundMonth, month = true, m+1
				continue
			}
		}
		if !foundYear {
			if y, _, ok := leadingDigits(tok, 2, 4); ok {
				foundYear, year = true, y
				continue
			}
		}
	}
	switch {
	case year >= 70 && year <= 99:
		year += 1900
	case year >= 0 && year <= 69:
		year += 2000
	}
	if !foundTime || !foundDay || !foundMonth || !foundYear || day < 1 || day > 31 || year < 1601 ||
		hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	if t.Day() != day { // 31 April, 29 February of a common year
		return time.Time{}, false
	}
	return t, true
}

// containsInvalidSameSite reports whether a raw Set-Cookie line carries a
// SameSite attribute that is empty or not Strict/Lax/None (Observatory rule:
// split on ';', then each part on '=' keeping only the first two pieces).
func containsInvalidSameSite(line string) bool {
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

// setCookieLine is one Set-Cookie header line and the URL of the request it
// answered: whether a browser stores the cookie depends on that URL's host
// and scheme.
type setCookieLine struct {
	// URL is the request URL; "" stands for the ResponseSet's URL.
	URL  string
	Line string
}

// RefusedCookie is a Set-Cookie line a browser would not store (RFC 6265bis
// §5.7), so it is not graded as one of the site's cookies.
type RefusedCookie struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Reason string `json:"reason"`
	// Deletion is set when the refused line would have deleted a cookie
	// (the browser keeps the old cookie).
	Deletion bool   `json:"deletion,omitempty"`
	line     string // the raw line, to skip it in raw-header checks
}

// storedCookie is a cookie as a browser keeps it.
type storedCookie struct {
	Cookie
	domain   string // the request host when hostOnly, else the Domain attribute
	hostOnly bool
	path     string
}

// cookieJar replays Set-Cookie lines through the storage model of RFC
// 6265bis §5.7 and returns the cookies a browser would hold at the end, in
// first-set order, plus the lines it would refuse. A later cookie with the
// same name, domain, host-only flag and path replaces an earlier one, and a
// deletion removes it. Nameless cookies and Heroku's session-affinity cookie
// are stored but not returned (the Observatory filters them).
//
// One rule of §5.7 is deliberately not applied: SameSite=None without
// Secure. Chromium drops such a cookie but other browsers still store it
// (and send it over plain HTTP), so it stays graded and the Observatory's
// cookies-samesite-flag-invalid penalty applies.
func cookieJar(lines []setCookieLine, defaultURL string, now time.Time) ([]Cookie, []RefusedCookie) {
	stored, refused := storeCookies(lines, defaultURL, now)
	out := make([]Cookie, 0, len(stored))
	for _, s := range stored {
		if s.Name != "" && s.Name != "heroku-session-affinity" {
			out = append(out, s.Cookie)
		}
	}
	return out, refused
}

func storeCookies(lines []setCookieLine, defaultURL string, now time.Time) ([]storedCookie, []RefusedCookie) {
	var (
		jar     []storedCookie
		refused []RefusedCookie
	)
	for _, l := range lines {
		rawURL := l.URL
		if rawURL == "" {
			rawURL = defaultURL
		}
		c, why := parseSetCookie(l.Line)
		if why == "empty" {
			continue
		}
		var s storedCookie
		if why == "" {
			s, why = admit(c, rawURL, jar)
		}
		if why != "" {
			refused = append(refused, RefusedCookie{Name: c.Name, URL: rawURL, Reason: why,
				Deletion: c.ExpiredAt(now), line: l.Line})
			continue
		}
		i := 0
		for ; i < len(jar); i++ {
			o := jar[i]
			if o.Name == s.Name && o.domain == s.domain && o.hostOnly == s.hostOnly && o.path == s.path {
				break
			}
		}
		switch {
		case s.ExpiredAt(now) && i < len(jar):
			jar = append(jar[:i], jar[i+1:]...)
		case s.ExpiredAt(now):
		case i < len(jar):
			jar[i] = s // keeps the old cookie's place, as it keeps its creation-time
		default:
			jar = append(jar, s)
		}
	}
	return jar, refused
}

// admit runs the checks of RFC 6265bis §5.7 that depend on the request URL
// and the cookies already stored; why says which one refused the cookie.
func admit(c Cookie, rawURL string, jar []storedCookie) (s storedCookie, why string) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return s, fmt.Sprintf("set by %q, which has no host", rawURL)
	}
	host := canonicalHost(u.Hostname())
	secureOrigin := u.Scheme == "https" || isLoopback(host)
	s = storedCookie{Cookie: c}

	domain := c.Domain
	if !isASCII(domain) {
		return s, fmt.Sprintf("Domain=%s is not ASCII", domain)
	}
	if domain != "" && net.ParseIP(host) == nil && isPublicSuffix(domain) {
		if domain != host {
			return s, fmt.Sprintf("Domain=%s is a public suffix", domain)
		}
		domain = "" // a public suffix may set a cookie on itself, host-only
	}
	if domain != "" {
		if !domainMatch(host, domain) {
			return s, fmt.Sprintf("Domain=%s does not domain-match the host %s", domain, host)
		}
		s.domain = domain
	} else {
		s.domain, s.hostOnly = host, true
	}
	s.path = c.Path
	if s.path == "" {
		s.path = defaultPath(u.EscapedPath())
	}
	if c.Secure && !secureOrigin {
		return s, "Secure cookie set over plain HTTP (" + u.Scheme + "://" + u.Host + ")"
	}
	if !c.Secure && !secureOrigin {
		for _, o := range jar {
			if o.Name == s.Name && o.Secure && (domainMatch(o.domain, s.domain) || domainMatch(s.domain, o.domain)) &&
				pathMatch(s.path, o.path) {
				return s, "would overlay a Secure cookie of the same name from plain HTTP"
			}
		}
	}
	if hasPrefixFold(c.Name, "__Secure-") && !c.Secure {
		return s, "__Secure- prefix without the Secure attribute"
	}
	if hasPrefixFold(c.Name, "__Host-") {
		var miss []string
		if !c.Secure {
			miss = append(miss, "without Secure")
		}
		if !s.hostOnly {
			miss = append(miss, "with Domain="+c.Domain)
		}
		if !c.hasPath || s.path != "/" {
			miss = append(miss, "without Path=/")
		}
		if len(miss) > 0 {
			return s, "__Host- prefix " + strings.Join(miss, ", ") + " (it needs Secure, Path=/ and no Domain)"
		}
	}
	if c.Name == "" && (hasPrefixFold(c.value, "__Secure-") || hasPrefixFold(c.value, "__Host-")) {
		return s, "nameless cookie whose value starts with a __Secure-/__Host- prefix"
	}
	return s, ""
}

// canonicalHost lower-cases host and converts an internationalised name to
// its A-labels, as the Domain attribute must be ASCII to match it.
func canonicalHost(host string) string {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if !isASCII(host) {
		if a, err := idna.Lookup.ToASCII(host); err == nil {
			return a
		}
		return strings.ToLower(host)
	}
	return ascii.Lower(host)
}

// isPublicSuffix consults the full public suffix list (private entries such
// as github.io included, as browsers do); an unlisted single label counts as
// a public suffix by the list's implicit "*" rule.
func isPublicSuffix(domain string) bool {
	ps, _ := publicsuffix.PublicSuffix(domain)
	return ps == domain
}

// domainMatch is RFC 6265bis §5.1.3: identical, or host is a name (not an
// IP address) ending in "." + domain.
func domainMatch(host, domain string) bool {
	if host == domain {
		return true
	}
	return strings.HasSuffix(host, domain) && len(host) > len(domain) && host[len(host)-len(domain)-1] == '.' &&
		net.ParseIP(host) == nil
}

// defaultPath is RFC 6265bis §5.1.4: the request path up to its last '/'.
func defaultPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/"
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// pathMatch is the path-match of RFC 6265bis §5.1.4.
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	return strings.HasPrefix(reqPath, cookiePath) &&
		(strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/')
}

// isLoopback reports whether host is one browsers treat as a secure origin
// over plain HTTP (localhost and loopback addresses are "potentially
// trustworthy"), so Secure cookies set there are kept.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// trimWSP removes leading and trailing SP and HTAB only: RFC 6265bis trims no
// other whitespace, so "\u00a0__Host-x" is not a __Host- cookie to a browser.
func trimWSP(s string) string {
	return strings.Trim(s, " \t")
}

// hasPrefixFold reports whether s starts with prefix, ASCII case-insensitively,
// which is how RFC 6265bis now matches the __Secure- and __Host- prefixes.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && ascii.Lower(s[:len(prefix)]) == ascii.Lower(prefix)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
