package csrf

import (
	"bytes"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/clientip"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "ok")
})

// newReq builds a request; an https:// target makes r.TLS non-nil, so clientip resolves
// the scheme as https. Header values "" mean "present but empty".
func newReq(method, target string, hdr map[string]string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	for k, v := range hdr {
		r.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	return r
}

// quietLogger drops the Warn lines of expected rejections.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

type result struct {
	status int
	reason error
	rec    *httptest.ResponseRecorder
}

// run serves r through the middleware built from opts, capturing the failure reason.
func run(t *testing.T, opts Options, next http.Handler, r *http.Request) result {
	t.Helper()
	var res result
	if opts.OnFailure == nil {
		opts.OnFailure = func(w http.ResponseWriter, r *http.Request, reason error) {
			res.reason = reason
			if FailureReason(r) != reason {
				t.Errorf("FailureReason(r) = %v, want %v", FailureReason(r), reason)
			}
			defaultFailure(w, r, reason)
		}
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if next == nil {
		next = okHandler
	}
	rec := httptest.NewRecorder()
	p.Middleware(next).ServeHTTP(rec, r)
	res.status, res.rec = rec.Code, rec
	if (res.status == http.StatusForbidden) != (res.reason != nil) {
		t.Errorf("status %d but reason %v", res.status, res.reason)
	}
	return res
}

func withCookie(r *http.Request, name, value string) *http.Request {
	r.AddCookie(&http.Cookie{Name: name, Value: value})
	return r
}

// Every row of go-net-http-crossoriginprotection-cases.tsv. Go's own CrossOriginProtection
// runs beside ours as an oracle.
func TestGoCrossOriginProtectionCorpus(t *testing.T) {
	rows := readTSV(t, "go-net-http-crossoriginprotection-cases.tsv")
	if len(rows) != 26 {
		t.Fatalf("read %d rows, want 26", len(rows))
	}
	// Where rampart answers differently on purpose.
	differ := map[string]struct {
		status int
		why    string
	}{
		"no header with no origin": {403, "Go fails open without Sec-Fetch-Site and Origin; rampart falls back " +
			"to Django's checks, and this HTTPS request has no Referer and no token"},
		"path cleaned to bypass (..)":        {403, "CVE-2025-47910: a path the mux redirects to an exempt route is not exempt"},
		"bypass path without trailing slash": {403, "CVE-2025-47910: a path the mux redirects to an exempt route is not exempt"},
	}
	// The corpus predates Go's CVE-2025-47910 fix; today's stdlib answers 403 there.
	stdlibFixed := map[string]bool{"path cleaned to bypass (..)": true, "bypass path without trailing slash": true}
	for _, row := range rows {
		name, method, path, sfs, origin, config := row[0], row[1], row[2], row[3], row[4], row[5]
		want := 403
		if row[6] == "200" {
			want = 200
		}
		t.Run(name, func(t *testing.T) {
			mk := func() *http.Request {
				r := httptest.NewRequest(method, "https://example.com"+path, nil)
				if sfs != "" {
					r.Header.Set("Sec-Fetch-Site", sfs)
				}
				if origin != "" {
					r.Header.Set("Origin", origin)
				}
				return r
			}
			var opts Options
			cop := http.NewCrossOriginProtection()
			switch {
			case strings.HasPrefix(config, "trusted="):
				opts.TrustedOrigins = []string{strings.TrimPrefix(config, "trusted=")}
				if err := cop.AddTrustedOrigin(opts.TrustedOrigins[0]); err != nil {
					t.Fatal(err)
				}
			case strings.HasPrefix(config, "bypass="):
				opts.ExemptPaths = strings.Split(strings.TrimPrefix(config, "bypass="), ",")
				for _, p := range opts.ExemptPaths {
					cop.AddInsecureBypassPattern(p)
				}
			}
			ours := want
			if d, ok := differ[name]; ok {
				ours = d.status
				t.Logf("differs from Go on purpose: %s", d.why)
			}
			if got := run(t, opts, nil, mk()).status; got != ours {
				t.Errorf("rampart: status %d, want %d", got, ours)
			}
			stdWant := want
			if stdlibFixed[name] {
				stdWant = 403
			}
			rec := httptest.NewRecorder()
			cop.Handler(okHandler).ServeHTTP(rec, mk())
			if rec.Code != stdWant {
				t.Errorf("stdlib oracle: status %d, want %d", rec.Code, stdWant)
			}
		})
	}
}

// Cases where Go's CrossOriginProtection (measured, standards.md) accepts and rampart must not.
func TestStricterThanGoStdlib(t *testing.T) {
	tests := []struct {
		name, target, origin string
	}{
		{"scheme downgrade http origin on https site", "https://example.com/", "http://example.com"},
		{"scheme upgrade https origin on http site", "http://example.com/", "https://example.com"},
		{"present but empty origin", "https://example.com/", ""},
		{"origin with trailing slash", "https://example.com/", "https://example.com/"},
		{"origin with userinfo", "https://example.com/", "https://evil.com@example.com"},
		{"origin with other port", "https://example.com/", "https://example.com:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReq("POST", tt.target, map[string]string{"Origin": tt.origin}, nil)
			res := run(t, Options{}, nil, r)
			if res.status != 403 || !errors.Is(res.reason, ErrBadOrigin) {
				t.Fatalf("status %d reason %v, want 403 ErrBadOrigin", res.status, res.reason)
			}
			rec := httptest.NewRecorder()
			http.NewCrossOriginProtection().Handler(okHandler).ServeHTTP(rec, newReq("POST", tt.target, map[string]string{"Origin": tt.origin}, nil))
			t.Logf("Go stdlib answers %d", rec.Code)
		})
	}
}

func TestSafeMethodsPass(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "OPTIONS", "TRACE"} {
		r := newReq(m, "https://example.com/", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, nil)
		if got := run(t, Options{}, nil, r).status; got != 200 {
			t.Errorf("%s: status %d, want 200", m, got)
		}
	}
	// Methods are case-sensitive: "get" is not GET and is checked.
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "get", "PROPFIND"} {
		r := newReq(m, "https://example.com/", map[string]string{"Sec-Fetch-Site": "cross-site"}, nil)
		if got := run(t, Options{}, nil, r).status; got != 403 {
			t.Errorf("%s: status %d, want 403", m, got)
		}
	}
}

