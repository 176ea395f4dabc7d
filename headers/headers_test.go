package headers

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/clientip"
)

func serve(t testing.TB, opts Options, method, target string, secure bool, handler http.HandlerFunc) *httptest.ResponseRecorder {
	t.Helper()
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }
	}
	r := httptest.NewRequest(method, target, nil)
	r.TLS = nil
	if secure {
		r.TLS = &tls.ConnectionState{}
	}
	rec := httptest.NewRecorder()
	middleware(opts)(handler).ServeHTTP(rec, r)
	return rec
}

func TestDefaults(t *testing.T) {
	rec := serve(t, Options{}, "GET", "https://testserver/", true, nil)
	want := map[string]string{
		"Strict-Transport-Security":    "max-age=63072000; includeSubDomains",
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "same-origin",
		"X-Frame-Options":              "DENY",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Permissions-Policy":           DefaultPermissionsPolicy,
	}
	for k, v := range want {
		if got := rec.Header().Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if rec.Header().Get("Cross-Origin-Embedder-Policy") != "" {
		t.Error("COEP must be opt-in")
	}
	if rec.Code != 200 {
		t.Errorf("status %d", rec.Code)
	}
	if !strings.Contains(DefaultPermissionsPolicy, "camera=()") || !strings.Contains(DefaultPermissionsPolicy, "geolocation=()") {
		t.Error("Permissions-Policy default not restrictive")
	}
}

// tests/middleware/test_security.py, adapted.
func TestHSTS(t *testing.T) {
	cases := []struct {
		name   string
		opts   Options
		secure bool
		preset string
		want   string
	}{
		{"sts_on", Options{HSTSMaxAge: 3600 * time.Second, HSTSExcludeSubdomains: true}, true, "", "max-age=3600"},
		{"sts_already_present", Options{HSTSMaxAge: 3600 * time.Second}, true, "max-age=7200", "max-age=7200"},
		{"sts_only_if_secure", Options{InsecureAllowHTTP: true}, false, "", ""},
		{"sts_off", Options{InsecureNoHSTS: true}, true, "", ""},
		{"sts_include_subdomains", Options{HSTSMaxAge: 600 * time.Second}, true, "", "max-age=600; includeSubDomains"},
		{"sts_no_include_subdomains", Options{HSTSMaxAge: 600 * time.Second, HSTSExcludeSubdomains: true}, true, "", "max-age=600"},
		{"sts_preload", Options{HSTSMaxAge: 10886400 * time.Second, HSTSPreload: true, HSTSExcludeSubdomains: true}, true, "", "max-age=10886400; preload"},
		{"sts_subdomains_and_preload", Options{HSTSMaxAge: 10886400 * time.Second, HSTSPreload: true}, true, "", "max-age=10886400; includeSubDomains; preload"},
		{"sts_no_preload", Options{HSTSMaxAge: 10886400 * time.Second}, true, "", "max-age=10886400; includeSubDomains"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "https://testserver/", nil)
			if !c.secure {
				r.TLS = nil
			}
			rec := httptest.NewRecorder()
			// An outer layer that set the header first wins.
			outer := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if c.preset != "" {
						w.Header().Set("Strict-Transport-Security", c.preset)
					}
					next.ServeHTTP(w, r)
				})
			}
			outer(middleware(c.opts)(http.NotFoundHandler())).ServeHTTP(rec, r)
			if got := rec.Header().Get("Strict-Transport-Security"); got != c.want {
				t.Fatalf("got %q want %q", got, c.want)
			}
		})
	}
}

func TestHandlerOverrides(t *testing.T) {
	rec := serve(t, Options{}, "GET", "https://testserver/", true, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "foo")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Del("Permissions-Policy")
		w.Header().Add("Cross-Origin-Resource-Policy", "cross-origin") // Add must not mutate the shared default
	})
	if rec.Header().Get("X-Content-Type-Options") != "foo" || rec.Header().Get("Referrer-Policy") != "no-referrer" ||
		rec.Header().Get("Permissions-Policy") != "" {
		t.Fatalf("override lost: %v", rec.Header())
	}
	rec2 := serve(t, Options{}, "GET", "https://testserver/", true, nil)
	if got := rec2.Header().Values("Cross-Origin-Resource-Policy"); len(got) != 1 || got[0] != "same-origin" {
		t.Fatalf("shared default mutated by a previous handler: %q", got)
	}
}

