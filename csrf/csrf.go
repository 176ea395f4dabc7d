// Package csrf protects unsafe requests against cross-site request forgery, in the order
// that is both the strongest and the cheapest for modern browsers:
//
//  1. Safe methods (GET, HEAD, OPTIONS, TRACE) pass.
//  2. Sec-Fetch-Site (sent by every browser since 2023): "same-origin" and "none" pass;
//     "same-site", "cross-site" and anything else are rejected unless Origin is trusted.
//  3. Without it, an Origin header must equal the request's own origin, scheme included
//     (scheme and host come from clientip, never from headers read here), or a trusted origin.
//  4. With neither header (old browsers, non-browser clients), Django's checks: the strict
//     Referer check on HTTPS, then a masked token compared with the secret kept server-side
//     (in the session via SecretStore, or in a __Host- cookie by default).
//
// Unlike Go's http.CrossOriginProtection this never fails open when both headers are missing,
// compares schemes, and only accepts Origin values a browser can actually send. Unlike
// gorilla/csrf and nosurf it does not guess the scheme (their CVE-2025-24358/-46721) and its
// trusted origins carry a scheme (gorilla's CVE-2025-47909).
//
// A template may issue the token while it streams the page (page.Execute(w, data) with
// {{ csrfField .Request }}): the middleware holds an HTML page back until its cookie is set
// (MaxHeldBytes), and a token whose cookie can no longer be set fails the template
// (ErrResponseStarted) rather than producing a form that cannot be posted.
//
// The token format is Django's, and a site sharing its domain with Django can use Django's
// names (Options.FieldName "csrfmiddlewaretoken", CookieStore.Name "csrftoken"; Django's
// X-CSRFToken header is always read): each then accepts the other's tokens, including the
// 64-character masked cookies Django wrote before 4.1 (see docs/FROM-DJANGO.md).
//
// The hosts middleware must run first: the request's own origin is built from its Host.
package csrf

import (
	"context"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/internal/reqown"
)

// Form field and header names the token is read from. FieldName is what TemplateField
// renders; the others are accepted for Django compatibility.
const (
	FieldName       = "csrf_token"
	DjangoFieldName = "csrfmiddlewaretoken"
	HeaderName      = "X-CSRF-Token"
	DjangoHeader    = "X-CSRFToken"
)

// Canonical header keys, so lookups index the header map directly.
const (
	hdrSecFetchSite = "Sec-Fetch-Site"
	hdrOrigin       = "Origin"
	hdrReferer      = "Referer"
	hdrToken        = "X-Csrf-Token" // http.CanonicalHeaderKey(HeaderName)
	hdrDjangoToken  = "X-Csrftoken"  // http.CanonicalHeaderKey(DjangoHeader)
)

// maxMemory is what net/http's FormValue uses for multipart forms.
const maxMemory = 32 << 20

// Options configures the middleware. The zero value is secure: no trusted origins, secrets
// in a __Host- cookie, a generic 403 page, no exemptions.
type Options struct {
	// TrustedOrigins are other origins allowed to send unsafe requests, in Django's
	// CSRF_TRUSTED_ORIGINS syntax: "https://app.example.com", "https://*.example.com"
	// (subdomains and the domain itself, same scheme and port). Entries are validated by
	// New: a missing scheme, a path, a '*' other than a leading "*." or a wildcard over a
	// public suffix is an error.
	TrustedOrigins []string
	// Store keeps the secret for the token fallback. nil means &CookieStore{}.
	Store SecretStore
	// OnFailure answers rejected requests. nil means a 403 with a generic page that does
	// not reveal the reason. The reason wraps one of the Err* values; FailureReason(r)
	// returns it too. Every rejection is logged before OnFailure runs.
	OnFailure func(w http.ResponseWriter, r *http.Request, reason error)
	// ExemptPaths are http.ServeMux patterns ("/webhook/stripe", "POST /api/{id}/hook")
	// whose requests are not checked. Matching is the ServeMux's own, so a request that
	// would be redirected to an exempt path ("/api/../webhook/stripe", a missing trailing
	// slash) is not exempt (CVE-2025-47910). A pattern matching every path is an error.
	ExemptPaths []string
	// Router finds the handler a request will reach, to honour Exempt on routes. nil means
	// the wrapped handler when it is one (such as *http.ServeMux).
	Router Router
	// Logger receives "Forbidden (<reason>): <path>" at Warn level. nil means slog.Default().
	Logger *slog.Logger
	// OnFailureLogs says that OnFailure records each rejection itself, so Logger gets no
	// line for it. rampart.New sets it: its OnFailure records an audit event, and the audit
	// logger logs the first few of a client's rejections and counts the rest of a flood.
	OnFailureLogs bool
	// FieldName is the form field TemplateField renders. Empty means FieldName
	// ("csrf_token"); "csrfmiddlewaretoken" renders Django's, so that a Django site behind the
	// same domain accepts rampart's forms during a migration. Tokens are read from this field
	// and from both built-in names. Letters, digits, '-', '_', '.' and ':' only.
	FieldName string
	// HeaderName is a header tokens are read from besides the built-in X-CSRF-Token and
	// X-CSRFToken (Django's default), for front-end code written for another name (Django's
	// CSRF_HEADER_NAME, e.g. "X-XSRF-TOKEN" for Angular). It must be a valid header name.
	HeaderName string
}

