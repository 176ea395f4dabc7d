// Package headers sets the response security headers of Django's SecurityMiddleware and
// XFrameOptionsMiddleware (HSTS, HTTPS redirect, nosniff, Referrer-Policy, COOP, X-Frame-Options)
// plus Cross-Origin-Resource-Policy and Permissions-Policy, with defaults that earn the best
// MDN HTTP Observatory results.
//
// Headers are set before the handler runs, and only when an outer layer has not set them, so a
// handler overrides any of them with w.Header().Set (or removes one with Del). Scheme and host
// come from clientip.FromRequest; no proxy header is read here.
package headers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/hosts"
)

// Default values. They score on the Observatory: HSTS ≥ 6 months, Referrer-Policy private (+5),
// X-Frame-Options DENY (+5), COOP same-origin (+10), CORP same-origin (+10).
const (
	DefaultHSTSMaxAge        = 2 * 365 * 24 * time.Hour // 63072000 s, the OWASP and preload value
	DefaultReferrerPolicy    = "same-origin"            // Django's default; no Referer leaves the site
	DefaultFrameOptions      = "DENY"
	DefaultCOOP              = "same-origin"
	DefaultCORP              = "same-origin"
	DefaultPermissionsPolicy = "accelerometer=(), autoplay=(), browsing-topics=(), camera=(), " +
		"display-capture=(), geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), " +
		"midi=(), payment=(), serial=(), usb=(), xr-spatial-tracking=()"
)

// Options configures the middleware. The zero value is the secure default: HTTPS redirect on,
// HSTS for two years with includeSubDomains, and every header at its Default value.
type Options struct {
	// InsecureAllowHTTP turns the HTTP→HTTPS redirect off (plain-HTTP development only).
	InsecureAllowHTTP bool
	// RedirectExempt lists paths never redirected to HTTPS: an entry ending in "/" is a
	// prefix ("/.well-known/acme-challenge/"), any other entry must equal the path.
	RedirectExempt []string
	// RedirectHost, when set, replaces the request's host in the redirect (Django's SECURE_SSL_HOST).
	RedirectHost string

	// HSTSMaxAge is the Strict-Transport-Security max-age; zero means DefaultHSTSMaxAge.
	// Below six months the Observatory deducts 10 points.
	HSTSMaxAge time.Duration
	// InsecureNoHSTS sends no Strict-Transport-Security header at all.
	InsecureNoHSTS bool
	// HSTSExcludeSubdomains drops includeSubDomains (needed while a subdomain still serves HTTP).
	HSTSExcludeSubdomains bool
	// HSTSPreload adds "preload"; only set it once the domain is submitted to hstspreload.org,
	// because removal from browsers' lists takes months.
	HSTSPreload bool

	// ReferrerPolicy overrides DefaultReferrerPolicy; a comma list is normalised as in Django.
	ReferrerPolicy string
	// FrameOptions is "DENY" (default) or "SAMEORIGIN".
	FrameOptions string
	// CrossOriginOpenerPolicy overrides DefaultCOOP ("same-origin-allow-popups" for OAuth popups).
	CrossOriginOpenerPolicy string
	// CrossOriginResourcePolicy overrides DefaultCORP ("same-site" for assets shared with subdomains).
	CrossOriginResourcePolicy string
	// CrossOriginEmbedderPolicy, when set ("require-corp" or "credentialless"), is sent as is.
	// Off by default because it blocks every cross-origin subresource lacking CORP/CORS.
	CrossOriginEmbedderPolicy string
	// PermissionsPolicy overrides DefaultPermissionsPolicy.
	PermissionsPolicy string
}

// header is one precomputed header. The value slice is shared by all responses: its capacity
// equals its length, so an Add by a handler copies it, and Set replaces it.
type header struct {
	key   string
	value []string
}

type mw struct {
	next     http.Handler
	always   []header
	hsts     []string
	allowHTP bool
	exempt   []string
	sslHost  string
}

// Security is a validated Options: the headers to send, precomputed. Build it with [New]; its
// Middleware method is the middleware.
type Security struct{ m mw }

// New validates opts once, at start-up: an invalid value is refused, as a malformed header
// would otherwise be sent on every response.
func New(opts Options) (*Security, error) {
	var bad error
	add := func(hs []header, key, v, def string) []header {
		if v == "" {
			v = def
		}
		if !validValue(v) {
			if bad == nil {
				bad = errors.New("headers: invalid " + key + " value " + strconv.Quote(v))
			}
			return hs
		}
		return append(hs, header{http.CanonicalHeaderKey(key), []string{v}[:1:1]})
	}
	var always []header
	always = append(always, header{"X-Content-Type-Options", []string{"nosniff"}[:1:1]})
	always = add(always, "Referrer-Policy", normalizeList(opts.ReferrerPolicy), DefaultReferrerPolicy)
	if bad != nil {
		return nil, bad
	}
	fo := strings.ToUpper(opts.FrameOptions)
	if fo != "" && fo != "DENY" && fo != "SAMEORIGIN" {
		return nil, errors.New("headers: FrameOptions must be DENY or SAMEORIGIN")
	}
	always = add(always, "X-Frame-Options", fo, DefaultFrameOptions)
	if bad != nil {
		return nil, bad
	}
	coop := opts.CrossOriginOpenerPolicy
	switch coop {
	case "", "same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none":
	default:
		return nil, errors.New("headers: invalid CrossOriginOpenerPolicy " + strconv.Quote(coop))
	}
	always = add(always, "Cross-Origin-Opener-Policy", coop, DefaultCOOP)
	if bad != nil {
		return nil, bad
	}
	corp := opts.CrossOriginResourcePolicy
	switch corp {
	case "", "same-origin", "same-site", "cross-origin":
	default:
		return nil, errors.New("headers: invalid CrossOriginResourcePolicy " + strconv.Quote(corp))
	}
	always = add(always, "Cross-Origin-Resource-Policy", corp, DefaultCORP)
	if opts.CrossOriginEmbedderPolicy != "" {
		always = add(always, "Cross-Origin-Embedder-Policy", opts.CrossOriginEmbedderPolicy, "")
	}
	always = add(always, "Permissions-Policy", opts.PermissionsPolicy, DefaultPermissionsPolicy)
	if bad != nil {
		return nil, bad
	}

	var hsts []string
	if !opts.InsecureNoHSTS {
		age := opts.HSTSMaxAge
		if age == 0 {
			age = DefaultHSTSMaxAge
		}
		if age < 0 {
			return nil, errors.New("headers: negative HSTSMaxAge")
		}
		v := "max-age=" + strconv.FormatInt(int64(age/time.Second), 10)
		if !opts.HSTSExcludeSubdomains {
			v += "; includeSubDomains"
		}
		if opts.HSTSPreload {
			v += "; preload"
		}
		hsts = []string{v}[:1:1]
	}
	if opts.RedirectHost != "" {
		if _, _, err := hosts.Split(opts.RedirectHost); err != nil {
			return nil, errors.New("headers: invalid RedirectHost " + strconv.Quote(opts.RedirectHost))
		}
	}
	return &Security{m: mw{always: always, hsts: hsts, allowHTP: opts.InsecureAllowHTTP,
		exempt: opts.RedirectExempt, sslHost: opts.RedirectHost}}, nil
}

