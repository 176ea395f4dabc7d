package scan

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const djangoTechnical404 = `<!DOCTYPE html><html lang="en"><head><title>Page not found at /x</title></head><body>
<div id="summary"><h1>Page not found <span>(404)</span></h1></div>
<div id="info"><p>Using the URLconf defined in <code>mysite.urls</code>,
Django tried these URL patterns, in this order:</p></div>
<div id="explanation"><p>You're seeing this error because you have <code>DEBUG = True</code> in
your Django settings file.</p></div></body></html>`

// weakHandler is a deliberately insecure site: no security headers, cookies
// without flags, a Django technical 404, and a form that accepts cross-origin
// POSTs without a token.
func weakHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, djangoTechnical404)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "abc"})
		http.SetCookie(w, &http.Cookie{Name: "csrftoken", Value: "tok"})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<html><body><form method="POST" action="/comment">
<input type="hidden" name="csrfmiddlewaretoken" value="tok"><textarea name="body"></textarea>
<input type="submit"></form></body></html>`)
	})
	mux.HandleFunc("POST /comment", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "thanks")
	})
	return mux
}

// strongHandler sets every header the Observatory rewards and enforces
// same-origin POSTs.
func strongHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Embedder-Policy", "require-corp")
		if r.Method == http.MethodPost {
			if r.Header.Get("Origin") != "https://"+r.Host {
				http.Error(w, "Forbidden", http.StatusForbidden)
				return
			}
			io.WriteString(w, "ok")
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "__Host-session", Value: "s", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.SetCookie(w, &http.Cookie{Name: "__Host-csrftoken", Value: "t", Path: "/", Secure: true, SameSite: http.SameSiteStrictMode})
		h.Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>ok</title></head><body>
<form method="post" action="/comments"><input type="hidden" name="csrf_token" value="t">
<textarea name="body"></textarea></form></body></html>`)
	})
	return mux
}

func TestScanWeakServer(t *testing.T) {
	srv := httptest.NewServer(weakHandler())
	defer srv.Close()
	rep, err := Scan(context.Background(), srv.URL+"/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantTests := map[string]string{
		TestCSP:         CSPNotImplemented,
		TestCookies:     CookiesSessionNoSecure,
		TestRedirection: RedirectionMissing,
		TestHSTS:        HSTSNoHTTPS,
		TestXCTO:        XCTONotImplemented,
		TestXFO:         XFONotImplemented,
		TestSRI:         SRINoScripts,
		TestCORS:        CORSNotImplemented,
	}
	for name, want := range wantTests {
		if got := rep.Test(name).Result; got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if rep.Grade != "F" || rep.Score != 0 {
		t.Errorf("grade %s score %d, want F 0", rep.Grade, rep.Score)
	}
	for _, name := range []string{CheckDebugPage, CheckSessionCookie, CheckCSRFCookie, CheckCSRFEnforcement, CheckHTTPSRedirect} {
		c := rep.Check(name)
		if c.Name == "" || c.Pass || c.Skipped {
			t.Errorf("check %s should fail: %+v", name, c)
		}
	}
	if r := rep.Check(CheckDebugPage).Reason; !strings.Contains(r, "Django") {
		t.Errorf("debug reason %q", r)
	}
	if r := rep.Check(CheckSessionCookie).Reason; !strings.Contains(r, "sessionid missing Secure, HttpOnly, SameSite") {
		t.Errorf("session reason %q", r)
	}
	if r := rep.Check(CheckCSRFEnforcement).Reason; !strings.Contains(r, "answered 200") || !strings.Contains(r, "/comment") {
		t.Errorf("csrf reason %q", r)
	}
}

func strongSite(t *testing.T) (target string, opts Options) {
	t.Helper()
	tlsSrv := httptest.NewTLSServer(strongHandler())
	t.Cleanup(tlsSrv.Close)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, tlsSrv.URL+r.URL.RequestURI(), http.StatusMovedPermanently)
	}))
	t.Cleanup(plain.Close)
	pool := x509.NewCertPool()
	pool.AddCert(tlsSrv.Certificate())
	return tlsSrv.URL + "/", Options{RootCAs: pool, HTTPURL: plain.URL + "/"}
}

