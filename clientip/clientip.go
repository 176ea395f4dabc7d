// Package clientip resolves, once per request, the client's IP address, the scheme and the host
// the client used, trusting proxy headers only when the immediate peer is a configured proxy.
//
// Every other rampart layer (hosts, headers, csrf, lockout, ratelimit, session) reads the result
// with FromRequest instead of parsing proxy headers itself, so there is exactly one place where
// X-Forwarded-For and friends are interpreted.
package clientip

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/rampart-go/rampart/internal/reqown"
)

// Info is what the resolver learned about one request.
type Info struct {
	// IP is the client address: the peer itself, or the first untrusted hop
	// named by a trusted proxy. It is the zero Addr only when RemoteAddr is unusable.
	IP netip.Addr
	// Scheme is "https" or "http" as the client used it.
	Scheme string
	// Host is the host (with port, if any) the client addressed, lower-cased.
	Host string
	// Proxied reports whether the request arrived through a trusted proxy.
	Proxied bool
}

// Secure reports whether the client used HTTPS.
func (i Info) Secure() bool { return i.Scheme == "https" }

// HeaderMode names which proxy header family the trusted proxies set.
type HeaderMode int

const (
	// XForwarded reads X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host (the default).
	XForwarded HeaderMode = iota
	// Forwarded reads the RFC 7239 Forwarded header.
	Forwarded
)

// Resolver turns a request into Info. Its zero value trusts no proxy: the peer address,
// r.TLS and r.Host are used as they are, which is the only safe default.
type Resolver struct {
	// TrustedProxies are the networks whose proxy headers are believed. A header
	// from any other peer is ignored, so clients cannot spoof their address.
	TrustedProxies []netip.Prefix
	// Header selects which header family the proxies set. Only one is read, because a
	// proxy that sets one usually passes the other through untouched from the client.
	Header HeaderMode
}

type ctxKey struct{}

// NewContext returns ctx carrying info.
func NewContext(ctx context.Context, info Info) context.Context {
	return &infoCtx{Context: ctx, info: info}
}

// infoCtx is context.WithValue and the boxed Info in one allocation instead of two: every
// request goes through it.
type infoCtx struct {
	context.Context
	info Info
}

// Value returns a pointer into the context, so reading the Info allocates nothing.
func (c *infoCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

// FromRequest returns the Info stored by Middleware, or resolves the request with a
// zero Resolver (no trusted proxies) when no resolver ran.
func FromRequest(r *http.Request) Info {
	if info, ok := r.Context().Value(ctxKey{}).(*Info); ok {
		return *info
	}
	var zero Resolver
	return zero.Resolve(r)
}

// SecureFromRequest is FromRequest(r).Secure() without resolving the rest of the request
// when no resolver ran: the zero Resolver trusts no proxy, so only r.TLS decides. Layers on
// every response that need nothing else (headers) use it.
func SecureFromRequest(r *http.Request) bool {
	if info, ok := r.Context().Value(ctxKey{}).(*Info); ok {
		return info.Secure()
	}
	return r.TLS != nil
}

// Middleware resolves each request once and stores the result in its context.
func (res *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// In rampart's default stack the request is its own (internal/reqown): no copy; used
		// alone, the copy and the context are one allocation.
		r2, _ := reqown.WithValueContext(r, infoCtx{Context: r.Context(), info: res.Resolve(r)})
		next.ServeHTTP(w, r2)
	})
}

// ParsePrefixes parses a comma- or space-separated list of CIDR prefixes or bare IP
// addresses (a bare address is a /32 or /128).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, badProxy(f, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, badProxy(f, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// badProxy names the offending entry, shortened so a huge setting cannot flood the log; the
// parser's own message repeats the whole input, so it is kept only for short entries.
func badProxy(f string, err error) error {
	if len(f) > 64 {
		return errors.New("clientip: bad trusted proxy " + quote(f) + ": not an IP address or CIDR prefix")
	}
	return errors.New("clientip: bad trusted proxy " + quote(f) + ": " + err.Error())
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return "\"" + s + "\""
}

