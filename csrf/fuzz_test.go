package csrf

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzTokenDecode: format checks and unmasking of any submitted token never panic, a token
// that matches must be well formed, and masking any valid secret round-trips.
func FuzzTokenDecode(f *testing.F) {
	for _, s := range []string{testSecret, maskedTestSecret1, maskedTestSecret2, "", "a", strings.Repeat("*", 64), strings.Repeat("é", 32)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		err := checkFormat(tok)
		if err == nil {
			var b [secretLength]byte
			if len(tok) == tokenLength {
				unmask(&b, tok)
				if !validSecret(string(b[:])) {
					t.Fatalf("unmask(%q) = %q: not a valid secret", tok, b)
				}
			}
			if tokenMatches(tok, testSecret) != (len(tok) == secretLength && tok == testSecret ||
				len(tok) == tokenLength && string(b[:]) == testSecret) {
				t.Fatalf("tokenMatches(%q) disagrees with unmask", tok)
			}
			if len(tok) == secretLength {
				if got := unmaskString(maskSecret(tok)); got != tok {
					t.Fatalf("round trip of %q = %q", tok, got)
				}
			}
		}
		// Through the middleware: never a panic, never accepted unless it carries the secret.
		r := httptest.NewRequest("POST", "http://www.example.com/", nil)
		r.Header.Set(HeaderName, tok)
		r.AddCookie(&http.Cookie{Name: InsecureCookieName, Value: testSecret})
		rec := httptest.NewRecorder()
		fuzzHandler.ServeHTTP(rec, r)
		if rec.Code == 200 && !tokenMatches(tok, testSecret) {
			t.Fatalf("token %q accepted", tok)
		}
	})
}

var fuzzHandler = protect(Options{Logger: quietLogger, TrustedOrigins: []string{"https://*.example.com", "http://localhost:8000"}})(okHandler)

// FuzzOrigin: Origin parsing never panics, accepted origins are canonical (lower case, no
// default port, only origin characters), and the middleware only accepts an Origin that is
// the request's own or trusted.
func FuzzOrigin(f *testing.F) {
	for _, s := range []string{"https://www.example.com", "null", "", "https://[", "https://[::1]:80", "HTTPS://A.EXAMPLE.COM:443",
		"https://evil.com@example.com", "https://example.com/", "http://localhost:8000", "https://x.example.com:8443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := parseOrigin(s)
		if ok {
			if o.scheme == "" || o.host == "" || strings.ToLower(o.host) != o.host || strings.ContainsAny(o.host, "/?#@ \t\r\n\\") ||
				(o.scheme == "https" && o.port == "443") || (o.scheme == "http" && o.port == "80") {
				t.Fatalf("parseOrigin(%q) = %+v: not canonical", s, o)
			}
		}
		r := httptest.NewRequest("POST", "https://www.example.com/", nil)
		r.Header["Origin"] = []string{s}
		rec := httptest.NewRecorder()
		fuzzHandler.ServeHTTP(rec, r)
		if rec.Code == 200 {
			own := ok && o.scheme == "https" && o.host == "www.example.com" && o.port == ""
			wild := ok && o.scheme == "https" && o.port == "" && (o.host == "example.com" || strings.HasSuffix(o.host, ".example.com"))
			local := ok && o == origin{"http", "localhost", "8000"}
			if !own && !wild && !local {
				t.Fatalf("Origin %q accepted", s)
			}
		}
	})
}

// FuzzTrustedOrigin: configuration parsing never panics and what it accepts has a scheme,
// no path/query/fragment/userinfo, and matches its own canonical origin.
func FuzzTrustedOrigin(f *testing.F) {
	for _, s := range []string{"https://example.com", "https://*.example.com:8443", "example.com", "https://", "https://*.com",
		"https://example.com/", "http://[::1]:8000", "null", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := parseTrustedOrigin(s)
		if err != nil {
			return
		}
		i := strings.Index(s, "://")
		if i <= 0 || strings.ContainsAny(s[i+3:], "/?#@") {
			t.Fatalf("accepted %q", s)
		}
		o := tr.origin
		if !tr.matches(&o) {
			t.Fatalf("%q does not match its own origin %+v", s, o)
		}
		if tr.wildcard {
			sub := o
			sub.host = "sub." + o.host
			if !tr.matches(&sub) {
				t.Fatalf("wildcard %q does not match %+v", s, sub)
			}
			other := o
			other.host = "x" + o.host
			if tr.matches(&other) {
				t.Fatalf("wildcard %q matches %+v", s, other)
			}
		}
	})
}

// FuzzReferer: the strict Referer check never panics and, with a valid token, accepts only
// https Referers from the request's own host or a trusted origin.
func FuzzReferer(f *testing.F) {
	for _, s := range []string{"https://www.example.com/", "https://www.example.com", "http://www.example.com/", "", "https://[",
		"//www.example.com/", "https://a.example.com:443/x", "https://u@www.example.com/", "ØBöIß", "https://www.example.com:444/"} {
		f.Add(s)
	}
	tok := maskSecret(testSecret)
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest("POST", "https://www.example.com/", nil)
		r.Header["Referer"] = []string{s}
		r.Header.Set(HeaderName, tok)
		r.AddCookie(&http.Cookie{Name: SecureCookieName, Value: testSecret})
		rec := httptest.NewRecorder()
		fuzzHandler.ServeHTTP(rec, r)
		if rec.Code != 200 {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "https" || u.User != nil {
			t.Fatalf("Referer %q accepted", s)
		}
		h := strings.TrimSuffix(strings.ToLower(u.Host), ":443")
		if h != "www.example.com" && h != "example.com" && !strings.HasSuffix(h, ".example.com") {
			t.Fatalf("Referer %q (host %q) accepted", s, h)
		}
	})
}