func TestScanStrongServer(t *testing.T) {
	target, opts := strongSite(t)
	rep, err := Scan(context.Background(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Grade != "A+" || rep.TestsPassed != 12 {
		var b bytes.Buffer
		_ = rep.WriteTable(&b)
		t.Fatalf("grade %s, %d passed\n%s", rep.Grade, rep.TestsPassed, b.String())
	}
	want := map[string]string{
		TestCSP: CSPDefaultNone, TestCookies: CookiesSecureHttpOnlySameSite, TestRedirection: RedirectionToHTTPS,
		TestHSTS: HSTSSixMonths, TestXFO: XFOViaCSP, TestCORP: CORPSameOrigin, TestCOOP: COOPSameOrigin, TestCOEP: COEPRequireCorp,
	}
	for name, w := range want {
		if got := rep.Test(name).Result; got != w {
			t.Errorf("%s = %s, want %s", name, got, w)
		}
	}
	// 100 + CSP 10 + cookies 5 + referrer 5 + XFO 5 + CORP 10 + COOP 10 + COEP 10
	if rep.Score != 155 {
		t.Errorf("score %d, want 155", rep.Score)
	}
	for _, c := range rep.Checks {
		if !c.Pass || c.Skipped {
			t.Errorf("check %s: %+v", c.Name, c)
		}
	}
}

func TestScanUntrustedCertificate(t *testing.T) {
	target, opts := strongSite(t)
	opts.RootCAs = x509.NewCertPool() // trusts nothing
	rep, err := Scan(context.Background(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Test(TestHSTS).Result; got != HSTSInvalidCert {
		t.Errorf("HSTS = %s, want %s", got, HSTSInvalidCert)
	}
	if got := rep.Test(TestRedirection).Result; got != RedirectionInvalidCert {
		t.Errorf("redirection = %s, want %s", got, RedirectionInvalidCert)
	}
}

func TestScanErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	if _, err := Scan(context.Background(), addr+"/", Options{}); err == nil {
		t.Error("closed server: want error")
	}
	for _, bad := range []string{"ftp://127.0.0.1/", "http://", "http://[::1"} {
		if _, err := Scan(context.Background(), bad, Options{}); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
	// A 500 answer cannot be graded, as with the Observatory.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer down.Close()
	rep, err := Scan(context.Background(), down.URL+"/", Options{NoActiveProbes: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Error == "" || rep.Grade != "" {
		t.Errorf("500: want grading error, got %+v", rep)
	}
}

func TestScanBodyLimitAndRedirectLoop(t *testing.T) {
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/again", http.StatusFound)
	}))
	defer loop.Close()
	if _, err := Scan(context.Background(), loop.URL+"/", Options{MaxRedirects: 3}); err == nil {
		t.Error("redirect loop: want error")
	}
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>"+strings.Repeat("a", 4096)+`<script src="http://evil.example/x.js"></script></body></html>`)
	}))
	defer big.Close()
	rep, err := Scan(context.Background(), big.URL+"/", Options{MaxBodyBytes: 1024, NoActiveProbes: true})
	if err != nil {
		t.Fatal(err)
	}
	// The script lies beyond the cap, so it is never seen.
	if got := rep.Test(TestSRI).Result; got != SRINoScripts {
		t.Errorf("SRI = %s, want %s (body cap ignored?)", got, SRINoScripts)
	}
}

func TestMainExitCodes(t *testing.T) {
	weak := httptest.NewServer(weakHandler())
	defer weak.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{weak.URL + "/"}, 1, "grade: F"},
		{[]string{"--min-grade", "F", weak.URL + "/"}, 0, "rampart:debug-page"},
		{[]string{"--json", "--min-grade", "A", weak.URL + "/"}, 1, `"grade": "F"`},
		{[]string{}, 2, ""},
		{[]string{"--min-grade", "Z", weak.URL + "/"}, 2, ""},
		{[]string{"--bogus", weak.URL + "/"}, 2, ""},
		{[]string{"a", "b"}, 2, ""},
		{[]string{closedURL + "/"}, 2, ""},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := Main(tc.args, &out, &errb)
		if code != tc.code {
			t.Errorf("Main(%q) = %d, want %d (stderr %q)", tc.args, code, tc.code, errb.String())
		}
		if tc.out != "" && !strings.Contains(out.String(), tc.out) {
			t.Errorf("Main(%q) output lacks %q:\n%s", tc.args, tc.out, out.String())
		}
	}
	var out bytes.Buffer
	Main([]string{"--json", "--min-grade", "F", weak.URL + "/"}, &out, io.Discard)
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON output: %v", err)
	}
	if rep.TestsQuantity != 12 || len(rep.Checks) != 6 || rep.Check(CheckCSRFEnforcement).Pass {
		t.Errorf("JSON report: %+v", rep)
	}
}

