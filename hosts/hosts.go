// Package hosts rejects requests whose Host is malformed or not one the site serves, with
// Django's ALLOWED_HOSTS semantics. It stops Host-header poisoning of password-reset links,
// absolute URLs and caches.
//
// The host is read from clientip.FromRequest, so X-Forwarded-Host counts only when it came
// from a trusted proxy.
package hosts

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rampart-go/rampart/clientip"
)

// Errors describing why a host was refused; see Reason.
var (
	// ErrMalformed means the host is not a DNS name, IPv4 address or bracketed IPv6
	// literal with an optional port (RFC 1034/1035, RFC 3986 §3.2.2).
	ErrMalformed = errors.New("hosts: malformed host")
	// ErrNotAllowed means the host is well formed but matches no allowed pattern.
	ErrNotAllowed = errors.New("hosts: host not allowed")
)

// Options configures the check. The zero value allows no host at all, so a site that forgot
// to configure its hosts fails closed (every request gets 400), as Django does when DEBUG is off.
type Options struct {
	// Allowed lists host patterns, compared without the port and case-insensitively:
	// "example.com" matches exactly; ".example.com" matches example.com and every
	// subdomain; "*" matches any well-formed host (malformed ones are still refused);
	// "[2001:db8::1]" matches an IPv6 literal. A pattern with a port is a configuration error.
	Allowed []string
	// OnReject answers refused requests; Reason(r) tells it why. Nil sends a plain 400.
	OnReject http.Handler
	// Logger receives one warning per refused request (category "security.DisallowedHost").
	// Nil uses slog.Default().
	Logger *slog.Logger
	// Record, when set, is told of each refused request (the host cut to 100 bytes) instead
	// of Logger. rampart.New records an audit event with it, which counts a flood of refusals
	// instead of logging a line per request.
	Record func(r *http.Request, host string, reason error)
}

// Checker is a compiled Options.
type Checker struct {
	any   bool
	exact map[string]struct{}
	// few holds the exact names too when there are at most maxFew of them (the usual
	// configuration: one or two names), so that the common request, whose host is one of
	// them verbatim, is accepted with a string comparison instead of Split and a map look-up.
	few      []string
	suffixes []string // ".example.com"
	onReject http.Handler
	log      *slog.Logger
	record   func(*http.Request, string, error)
}

// New validates the patterns and compiles them.
func New(opts Options) (*Checker, error) {
	c := &Checker{exact: map[string]struct{}{}, onReject: opts.OnReject, log: opts.Logger, record: opts.Record}
	if c.onReject == nil {
		c.onReject = http.HandlerFunc(badRequest)
	}
	for _, p := range opts.Allowed {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case p == "*":
			c.any = true
		case strings.HasPrefix(p, "."):
			d, port, err := Split(p[1:])
			if err != nil || port != "" || d[0] == '[' {
				return nil, errors.New("hosts: bad allowed host pattern " + strconv.Quote(p))
			}
			c.suffixes = append(c.suffixes, "."+d)
		default:
			d, port, err := Split(p)
			if err != nil || port != "" {
				return nil, errors.New("hosts: bad allowed host pattern " + strconv.Quote(p) + " (no port, no wildcard other than a leading dot or \"*\")")
			}
			c.exact[d] = struct{}{}
		}
	}
	if len(c.exact) <= maxFew {
		for d := range c.exact {
			c.few = append(c.few, d)
		}
	}
	return c, nil
}

// Middleware refuses requests whose host is malformed or not allowed.
func (c *Checker) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := clientip.FromRequest(r).Host
		err := c.Check(host)
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		if len(host) > 100 {
			host = host[:100] + "..."
		}
		if c.record != nil {
			c.record(r, host, err)
		} else {
			log := cmp.Or(c.log, slog.Default())
			log.LogAttrs(r.Context(), slog.LevelWarn, "disallowed host",
				slog.String("category", "security.DisallowedHost"),
				slog.String("host", strconv.Quote(host)), slog.String("reason", err.Error()))
		}
		c.onReject.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reasonKey{}, err)))
	})
}

// Check returns nil when host (with optional port) is well formed and allowed, else
// ErrMalformed or ErrNotAllowed.
func (c *Checker) Check(host string) error {
	// A host equal to an allowed name is well formed by construction (New kept the name
	// Split returned: lower case, no port, no trailing dot, and Split returns it unchanged),
	// so it is accepted without parsing. Anything else takes the full path below.
	for _, e := range c.few {
		if host == e {
			return nil
		}
	}
	d, _, err := Split(host)
	if err != nil {
		return err
	}
	if c.any {
		return nil
	}
	if _, ok := c.exact[d]; ok {
		return nil
	}
	for _, s := range c.suffixes {
		if d == s[1:] || strings.HasSuffix(d, s) {
			return nil
		}
	}
	return ErrNotAllowed
}

// maxFew bounds Checker.few: past a handful of names the map look-up is as cheap.
const maxFew = 4

type reasonKey struct{}

// Reason returns why the request handed to OnReject was refused (ErrMalformed or
// ErrNotAllowed), or nil for a request that was not refused.
func Reason(r *http.Request) error {
	err, _ := r.Context().Value(reasonKey{}).(error)
	return err
}

// badRequest is deliberately plain: no host, no detail, nothing a cache could be poisoned with.
func badRequest(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte("Bad Request\n"))
}

const maxDomain = 253

// Split validates host[:port] and returns the lower-cased domain (trailing dot removed;
// IPv6 literals keep their brackets) and the port. It is stricter than Django's
// host_validation_re: labels must be 1-63 characters, the name at most 253, IPv6 literals
// must parse without a zone, and the port must be 1-65535 without a leading zero (no browser
// sends one). It is rampart's one parser of this syntax: the Host header here, and the Origin
// and Referer authorities and trusted origins in package csrf, so the two checks can never
// disagree about what a host is. It does not allocate when the host is already lower case.
func Split(host string) (domain, port string, err error) {
	if host == "" || len(host) > maxDomain+1+6 {
		return "", "", ErrMalformed
	}
	if host[0] == '[' {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", "", ErrMalformed
		}
		a, perr := netip.ParseAddr(host[1:end])
		if perr != nil || !a.Is6() || a.Zone() != "" {
			return "", "", ErrMalformed
		}
		domain, port = host[:end+1], host[end+1:]
		if port != "" {
			if port[0] != ':' || !validPort(port[1:]) {
				return "", "", ErrMalformed
			}
			port = port[1:]
		}
		return strings.ToLower(domain), port, nil
	}
	domain = host
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		domain, port = host[:i], host[i+1:]
		if !validPort(port) {
			return "", "", ErrMalformed
		}
	}
	domain = strings.TrimSuffix(domain, ".")
	if !validDomain(domain) {
		return "", "", ErrMalformed
	}
	return strings.ToLower(domain), port, nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// validDomain accepts letters, digits, hyphens and dots in labels of 1-63 characters
// (IPv4 addresses pass as names, as in Django).
func validDomain(d string) bool {
	if d == "" || len(d) > maxDomain {
		return false
	}
	label := 0
	for i := 0; i < len(d); i++ {
		c := d[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			label++
			if label > 63 {
				return false
			}
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		default:
			return false
		}
	}
	return label > 0
}