func (res *Resolver) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range res.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve computes Info for r without touching its context.
func (res *Resolver) Resolve(r *http.Request) Info {
	peer := parseRemote(r.RemoteAddr)
	info := Info{IP: peer, Scheme: "http", Host: strings.ToLower(r.Host)}
	if r.TLS != nil {
		info.Scheme = "https"
	}
	if len(res.TrustedProxies) == 0 || !res.trusted(peer) {
		return info
	}
	switch res.Header {
	case Forwarded:
		res.fromForwarded(r, &info)
	default:
		res.fromXForwarded(r, &info)
	}
	return info
}

func parseRemote(remote string) netip.Addr {
	if a, ok := parseIPv4Port(remote); ok {
		return a
	}
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if i := strings.IndexByte(host, '%'); i >= 0 { // zone
		host = host[:i]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// parseIPv4Port reads the usual RemoteAddr of an IPv4 peer, "a.b.c.d:port", in a fraction of
// netip.ParseAddrPort's time (every request resolves its peer). It answers only when
// ParseAddrPort accepts remote and yields the same address: four decimal octets of at most
// 255 without leading zeros, then ':' and a port of 1-5 digits up to 65535. Anything else
// (IPv6, zones, odd ports) returns false and takes the general path. FuzzParseIPv4Port
// keeps the two in step.
func parseIPv4Port(s string) (netip.Addr, bool) {
	var ip [4]byte
	i := 0
	for k := range ip {
		if k > 0 {
			if i >= len(s) || s[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		start, v := i, 0
		for i < len(s) && i-start < 3 && '0' <= s[i] && s[i] <= '9' {
			v = v*10 + int(s[i]-'0')
			i++
		}
		if i == start || v > 255 || i-start > 1 && s[start] == '0' {
			return netip.Addr{}, false
		}
		ip[k] = byte(v)
	}
	if i >= len(s) || s[i] != ':' {
		return netip.Addr{}, false
	}
	port := s[i+1:]
	if port == "" || len(port) > 5 {
		return netip.Addr{}, false
	}
	n := 0
	for j := 0; j < len(port); j++ {
		if port[j] < '0' || port[j] > '9' {
			return netip.Addr{}, false
		}
		n = n*10 + int(port[j]-'0')
	}
	if n > 65535 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// fromXForwarded walks X-Forwarded-For from the right, skipping trusted proxies: the first
// untrusted address is the client. Values on the left of it were written by the client and
// are never believed. Proto and host come from the last value, the one the nearest proxy set.
func (res *Resolver) fromXForwarded(r *http.Request, info *Info) {
	hops := r.Header.Values("X-Forwarded-For")
	if len(hops) > 0 {
		ip, ok := res.walk(hops)
		if !ok {
			return // malformed chain: keep the peer, believe nothing else
		}
		if ip.IsValid() {
			info.IP = ip
			info.Proxied = true
		}
	}
	if p := lastValue(r.Header.Values("X-Forwarded-Proto")); p != "" {
		if setScheme(info, p) {
			info.Proxied = true
		}
	}
	if h := lastValue(r.Header.Values("X-Forwarded-Host")); h != "" && validHost(h) {
		info.Host = strings.ToLower(h)
		info.Proxied = true
	}
}

func setScheme(info *Info, p string) bool {
	switch {
	case strings.EqualFold(p, "https"):
		info.Scheme = "https"
	case strings.EqualFold(p, "http"):
		info.Scheme = "http"
	default:
		return false
	}
	return true
}

// walk returns the rightmost untrusted address of comma-separated hop lists, or the leftmost
// one when every hop is trusted. ok is false when an element it reaches cannot be parsed.
// It scans from the right without splitting so that a long client-written prefix costs nothing
// and allocates nothing: only the hops up to the first untrusted one are looked at.
func (res *Resolver) walk(values []string) (netip.Addr, bool) {
	var last netip.Addr
	for vi := len(values) - 1; vi >= 0; vi-- {
		v := values[vi]
		end := len(v)
		for end >= 0 {
			start := strings.LastIndexByte(v[:end], ',') + 1
			a, err := parseHop(strings.TrimSpace(v[start:end]))
			if err != nil {
				return netip.Addr{}, false
			}
			last = a
			if !res.trusted(a) {
				return a, true
			}
			end = start - 1
		}
	}
	return last, true
}

var errBadHop = errors.New("clientip: bad hop address")

func parseHop(s string) (netip.Addr, error) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	var a netip.Addr
	switch {
	case strings.HasPrefix(s, "["): // [v6] or [v6]:port
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, errBadHop
		}
		if rest := s[end+1:]; rest != "" {
			if _, err := netip.ParseAddrPort(s); err != nil {
				return netip.Addr{}, err
			}
		}
		var err error
		if a, err = netip.ParseAddr(s[1:end]); err != nil {
			return netip.Addr{}, err
		}
		if !a.Is6() {
			return netip.Addr{}, errBadHop
		}
	case strings.Count(s, ":") == 1: // v4:port; checked first so no error value is allocated
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, err
		}
		a = ap.Addr()
	default:
		var err error
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Addr{}, err
		}
	}
	if a.Zone() != "" {
		return netip.Addr{}, errBadHop
	}
	return a.Unmap(), nil
}

func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// validHost accepts host or host:port made of the characters a DNS name, an IPv4 address or a
// bracketed IPv6 literal can hold; anything else from a proxy header is ignored.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_':
		default:
			return false
		}
	}
	return true
}

