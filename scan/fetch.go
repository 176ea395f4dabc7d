package scan

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"
)

// Options configures Scan. The zero value is a safe default: certificates are
// verified against the system roots, bodies are capped, redirects bounded.
type Options struct {
	// RootCAs verifies TLS certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// Timeout bounds each request (default 15s).
	Timeout time.Duration
	// MaxBodyBytes caps how much of a body is read (default 2 MiB).
	MaxBodyBytes int64
	// MaxRedirects bounds a redirect chain (default 10).
	MaxRedirects int
	// HTTPURL and HTTPSURL override the plain and TLS start URLs derived from
	// the target (useful when the two listen on different ports).
	HTTPURL, HTTPSURL string
	// Preload is the HSTS preload list used for grading (empty by default).
	Preload PreloadList
	// NoActiveProbes skips rampart's probes that send extra requests: the
	// random 404 path and the cross-origin form POST.
	NoActiveProbes bool
	// NoTLSProbe skips the TLS probe (protocol versions, cipher suites,
	// certificate, OCSP); the certificate is still verified by the fetches.
	NoTLSProbe bool
	// Pages is how many pages to scan in all, the start page included: more
	// than 1 follows same-site links and sitemap.xml (see crawl.go).
	Pages int
	// TimeBudget bounds the crawl of extra pages (default 60s); pages not
	// reached by then are left out, and the report says so.
	TimeBudget time.Duration
	// Concurrency is how many crawl requests may be in flight (default 1, to
	// be polite).
	Concurrency int
	// Now is the clock used to judge expiry (certificates, security.txt);
	// nil means time.Now.
	Now func() time.Time
}

// userAgent names rampart, so operators can tell its requests apart.
const userAgent = "rampart-scan/1 (+https://github.com/rampart-go/rampart)"

// corsOrigin is the Origin the Observatory sends in its preflight.
const corsOrigin = "https://http-observatory.security.mozilla.org"

// evilOrigin is the foreign Origin of the CSRF probe.
const evilOrigin = "https://evil.example"

// ErrSiteDown is returned when neither http:// nor https:// answers.
var ErrSiteDown = errors.New("scan: the site seems to be down")

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 2 << 20
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = 10
	}
	if o.TimeBudget <= 0 {
		o.TimeBudget = 60 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// startURLs derives the http:// and https:// start URLs. A bare host means
// https. An explicit port other than the scheme's default is used for both
// schemes, as the Observatory does; guessedHTTP is then the http:// URL so
// derived for an https target, which the report flags (plain HTTP seldom
// shares the TLS port).
func startURLs(target string, o Options) (host, httpURL, httpsURL, guessedHTTP string, err error) {
	if !strings.Contains(target, "://") {
		target = "https://" + target
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", "", "", "", fmt.Errorf("scan: bad URL %q: %w", target, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", "", "", "", fmt.Errorf("scan: URL %q must be http(s)://host[:port]/path", target)
	}
	host = strings.ToLower(u.Hostname())
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	hostport := u.Host
	port := u.Port()
	if defaultPort := map[string]string{"http": "80", "https": "443"}[u.Scheme]; port == "" || port == defaultPort {
		port = ""
		hostport = u.Hostname()
		if strings.Contains(hostport, ":") {
			hostport = "[" + hostport + "]"
		}
	}
	httpURL, httpsURL = "http://"+hostport+path, "https://"+hostport+path
	if port != "" && u.Scheme == "https" && o.HTTPURL == "" {
		guessedHTTP = httpURL
	}
	if o.HTTPURL != "" {
		httpURL = o.HTTPURL
	}
	if o.HTTPSURL != "" {
		httpsURL = o.HTTPSURL
	}
	return host, httpURL, httpsURL, guessedHTTP, nil
}

// session is a browser-like run: one cookie jar, a recorded redirect chain.
type session struct {
	client   *http.Client
	verified bool
	start    string
	first    *response // the start URL's own response (before any redirect)
	final    *response
	chain    []Redirect
	mu       sync.Mutex // guards cookies when the crawl runs requests in parallel
	cookies  []setCookieLine
	opts     Options
}

func newClient(o Options, insecure bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
	if insecure {
		// Only used to grade a site whose certificate failed verification;
		// the result is then marked unverified and graded down.
		tr.TLSClientConfig.InsecureSkipVerify = true
	}
	// The public suffix list keeps the client from sending back a cookie
	// scoped to e.g. "co.uk", as browsers refuse to store one.
	jar, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	return &http.Client{
		Transport:     tr,
		Jar:           jar,
		Timeout:       o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func isCertError(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verr     *tls.CertificateVerificationError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verr)
}

// openSession fetches start, following redirects; on a certificate error it
// retries without verification and marks the session unverified.
func openSession(ctx context.Context, start string, o Options) (*session, error) {
	s := &session{client: newClient(o, false), verified: true, start: start, opts: o}
	err := s.follow(ctx)
	if err != nil && isCertError(err) {
		s = &session{client: newClient(o, true), verified: false, start: start, opts: o}
		err = s.follow(ctx)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *session) do(ctx context.Context, method, target string, hdr http.Header, body io.Reader) (*response, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, s.opts.MaxBodyBytes))
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	for _, line := range resp.Header.Values("Set-Cookie") {
		s.cookies = append(s.cookies, setCookieLine{URL: target, Line: line})
	}
	s.mu.Unlock()
	loc := ""
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if l, err := resp.Location(); err == nil {
			loc = l.String()
		}
	}
	return &response{URL: target, Status: resp.StatusCode, Header: resp.Header, Body: string(b),
		Verified: s.verified, RequestHeader: req.Header}, loc, nil
}