func TestSecFetchSite(t *testing.T) {
	trusted := Options{TrustedOrigins: []string{"https://*.example.com", "https://partner.example.net"}}
	tests := []struct {
		name   string
		opts   Options
		hdr    map[string]string
		status int
	}{
		{"same-origin", Options{}, map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"none", Options{}, map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"cross-site", Options{}, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site", Options{}, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example.com"}, 403},
		{"same-site trusted wildcard", trusted, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example.com"}, 200},
		{"cross-site trusted exact", trusted, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://partner.example.net"}, 200},
		{"cross-site trusted wrong scheme", trusted, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://partner.example.net"}, 403},
		{"cross-site claiming own origin", Options{}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://example.com"}, 403},
		{"unknown value", Options{}, map[string]string{"Sec-Fetch-Site": "same-origin-ish"}, 403},
		{"empty value", Options{}, map[string]string{"Sec-Fetch-Site": ""}, 403},
		{"same-origin wins over missing token", Options{}, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://example.com"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.opts, nil, newReq("POST", "https://example.com/", tt.hdr, nil))
			if res.status != tt.status {
				t.Fatalf("status %d (%v), want %d", res.status, res.reason, tt.status)
			}
			if tt.status == 403 && !errors.Is(res.reason, ErrCrossSite) {
				t.Fatalf("reason %v, want ErrCrossSite", res.reason)
			}
		})
	}
	// Two Sec-Fetch-Site headers: not something a browser sends; rejected.
	r := newReq("POST", "https://example.com/", nil, nil)
	r.Header["Sec-Fetch-Site"] = []string{"same-origin", "cross-site"}
	if got := run(t, Options{}, nil, r).status; got != 403 {
		t.Fatalf("duplicate Sec-Fetch-Site: status %d, want 403", got)
	}
}

// Django csrf_tests origin cases (django.md §4.1).
func TestDjangoOriginCases(t *testing.T) {
	tests := []struct {
		name, target, origin string
		trusted              []string
		status               int
		msg                  string
	}{
		{"bad_origin_bad_domain", "http://www.example.com/", "https://www.evil.org", nil, 403,
			"Origin checking failed - https://www.evil.org does not match any trusted origins."},
		{"bad_origin_null_origin", "http://www.example.com/", "null", nil, 403,
			"Origin checking failed - null does not match any trusted origins."},
		{"bad_origin_bad_protocol", "https://www.example.com/", "http://www.example.com", nil, 403,
			"Origin checking failed - http://www.example.com does not match any trusted origins."},
		{"bad_origin_csrf_trusted_origin_bad_protocol", "https://www.example.com/", "http://foo.example.com",
			[]string{"http://no-match.com", "https://*.example.com", "http://*.no-match.com", "http://*.no-match-2.com"}, 403,
			"Origin checking failed - http://foo.example.com does not match any trusted origins."},
		{"bad_origin_cannot_be_parsed", "https://www.example.com/", "https://[", nil, 403,
			"Origin checking failed - https://[ does not match any trusted origins."},
		{"good_origin_insecure", "http://www.example.com/", "http://www.example.com", nil, 200, ""},
		{"good_origin_secure", "https://www.example.com/", "https://www.example.com", nil, 200, ""},
		{"good_origin_csrf_trusted_origin_allowed", "https://www.example.com/", "https://dashboard.example.com",
			[]string{"https://dashboard.example.com"}, 200, ""},
		{"good_origin_wildcard_csrf_trusted_origin_allowed", "https://www.example.com/", "https://foo.example.com",
			[]string{"https://*.example.com"}, 200, ""},
		{"own origin with explicit default port", "https://www.example.com:443/", "https://www.example.com", nil, 200, ""},
		{"own origin non-default port", "http://localhost:8000/", "http://localhost:8000", nil, 200, ""},
		{"own origin ipv6", "http://[::1]:8000/", "http://[::1]:8000", nil, 200, ""},
		{"log injection is escaped", "http://www.example.com/", "https://a\nb", nil, 403,
			`Origin checking failed - https://a\nb does not match any trusted origins.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReq("POST", tt.target, map[string]string{"Origin": tt.origin}, nil)
			res := run(t, Options{TrustedOrigins: tt.trusted}, nil, r)
			if res.status != tt.status {
				t.Fatalf("status %d (%v), want %d", res.status, res.reason, tt.status)
			}
			if tt.msg != "" {
				if !errors.Is(res.reason, ErrBadOrigin) || res.reason.Error() != tt.msg {
					t.Fatalf("reason %q, want %q (ErrBadOrigin)", res.reason, tt.msg)
				}
			}
		})
	}
	// Two Origin headers.
	r := newReq("POST", "http://www.example.com/", nil, nil)
	r.Header["Origin"] = []string{"http://www.example.com", "http://www.example.com"}
	if res := run(t, Options{}, nil, r); !errors.Is(res.reason, ErrBadOrigin) {
		t.Fatalf("two Origin headers: %v, want ErrBadOrigin", res.reason)
	}
}

// Scheme and host come from clientip, so X-Forwarded-Proto counts only from a trusted proxy.
func TestOriginUsesClientIP(t *testing.T) {
	proxy := &clientip.Resolver{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	mw := protect(Options{Logger: quietLogger})
	h := proxy.Middleware(mw(okHandler))
	tests := []struct {
		remote string
		status int
	}{
		{"10.0.0.2:4000", 200},    // trusted proxy says https
		{"203.0.113.9:4000", 403}, // a client saying so is ignored: http vs https origin
	}
	for _, tt := range tests {
		r := newReq("POST", "http://10.0.0.2:8080/", map[string]string{
			"Origin": "https://www.example.com", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "www.example.com",
		}, nil)
		r.RemoteAddr = tt.remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tt.status {
			t.Errorf("peer %s: status %d, want %d", tt.remote, rec.Code, tt.status)
		}
	}
}

// Django's Referer checks for HTTPS requests without Origin (test_https_*).
func TestDjangoRefererCases(t *testing.T) {
	valid := maskSecret(testSecret)
	tests := []struct {
		name, host, referer string
		noReferer           bool
		trusted             []string
		status              int
		kind                error
		msg                 string
	}{
		{name: "https_bad_referer", referer: "https://www.evil.org/somepage", status: 403, kind: ErrBadReferer,
			msg: "Referer checking failed - https://www.evil.org/somepage does not match any trusted origins."},
		{name: "https_no_referer", noReferer: true, status: 403, kind: ErrNoReferer, msg: "Referer checking failed - no Referer."},
		{name: "insecure http://http://", referer: "http://http://www.example.com/", status: 403, kind: ErrInsecureReferer,
			msg: "Referer checking failed - Referer is insecure while host is secure."},
		{name: "reject_insecure_referer", referer: "http://www.example.com/", status: 403, kind: ErrInsecureReferer},
		{name: "malformed empty", referer: "", status: 403, kind: ErrMalformedReferer, msg: "Referer checking failed - Referer is malformed."},
		{name: "malformed non-ascii", referer: "ØBöIß", status: 403, kind: ErrMalformedReferer},
		{name: "malformed scheme-relative", referer: "//example.com/", status: 403, kind: ErrMalformedReferer},
		{name: "malformed no host", referer: "https://", status: 403, kind: ErrMalformedReferer},
		{name: "malformed bracket", referer: "https://[", status: 403, kind: ErrMalformedReferer},
		{name: "malformed userinfo", referer: "https://www.example.com@evil.org/", status: 403, kind: ErrMalformedReferer},
		{name: "https_good_referer", referer: "https://www.example.com/somepage", status: 200},
		{name: "https_good_referer_2", referer: "https://www.example.com", status: 200},
		{name: "good referer explicit 443", referer: "https://www.example.com:443/x", status: 200},
		{name: "referer other port", referer: "https://www.example.com:4443/x", status: 403, kind: ErrBadReferer},
		{name: "https_csrf_trusted_origin_allowed", referer: "https://dashboard.example.com", trusted: []string{"https://dashboard.example.com"}, status: 200},
		{name: "https_csrf_wildcard_trusted_origin_allowed", referer: "https://foo.example.com", trusted: []string{"https://*.example.com"}, status: 200},
		{name: "https_good_referer_malformed_host", host: "@malformed", referer: "https://dashboard.example.com", trusted: []string{"https://dashboard.example.com"}, status: 200},
		{name: "https_malformed_host", host: "@malformed", referer: "https://www.evil.org/somepage", status: 403, kind: ErrBadReferer},
		{name: "trusted http entry does not vouch for https referer", referer: "https://dashboard.example.com", trusted: []string{"http://dashboard.example.com"}, status: 403, kind: ErrBadReferer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReq("POST", "https://www.example.com/", map[string]string{"X-CSRFToken": valid}, nil)
			if tt.host != "" {
				r.Host = tt.host
			}
			if !tt.noReferer {
				r.Header["Referer"] = []string{tt.referer}
			}
			withCookie(r, SecureCookieName, testSecret)
			res := run(t, Options{TrustedOrigins: tt.trusted}, nil, r)
			if res.status != tt.status {
				t.Fatalf("status %d (%v), want %d", res.status, res.reason, tt.status)
			}
			if tt.kind != nil && !errors.Is(res.reason, tt.kind) {
				t.Fatalf("reason %v, want %v", res.reason, tt.kind)
			}
			if tt.msg != "" && res.reason.Error() != tt.msg {
				t.Fatalf("message %q, want %q", res.reason, tt.msg)
			}
		})
	}
}

func formBody(vals url.Values) (io.Reader, string) {
	return strings.NewReader(vals.Encode()), "application/x-www-form-urlencoded"
}

// Django's token checks (test_csrf_cookie_bad_or_missing_token, masked/unmasked combinations,
// custom header name, bad cookies). Plain HTTP, so no Referer is needed.
func TestDjangoTokenCases(t *testing.T) {
	tests := []struct {
		name     string
		cookie   string // "-" for none
		field    string // form field csrf_token; "" for none
		djField  string // csrfmiddlewaretoken
		header   string // X-CSRF-Token
		djHeader string // X-CSRFToken
		status   int
		kind     error
		msg      string
	}{
		{name: "no_csrf_cookie", cookie: "-", field: maskedTestSecret1, status: 403, kind: ErrNoCSRFCookie, msg: "CSRF cookie not set."},
		{name: "token missing", cookie: testSecret, status: 403, kind: ErrCSRFTokenMissing, msg: "CSRF token missing."},
		{name: "post short", cookie: testSecret, field: "a", status: 403, kind: ErrIncorrectLength, msg: "CSRF token from POST has incorrect length."},
		{name: "post invalid chars", cookie: testSecret, field: strings.Repeat("*", 64), status: 403, kind: ErrInvalidCharacters, msg: "CSRF token from POST has invalid characters."},
		{name: "post incorrect", cookie: testSecret, field: strings.Repeat("a", 64), status: 403, kind: ErrCSRFTokenIncorrect, msg: "CSRF token from POST incorrect."},
		{name: "header short", cookie: testSecret, header: "a", status: 403, kind: ErrIncorrectLength, msg: "CSRF token from the 'X-CSRF-Token' HTTP header has incorrect length."},
		{name: "header invalid chars", cookie: testSecret, header: strings.Repeat("*", 64), status: 403, kind: ErrInvalidCharacters, msg: "CSRF token from the 'X-CSRF-Token' HTTP header has invalid characters."},
		{name: "header incorrect", cookie: testSecret, header: strings.Repeat("a", 64), status: 403, kind: ErrCSRFTokenIncorrect, msg: "CSRF token from the 'X-CSRF-Token' HTTP header incorrect."},
		{name: "django header incorrect", cookie: testSecret, djHeader: strings.Repeat("a", 32), status: 403, kind: ErrCSRFTokenIncorrect, msg: "CSRF token from the 'X-CSRFToken' HTTP header incorrect."},
		{name: "bad cookie characters", cookie: strings.Repeat("*", 32), field: maskedTestSecret1, status: 403, kind: ErrInvalidCharacters, msg: "CSRF cookie has invalid characters."},
		{name: "bad cookie length", cookie: strings.Repeat("a", 16), field: maskedTestSecret1, status: 403, kind: ErrIncorrectLength, msg: "CSRF cookie has incorrect length."},
		{name: "too long cookie", cookie: strings.Repeat("a", 100000), field: maskedTestSecret1, status: 403, kind: ErrIncorrectLength},
		// Django < 4.1 wrote masked cookies; they are accepted as Django 4.1+ accepts them.
		{name: "masked cookie, masked token", cookie: maskedTestSecret1, field: maskedTestSecret2, status: 200},
		{name: "masked cookie, bare token", cookie: maskedTestSecret1, djHeader: testSecret, status: 200},
		{name: "masked cookie, other token", cookie: maskedTestSecret1, field: strings.Repeat("a", 64), status: 403, kind: ErrCSRFTokenIncorrect, msg: "CSRF token from POST incorrect."},
		{name: "post masked 1", cookie: testSecret, field: maskedTestSecret1, status: 200},
		{name: "post masked 2", cookie: testSecret, field: maskedTestSecret2, status: 200},
		{name: "post bare secret", cookie: testSecret, field: testSecret, status: 200},
		{name: "post django field", cookie: testSecret, djField: maskedTestSecret1, status: 200},
		{name: "header masked", cookie: testSecret, header: maskedTestSecret2, status: 200},
		{name: "header bare", cookie: testSecret, header: testSecret, status: 200},
		{name: "django header masked", cookie: testSecret, djHeader: maskedTestSecret1, status: 200},
		{name: "header checked before form", cookie: testSecret, header: strings.Repeat("a", 64), field: maskedTestSecret1, status: 403, kind: ErrCSRFTokenIncorrect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := url.Values{}
			if tt.field != "" {
				vals.Set(FieldName, tt.field)
			}
			if tt.djField != "" {
				vals.Set(DjangoFieldName, tt.djField)
			}
			body, ct := formBody(vals)
			r := newReq("POST", "http://www.example.com/", map[string]string{"Content-Type": ct}, body)
			if tt.header != "" {
				r.Header.Set(HeaderName, tt.header)
			}
			if tt.djHeader != "" {
				r.Header.Set(DjangoHeader, tt.djHeader)
			}
			if tt.cookie != "-" {
				withCookie(r, InsecureCookieName, tt.cookie)
			}
			res := run(t, Options{}, nil, r)
			if res.status != tt.status {
				t.Fatalf("status %d (%v), want %d", res.status, res.reason, tt.status)
			}
			if tt.kind != nil && !errors.Is(res.reason, tt.kind) {
				t.Fatalf("reason %v, want %v", res.reason, tt.kind)
			}
			if tt.msg != "" && res.reason.Error() != tt.msg {
				t.Fatalf("message %q, want %q", res.reason, tt.msg)
			}
		})
	}
}

func TestTokenSourcesAndMethods(t *testing.T) {
	// Query-string tokens are never read.
	r := newReq("POST", "http://www.example.com/?csrf_token="+maskedTestSecret1, nil, nil)
	withCookie(r, InsecureCookieName, testSecret)
	if res := run(t, Options{}, nil, r); !errors.Is(res.reason, ErrCSRFTokenMissing) {
		t.Errorf("query token: %v, want ErrCSRFTokenMissing", res.reason)
	}
	// Multipart forms.
	var buf bytes.Buffer
	mp := multipart.NewWriter(&buf)
	_ = mp.WriteField(FieldName, maskedTestSecret1)
	_ = mp.Close()
	r = newReq("POST", "http://www.example.com/", map[string]string{"Content-Type": mp.FormDataContentType()}, &buf)
	withCookie(r, InsecureCookieName, testSecret)
	var seen string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.FormValue(FieldName) })
	if res := run(t, Options{}, next, r); res.status != 200 {
		t.Errorf("multipart: status %d (%v)", res.status, res.reason)
	}
	if seen != maskedTestSecret1 {
		t.Errorf("handler saw form value %q: the parsed form must reach it", seen)
	}
	// PUT and DELETE (test_put_and_delete_rejected / _allowed).
	for _, m := range []string{"PUT", "DELETE"} {
		r := withCookie(newReq(m, "http://www.example.com/", nil, nil), InsecureCookieName, testSecret)
		if res := run(t, Options{}, nil, r); !errors.Is(res.reason, ErrCSRFTokenMissing) {
			t.Errorf("%s without token: %v", m, res.reason)
		}
		r = withCookie(newReq(m, "http://www.example.com/", map[string]string{"X-CSRFToken": maskedTestSecret1}, nil), InsecureCookieName, testSecret)
		if res := run(t, Options{}, nil, r); res.status != 200 {
			t.Errorf("%s with token: status %d (%v)", m, res.status, res.reason)
		}
	}
	// Over HTTPS only the __Host- cookie counts: a plain csrftoken cookie could have been
	// tossed in by a sibling subdomain or over HTTP.
	r = newReq("POST", "https://www.example.com/", map[string]string{"Referer": "https://www.example.com/", "X-CSRF-Token": maskedTestSecret1}, nil)
	withCookie(r, InsecureCookieName, testSecret)
	if res := run(t, Options{}, nil, r); !errors.Is(res.reason, ErrNoCSRFCookie) {
		t.Errorf("https with non-prefixed cookie: %v, want ErrNoCSRFCookie", res.reason)
	}
}

// A full browser-less round trip with the cookie store: GET issues cookie + token, POST uses them.
func TestCookieStoreRoundTrip(t *testing.T) {
	mw := protect(Options{Logger: quietLogger})
	var token string
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			token = Token(r)
			if t2 := Token(r); t2 == token {
				t.Error("two Token calls returned the same masked token")
			}
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newReq("GET", "https://www.example.com/form", nil, nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("GET set %d cookies, want 1 (secret created once per request)", len(cookies))
	}
	ck := cookies[0]
	if ck.Name != SecureCookieName || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" ||
		ck.Domain != "" || ck.MaxAge != 31449600 || !validSecret(ck.Value) {
		t.Fatalf("cookie %+v: want __Host-csrftoken, Secure, HttpOnly, Lax, Path=/, no Domain, Max-Age 31449600, 32-char secret", ck)
	}
	if rec.Header().Get("Vary") != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", rec.Header().Get("Vary"))
	}
	if len(token) != 64 || unmaskString(token) != ck.Value {
		t.Fatalf("token %q does not carry the cookie secret", token)
	}
	post := func(cookie, tok string) int {
		r := newReq("POST", "https://www.example.com/form", map[string]string{"Referer": "https://www.example.com/form", "X-CSRF-Token": tok}, nil)
		withCookie(r, SecureCookieName, cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	if got := post(ck.Value, token); got != 200 {
		t.Fatalf("POST with issued token: %d", got)
	}
	// A token issued to another client (another cookie) is rejected.
	if got := post(newSecret(), token); got != 403 {
		t.Fatalf("POST with another client's secret: %d, want 403", got)
	}

	// A GET that does not use the token sets no cookie (pages stay cacheable).
	rec = httptest.NewRecorder()
	h2 := mw(okHandler)
	h2.ServeHTTP(rec, newReq("GET", "https://www.example.com/", nil, nil))
	if len(rec.Result().Cookies()) != 0 {
		t.Fatal("cookie set although no token was used")
	}

	// Plain HTTP (development): unprefixed, not Secure.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, newReq("GET", "http://localhost:8000/form", nil, nil))
	ck = rec.Result().Cookies()[0]
	if ck.Name != InsecureCookieName || ck.Secure || !ck.HttpOnly {
		t.Fatalf("http cookie %+v", ck)
	}
}

func TestCookieStoreExistingAndBadCookies(t *testing.T) {
	mw := protect(Options{Logger: quietLogger})
	var token string
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { token = Token(r) }))
	// valid secret: not replaced, token carries it.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, withCookie(newReq("GET", "https://www.example.com/", nil, nil), SecureCookieName, testSecret))
	if len(rec.Result().Cookies()) != 0 || unmaskString(token) != testSecret {
		t.Fatalf("valid secret: cookies %v token %q", rec.Result().Cookies(), token)
	}
	// invalid cookies are replaced on GET (test_invalid_cookie_replaced_on_GET, token_too_long).
	for _, bad := range []string{strings.Repeat("a", 100000), strings.Repeat("*", 32), maskedTestSecret1} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, withCookie(newReq("GET", "https://www.example.com/", nil, nil), SecureCookieName, bad))
		cks := rec.Result().Cookies()
		if len(cks) != 1 || !validSecret(cks[0].Value) || unmaskString(token) != cks[0].Value {
			t.Fatalf("bad cookie %.20q not replaced: %v", bad, cks)
		}
	}
	// MaxAge options.
	for _, tt := range []struct {
		store  *CookieStore
		maxAge int
	}{{&CookieStore{MaxAge: -1}, 0}, {&CookieStore{MaxAge: 123e9}, 123}} {
		h := protect(Options{Store: tt.store})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Token(r) }))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newReq("GET", "https://www.example.com/", nil, nil))
		if got := rec.Result().Cookies()[0].MaxAge; got != tt.maxAge {
			t.Errorf("MaxAge %v: cookie Max-Age %d, want %d", tt.store.MaxAge, got, tt.maxAge)
		}
	}
}

// memSessions is a SecretStore keyed by a session cookie, standing in for the session package.
type memSessions struct {
	m       map[string]string
	failSet bool
}

func (s *memSessions) CSRFSecret(r *http.Request) (string, bool) {
	c, err := r.Cookie("sid")
	if err != nil {
		return "", false
	}
	v, ok := s.m[c.Value]
	return v, ok
}

func (s *memSessions) SetCSRFSecret(w http.ResponseWriter, r *http.Request, secret string) error {
	c, err := r.Cookie("sid")
	if err != nil || s.failSet {
		return errors.New("no session")
	}
	s.m[c.Value] = secret
	return nil
}

func TestSessionStoreAndRotation(t *testing.T) {
	store := &memSessions{m: map[string]string{}}
	mw := protect(Options{Store: store, Logger: quietLogger})
	tokens := map[string]string{}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid, _ := r.Cookie("sid")
		switch r.URL.Path {
		case "/form":
			tokens[sid.Value] = Token(r)
		case "/login":
			before := Token(r)
			if err := Rotate(w, r); err != nil {
				t.Error(err)
			}
			after := Token(r)
			if unmaskString(before) == unmaskString(after) {
				t.Error("Rotate kept the secret")
			}
			tokens[sid.Value+"-old"], tokens[sid.Value] = before, after
		}
	}))
	do := func(method, path, sid, tok string) int {
		r := newReq(method, "http://www.example.com"+path, nil, nil)
		if tok != "" {
			r.Header.Set(HeaderName, tok)
		}
		withCookie(r, "sid", sid)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if len(rec.Result().Cookies()) != 0 {
			t.Error("session store must not set the CSRF cookie")
		}
		return rec.Code
	}
	do("GET", "/form", "A", "")
	do("GET", "/form", "B", "")
	if store.m["A"] == "" || store.m["A"] == store.m["B"] {
		t.Fatalf("secrets not stored per session: %v", store.m)
	}
	if got := do("POST", "/x", "A", tokens["A"]); got != 200 {
		t.Fatalf("own token: %d", got)
	}
	if got := do("POST", "/x", "B", tokens["A"]); got != 403 {
		t.Fatalf("token from another session: %d, want 403", got)
	}
	if got := do("POST", "/login", "A", tokens["A"]); got != 200 {
		t.Fatalf("login POST: %d", got)
	}
	if got := do("POST", "/x", "A", tokens["A-old"]); got != 403 {
		t.Fatalf("token from before rotation: %d, want 403", got)
	}
	if got := do("POST", "/x", "A", tokens["A"]); got != 200 {
		t.Fatalf("token after rotation: %d", got)
	}
	// Store failure: no token is issued, so the form fails closed.
	store.failSet = true
	var tok string
	h2 := protect(Options{Store: store, Logger: quietLogger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tok = Token(r) }))
	h2.ServeHTTP(httptest.NewRecorder(), withCookie(newReq("GET", "http://www.example.com/", nil, nil), "sid", "C"))
	if tok != "" {
		t.Fatalf("Token with failing store = %q, want empty", tok)
	}
}

func TestOutsideMiddleware(t *testing.T) {
	r := newReq("GET", "http://www.example.com/", nil, nil)
	if Token(r) != "" || FailureReason(r) != nil {
		t.Fatal("Token/FailureReason outside the middleware must be empty")
	}
	if err := Rotate(httptest.NewRecorder(), r); !errors.Is(err, ErrNotProtected) {
		t.Fatalf("Rotate outside: %v", err)
	}
	if got := string(TemplateField(r)); got != `<input type="hidden" name="csrf_token" value="">` {
		t.Fatalf("TemplateField outside = %q", got)
	}
}

func TestTemplateFieldAndFuncMap(t *testing.T) {
	tmpl := template.Must(template.New("f").Funcs(FuncMap()).Parse(
		`<form method="post">{{ csrfField . }}</form><meta name="csrf" content="{{ csrfToken . }}">`))
	var out bytes.Buffer
	h := protect(Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := tmpl.Execute(&out, r); err != nil {
			t.Error(err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, withCookie(newReq("GET", "https://www.example.com/", nil, nil), SecureCookieName, testSecret))
	s := out.String()
	const prefix = `<form method="post"><input type="hidden" name="csrf_token" value="`
	if !strings.HasPrefix(s, prefix) {
		t.Fatalf("output %q", s)
	}
	field := s[len(prefix) : len(prefix)+64]
	if unmaskString(field) != testSecret || checkFormat(field) != nil {
		t.Fatalf("field token %q does not carry the secret", field)
	}
	i := strings.Index(s, `content="`)
	meta := s[i+9 : i+9+64]
	if unmaskString(meta) != testSecret || meta == field {
		t.Fatalf("meta token %q: must carry the secret with a fresh mask", meta)
	}
}

func TestFailureHandlingAndLogging(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	h := protect(Options{Logger: logger})(okHandler)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newReq("POST", "http://www.example.com/a%0Ab", nil, nil))
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "CSRF verification failed") ||
		strings.Contains(rec.Body.String(), "cookie") || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("default failure: %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	if !strings.Contains(logs.String(), `Forbidden (CSRF cookie not set.): /a\\nb`) || strings.Count(logs.String(), "\n") != 1 {
		t.Fatalf("log %q: want one escaped Django-style line", logs.String())
	}
	// OnFailureLogs: the failure handler records it, nothing is logged here.
	logs.Reset()
	called := false
	h = protect(Options{Logger: logger, OnFailureLogs: true, OnFailure: func(w http.ResponseWriter, r *http.Request, reason error) {
		called = true
		w.WriteHeader(http.StatusForbidden)
	}})(okHandler)
	h.ServeHTTP(httptest.NewRecorder(), newReq("POST", "http://www.example.com/a", nil, nil))
	if !called || logs.Len() != 0 {
		t.Fatalf("with OnFailureLogs: handler called %v, log %q", called, logs.String())
	}
	// Custom handler.
	var got error
	h = protect(Options{Logger: quietLogger, OnFailure: func(w http.ResponseWriter, r *http.Request, reason error) {
		got = reason
		w.WriteHeader(http.StatusTeapot)
	}})(okHandler)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, newReq("POST", "https://www.example.com/", map[string]string{"Sec-Fetch-Site": "cross-site"}, nil))
	if rec.Code != http.StatusTeapot || !errors.Is(got, ErrCrossSite) {
		t.Fatalf("custom failure: %d %v", rec.Code, got)
	}
}

func TestExemption(t *testing.T) {
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	mux := http.NewServeMux()
	mux.Handle("/hook", Exempt(okHandler))
	mux.Handle("/dir/", Exempt(okHandler))
	mux.Handle("POST /only-post", Exempt(okHandler))
	mux.Handle("/", okHandler)
	tests := []struct {
		method, path string
		status       int
	}{
		{"POST", "/hook", 200},
		{"POST", "/dir/x", 200},
		{"POST", "/only-post", 200},
		{"POST", "/other", 403},
		{"POST", "/hook/", 403},     // routed to "/", not exempt
		{"POST", "/dir", 403},       // mux redirects to /dir/: not exempt (CVE-2025-47910)
		{"POST", "/x/../hook", 403}, // mux redirects to cleaned path: not exempt
		{"PUT", "/only-post", 403},  // method-specific route
	}
	for _, tt := range tests {
		r := newReq(tt.method, "https://example.com"+tt.path, cross, nil)
		if got := run(t, Options{}, mux, r).status; got != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, got, tt.status)
		}
	}
	// Exempt wrapping the protected handler itself, and Exempt before a nested middleware.
	if got := run(t, Options{}, Exempt(okHandler), newReq("POST", "https://example.com/", cross, nil)).status; got != 200 {
		t.Errorf("Exempt(handler) wrapped: %d", got)
	}
	inner := protect(Options{Logger: quietLogger})(okHandler)
	rec := httptest.NewRecorder()
	Exempt(inner).ServeHTTP(rec, newReq("POST", "https://example.com/", cross, nil))
	if rec.Code != 200 {
		t.Errorf("Exempt before nested middleware: %d", rec.Code)
	}
	// Options.Router overrides the wrapped handler.
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mux.ServeHTTP(w, r) })
	if got := run(t, Options{Router: mux}, wrapped, newReq("POST", "https://example.com/hook", cross, nil)).status; got != 200 {
		t.Errorf("Router option: %d", got)
	}
	if got := run(t, Options{}, wrapped, newReq("POST", "https://example.com/hook", cross, nil)).status; got != 403 {
		t.Errorf("opaque handler without Router: %d, want 403 (fail closed)", got)
	}
}