func TestSSLRedirect(t *testing.T) {
	cases := []struct {
		name, method, target string
		secure               bool
		opts                 Options
		code                 int
		location             string
	}{
		{"ssl_redirect_on", "GET", "http://testserver/some/url?query=string", false, Options{}, 301, "https://testserver/some/url?query=string"},
		{"head", "HEAD", "http://testserver/", false, Options{}, 301, "https://testserver/"},
		{"post keeps method", "POST", "http://testserver/form", false, Options{}, 308, "https://testserver/form"},
		{"no_redirect_ssl", "GET", "https://testserver/some/url", true, Options{}, 200, ""},
		{"redirect_exempt prefix", "GET", "http://testserver/insecure/page", false, Options{RedirectExempt: []string{"/insecure/"}}, 200, ""},
		{"redirect_exempt exact", "GET", "http://testserver/healthz", false, Options{RedirectExempt: []string{"/healthz"}}, 200, ""},
		{"exact is not a prefix", "GET", "http://testserver/healthzz", false, Options{RedirectExempt: []string{"/healthz"}}, 301, "https://testserver/healthzz"},
		{"redirect_ssl_host", "GET", "http://testserver/some/url", false, Options{RedirectHost: "secure.example.com"}, 301, "https://secure.example.com/some/url"},
		{"ssl_redirect_off", "GET", "http://testserver/some/url", false, Options{InsecureAllowHTTP: true}, 200, ""},
		{"port kept", "GET", "http://testserver:8080/x", false, Options{}, 301, "https://testserver:8080/x"},
		{"escaped path kept", "GET", "http://testserver/a%20b/%2F?q=%0d%0a", false, Options{}, 301, "https://testserver/a%20b/%2F?q=%0d%0a"},
		{"double slash path stays on host", "GET", "http://testserver//evil.com/", false, Options{}, 301, "https://testserver//evil.com/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := serve(t, c.opts, c.method, c.target, c.secure, nil)
			if rec.Code != c.code || rec.Header().Get("Location") != c.location {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Header().Get("Location"), c.code, c.location)
			}
		})
	}
}

func TestRedirectRefusesBadHost(t *testing.T) {
	for _, host := range []string{"", "evil.com/x", "a@b", "a b", "[::1"} {
		r := httptest.NewRequest("GET", "/p", nil)
		r.Host = host
		rec := httptest.NewRecorder()
		middleware(Options{})(http.NotFoundHandler()).ServeHTTP(rec, r)
		if rec.Code != 400 || rec.Header().Get("Location") != "" {
			t.Errorf("host %q: %d %q", host, rec.Code, rec.Header().Get("Location"))
		}
	}
}