// Middleware sets the headers on each response of next and redirects plain HTTP to HTTPS.
func (s *Security) Middleware(next http.Handler) http.Handler {
	m := s.m
	m.next = next
	return &m
}

// normalizeList strips whitespace around comma-separated tokens, as Django does for
// SECURE_REFERRER_POLICY ("strict-origin, origin" → "strict-origin,origin").
func normalizeList(s string) string {
	if !strings.Contains(s, ",") {
		return strings.TrimSpace(s)
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return strings.Join(parts, ",")
}

// validValue refuses control characters so no option can split a header.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return false
		}
	}
	return v != ""
}

func (m *mw) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secure := clientip.SecureFromRequest(r)
	if !secure && !m.allowHTP && !m.isExempt(r.URL.Path) {
		m.redirect(w, r, clientip.FromRequest(r).Host)
		return
	}
	h := w.Header()
	if len(h) == 0 { // the usual case: nothing to preserve, skip the look-ups
		for i := range m.always {
			h[m.always[i].key] = m.always[i].value
		}
	} else {
		for i := range m.always {
			if _, ok := h[m.always[i].key]; !ok {
				h[m.always[i].key] = m.always[i].value
			}
		}
	}
	// Browsers ignore HSTS received over plain HTTP (RFC 6797 §8.1), and Django sends it only
	// on secure requests; so do we.
	if secure && m.hsts != nil {
		if _, ok := h["Strict-Transport-Security"]; !ok {
			h["Strict-Transport-Security"] = m.hsts
		}
	}
	m.next.ServeHTTP(w, r)
}

func (m *mw) isExempt(path string) bool {
	for _, e := range m.exempt {
		if path == e || (strings.HasSuffix(e, "/") && strings.HasPrefix(path, e)) {
			return true
		}
	}
	return false
}

// redirect sends the client to the same URL over HTTPS: 301 for GET and HEAD (what Django and
// the Observatory expect) and 308 for other methods so a form is not silently turned into a GET.
func (m *mw) redirect(w http.ResponseWriter, r *http.Request, host string) {
	if m.sslHost != "" {
		host = m.sslHost
	} else if _, _, err := hosts.Split(host); err != nil {
		// Never build a Location from a malformed Host.
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	target := "https://" + host + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	code := http.StatusMovedPermanently
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		code = http.StatusPermanentRedirect
	}
	w.Header()["Location"] = []string{target}
	w.WriteHeader(code)
}

// AllowFraming lets this response be framed, like Django's xframe_options_exempt combined with a
// CSP frame-ancestors override. With no ancestors only the site itself may frame the page
// (X-Frame-Options SAMEORIGIN, frame-ancestors 'self'); with ancestors (CSP sources such as
// "https://partner.example") X-Frame-Options is removed, since it cannot name other origins,
// and frame-ancestors lists them. Call it before writing the response.
func AllowFraming(w http.ResponseWriter, ancestors ...string) {
	h := w.Header()
	src := "'self'"
	if len(ancestors) == 0 {
		h.Set("X-Frame-Options", "SAMEORIGIN")
	} else {
		h.Del("X-Frame-Options")
		src = strings.Join(ancestors, " ")
	}
	if !validValue(src) || strings.ContainsAny(src, ";,") {
		panic("headers: invalid frame ancestor")
	}
	for _, k := range []string{"Content-Security-Policy", "Content-Security-Policy-Report-Only"} {
		vs := h[k]
		if len(vs) == 0 {
			continue
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = replaceDirective(v, "frame-ancestors", src)
		}
		h[k] = out
	}
}

// replaceDirective sets directive name in one serialised policy to sources, keeping the
// other directives and their order.
func replaceDirective(policy, name, sources string) string {
	parts := strings.Split(policy, ";")
	found := false
	for i, p := range parts {
		f := strings.Fields(p)
		if len(f) > 0 && strings.EqualFold(f[0], name) {
			parts[i] = " " + name + " " + sources
			found = true
		}
	}
	if !found {
		parts = append(parts, " "+name+" "+sources)
	}
	return strings.TrimSpace(strings.Join(parts, ";"))
}