func TestOptionsValidation(t *testing.T) {
	bad := []Options{
		{TrustedOrigins: []string{"example.com"}},
		{TrustedOrigins: []string{"https://example.com/"}},
		{TrustedOrigins: []string{"https://*.com"}},
		{ExemptPaths: []string{"/"}},
		{ExemptPaths: []string{"POST /"}},
		{ExemptPaths: []string{"/{rest...}"}},
		{ExemptPaths: []string{"/a", "/a"}}, // conflicting
		{ExemptPaths: []string{"not a pattern"}},
	}
	for _, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v): want error", o)
		}
	}
}

// Rotate on login with the default cookie store (Django's rotate_token): the response carries
// a new secret in the same cookie (__Host- and Secure over HTTPS, the plain name over HTTP), a
// token issued before the login is refused with it, and a token issued after is accepted.
func TestRotateWithDefaultCookieStore(t *testing.T) {
	for _, base := range []string{"https://www.example.com", "http://localhost:8000"} {
		secure := strings.HasPrefix(base, "https:")
		name := InsecureCookieName
		if secure {
			name = SecureCookieName
		}
		var planted, fresh string
		h := protect(Options{Logger: quietLogger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/form":
				planted = Token(r)
			case "/login":
				if err := Rotate(w, r); err != nil {
					t.Errorf("Rotate: %v", err)
				}
				fresh = Token(r)
			}
		}))
		serve := func(method, path, cookie, tok string) *httptest.ResponseRecorder {
			r := newReq(method, base+path, map[string]string{"Referer": base + "/form", HeaderName: tok}, nil)
			if cookie != "" {
				withCookie(r, name, cookie)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			return rec
		}
		// The attacker's page (or a pre-login form) obtains a token and its cookie.
		rec := serve("GET", "/form", "", "")
		cks := rec.Result().Cookies()
		if len(cks) != 1 || cks[0].Name != name {
			t.Fatalf("%s: GET /form set %v, want one %s cookie", base, cks, name)
		}
		before := cks[0].Value
		// Login: the POST is accepted with the pre-login token, and rotates.
		rec = serve("POST", "/login", before, planted)
		if rec.Code != 200 {
			t.Fatalf("%s: login POST: %d", base, rec.Code)
		}
		cks = rec.Result().Cookies()
		if len(cks) != 1 {
			t.Fatalf("%s: login set %d cookies, want the rotated secret", base, len(cks))
		}
		ck := cks[0]
		if ck.Name != name || ck.Secure != secure || !ck.HttpOnly || ck.Path != "/" || ck.MaxAge != 31449600 {
			t.Errorf("%s: rotated cookie %+v", base, ck)
		}
		if !validSecret(ck.Value) || ck.Value == before {
			t.Fatalf("%s: rotated secret %q (was %q)", base, ck.Value, before)
		}
		if unmaskString(fresh) != ck.Value {
			t.Errorf("%s: Token after Rotate does not carry the rotated secret", base)
		}
		// After login the browser holds the new cookie: the planted token is dead, the new one works.
		if got := serve("POST", "/x", ck.Value, planted).Code; got != 403 {
			t.Errorf("%s: pre-login token after rotation: %d, want 403", base, got)
		}
		if got := serve("POST", "/x", ck.Value, fresh).Code; got != 200 {
			t.Errorf("%s: post-login token: %d, want 200", base, got)
		}
	}
}