// Router is satisfied by *http.ServeMux.
type Router interface {
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// Protector is a validated Options; its Middleware method is the CSRF middleware. Build it
// with [New].
type Protector struct {
	trusted   []trustedOrigin
	store     SecretStore
	cookies   *CookieStore // store, when it is exactly a *CookieStore
	onFailure func(http.ResponseWriter, *http.Request, error)
	exempt    *http.ServeMux
	router    Router
	logger    *slog.Logger
	quiet     bool // Options.OnFailureLogs
	fieldName string
	// header is the configured HeaderName in canonical form, "" when it is a built-in one;
	// headerName is its spelling for failure reasons.
	header, headerName string
}

// New validates opts once, at start-up, and returns the Protector whose Middleware method
// protects a handler.
func New(opts Options) (*Protector, error) {
	p := &Protector{
		store:     opts.Store,
		onFailure: opts.OnFailure,
		router:    opts.Router,
		logger:    opts.Logger,
		quiet:     opts.OnFailureLogs,
	}
	if p.store == nil {
		p.store = &CookieStore{}
	}
	p.cookies, _ = p.store.(*CookieStore)
	p.fieldName = FieldName
	if opts.FieldName != "" {
		if !validFieldName(opts.FieldName) {
			return nil, errors.New("csrf: field name " + quoteConfig(opts.FieldName) + " must be letters, digits, '-', '_', '.' or ':'")
		}
		p.fieldName = opts.FieldName
	}
	if opts.HeaderName != "" {
		if !validHeaderName(opts.HeaderName) {
			return nil, errors.New("csrf: header name " + quoteConfig(opts.HeaderName) + " is not a valid HTTP header name")
		}
		if k := http.CanonicalHeaderKey(opts.HeaderName); k != hdrToken && k != hdrDjangoToken {
			p.header, p.headerName = k, opts.HeaderName
		}
	}
	if p.onFailure == nil {
		p.onFailure = defaultFailure
	}
	for _, s := range opts.TrustedOrigins {
		t, err := parseTrustedOrigin(s)
		if err != nil {
			return nil, err
		}
		p.trusted = append(p.trusted, t)
	}
	if len(opts.ExemptPaths) > 0 {
		mux, err := exemptMux(opts.ExemptPaths)
		if err != nil {
			return nil, err
		}
		p.exempt = mux
	}
	return p, nil
}

type sentinel struct{}

func (sentinel) ServeHTTP(http.ResponseWriter, *http.Request) {}

var exemptSentinel http.Handler = &sentinel{}

func exemptMux(patterns []string) (mux *http.ServeMux, err error) {
	mux = http.NewServeMux()
	for _, pat := range patterns {
		func() {
			defer func() {
				if v := recover(); v != nil {
					err = errors.New("csrf: exempt path " + quoteConfig(pat) + ": invalid ServeMux pattern")
				}
			}()
			mux.Handle(pat, exemptSentinel)
		}()
		if err != nil {
			return nil, err
		}
		// Probe with a path no application serves: if it matches, the pattern exempts
		// everything ("/", "/{x...}"), which turns protection off.
		probe := &http.Request{Method: http.MethodPost, Host: "", URL: &url.URL{Path: "/rampart-csrf-probe/x/y"}}
		if h, _ := mux.Handler(probe); h == exemptSentinel {
			return nil, errors.New("csrf: exempt path " + quoteConfig(pat) + " matches every path; list the exact routes to exempt")
		}
	}
	return mux, nil
}

// validFieldName accepts the names TemplateField can render in an attribute unescaped.
func validFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return s != ""
}