// fromForwarded reads RFC 7239 elements from the right in the same way as X-Forwarded-For.
// proto and host come from the rightmost element, the one the trusted peer wrote, even when
// its for= is "unknown" or obfuscated; addresses are believed up to the first untrusted hop.
//
// Hand-written because no stdlib or small library parses Forwarded; it scans from the right
// so only proxy-written elements are parsed, and it allocates nothing.
func (res *Resolver) fromForwarded(r *http.Request, info *Info) {
	values := r.Header.Values("Forwarded")
	first := true
	for vi := len(values) - 1; vi >= 0; vi-- {
		v := values[vi]
		end := len(v)
		for end >= 0 {
			start, ok := lastSep(v[:end], ',')
			if !ok {
				return
			}
			e, ok := parseForwardedElement(v[start:end])
			if !ok {
				return // malformed: stop believing anything further left
			}
			if first {
				first = false
				if e.proto != "" && setScheme(info, e.proto) {
					info.Proxied = true
				}
				if e.host != "" && validHost(e.host) {
					info.Host = strings.ToLower(e.host)
					info.Proxied = true
				}
			}
			a, err := parseHop(e.forVal)
			if err != nil {
				return // "unknown" or an obfuscated node: stop believing anything further left
			}
			info.IP = a
			info.Proxied = true
			if !res.trusted(a) {
				return
			}
			end = start - 1
		}
	}
}

// lastSep returns the index just after the last sep outside a quoted string in s (0 when
// there is none). ok is false on an unbalanced quote. Quoted values never hold escapes here
// (parseForwardedElement rejects backslashes), so scanning backwards is unambiguous.
func lastSep(s string, sep byte) (int, bool) {
	in := false
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case '"':
			in = !in
		case sep:
			if !in {
				return i + 1, true
			}
		}
	}
	return 0, !in
}

type fwdElement struct{ forVal, proto, host string }

func parseForwardedElement(e string) (fwdElement, bool) {
	var out fwdElement
	var seen [3]bool
	if strings.IndexByte(e, '\\') >= 0 {
		return out, false
	}
	end := len(e)
	for end >= 0 {
		start, ok := lastSep(e[:end], ';')
		if !ok {
			return out, false
		}
		pair := strings.TrimSpace(e[start:end])
		end = start - 1
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return out, false
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		} else if strings.IndexByte(v, '"') >= 0 {
			return out, false
		}
		var idx int
		switch {
		case strings.EqualFold(k, "for"):
			idx, out.forVal = 0, v
		case strings.EqualFold(k, "proto"):
			idx, out.proto = 1, v
		case strings.EqualFold(k, "host"):
			idx, out.host = 2, v
		default:
			continue // "by" and extensions are not used
		}
		if seen[idx] { // RFC 7239 §4: a parameter must not occur twice in one element
			return out, false
		}
		seen[idx] = true
	}
	return out, true
}