// Temporary files of a multipart form parsed below the middleware (by it or by the app) are
// removed when the request ends, because net/http only cleans up the form of the request it
// created; a form that arrived already parsed belongs to whoever parsed it and is left alone.
func TestMultipartTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	files := func() int {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	upload := func() *http.Request {
		var buf bytes.Buffer
		mp := multipart.NewWriter(&buf)
		fw, _ := mp.CreateFormFile("doc", "doc.txt")
		_, _ = fw.Write(bytes.Repeat([]byte("x"), 4096))
		_ = mp.Close()
		r := newReq("POST", "http://www.example.com/upload", map[string]string{
			"Content-Type": mp.FormDataContentType(), "X-CSRF-Token": maskedTestSecret1}, &buf)
		return withCookie(r, InsecureCookieName, testSecret)
	}
	onDisk := 0
	parseInApp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1); err != nil { // 1 byte in memory: the file goes to disk
			t.Error(err)
		}
		onDisk = files()
	})
	if res := run(t, Options{}, parseInApp, upload()); res.status != 200 {
		t.Fatalf("upload: %d (%v)", res.status, res.reason)
	}
	if onDisk == 0 {
		t.Fatal("the test upload did not reach the disk")
	}
	if n := files(); n != 0 {
		t.Errorf("%d temporary files left after the request", n)
	}
	// Parsed before the middleware: not ours to remove.
	r := upload()
	if err := r.ParseMultipartForm(1); err != nil {
		t.Fatal(err)
	}
	if res := run(t, Options{}, okHandler, r); res.status != 200 {
		t.Fatalf("pre-parsed upload: %d (%v)", res.status, res.reason)
	}
	if files() == 0 {
		t.Error("the middleware removed the files of a form it did not parse")
	}
	_ = r.MultipartForm.RemoveAll()
}