// validHeaderName accepts RFC 9110 tokens.
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// state is the per-request CSRF state, reachable from the request context.
type state struct {
	p *Protector
	// rw is the writer the handler gets; rw.ResponseWriter is the one below the middleware,
	// through which secrets are stored.
	rw     writer
	r      *http.Request
	secret string // as stored: a secret, a masked one (Django < 4.1 cookies) or garbage
	reason error
	loaded bool // the store was asked
	found  bool // the store had a value (maybe malformed)
	// started: the response header has gone below the middleware, so a new secret can no
	// longer be sent in a cookie.
	started bool
	// ready: a usable bare secret is stored and known (Token or Rotate succeeded, or the
	// writer stored one); its cookie, if one was due, is in the header.
	ready bool
}

type stateKey struct{}

// stateCtx carries the state (and the response writer in it) without context.WithValue's
// separate allocation.
type stateCtx struct {
	context.Context
	st state
}

func (c *stateCtx) Value(key any) any {
	if key == any(stateKey{}) {
		return &c.st
	}
	return c.Context.Value(key)
}

func stateFrom(r *http.Request) *state {
	st, _ := r.Context().Value(stateKey{}).(*state)
	return st
}

// Middleware checks each unsafe request reaching next and makes the token available to it.
func (p *Protector) Middleware(next http.Handler) http.Handler {
	router := p.router
	if router == nil {
		router, _ = next.(Router)
	}
	_, allExempt := next.(*exemptHandler)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Noted before r2 exists: r2 may be r itself, updated in place (internal/reqown).
		hadForm := r.MultipartForm != nil
		// One allocation for the state, its context, the writer and (used alone) the
		// request's copy.
		r2, c := reqown.WithValueContext(r, stateCtx{Context: r.Context(), st: state{p: p, rw: writer{ResponseWriter: w}}})
		c.st.r, c.st.rw.st = r2, &c.st
		if !safeMethod(r.Method) {
			if err := p.check(r2, &c.st); err != nil && !allExempt && !p.isExempt(r2, router) {
				p.reject(w, r2, &c.st, err)
				cleanupMultipart(hadForm, r2)
				return
			}
		}
		next.ServeHTTP(&c.st.rw, r2)
		c.st.rw.finish()
		cleanupMultipart(hadForm, r2)
	})
}

// cleanupMultipart removes temporary files of a multipart form parsed below this middleware
// (by it or the app): the server only cleans up the form of the request it created, not of
// ours. hadForm says the request already carried a form when it arrived here.
func cleanupMultipart(hadForm bool, ours *http.Request) {
	if ours.MultipartForm != nil && !hadForm {
		_ = ours.MultipartForm.RemoveAll()
	}
}

// isExempt is consulted only after a check failed, so exemptions cost nothing on the
// accepted path. Every source of exemption is server-side: a context value clients
// cannot set, or the router's own decision for this exact request.
func (p *Protector) isExempt(r *http.Request, router Router) bool {
	if r.Context().Value(exemptKey{}) != nil {
		return true
	}
	if p.exempt != nil {
		if h, _ := p.exempt.Handler(r); h == exemptSentinel {
			return true
		}
	}
	if router != nil {
		if h, _ := router.Handler(r); h != nil {
			if _, ok := h.(*exemptHandler); ok {
				return true
			}
		}
	}
	return false
}

func (p *Protector) check(r *http.Request, st *state) error {
	h := r.Header
	if sfs, ok := h[hdrSecFetchSite]; ok {
		if len(sfs) == 1 && (sfs[0] == "same-origin" || sfs[0] == "none") {
			return nil
		}
		if vals := h[hdrOrigin]; len(vals) == 1 {
			if o, ok := parseOrigin(vals[0]); ok && p.isTrusted(&o) {
				return nil
			}
		}
		return fail(ErrCrossSite, "Sec-Fetch-Site checking failed - "+printable(strings.Join(sfs, ", "))+" request from an untrusted origin.")
	}
	info := clientip.FromRequest(r)
	if vals, ok := h[hdrOrigin]; ok {
		if len(vals) != 1 {
			return badOrigin(strings.Join(vals, ", "))
		}
		if o, ok := parseOrigin(vals[0]); ok && (sameOrigin(&o, &info) || p.isTrusted(&o)) {
			return nil
		}
		return badOrigin(vals[0])
	}
	if info.Secure() {
		if err := p.checkReferer(h, &info); err != nil {
			return err
		}
	}
	return p.checkToken(r, st, info.Secure())
}

