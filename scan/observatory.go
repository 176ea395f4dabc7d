package scan

import (
	"math"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/publicsuffix"
)

// response is one HTTP response as the grader sees it.
type response struct {
	URL      string      `json:"url"`
	Status   int         `json:"status"`
	Header   http.Header `json:"headers"`
	Body     string      `json:"-"`
	Verified bool        `json:"verified"` // TLS chain verified (always true for plain HTTP)
	// RequestHeader holds the headers sent (the CORS test reads the Origin sent).
	RequestHeader http.Header `json:"-"`
}

// Redirect is one hop of a redirect chain: the URL requested and the status it answered.
type Redirect struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
}

// PreloadEntry is one host of an HSTS preload list.
type PreloadEntry struct {
	IncludeSubDomains bool
}

// PreloadList is an injectable HSTS preload list (host -> entry). Only
// force-https entries belong in it. The zero value is an empty list.
type PreloadList map[string]PreloadEntry

// Preloaded reports whether host is covered: listed itself, or a parent is
// listed with includeSubDomains.
func (p PreloadList) Preloaded(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if _, ok := p[host]; ok {
		return true
	}
	parts := strings.Split(host, ".")
	for i := 1; i < len(parts); i++ {
		if e, ok := p[strings.Join(parts[i:], ".")]; ok && e.IncludeSubDomains {
			return true
		}
	}
	return false
}

// responseSet is everything the grader needs, fetched or captured. Grade
// never touches the network, so captured scans can be graded offline.
type responseSet struct {
	// Hostname is the site scanned (used for HSTS preload and SRI origins).
	Hostname string
	// URL is the session URL: the https start URL when HTTPS answered, else the http one.
	URL string
	// Auto is the final response of the session (HTTPS if it worked, else HTTP).
	Auto *response
	// HTTP and HTTPS are the final responses of the http:// and https:// fetches (nil: unreachable).
	HTTP, HTTPS *response
	// CORS is the response to the preflight OPTIONS request (nil: not made).
	CORS *response
	// HTTPRedirects is the redirect chain of the http:// fetch, final response included.
	HTTPRedirects []Redirect
	// Cookies are the Set-Cookie lines the session received, in order, each
	// with the URL that sent it.
	Cookies []setCookieLine
	// FetchedAt is when the responses were received: cookie expiry is judged
	// at that instant. Zero means the time of grading.
	FetchedAt time.Time
	// GuessedHTTPURL is the plain-HTTP start URL when it was derived from an
	// https target with an explicit port other than 443 (and no
	// Options.HTTPURL), "" otherwise. That probe goes to the TLS port, where
	// plain HTTP rarely listens, so a missing redirect there says little.
	GuessedHTTPURL string
	// Preload is the HSTS preload list used for HSTS and redirection.
	Preload PreloadList

	// Rampart's own probes (not part of the Observatory score).
	// DebugProbe is the response to a random not-found path.
	DebugProbe *response
	// csrfProbe is the outcome of the cross-origin form submission, if a form was found.
	csrfProbe *CSRFProbe

	equiv map[string][]string
	doc   *html.Node
}

// CSRFProbe records the cross-origin POST of the first form on the page.
type CSRFProbe struct {
	Action  string `json:"action"`
	Status  int    `json:"status"`
	Skipped string `json:"skipped,omitempty"` // why no request was sent
}

// Node.js (the Observatory's runtime) keeps only the first value of these
// headers and joins all other repeated headers with ", ".
var firstOnlyHeaders = map[string]bool{
	"Age": true, "Authorization": true, "Content-Length": true, "Content-Type": true,
	"Etag": true, "Expires": true, "From": true, "Host": true, "If-Modified-Since": true,
	"If-Unmodified-Since": true, "Last-Modified": true, "Location": true, "Max-Forwards": true,
	"Proxy-Authorization": true, "Referer": true, "Retry-After": true, "Server": true, "User-Agent": true,
}

// headerValues returns a header as the Observatory's getHttpHeaders sees it.
func headerValues(h http.Header, name string) []string {
	key := textproto.CanonicalMIMEHeaderKey(name)
	vals := h[key]
	if len(vals) == 0 {
		return nil
	}
	if key == "Set-Cookie" {
		return vals
	}
	if firstOnlyHeaders[key] {
		return vals[:1]
	}
	return []string{strings.Join(vals, ", ")}
}