// A store that cannot keep a new secret makes Token fail closed (no token, so the form cannot
// be submitted) and the failure reaches the configured logger, or slog's default when none is
// configured; it never panics.
func TestTokenStoreFailureLogged(t *testing.T) {
	store := &memSessions{m: map[string]string{}, failSet: true}
	var buf bytes.Buffer
	var tok string
	h := protect(Options{Store: store, Logger: slog.New(slog.NewTextHandler(&buf, nil))})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tok = Token(r) }))
	h.ServeHTTP(httptest.NewRecorder(), withCookie(newReq("GET", "http://www.example.com/", nil, nil), "sid", "C"))
	if tok != "" {
		t.Fatalf("Token with a failing store = %q, want empty", tok)
	}
	if !strings.Contains(buf.String(), "storing secret failed") || !strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("configured logger got %q", buf.String())
	}
	// Without a configured logger: slog's default, no panic.
	var def bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&def, nil)))
	defer slog.SetDefault(old)
	h = protect(Options{Store: store})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tok = Token(r) }))
	h.ServeHTTP(httptest.NewRecorder(), withCookie(newReq("GET", "http://www.example.com/", nil, nil), "sid", "C"))
	if tok != "" || !strings.Contains(def.String(), "storing secret failed") {
		t.Errorf("default logger: token %q, log %q", tok, def.String())
	}
}

// protect is New for options a test knows to be valid.
func protect(opts Options) func(http.Handler) http.Handler {
	p, err := New(opts)
	if err != nil {
		panic(err)
	}
	return p.Middleware
}
