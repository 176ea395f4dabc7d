package ratelimit

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/rampart-go/rampart/clientip"
)

// KeyFunc names the bucket a request is counted in. An empty key means the request is not
// limited by this middleware (ByUser for an anonymous request): stack an IP limiter as well.
type KeyFunc func(r *http.Request) string

// IPKey is the bucket of a client address: the address itself for IPv4, its /64 for IPv6 (one
// subscriber holds a whole /64, as django-ratelimit's RATELIMIT_IPV6_MASK assumes), and one
// shared "unknown" bucket when the address is unusable, so that case is limited, not exempt.
func IPKey(ip netip.Addr) string {
	ip = ip.Unmap()
	// AppendTo into a stack buffer: one allocation (the key) instead of two (address, key).
	var buf [64]byte
	switch {
	case ip.Is4():
		return string(ip.AppendTo(append(buf[:0], "ip:"...)))
	case ip.Is6():
		p, _ := ip.WithZone("").Prefix(64)
		return string(p.AppendTo(append(buf[:0], "ip:"...)))
	default:
		return "ip:unknown"
	}
}

// ByIP keys requests by client IP as resolved by clientip (never by a raw proxy header).
func ByIP(r *http.Request) string {
	return IPKey(clientip.FromRequest(r).IP)
}

// ByRouteIP keys requests by route and client IP, so each route has its own budget. route
// must come from the app (a fixed name, or "" for the ServeMux pattern that matched):
// keying by the raw URL path would give an attacker a fresh bucket per made-up path.
func ByRouteIP(route string) KeyFunc {
	return func(r *http.Request) string {
		name := route
		if name == "" {
			name = r.Pattern
		}
		return "route:" + name + "|" + ByIP(r)
	}
}

// ByUser keys requests by the user ID the app's function returns; "" (anonymous) is not limited.
func ByUser(userID func(*http.Request) string) KeyFunc {
	return func(r *http.Request) string {
		id := userID(r)
		if id == "" {
			return ""
		}
		return "user:" + id
	}
}

// Options configure Middleware. The zero value denies when the limiter fails and sends no
// RateLimit headers.
type Options struct {
	// Headers adds RateLimit-Policy and RateLimit headers (draft-ietf-httpapi-ratelimit-headers)
	// to every limited response, telling well-behaved clients their budget.
	Headers bool
	// PolicyName names the policy in those headers. Zero means "default".
	PolicyName string
	// OnLimited writes the response for a denied request, after Retry-After is set. Nil means
	// a plain-text 429.
	OnLimited http.Handler
	// OnError is told about limiter errors (to log them). The request is then refused with 503
	// unless InsecureFailOpen is set.
	OnError func(r *http.Request, err error)
	// InsecureFailOpen lets requests through when the limiter fails (store down). It turns a
	// store outage into no rate limit at all, which is what an attacker would wish for; only
	// for limits that protect cost, not security.
	InsecureFailOpen bool
}

type rater interface{ Rate() Rate }

// Middleware counts each request in the bucket key returns and answers 429 Too Many Requests
// with Retry-After (whole seconds, rounded up) when the bucket is over its rate.
func Middleware(l Limiter, key KeyFunc, opts Options) func(http.Handler) http.Handler {
	policy := opts.PolicyName
	if policy == "" {
		policy = "default"
	}
	// Header values are assigned into the map under their canonical keys ("Ratelimit", as
	// Header.Set would store them) with constant slices where the value is fixed: Set would
	// canonicalise the key and allocate a slice on every response.
	var policyHeader []string
	if rl, ok := l.(rater); ok && opts.Headers {
		r := rl.Rate()
		policyHeader = []string{strconv.Quote(policy) + ";q=" + strconv.Itoa(r.N) + ";w=" + strconv.FormatInt(ceilSeconds(r.Per), 10)}[:1:1]
	}
	rlPrefix := strconv.Quote(policy) + ";r="
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := key(r)
			if k == "" {
				next.ServeHTTP(w, r)
				return
			}
			res, err := l.Allow(r.Context(), k)
			if err != nil {
				if opts.OnError != nil {
					opts.OnError(r, err)
				}
				if opts.InsecureFailOpen {
					next.ServeHTTP(w, r)
					return
				}
				h := w.Header()
				h["Retry-After"] = retry30
				h["Cache-Control"] = noStore
				http.Error(w, "Service temporarily unavailable.", http.StatusServiceUnavailable)
				return
			}
			h := w.Header()
			if opts.Headers {
				if policyHeader != nil {
					h["Ratelimit-Policy"] = policyHeader
				}
				h["Ratelimit"] = rateLimitValue(rlPrefix, res)
			}
			if res.Allowed {
				next.ServeHTTP(w, r)
				return
			}
			h["Retry-After"] = []string{strconv.FormatInt(max(1, ceilSeconds(res.RetryAfter)), 10)}
			h["Cache-Control"] = noStore
			if opts.OnLimited != nil {
				opts.OnLimited.ServeHTTP(w, r)
				return
			}
			http.Error(w, "Too many requests. Please try again later.", http.StatusTooManyRequests)
		})
	}
}

var (
	retry30 = []string{"30"}[:1:1]
	noStore = []string{"no-store"}[:1:1]
)

// rateLimitValue is the RateLimit header value, prefix + remaining + ";t=" + reset, built in
// a stack buffer so the string and its slice are the only allocations.
func rateLimitValue(prefix string, res Result) []string {
	var buf [96]byte
	b := append(buf[:0], prefix...)
	b = strconv.AppendInt(b, int64(res.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(res.Reset), 10)
	return []string{string(b)}
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
