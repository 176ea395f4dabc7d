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
	return context.WithValue(ctx, ctxKey{}, info)
}

// FromRequest returns the Info stored by Middleware, or resolves the request with a
// zero Resolver (no trusted proxies) when no resolver ran.
func FromRequest(r *http.Request) Info {
	if info, ok := r.Context().Value(ctxKey{}).(Info); ok {
		return info
	}
	var zero Resolver
	return zero.Resolve(r)
}

// Middleware resolves each request once and stores the result in its context.
func (res *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := res.Resolve(r)
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), info)))
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
				return nil, errors.New("clientip: bad trusted proxy " + quote(f) + ": " + err.Error())
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, errors.New("clientip: bad trusted proxy " + quote(f) + ": " + err.Error())
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
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
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
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

// fromXForwarded walks X-Forwarded-For from the right, skipping trusted proxies: the first
// untrusted address is the client. Values on the left of it were written by the client and
// are never believed. Proto and host come from the last value, the one the nearest proxy set.
func (res *Resolver) fromXForwarded(r *http.Request, info *Info) {
	hops := r.Header.Values("X-Forwarded-For")
	if len(hops) > 0 {
		ip, ok := res.walk(hops, func(s string) string { return s })
		if !ok {
			return // malformed chain: keep the peer, believe nothing else
		}
		if ip.IsValid() {
			info.IP = ip
			info.Proxied = true
		}
	}
	if p := lastValue(r.Header.Values("X-Forwarded-Proto")); p != "" {
		switch strings.ToLower(p) {
		case "https":
			info.Scheme = "https"
		case "http":
			info.Scheme = "http"
		}
		info.Proxied = true
	}
	if h := lastValue(r.Header.Values("X-Forwarded-Host")); h != "" && validHost(h) {
		info.Host = strings.ToLower(h)
		info.Proxied = true
	}
}

// walk returns the rightmost untrusted address of a comma-separated hop list, or the leftmost
// one when every hop is trusted. ok is false when an element cannot be parsed.
func (res *Resolver) walk(values []string, extract func(string) string) (netip.Addr, bool) {
	var elems []string
	for _, v := range values {
		elems = append(elems, strings.Split(v, ",")...)
	}
	var last netip.Addr
	for i := len(elems) - 1; i >= 0; i-- {
		a, err := parseHop(extract(strings.TrimSpace(elems[i])))
		if err != nil {
			return netip.Addr{}, false
		}
		last = a
		if !res.trusted(a) {
			return a, true
		}
	}
	return last, true
}

func parseHop(s string) (netip.Addr, error) {
	s = strings.Trim(s, "\"")
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, errors.New("zoned address")
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
func (res *Resolver) fromForwarded(r *http.Request, info *Info) {
	values := r.Header.Values("Forwarded")
	if len(values) == 0 {
		return
	}
	var elems []map[string]string
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			m, ok := parseForwardedElement(e)
			if !ok {
				return
			}
			elems = append(elems, m)
		}
	}
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		a, err := parseHop(e["for"])
		if err != nil {
			return // "unknown" or an obfuscated node: stop believing anything further left
		}
		info.IP = a
		info.Proxied = true
		if i == len(elems)-1 {
			switch strings.ToLower(e["proto"]) {
			case "https":
				info.Scheme = "https"
			case "http":
				info.Scheme = "http"
			}
			if h := e["host"]; h != "" && validHost(h) {
				info.Host = strings.ToLower(h)
			}
		}
		if !res.trusted(a) {
			return
		}
	}
}

func parseForwardedElement(e string) (map[string]string, bool) {
	m := map[string]string{}
	for _, pair := range strings.Split(e, ";") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, false
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`)
		}
		m[k] = v
	}
	return m, true
}