func firstHeader(h http.Header, name string) string {
	v := headerValues(h, name)
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// truncate mirrors JavaScript's String.prototype.slice(0, n) on ASCII-heavy headers.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// httpEquiv returns the meta http-equiv values of the Auto response when it
// is HTML. It is cached on the ResponseSet (Grade works on its own copy, so
// concurrent Grade calls never share the cache).
func (rs *responseSet) httpEquiv() map[string][]string {
	if rs.equiv == nil {
		rs.equiv = map[string][]string{}
		if r := rs.Auto; r != nil {
			mime := strings.Split(firstHeader(r.Header, "Content-Type"), ";")[0]
			if htmlTypes[mime] && r.Body != "" {
				rs.equiv = parseHTTPEquiv(rs.document())
			}
		}
	}
	return rs.equiv
}

// document parses the Auto body once per grading.
func (rs *responseSet) document() *html.Node {
	if rs.doc == nil {
		body := ""
		if rs.Auto != nil {
			body = rs.Auto.Body
		}
		rs.doc = parseDocument(body)
	}
	return rs.doc
}

var htmlTypes = map[string]bool{"text/html": true, "application/xhtml+xml": true}

// outcome is one test's raw result.
type outcome struct {
	name   string
	result string
	pass   bool
	policy *CSPPolicy
	note   string // appended to the reason: what the result rests on
}

func cookiesTest(rs *responseSet) outcome {
	o := outcome{name: TestCookies}
	goodness := []string{CookiesNoSecureHSTS, CookiesNoSecure, CookiesSessionNoSecureHSTS,
		CookiesSameSiteInvalid, CookiesAntiCSRFNoSameSite, CookiesSessionNoHttpOnly, CookiesSessionNoSecure}
	worse := func(r string) {
		if o.result == "" || indexOf(goodness, r) > indexOf(goodness, o.result) {
			o.result = r
		}
	}
	hsts := hstsTest(rs).pass
	jar, refused := rs.cookieJar()
	if rs.Auto != nil {
		// A line browsers refuse is not the site's cookie, so its raw
		// SameSite is not graded either.
		skip := map[string]bool{}
		for _, r := range refused {
			if r.URL == rs.Auto.URL || rs.Auto.URL == "" {
				skip[r.line] = true
			}
		}
		for _, raw := range headerValues(rs.Auto.Header, "Set-Cookie") {
			if !skip[raw] && containsInvalidSameSite(raw) {
				worse(CookiesSameSiteInvalid)
			}
		}
	}
	if len(jar) == 0 {
		o.result = CookiesNotFound
	} else {
		missingSameSite := false
		for _, c := range jar {
			lk := strings.ToLower(c.Name)
			session := strings.Contains(lk, "login") || strings.Contains(lk, "sess")
			anticsrf := strings.Contains(lk, "csrf")
			if !c.Secure && c.SameSite == "none" {
				worse(CookiesSameSiteInvalid)
			}
			if !c.Secure && hsts {
				worse(CookiesNoSecureHSTS)
			} else if !c.Secure {
				worse(CookiesNoSecure)
			}
			if anticsrf && c.SameSite == "" {
				worse(CookiesAntiCSRFNoSameSite)
			}
			if session && !c.Secure && hsts {
				worse(CookiesSessionNoSecureHSTS)
			} else if session && !c.Secure {
				worse(CookiesSessionNoSecure)
			}
			if session && !c.HttpOnly {
				worse(CookiesSessionNoHttpOnly)
			}
			if c.SameSite == "" {
				missingSameSite = true
			}
		}
		if o.result == "" {
			if missingSameSite {
				o.result = CookiesSecureHttpOnly
			} else {
				o.result = CookiesSecureHttpOnlySameSite
			}
		}
	}
	o.pass = o.result == CookiesNotFound || o.result == CookiesSecureHttpOnlySameSite || o.result == CookiesSecureHttpOnly
	return o
}

// cookieJar is the cookies a browser would hold after the session, and the
// Set-Cookie lines it would refuse.
func (rs *responseSet) cookieJar() ([]Cookie, []RefusedCookie) {
	now := rs.FetchedAt
	if now.IsZero() {
		now = time.Now()
	}
	return cookieJar(rs.Cookies, rs.URL, now)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func corsTest(rs *responseSet) outcome {
	o := outcome{name: TestCORS, result: CORSNotImplemented}
	if r := rs.CORS; r != nil {
		acao := firstHeader(r.Header, "Access-Control-Allow-Origin")
		origin := firstHeader(r.RequestHeader, "Origin")
		creds := firstHeader(r.Header, "Access-Control-Allow-Credentials")
		if acao != "" {
			data := strings.ToLower(strings.TrimSpace(truncate(acao, 256)))
			switch {
			case data == "*":
				o.result = CORSPublic
			case origin != "" && origin == acao && strings.ToLower(strings.TrimSpace(creds)) == "true":
				o.result = CORSUniversal
			default:
				o.result = CORSRestricted
			}
		}
	}
	o.pass = o.result != CORSUniversal
	return o
}

func redirectionTest(rs *responseSet) outcome {
	o := outcome{name: TestRedirection}
	resp := rs.HTTP
	switch {
	case resp == nil:
		o.result = RedirectionNotNeeded
	case !resp.Verified:
		o.result = RedirectionInvalidCert
	default:
		route := make([]*url.URL, 0, len(rs.HTTPRedirects))
		for _, r := range rs.HTTPRedirects {
			u, err := url.Parse(r.URL)
			if err != nil {
				u = &url.URL{}
			}
			route = append(route, u)
		}
		all := true
		for _, u := range route {
			if !rs.Preload.Preloaded(u.Hostname()) {
				all = false
				break
			}
		}
		switch {
		case all:
			o.result = RedirectionAllPreloaded
		case len(route) == 1:
			o.result = RedirectionMissing
		case route[len(route)-1].Scheme != "https":
			o.result = RedirectionNotToHTTPS
		case route[1].Scheme == "http":
			o.result = RedirectionNotToHTTPSInitial
		case route[0].Scheme == "http" && route[1].Scheme == "https" && route[0].Hostname() != route[1].Hostname():
			o.result = RedirectionOffHost
		default:
			o.result = RedirectionToHTTPS
		}
	}
	o.pass = o.result == RedirectionNotNeeded || o.result == RedirectionAllPreloaded || o.result == RedirectionToHTTPS
	if rs.GuessedHTTPURL != "" && o.result != RedirectionToHTTPS && o.result != RedirectionAllPreloaded {
		// The Observatory's result is kept (the score stays comparable), but
		// it rests on a probe of the TLS port, so say so.
		o.note = guessedHTTPNote(rs)
	}
	return o
}

var (
	referrerGood = []string{"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
	referrerBad  = []string{"origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade"}
)

func referrerTest(rs *responseSet) outcome {
	o := outcome{name: TestReferrerPolicy}
	if rs.Auto == nil {
		o.result = ReferrerNotImplemented
		return o
	}
	vals := append(append([]string{}, headerValues(rs.Auto.Header, "Referrer-Policy")...), rs.httpEquiv()["referrer-policy"]...)
	if len(vals) == 0 {
		o.result, o.pass = ReferrerNotImplemented, true
		return o
	}
	policy := ""
	for _, e := range strings.Split(strings.Join(vals, ", "), ",") {
		v := strings.ToLower(jsTrim(e))
		if indexOf(referrerGood, v) >= 0 || indexOf(referrerBad, v) >= 0 {
			policy = v
		}
	}
	switch {
	case indexOf(referrerGood, policy) >= 0:
		o.result = ReferrerPrivate
	case indexOf(referrerBad, policy) >= 0:
		o.result = ReferrerUnsafe
	default:
		o.result = ReferrerInvalid
	}
	o.pass = o.result == ReferrerPrivate
	return o
}

// sixMonths is the Observatory's threshold (15,552,000 s, "a white lie").
const sixMonths = 15_552_000

func hstsTest(rs *responseSet) outcome {
	o := outcome{name: TestHSTS, result: HSTSNotImplemented}
	resp := rs.HTTPS
	switch {
	case resp == nil:
		o.result = HSTSNoHTTPS
	case !resp.Verified:
		o.result = HSTSInvalidCert
	case len(headerValues(resp.Header, "Strict-Transport-Security")) > 0:
		data := truncate(firstHeader(resp.Header, "Strict-Transport-Security"), 1024)
		o.result = parseHSTS(data)
	}
	if resp != nil && rs.Preload.Preloaded(rs.Hostname) {
		o.result = HSTSPreloaded
	}
	o.pass = o.result == HSTSSixMonths || o.result == HSTSPreloaded
	return o
}

func parseHSTS(data string) string {
	if strings.Contains(data, ",") {
		return HSTSInvalid
	}
	haveMaxAge, maxAge := false, 0.0
	for _, p := range strings.Split(data, ";") {
		p = strings.ToLower(jsTrim(p))
		if strings.HasPrefix(p, "max-age=") {
			haveMaxAge, maxAge = true, jsParseInt(truncate(p[8:], 120))
		}
	}
	if !haveMaxAge {
		return HSTSInvalid
	}
	// NaN compares false, so an unparseable max-age counts as long enough,
	// exactly as in the Observatory.
	if maxAge < sixMonths {
		return HSTSShort
	}
	return HSTSSixMonths
}

// jsParseInt mirrors Number.parseInt(s, 10): leading space, optional sign,
// leading digits; NaN when there are none.
func jsParseInt(s string) float64 {
	s = jsTrim(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		v = math.Inf(1)
	}
	if neg {
		v = -v
	}
	return v
}

func sriTest(rs *responseSet) outcome {
	o := outcome{name: TestSRI}
	goodness := []string{SRIAllSecure, SRIExternalSecure, SRIImplementedExternalInsecure,
		SRINotImplementedExternalSecure, SRINotImplementedExternalInsecure, SRINotHTML}
	worse := func(r string) {
		if o.result == "" || indexOf(goodness, r) > indexOf(goodness, o.result) {
			o.result = r
		}
	}
	resp := rs.Auto
	if resp == nil {
		o.result = SRINoScripts
		return o
	}
	mime := strings.Split(firstHeader(resp.Header, "Content-Type"), ";")[0]
	if mime != "" && !htmlTypes[mime] {
		o.result = SRINotHTML
	} else {
		scripts := findScripts(rs.document())
		site := registrableDomain(rs.Hostname)
		sessionHTTPS := strings.HasPrefix(strings.ToLower(rs.URL), "https:")
		foreign := false
		for _, s := range scripts {
			if s.src == "" {
				continue
			}
			relOrigin, relProto, sameSLD := false, false, false
			lower := strings.ToLower(s.src)
			switch {
			case len(s.src) > 2 && strings.HasPrefix(s.src, "//") && s.src[2] != '/':
				relProto, sameSLD = true, true
			case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
				sameSLD = registrableDomain(hostOf(s.src)) == site
			default:
				relOrigin, sameSLD = true, true
			}
			secureOrigin := relOrigin || (sameSLD && !relProto)
			if !secureOrigin {
				foreign = true
			}
			secureScheme := strings.HasPrefix(lower, "https:") || (relOrigin && sessionHTTPS)
			if !relProto && !relOrigin {
				secureScheme = strings.HasPrefix(lower, "https:")
			}
			if !secureOrigin {
				switch {
				case s.integrity && !secureScheme:
					worse(SRIImplementedExternalInsecure)
				case !s.integrity && secureScheme:
					worse(SRINotImplementedExternalSecure)
				case !s.integrity && !secureScheme:
					worse(SRINotImplementedExternalInsecure)
				}
			} else if s.integrity && secureScheme && o.result == "" {
				o.result = SRIAllSecure
			}
		}
		if len(scripts) == 0 {
			o.result = SRINoScripts
		} else if o.result == "" {
			if foreign {
				o.result = SRIExternalSecure
			} else {
				o.result = SRINotImplementedSecureOrigin
			}
		}
	}
	switch o.result {
	case SRIAllSecure, SRIExternalSecure, SRINotHTML, SRINotImplementedSecureOrigin, SRINoScripts:
		o.pass = true
	}
	return o
}

func hostOf(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// registrableDomain returns the ICANN eTLD+1 of host, or "" where the
// Observatory's tldts library returns null (IP addresses, bare suffixes).
func registrableDomain(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" || net.ParseIP(host) != nil {
		return ""
	}
	ps, icann := publicsuffix.PublicSuffix(host)
	// Private-section suffixes (e.g. github.io) are ignored, as tldts does by default.
	for !icann && strings.Contains(ps, ".") {
		ps, icann = publicsuffix.PublicSuffix(ps[strings.Index(ps, ".")+1:])
	}
	if host == ps || !strings.HasSuffix(host, "."+ps) {
		return ""
	}
	rest := strings.TrimSuffix(host, "."+ps)
	if i := strings.LastIndex(rest, "."); i >= 0 {
		rest = rest[i+1:]
	}
	return rest + "." + ps
}

func xctoTest(rs *responseSet) outcome {
	o := outcome{name: TestXCTO}
	if rs.Auto == nil {
		o.result = XCTONotImplemented
		return o
	}
	h := firstHeader(rs.Auto.Header, "X-Content-Type-Options")
	switch {
	case h == "":
		o.result = XCTONotImplemented
	case strings.ToLower(jsTrim(truncate(h, 256))) == "nosniff":
		o.result = XCTONosniff
	default:
		o.result = XCTOInvalid
	}
	o.pass = o.result == XCTONosniff
	return o
}

func xfoTest(rs *responseSet, csp cspOutcome) outcome {
	o := outcome{name: TestXFO}
	if rs.Auto == nil {
		o.result = XFONotImplemented
		return o
	}
	h := firstHeader(rs.Auto.Header, "X-Frame-Options")
	if h != "" {
		v := strings.ToLower(jsTrim(truncate(h, 1024)))
		switch {
		case v == "deny" || v == "sameorigin":
			o.result = XFOSameOriginOrDeny
		case strings.HasPrefix(v, "allow-from"):
			o.result = XFOAllowFrom
		default:
			o.result = XFOInvalid
		}
	} else {
		o.result = XFONotImplemented
	}
	if _, ok := csp.data["frame-ancestors"]; ok {
		o.result = XFOViaCSP
	}
	o.pass = o.result == XFOAllowFrom || o.result == XFOSameOriginOrDeny || o.result == XFOViaCSP
	return o
}

func corpTest(rs *responseSet) outcome {
	o := outcome{name: TestCORP, result: CORPNotImplemented, pass: true}
	if rs.Auto == nil {
		return o
	}
	v := ""
	if h := firstHeader(rs.Auto.Header, "Cross-Origin-Resource-Policy"); h != "" {
		v = strings.ToLower(jsTrim(truncate(h, 256)))
	} else if eq := rs.httpEquiv()["cross-origin-resource-policy"]; len(eq) > 0 && eq[len(eq)-1] != "" {
		v = strings.ToLower(jsTrim(truncate(eq[len(eq)-1], 256)))
	}
	if v != "" {
		switch v {
		case "same-site":
			o.result = CORPSameSite
		case "same-origin":
			o.result = CORPSameOrigin
		case "cross-origin":
			o.result = CORPCrossOrigin
		default:
			o.result = CORPInvalid
		}
	}
	o.pass = o.result != CORPInvalid
	return o
}

func coopTest(rs *responseSet) outcome {
	return sfPolicyTest(rs, TestCOOP, "Cross-Origin-Opener-Policy", COOPNotImplemented, COOPInvalid, map[string]string{
		"same-origin":              COOPSameOrigin,
		"same-origin-allow-popups": COOPSameOriginAllowPopups,
		"noopener-allow-popups":    COOPNoopenerAllowPopups,
		"unsafe-none":              COOPUnsafeNone,
	})
}

func coepTest(rs *responseSet) outcome {
	return sfPolicyTest(rs, TestCOEP, "Cross-Origin-Embedder-Policy", COEPNotImplemented, COEPInvalid, map[string]string{
		"require-corp":   COEPRequireCorp,
		"credentialless": COEPCredentialless,
		"unsafe-none":    COEPUnsafeNone,
	})
}

func sfPolicyTest(rs *responseSet, name, header, notImpl, invalid string, values map[string]string) outcome {
	o := outcome{name: name, result: notImpl}
	if rs.Auto != nil {
		hs := headerValues(rs.Auto.Header, header)
		switch {
		case len(hs) > 1:
			o.result = invalid
		case len(hs) == 1 && hs[0] != "":
			tok, ok := parseSFToken(jsTrim(truncate(hs[0], 1024)))
			if r, known := values[tok]; ok && known {
				o.result = r
			} else {
				o.result = invalid
			}
		}
	}
	o.pass = o.result != invalid
	return o
}
