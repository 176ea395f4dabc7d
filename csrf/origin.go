package csrf

import (
	"errors"
	"net/netip"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/rampart-go/rampart/hosts"
	"github.com/rampart-go/rampart/internal/ascii"
)

// origin is a parsed serialized origin (RFC 6454 §6.2): lower-case scheme and host, and the
// port with the scheme's default removed, so "https://Example.com:443" equals
// "https://example.com".
type origin struct {
	scheme, host, port string
}

// The Origin header and CSRF trusted origins are parsed by hand, not with net/url: url.Parse
// accepts userinfo, paths, empty ports and other forms a browser never serialises into an
// Origin header (Go's CrossOriginProtection accepts "https://evil.com@example.com" and
// "https://example.com/" that way). Here anything but scheme://host[:port] is rejected.

// parseOrigin parses a serialized origin. It does not allocate when s is lower case.
func parseOrigin(s string) (origin, bool) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return origin{}, false
	}
	scheme := s[:i]
	if !validScheme(scheme) {
		return origin{}, false
	}
	host, port, ok := parseAuthority(s[i+3:], false)
	if !ok {
		return origin{}, false
	}
	scheme = ascii.Lower(scheme)
	return origin{scheme: scheme, host: host, port: stripDefaultPort(scheme, port)}, true
}

// validScheme checks RFC 3986 scheme syntax: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// parseAuthority splits "host[:port]" with hosts.Split, the parser the allowed-hosts check
// uses, so an Origin and the Host it is compared with are read by the same rules. With
// wildcard set a leading "*." is allowed and kept (trusted-origin entries only).
func parseAuthority(s string, wildcard bool) (host, port string, ok bool) {
	if wildcard && strings.HasPrefix(s, "*.") {
		host, port, ok = parseAuthority(s[2:], false)
		if !ok || host[0] == '[' {
			return "", "", false
		}
		return "*." + host, port, true // configuration time only: the allocation is free
	}
	host, port, err := hosts.Split(s)
	return host, port, err == nil
}

func stripDefaultPort(scheme, port string) string {
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return ""
	}
	return port
}

// trustedOrigin is one parsed Options.TrustedOrigins entry.
type trustedOrigin struct {
	origin
	// wildcard: host is the base domain of a "*." entry; subdomains and the base match,
	// as with Django's is_same_domain(".example.com").
	wildcard bool
}

// parseTrustedOrigin parses a CSRF_TRUSTED_ORIGINS-style entry: "scheme://host[:port]" or
// "scheme://*.domain[:port]". It is stricter than Django: a missing scheme, a path (even
// "/"), query, fragment, userinfo, a '*' anywhere but a leading "*.", and a wildcard over a
// public suffix ("https://*.com", "https://*.github.io") are errors, not silent no-ops or
// foot-guns.
func parseTrustedOrigin(s string) (trustedOrigin, error) {
	bad := func(why string) (trustedOrigin, error) {
		return trustedOrigin{}, errors.New("csrf: trusted origin " + quoteConfig(s) + ": " + why)
	}
	i := strings.Index(s, "://")
	if i <= 0 || !validScheme(s[:i]) {
		return bad("missing or invalid scheme; want scheme://host[:port], e.g. https://example.com")
	}
	rest := s[i+3:]
	if rest == "" {
		return bad("missing host")
	}
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		return bad("path, query and fragment are not allowed (no trailing slash either)")
	}
	if strings.Contains(rest, "@") {
		return bad("userinfo is not allowed")
	}
	if strings.HasSuffix(rest, ".") || strings.Contains(rest, ".:") {
		// hosts.Split drops a trailing dot (an absolute DNS name); in configuration it is
		// more likely a typo, so say so rather than trust a name the operator did not write.
		return bad("trailing dot after the host")
	}
	host, port, ok := parseAuthority(rest, true)
	if !ok {
		return bad("invalid host or port")
	}
	scheme := ascii.Lower(s[:i])
	t := trustedOrigin{origin: origin{scheme: scheme, host: host, port: stripDefaultPort(scheme, port)}}
	if strings.HasPrefix(host, "*.") {
		t.wildcard = true
		t.host = host[2:]
		if t.host[0] == '[' || strings.Trim(t.host, ".") != t.host {
			return bad("invalid wildcard domain")
		}
		if _, err := netip.ParseAddr(t.host); err == nil {
			return bad("a wildcard cannot cover an IP address")
		}
		// A public suffix (com, co.uk, github.io) would trust every site under it.
		// Single unlisted labels (localhost, internal, test) are allowed for development.
		if ps, icann := publicsuffix.PublicSuffix(t.host); ps == t.host && (icann || strings.Contains(t.host, ".")) {
			return bad("wildcard over the public suffix " + quoteConfig(t.host) + " would trust unrelated sites")
		}
	}
	return t, nil
}

func (t *trustedOrigin) matches(o *origin) bool {
	if o.scheme != t.scheme || o.port != t.port {
		return false
	}
	if !t.wildcard || o.host == t.host {
		return o.host == t.host
	}
	n := len(o.host) - len(t.host)
	return n > 1 && o.host[n-1] == '.' && o.host[n:] == t.host
}

func quoteConfig(s string) string { return "\"" + printable(s) + "\"" }