func TestJSONFieldNames(t *testing.T) {
	b, err := json.Marshal(Report{Tests: []TestResult{{Name: "x"}}, Checks: []Check{{Name: "y"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"target"`, `"algorithm_version"`, `"grade"`, `"score"`, `"status_code"`, `"tests_passed"`,
		`"tests_failed"`, `"tests_quantity"`, `"tests"`, `"checks"`, `"score_modifier"`, `"reason"`, `"pass"`, `"result"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}

func TestWriteTableAligned(t *testing.T) {
	rs := loadCapturedScan(t, "scan-fixture-mozilla-org.json")
	rs.Preload = mozillaPreload
	var b bytes.Buffer
	if err := gradeResponses(rs).WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	var col int = -1
	for _, l := range lines {
		if strings.HasPrefix(l, "content-security-policy") || strings.HasPrefix(l, "TEST") || strings.HasPrefix(l, "cookies") {
			i := strings.Index(l, "  ")
			for i < len(l) && l[i] == ' ' {
				i++
			}
			if col >= 0 && i != col {
				t.Errorf("columns not aligned:\n%s", b.String())
			}
			col = i
		}
	}
	if !strings.Contains(b.String(), "grade: B  score: 75  passed: 10/12") {
		t.Errorf("summary line missing:\n%s", b.String())
	}
	if !strings.Contains(b.String(), fmt.Sprintf("%+d", -20)) {
		t.Errorf("modifier missing:\n%s", b.String())
	}
}

// The CLI flags reach Options: a site on a test CA and non-standard ports grades A+ only when
// --ca-file and --http-url are honoured.
func TestMainCAFileAndURLs(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(strongHandler())
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, tlsSrv.URL+r.URL.RequestURI(), http.StatusMovedPermanently)
	}))
	defer plain.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	_ = os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	var out, errb bytes.Buffer
	if code := Main([]string{"--ca-file", ca, "--http-url", plain.URL + "/", "--min-grade", "A+", tlsSrv.URL + "/"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "grade: A+") {
		t.Fatalf("exit %d, stderr %q, out:\n%s", code, errb.String(), out.String())
	}
	for _, args := range [][]string{
		{"--ca-file", filepath.Join(t.TempDir(), "missing.pem"), tlsSrv.URL + "/"},
		{"--ca-file", notPEM, tlsSrv.URL + "/"},
	} {
		if code := Main(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("Main(%q) = %d, want 2", args, code)
		}
	}
}

// cookieSite serves, over TLS on 127.0.0.1, a page whose response carries the
// given Set-Cookie lines verbatim.
func cookieSite(t *testing.T, lines []string) (target string, opts Options) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		for _, l := range lines {
			w.Header().Add("Set-Cookie", l)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>c</title>")
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv.URL + "/", Options{RootCAs: pool, NoActiveProbes: true}
}

// Cookies a browser refuses to store (RFC 6265bis §5.7) are not the site's
// cookies: they must not be graded, by the Observatory test nor by rampart's
// cookie checks. The host is 127.0.0.1 over HTTPS.
func TestScanGradesOnlyCookiesBrowsersStore(t *testing.T) {
	const pastDate = "Thu, 01 Jan 1970 00:00:00 GMT"
	tests := []struct {
		name    string
		lines   []string
		cookies string // Observatory cookies result
		session string // session-cookie check: pass, fail or skip
	}{
		{"Domain of another host", []string{"sessionid=1; Domain=example.com"}, CookiesNotFound, "skip"},
		{"Domain of a parent label of an IP", []string{"sessionid=1; Domain=0.0.1"}, CookiesNotFound, "skip"},
		{"Domain equal to the IP host is kept", []string{"sessionid=1; Secure; HttpOnly; SameSite=Lax; Domain=127.0.0.1"}, CookiesSecureHttpOnlySameSite, "pass"},
		{"__Host- with a Domain", []string{"__Host-session=1; Secure; HttpOnly; SameSite=Lax; Path=/; Domain=127.0.0.1"}, CookiesNotFound, "skip"},
		{"__Host- without Path=/", []string{"__Host-session=1; Secure; HttpOnly; SameSite=Lax"}, CookiesNotFound, "skip"},
		{"__Host- with Path=/x", []string{"__Host-session=1; Secure; HttpOnly; SameSite=Lax; Path=/x"}, CookiesNotFound, "skip"},
		{"__Host- without Secure", []string{"__Host-session=1; HttpOnly; SameSite=Lax; Path=/"}, CookiesNotFound, "skip"},
		{"__host- lower case without Secure", []string{"__host-sess=1; HttpOnly; SameSite=Lax; Path=/"}, CookiesNotFound, "skip"},
		{"__SECURE- upper case without Secure", []string{"__SECURE-sessionid=1; HttpOnly"}, CookiesNotFound, "skip"},
		{"__Secure- with Secure is kept", []string{"__Secure-x=1; Secure; SameSite=Lax"}, CookiesSecureHttpOnlySameSite, "skip"},
		{"__Host- by the rules is kept", []string{"__Host-session=1; Secure; HttpOnly; SameSite=Lax; Path=/"}, CookiesSecureHttpOnlySameSite, "pass"},
		{"deleted with a past Expires", []string{"sessionid=1; Path=/", "sessionid=; Path=/; Expires=" + pastDate}, CookiesNotFound, "skip"},
		{"deleted with a huge negative Max-Age", []string{"sessionid=1", "sessionid=; Max-Age=-99999999999999999999"}, CookiesNotFound, "skip"},
		{"Max-Age=+0 is ignored, not a deletion", []string{"sessionid=1", "sessionid=2; Max-Age=+0"}, CookiesSessionNoSecure, "fail"},
		{"Unicode space is part of the name", []string{"\u00a0__Host-session=1; HttpOnly; Path=/"}, CookiesSessionNoSecure, "skip"},
		{"refused line's raw SameSite is not graded", []string{"a=1; Secure; SameSite=Bogus; Domain=example.com", "b=1; Secure; SameSite=Lax"}, CookiesSecureHttpOnlySameSite, "skip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target, opts := cookieSite(t, tc.lines)
			rep, err := Scan(context.Background(), target, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Test(TestCookies).Result; got != tc.cookies {
				t.Errorf("cookies = %s, want %s", got, tc.cookies)
			}
			c := rep.Check(CheckSessionCookie)
			if got := passWord(c.Pass, c.Skipped); !strings.EqualFold(got, tc.session) {
				t.Errorf("session-cookie check %s, want %s: %s", got, tc.session, c.Reason)
			}
		})
	}
}

// A TLS target on a port other than 443 without --http-url: plain HTTP is
// probed on the TLS port itself, which answers 400. The report must say which
// URL was probed and point at --http-url instead of failing the redirect check
// as if the site had no redirect.
func TestScanNonDefaultPortRedirectHint(t *testing.T) {
	target, opts := strongSite(t)
	opts.HTTPURL = ""
	rep, err := Scan(context.Background(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	probed := "http://" + strings.TrimPrefix(target, "https://")
	c := rep.Check(CheckHTTPSRedirect)
	if !c.Skipped || !c.Pass || !strings.Contains(c.Reason, probed) || !strings.Contains(c.Reason, "--http-url") {
		t.Errorf("https-redirect check: %+v, want skipped naming %s and --http-url", c, probed)
	}
	// The Observatory's result stays what the Observatory would compute (the
	// score stays comparable), but its reason says what it rests on.
	red := rep.Test(TestRedirection)
	if red.Result != RedirectionMissing || !strings.Contains(red.Reason, probed) || !strings.Contains(red.Reason, "--http-url") {
		t.Errorf("redirection test: %+v", red)
	}
	// Nor does HSTS preload eligibility hold the TLS port's 400 against the site.
	if p := rep.HSTSPreload; p == nil {
		t.Error("no HSTS preload judgement")
	} else {
		for _, is := range p.Issues {
			if strings.HasPrefix(is.Code, "redirects.http.") {
				t.Errorf("preload issue from the guessed plain-HTTP probe: %+v", is)
			}
		}
	}
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "--http-url") {
		t.Errorf("table lacks the --http-url hint:\n%s", b.String())
	}
}