func (s *session) follow(ctx context.Context) error {
	next := s.start
	for hop := 0; ; hop++ {
		if hop > s.opts.MaxRedirects {
			return fmt.Errorf("scan: more than %d redirects from %s", s.opts.MaxRedirects, s.start)
		}
		r, loc, err := s.do(ctx, http.MethodGet, next, nil, nil)
		if err != nil {
			return err
		}
		s.chain = append(s.chain, Redirect{URL: next, Status: r.Status})
		if hop == 0 {
			s.first = r
		}
		if loc == "" {
			s.final = r
			return nil
		}
		next = loc
	}
}

func (s *session) finalURL() string {
	if len(s.chain) == 0 {
		return s.start
	}
	return s.chain[len(s.chain)-1].URL
}

// Scan fetches target over http:// and https:// (following and recording
// redirects), gets /robots.txt for extra cookies, sends the Observatory's CORS
// preflight, runs rampart's probes unless disabled, and grades the result.
// It returns an error when the target is malformed or nothing answers.
func Scan(ctx context.Context, target string, opts Options) (Report, error) {
	o := opts.withDefaults()
	host, httpURL, httpsURL, guessedHTTP, err := startURLs(target, o)
	if err != nil {
		return Report{}, err
	}
	httpSess, httpErr := openSession(ctx, httpURL, o)
	httpsSess, httpsErr := openSession(ctx, httpsURL, o)
	if httpSess == nil && httpsSess == nil {
		return Report{}, fmt.Errorf("%w: %v; %v", ErrSiteDown, httpErr, httpsErr)
	}
	rs := responseSet{Hostname: host, Preload: o.Preload, GuessedHTTPURL: guessedHTTP}
	sess := httpsSess
	if httpSess != nil {
		rs.HTTP = httpSess.final
		rs.HTTPRedirects = httpSess.chain
	}
	if httpsSess != nil {
		rs.HTTPS = httpsSess.final
		rs.URL = httpsURL
	} else {
		sess = httpSess
		rs.URL = httpURL
	}
	rs.Auto = sess.final

	if base, err := url.Parse(sess.start); err == nil {
		robots := base.ResolveReference(&url.URL{Path: "/robots.txt"})
		_, _, _ = sess.do(ctx, http.MethodGet, robots.String(), http.Header{"Accept": {"text/plain,*/*;q=0.8"}}, nil)
	}
	rs.Cookies = sess.cookies
	if cors, _, err := sess.do(ctx, http.MethodOptions, sess.finalURL(), http.Header{
		"Origin":                        {corsOrigin},
		"Access-Control-Request-Method": {"GET"},
	}, nil); err == nil {
		rs.CORS = cors
	}
	if !o.NoActiveProbes {
		probeDebug(ctx, sess, &rs)
		probeCSRF(ctx, sess, &rs)
	}
	rs.FetchedAt = o.Now()
	rep := gradeResponses(rs)
	rep.Target = target
	extraFindings(ctx, &rep, &rs, httpSess, httpsSess, httpsURL, o)
	return rep, nil
}