// The scheme comes from clientip: a trusted proxy's X-Forwarded-Proto counts, a client's does not.
func TestSchemeFromClientIP(t *testing.T) {
	res := &clientip.Resolver{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	h := res.Middleware(middleware(Options{})(http.NotFoundHandler()))
	for _, c := range []struct {
		remote string
		code   int
		hsts   bool
	}{{"10.0.0.1:1", 404, true}, {"203.0.113.1:1", 301, false}} {
		r := httptest.NewRequest("GET", "http://testserver/x", nil)
		r.RemoteAddr = c.remote
		r.Header.Set("X-Forwarded-Proto", "https")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != c.code || (rec.Header().Get("Strict-Transport-Security") != "") != c.hsts {
			t.Errorf("%s: %d hsts=%q", c.remote, rec.Code, rec.Header().Get("Strict-Transport-Security"))
		}
	}
}

func TestReferrerPolicy(t *testing.T) {
	for in, want := range map[string]string{
		"strict-origin":           "strict-origin",
		"strict-origin,origin":    "strict-origin,origin",
		"strict-origin, origin":   "strict-origin,origin",
		" no-referrer ":           "no-referrer",
		"":                        "same-origin",
		"strict-origin ,  origin": "strict-origin,origin",
	} {
		if got := serve(t, Options{ReferrerPolicy: in}, "GET", "https://t/", true, nil).Header().Get("Referrer-Policy"); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}

func TestOptionValues(t *testing.T) {
	rec := serve(t, Options{FrameOptions: "sameorigin", CrossOriginOpenerPolicy: "same-origin-allow-popups",
		CrossOriginResourcePolicy: "same-site", CrossOriginEmbedderPolicy: "require-corp", PermissionsPolicy: "camera=()"},
		"GET", "https://t/", true, nil)
	for k, v := range map[string]string{"X-Frame-Options": "SAMEORIGIN", "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
		"Cross-Origin-Resource-Policy": "same-site", "Cross-Origin-Embedder-Policy": "require-corp", "Permissions-Policy": "camera=()"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q want %q", k, got, v)
		}
	}
	for _, bad := range []Options{
		{FrameOptions: "ALLOW-FROM x"}, {CrossOriginOpenerPolicy: "bogus"}, {CrossOriginResourcePolicy: "none"},
		{PermissionsPolicy: "a\r\nSet-Cookie: x"}, {HSTSMaxAge: -1}, {RedirectHost: "a b"},
		{ReferrerPolicy: "x\ny"},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestAllowFraming(t *testing.T) {
	policy := "default-src 'none'; frame-ancestors 'none'; form-action 'self'"
	run := func(f func(w http.ResponseWriter)) http.Header {
		h := func(w http.ResponseWriter, r *http.Request) { f(w) }
		outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", policy)
			w.Header().Set("Content-Security-Policy-Report-Only", "script-src 'none'")
			middleware(Options{})(http.HandlerFunc(h)).ServeHTTP(w, r)
		})
		rec := httptest.NewRecorder()
		outer.ServeHTTP(rec, httptest.NewRequest("GET", "https://t/", nil))
		return rec.Header()
	}
	h := run(func(w http.ResponseWriter) { AllowFraming(w) })
	if h.Get("X-Frame-Options") != "SAMEORIGIN" || h.Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'self'; form-action 'self'" {
		t.Fatalf("same-origin framing: %v", h)
	}
	if h.Get("Content-Security-Policy-Report-Only") != "script-src 'none'; frame-ancestors 'self'" {
		t.Fatalf("report-only: %q", h.Get("Content-Security-Policy-Report-Only"))
	}
	h = run(func(w http.ResponseWriter) { AllowFraming(w, "https://partner.example", "'self'") })
	if _, ok := h["X-Frame-Options"]; ok || h.Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors https://partner.example 'self'; form-action 'self'" {
		t.Fatalf("partner framing: %v", h)
	}
	h = run(func(w http.ResponseWriter) {})
	if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("default framing changed: %v", h)
	}
	defer func() {
		if recover() == nil {
			t.Error("injection through AllowFraming accepted")
		}
	}()
	run(func(w http.ResponseWriter) { AllowFraming(w, "x; script-src *") })
}

func BenchmarkMiddleware(b *testing.B) {
	h := middleware(Options{HSTSPreload: true})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "https://example.com/", nil)
	w := nopWriter{http.Header{}}
	b.Run("secure", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h) // the server gives each response a fresh map; reuse keeps the map out of the numbers
			h.ServeHTTP(w, r)
		}
	})
	plain := httptest.NewRequest("GET", "http://example.com/a?b=c", nil)
	plain.TLS = nil
	b.Run("redirect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, plain)
		}
	})
}

type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header         { return w.h }
func (w nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w nopWriter) WriteHeader(int)             {}

// Headers an outer layer already chose are kept: the defaults fill in only what is missing.
func TestOuterHeadersKept(t *testing.T) {
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		w.Header().Set("Referrer-Policy", "no-referrer")
		middleware(Options{})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, r)
	})
	rec := httptest.NewRecorder()
	outer.ServeHTTP(rec, httptest.NewRequest("GET", "https://t/", nil))
	h := rec.Header()
	if h.Get("X-Frame-Options") != "SAMEORIGIN" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("outer headers replaced: %v", h)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cross-Origin-Opener-Policy") != "same-origin" {
		t.Errorf("missing defaults not filled in: %v", h)
	}
}

// AllowFraming rewrites frame-ancestors in any well-formed serialisation of a policy,
// including empty members (";;", a trailing ";"), which browsers skip.
func TestAllowFramingEmptyDirectives(t *testing.T) {
	for policy, want := range map[string]string{
		"default-src 'none';":                         "default-src 'none'; frame-ancestors 'self'",
		"default-src 'none';; frame-ancestors 'none'": "default-src 'none'; frame-ancestors 'self'",
		"; frame-ancestors 'none' ;":                  "frame-ancestors 'self'",
	} {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Security-Policy", policy)
		AllowFraming(rec)
		got := rec.Header().Get("Content-Security-Policy")
		var members []string
		for _, m := range strings.Split(got, ";") {
			if m = strings.TrimSpace(m); m != "" {
				members = append(members, m)
			}
		}
		if strings.Join(members, "; ") != want {
			t.Errorf("policy %q: got %q, want the members %q", policy, got, want)
		}
	}
}

// middleware is New for options a test knows to be valid.
func middleware(opts Options) func(http.Handler) http.Handler {
	s, err := New(opts)
	if err != nil {
		panic(err)
	}
	return s.Middleware
}