func (p *Protector) isTrusted(o *origin) bool {
	for i := range p.trusted {
		if p.trusted[i].matches(o) {
			return true
		}
	}
	return false
}

// sameOrigin compares o with the origin the client addressed, as resolved by clientip.
func sameOrigin(o *origin, info *clientip.Info) bool {
	if o.scheme != info.Scheme {
		return false
	}
	host, port, ok := parseAuthority(info.Host, false)
	return ok && o.host == host && o.port == stripDefaultPort(info.Scheme, port)
}

// checkReferer is Django's strict Referer check for HTTPS requests without Origin: it stops
// a man-in-the-middle who can plant a cookie over HTTP from posting over HTTPS. Unlike
// Django, a trusted origin only matches with its own scheme (so an http:// entry never
// vouches for an https Referer) and userinfo in the Referer is malformed.
func (p *Protector) checkReferer(h http.Header, info *clientip.Info) error {
	vals, ok := h[hdrReferer]
	if !ok {
		return fail(ErrNoReferer, ErrNoReferer.Error())
	}
	if len(vals) != 1 {
		return fail(ErrMalformedReferer, ErrMalformedReferer.Error())
	}
	if o, ok := fastReferer(vals[0]); ok {
		if sameOrigin(&o, info) || p.isTrusted(&o) {
			return nil
		}
		return badReferer(vals[0])
	}
	u, err := url.Parse(vals[0])
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil {
		return fail(ErrMalformedReferer, ErrMalformedReferer.Error())
	}
	if u.Scheme != "https" {
		return fail(ErrInsecureReferer, ErrInsecureReferer.Error())
	}
	host, port, ok := parseAuthority(u.Host, false)
	if !ok {
		return fail(ErrMalformedReferer, ErrMalformedReferer.Error())
	}
	o := origin{scheme: "https", host: host, port: stripDefaultPort("https", port)}
	if sameOrigin(&o, info) || p.isTrusted(&o) {
		return nil
	}
	return badReferer(vals[0])
}

// fastReferer parses the common Referer, "https://host[:port]" followed by a path, query or
// fragment, without url.Parse's allocation. It answers only when url.Parse would accept the
// value and yield the same origin: a lower-case "https://" prefix, an authority that
// parseAuthority accepts (which excludes userinfo and escapes), and a tail without control
// characters (url.Parse rejects them) or '%' (an escape url.Parse might reject). Anything
// else returns false and goes through url.Parse, so verdicts are unchanged.
func fastReferer(s string) (origin, bool) {
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		return origin{}, false
	}
	auth, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		auth, tail = rest[:i], rest[i:]
	}
	for i := 0; i < len(tail); i++ {
		if c := tail[i]; c < 0x20 || c == 0x7f || c == '%' {
			return origin{}, false
		}
	}
	host, port, ok := parseAuthority(auth, false)
	if !ok {
		return origin{}, false
	}
	return origin{scheme: "https", host: host, port: stripDefaultPort("https", port)}, true
}

func (p *Protector) checkToken(r *http.Request, st *state, secure bool) error {
	secret, ok := st.loadWith(r, secure)
	if !ok {
		return fail(ErrNoCSRFCookie, ErrNoCSRFCookie.Error())
	}
	// 32 characters, or 64 for the masked cookies Django wrote before 4.1 (accepted as
	// Django 4.1+ accepts them, so a site moving from Django keeps its visitors' cookies).
	if err := checkFormat(secret); err != nil {
		return formatFailure("CSRF cookie", err)
	}
	token, header := p.requestToken(r)
	if token == "" {
		return fail(ErrCSRFTokenMissing, ErrCSRFTokenMissing.Error())
	}
	if err := checkFormat(token); err != nil {
		return formatFailure(tokenSource(header), err)
	}
	var want [secretLength]byte
	storedSecret(&want, secret)
	if !tokenMatchesSecret(token, &want) {
		return tokenIncorrect(header)
	}
	return nil
}