// extraFindings adds what the Observatory does not look at: the CSP
// evaluation, the TLS probe, HSTS preload eligibility, security.txt and
// other pages. The Observatory score and tests are left as they are.
func extraFindings(ctx context.Context, rep *Report, rs *responseSet, httpSess, httpsSess *session, httpsURL string, o Options) {
	now := o.Now()
	fs := rep.Findings
	if httpsSess == nil {
		fs = append(fs, newFinding(ruleTLSNoHTTPS, httpsURL, "nothing answered at "+httpsURL, ""))
	} else {
		u, _ := url.Parse(httpsURL)
		if !o.NoTLSProbe {
			tr, tf := probeTLS(ctx, tlsAddress(u.Hostname(), u.Port()), strings.ToLower(u.Hostname()), o, now)
			rep.TLS = tr
			fs = append(fs, tf...)
		}
		var chain []Redirect
		// A plain-HTTP probe of the TLS port (no --http-url) answering an
		// error says nothing about the site's HTTP side.
		if httpSess != nil && !(rs.GuessedHTTPURL != "" && len(httpSess.chain) < 2 && httpSess.final.Status >= 400) {
			chain = httpSess.chain
		}
		rep.HSTSPreload = checkHSTSPreload(strings.ToLower(u.Hostname()), httpsSess.first, httpsSess.verified, chain)
		fs = append(fs, hstsPreloadFindings(rep.HSTSPreload, httpsURL)...)
	}
	sess := httpsSess
	if sess == nil {
		sess = httpSess
	}
	if base, err := url.Parse(sess.finalURL()); err == nil {
		st, sf := fetchSecurityTxt(ctx, sess, base)
		rep.SecurityTxt = st
		fs = append(fs, sf...)
	}
	if o.Pages > 1 && rs.Auto != nil {
		pages, pf := crawl(ctx, sess, rs, o)
		rep.Pages = pages
		fs = append(fs, pf...)
	}
	sortFindings(fs)
	rep.Findings = fs
}

// pageCSP collects a response's policies for EvaluateCSP.
func pageCSP(r *response, meta []string) cspInput {
	return cspInput{
		Header:     headerValues(r.Header, "Content-Security-Policy"),
		Meta:       meta,
		ReportOnly: headerValues(r.Header, "Content-Security-Policy-Report-Only"),
	}
}

func probeDebug(ctx context.Context, s *session, rs *responseSet) {
	base, err := url.Parse(s.finalURL())
	if err != nil {
		return
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	u := base.ResolveReference(&url.URL{Path: "/rampart-scan-" + hex.EncodeToString(b[:]) + "-404"})
	if r, _, err := s.do(ctx, http.MethodGet, u.String(), nil, nil); err == nil {
		rs.DebugProbe = r
	}
}

func probeCSRF(ctx context.Context, s *session, rs *responseSet) {
	f := firstPostForm(rs.Auto.Body)
	if f == nil {
		return
	}
	page, err := url.Parse(s.finalURL())
	if err != nil {
		return
	}
	action, err := page.Parse(f.action)
	if err != nil {
		rs.csrfProbe = &CSRFProbe{Action: f.action, Skipped: "form action is not a valid URL"}
		return
	}
	action.Fragment = ""
	p := &CSRFProbe{Action: action.String()}
	rs.csrfProbe = p
	if action.Scheme != page.Scheme || !strings.EqualFold(action.Host, page.Host) {
		// Never POST to a third party on the operator's behalf.
		p.Skipped = "form posts to another origin (" + action.Scheme + "://" + action.Host + "); not probed"
		return
	}
	vals := url.Values{}
	for k, v := range f.fields {
		vals.Set(k, v)
	}
	r, _, err := s.do(ctx, http.MethodPost, action.String(), http.Header{
		"Origin":         {evilOrigin},
		"Referer":        {evilOrigin + "/"},
		"Sec-Fetch-Site": {"cross-site"},
		"Content-Type":   {"application/x-www-form-urlencoded"},
	}, strings.NewReader(vals.Encode()))
	if err != nil {
		p.Skipped = "form POST failed: " + err.Error()
		return
	}
	p.Status = r.Status
}