// requestToken returns the submitted token and the header it came from ("" for the form).
// Headers are read first so the body is only parsed when no header carries a token; the
// query string is never read (tokens in URLs leak through logs and Referer).
func (p *Protector) requestToken(r *http.Request) (token, header string) {
	if p.header != "" {
		if v := r.Header[p.header]; len(v) > 0 && v[0] != "" {
			return v[0], p.headerName
		}
	}
	if v := r.Header[hdrToken]; len(v) > 0 && v[0] != "" {
		return v[0], HeaderName
	}
	if v := r.Header[hdrDjangoToken]; len(v) > 0 && v[0] != "" {
		return v[0], DjangoHeader
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return "", ""
	}
	// A body that cannot be read counts as a form without a token (as Django treats
	// UnreadablePostError), which then fails as "CSRF token missing.".
	if ct := r.Header.Get("Content-Type"); len(ct) >= 19 && strings.EqualFold(ct[:19], "multipart/form-data") {
		_ = r.ParseMultipartForm(maxMemory)
	} else {
		_ = r.ParseForm()
	}
	if p.fieldName != FieldName && p.fieldName != DjangoFieldName {
		if v := r.PostForm.Get(p.fieldName); v != "" {
			return v, ""
		}
	}
	if v := r.PostForm.Get(FieldName); v != "" {
		return v, ""
	}
	return r.PostForm.Get(DjangoFieldName), ""
}

// loadWith asks the store once per request. secure is clientip.FromRequest(r).Secure(),
// which the caller already has: the default CookieStore reuses it rather than resolving the
// request a second time (without a clientip middleware in front, resolving was a third of the
// token path).
func (st *state) loadWith(r *http.Request, secure bool) (string, bool) {
	if !st.loaded {
		// Exactly *CookieStore: a type embedding it may override CSRFSecret.
		if cs, ok := st.p.store.(*CookieStore); ok {
			st.secret, st.found = cs.secret(r, secure)
		} else {
			st.secret, st.found = st.p.store.CSRFSecret(r)
		}
		st.loaded = true
	}
	return st.secret, st.found
}

// ensure returns a valid secret, creating and storing one when there is none or the stored
// one is malformed (Django replaces bad cookies the same way). A masked secret (a Django <
// 4.1 cookie) is unmasked and stored bare, as Django 4.1+ does, while the response can
// still carry the cookie.
func (st *state) ensure(r *http.Request) (string, error) {
	// Resolved once for both the look-up and the new cookie.
	secure := clientip.SecureFromRequest(r)
	s, ok := st.loadWith(r, secure)
	if ok && validSecret(s) {
		st.ready = true
		return s, nil
	}
	if ok && len(s) == tokenLength && checkFormat(s) == nil {
		var b [secretLength]byte
		unmask(&b, s)
		bare := string(b[:])
		if !st.started {
			if err := st.p.store.SetCSRFSecret(st.rw.ResponseWriter, r, bare); err != nil {
				return "", err
			}
			st.secret = bare
		}
		st.ready = true
		return bare, nil
	}
	if st.started && st.p.cookies != nil {
		return "", ErrResponseStarted
	}
	s, err := st.rotateWith(st.rw.ResponseWriter, r, &secure)
	st.ready = err == nil
	return s, err
}

func (st *state) rotate(w http.ResponseWriter, r *http.Request) (string, error) {
	if st.started && st.p.cookies != nil {
		return "", ErrResponseStarted
	}
	s, err := st.rotateWith(w, r, nil)
	if err == nil {
		st.ready = true
	}
	return s, err
}

// rotateWith is rotate with clientip.FromRequest(r).Secure() when the caller has it (nil
// to resolve it).
func (st *state) rotateWith(w http.ResponseWriter, r *http.Request, secure *bool) (string, error) {
	var s string
	var err error
	// Exactly *CookieStore: a type embedding it may override SetCSRFSecret.
	if cs, ok := st.p.store.(*CookieStore); ok {
		if secure == nil {
			sec := clientip.SecureFromRequest(r)
			secure = &sec
		}
		s, err = cs.issue(w, *secure)
	} else {
		s = newSecret()
		err = st.p.store.SetCSRFSecret(w, r, s)
	}
	if err != nil {
		return "", err
	}
	st.secret, st.found, st.loaded = s, true, true
	return s, nil
}

func (p *Protector) reject(w http.ResponseWriter, r *http.Request, st *state, err error) {
	st.reason = err
	if !p.quiet {
		logger := p.logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.LogAttrs(r.Context(), slog.LevelWarn, logLine(err, r.URL.Path),
			slog.String("logger", "rampart.csrf"), slog.Int("status", http.StatusForbidden))
	}
	p.onFailure(w, r, err)
}

const failurePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>403 Forbidden</title></head>
<body><h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p></body></html>
`

// defaultFailure never reveals the reason: it is logged, and the client learns nothing
// that would help it adjust a forged request.
func defaultFailure(w http.ResponseWriter, _ *http.Request, _ error) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, failurePage)
}

// FailureReason returns the reason the request was rejected, for use inside
// Options.OnFailure; nil when the request was not rejected.
func FailureReason(r *http.Request) error {
	if st := stateFrom(r); st != nil {
		return st.reason
	}
	return nil
}

type exemptKey struct{}

type exemptHandler struct{ next http.Handler }

func (e *exemptHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exemptKey{}, true)))
}

// Exempt marks h as not needing CSRF protection (Django's csrf_exempt), for webhooks and
// other endpoints authenticated by other means. The middleware honours it when h is
// registered on the Router (by default the wrapped *http.ServeMux) and the router sends
// this very request to it, or when Exempt wraps the middleware's handler directly, or
// when Exempt runs before a nested csrf middleware. Clients cannot set the mark.
func Exempt(h http.Handler) http.Handler { return &exemptHandler{next: h} }

// ErrNotProtected is returned by Rotate for a request that did not pass through the middleware.
var ErrNotProtected = errors.New("csrf: request did not pass through the csrf middleware")

// ErrResponseStarted reports a token asked for (or a secret rotated) after the response
// header was sent, for a client that has no CSRF cookie yet: the cookie its form needs can
// no longer be set, so every POST of that form would fail with "CSRF cookie not set.".
// Streaming an HTML page through a template works (the middleware holds the page's first
// MaxHeldBytes until it is complete or a token has been issued); this happens when more
// than that was written, or the response was flushed or is not HTML, before the token
// was asked for. Call Token before writing, or render the page into a buffer first.
var ErrResponseStarted = errors.New("csrf: token requested after the response header was sent; " +
	"the new CSRF cookie cannot be set (call csrf.Token before writing the response)")

// Token returns a freshly masked token for the request's secret, creating and storing the
// secret on first use (so pages without forms set no cookie). A new secret is stored through
// the ResponseWriter, which the middleware holds back while an HTML page is being written
// (see MaxHeldBytes), so a template may call it while streaming. It returns "" when the
// request did not pass through the middleware, when the cookie can no longer be set
// (ErrResponseStarted) or when the store failed; the last two are logged at Error level and
// make the form fail closed. FuncMap's functions report them as template errors instead.
// Not safe for concurrent use within one request.
func Token(r *http.Request) string {
	t, _ := token(r)
	return t
}

// token is Token with the error; errors are logged here.
func token(r *http.Request) (string, error) {
	st := stateFrom(r)
	if st == nil {
		return "", ErrNotProtected
	}
	s, err := st.ensure(r)
	if err != nil {
		logger := st.p.logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.LogAttrs(r.Context(), slog.LevelError, "csrf: storing secret failed: "+err.Error(),
			slog.String("logger", "rampart.csrf"), slog.String("path", printable(r.URL.Path)))
		return "", err
	}
	return maskSecret(s), nil
}

// Rotate replaces the request's secret with a new one, invalidating every token issued
// before; call it on login (Django's rotate_token) so a token planted before
// authentication is useless after it. With the cookie store it must run before the response
// header is sent (ErrResponseStarted otherwise, and the secret is unchanged).
func Rotate(w http.ResponseWriter, r *http.Request) error {
	st := stateFrom(r)
	if st == nil {
		return ErrNotProtected
	}
	_, err := st.rotate(w, r)
	return err
}

// TemplateField renders the hidden form input carrying a fresh token, named Options.FieldName.
func TemplateField(r *http.Request) template.HTML {
	f, _ := templateField(r)
	return f
}

func templateField(r *http.Request) (template.HTML, error) {
	name := FieldName
	if st := stateFrom(r); st != nil {
		name = st.p.fieldName
	}
	t, err := token(r)
	// The token is [a-zA-Z0-9]* by construction and the name is checked by New, so neither
	// needs escaping.
	return template.HTML(`<input type="hidden" name="` + name + `" value="` + t + `">`), err
}

// FuncMap returns template functions taking the request: {{ csrfField .Request }} renders
// the hidden input, {{ csrfToken .Request }} the bare token (for a meta tag or JS header).
// Unlike TemplateField and Token, they fail the template's execution when no token can be
// issued (ErrResponseStarted, a store failure, a request that did not pass through the
// middleware), so a form that could never be submitted is not rendered silently.
func FuncMap() template.FuncMap {
	return template.FuncMap{
		"csrfField": templateField,
		"csrfToken": token,
	}
}
