package scan

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCookiesTest(t *testing.T) {
	tests := []struct {
		name    string
		cookies []string
		hsts    bool
		want    string
		pass    bool
	}{
		{"none", nil, true, CookiesNotFound, true},
		{"all good", []string{"SESSIONID=1; Secure; HttpOnly; SameSite=Lax", "foo=2; Secure; SameSite=Strict"}, true, CookiesSecureHttpOnlySameSite, true},
		{"missing samesite", []string{"SESSIONID=1; Secure; HttpOnly"}, true, CookiesSecureHttpOnly, true},
		{"no secure, hsts", []string{"foo=1; SameSite=Lax"}, true, CookiesNoSecureHSTS, false},
		{"no secure", []string{"foo=1; SameSite=Lax"}, false, CookiesNoSecure, false},
		{"session no secure, hsts", []string{"login=1; HttpOnly; SameSite=Lax"}, true, CookiesSessionNoSecureHSTS, false},
		{"session no secure", []string{"login=1; HttpOnly; SameSite=Lax"}, false, CookiesSessionNoSecure, false},
		{"session no httponly", []string{"mysess=1; Secure; SameSite=Lax"}, true, CookiesSessionNoHttpOnly, false},
		{"anticsrf no samesite", []string{"csrftoken=1; Secure"}, true, CookiesAntiCSRFNoSameSite, false},
		{"samesite none without secure", []string{"foo=1; SameSite=None"}, true, CookiesSameSiteInvalid, false},
		{"samesite invalid raw", []string{"foo=1; Secure; SameSite=Bogus"}, true, CookiesSameSiteInvalid, false},
		{"worst wins", []string{"a=1; Secure; SameSite=Bogus", "sessionid=1; Secure; SameSite=Lax"}, true, CookiesSessionNoHttpOnly, false},
		{"heroku ignored", []string{"heroku-session-affinity=1"}, true, CookiesNotFound, true},
		{"deleted cookie ignored", []string{"sessionid=1", "sessionid=; Max-Age=0"}, true, CookiesNotFound, true},
	}
	for _, tc := range tests {
		rs := emptySet(t, "")
		for _, c := range tc.cookies {
			rs.Auto.Header.Add("Set-Cookie", c)
		}
		for _, c := range tc.cookies {
			rs.Cookies = append(rs.Cookies, setCookieLine{Line: c})
		}
		if tc.hsts {
			rs.HTTPS.Header.Set("Strict-Transport-Security", "max-age=31536000")
		}
		got := cookiesTest(rs)
		if got.result != tc.want || got.pass != tc.pass {
			t.Errorf("%s: got %s pass=%v, want %s pass=%v", tc.name, got.result, got.pass, tc.want, tc.pass)
		}
	}
}

func TestParseSetCookie(t *testing.T) {
	c, ok := ParseSetCookie(" __Host-session = v a l ; Path=/; secure; HTTPONLY; SameSite=STRICT; Max-Age=10")
	if !ok || c.Name != "__Host-session" || !c.Secure || !c.HttpOnly || c.SameSite != "strict" || c.Path != "/" || c.ExpiredAt(time.Now()) {
		t.Errorf("got %+v ok=%v", c, ok)
	}
	c, ok = ParseSetCookie("x=1; SameSite=weird; Domain=.Example.COM")
	if !ok || c.SameSite != "" || c.SameSiteRaw != "weird" || c.Domain != "example.com" {
		t.Errorf("got %+v", c)
	}
	if _, ok := ParseSetCookie("   "); ok {
		t.Error("blank line accepted")
	}
	if _, ok := ParseSetCookie("a=b\x00c"); ok {
		t.Error("NUL accepted")
	}
	for line, want := range map[string]bool{
		"a=1; SameSite":        true,
		"a=1; SameSite=":       true,
		"a=1; samesite=lax":    false,
		"a=1; SameSite= None ": false,
		"a=1; SameSite=Lax=x":  false,
		"a=1; SameSite=Laxer":  true,
		"a=1":                  false,
	} {
		if got := containsInvalidSameSite(line); got != want {
			t.Errorf("ContainsInvalidSameSite(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestParseSFToken(t *testing.T) {
	tests := []struct {
		in  string
		tok string
		ok  bool
	}{
		{"same-origin", "same-origin", true},
		{`same-origin; report-to="coop-endpoint"`, "same-origin", true},
		{"same-origin; report-to", "same-origin", true},
		{"same-origin, same-origin", "", false},
		{`"same-origin"`, "", false},
		{"same-origin;", "", false},
		{"1", "", false},
		{"", "", false},
		{"require-corp; a=?1; b=1.5; c=:aGk=:", "require-corp", true},
		{"require-corp; A=1", "", false},
	}
	for _, tc := range tests {
		tok, ok := parseSFToken(tc.in)
		if ok != tc.ok || tok != tc.tok {
			t.Errorf("ParseSFToken(%q) = %q,%v want %q,%v", tc.in, tok, ok, tc.tok, tc.ok)
		}
	}
}

func TestHSTSTest(t *testing.T) {
	tests := []struct {
		header string
		want   string
	}{
		{"max-age=15552000", HSTSSixMonths},
		{"max-age=15551999; includeSubDomains", HSTSShort},
		{"max-age=31536000, max-age=31536000", HSTSInvalid},
		{"includeSubDomains", HSTSInvalid},
		{"max-age=abc", HSTSSixMonths}, // NaN is not < six months in the Observatory
		{"max-age=-1", HSTSShort},
		{"", HSTSNotImplemented},
	}
	for _, tc := range tests {
		rs := emptySet(t, "")
		if tc.header != "" {
			rs.HTTPS.Header.Set("Strict-Transport-Security", tc.header)
		}
		if got := hstsTest(rs).result; got != tc.want {
			t.Errorf("HSTS %q = %s, want %s", tc.header, got, tc.want)
		}
	}
	rs := emptySet(t, "")
	rs.HTTPS = nil
	if got := hstsTest(rs).result; got != HSTSNoHTTPS {
		t.Errorf("no https: %s", got)
	}
	rs = emptySet(t, "")
	rs.Preload = PreloadList{"org": {IncludeSubDomains: true}}
	if got := hstsTest(rs).result; got != HSTSPreloaded {
		t.Errorf("parent includeSubDomains: %s", got)
	}
	rs.Preload = PreloadList{"org": {}}
	if got := hstsTest(rs).result; got == HSTSPreloaded {
		t.Error("parent without includeSubDomains counted")
	}
}

func TestRedirectionTest(t *testing.T) {
	tests := []struct {
		chain []string
		want  string
	}{
		{[]string{"http://a.example/"}, RedirectionMissing},
		{[]string{"http://a.example/", "https://a.example/"}, RedirectionToHTTPS},
		{[]string{"http://a.example/", "http://b.example/"}, RedirectionNotToHTTPS},
		{[]string{"http://a.example/", "http://a.example/x", "https://a.example/"}, RedirectionNotToHTTPSInitial},
		{[]string{"http://a.example/", "https://b.example/"}, RedirectionOffHost},
	}
	for _, tc := range tests {
		rs := emptySet(t, "")
		rs.HTTPRedirects = nil
		for _, u := range tc.chain {
			rs.HTTPRedirects = append(rs.HTTPRedirects, Redirect{URL: u, Status: 301})
		}
		if got := redirectionTest(rs).result; got != tc.want {
			t.Errorf("%v = %s, want %s", tc.chain, got, tc.want)
		}
	}
}

func TestCORSAndHeaders(t *testing.T) {
	rs := emptySet(t, "")
	rs.CORS.RequestHeader = http.Header{"Origin": {corsOrigin}}
	rs.CORS.Header.Set("Access-Control-Allow-Origin", corsOrigin)
	rs.CORS.Header.Set("Access-Control-Allow-Credentials", "true")
	if got := corsTest(rs); got.result != CORSUniversal || got.pass {
		t.Errorf("reflected+credentials: %s", got.result)
	}
	rs.CORS.Header.Set("Access-Control-Allow-Origin", "*")
	if got := corsTest(rs).result; got != CORSPublic {
		t.Errorf("*: %s", got)
	}
	rs = emptySet(t, "")
	rs.Auto.Header["X-Frame-Options"] = []string{"SAMEORIGIN", "SAMEORIGIN"}
	rs.Auto.Header["Cross-Origin-Resource-Policy"] = []string{"same-origin", "same-origin"}
	rs.Auto.Header.Set("X-Content-Type-Options", " NoSniff ")
	if got := xfoTest(rs, cspTest(rs)).result; got != XFOInvalid {
		t.Errorf("XFO twice: %s", got)
	}
	if got := corpTest(rs).result; got != CORPInvalid {
		t.Errorf("CORP twice: %s", got)
	}
	if got := xctoTest(rs).result; got != XCTONosniff {
		t.Errorf("XCTO: %s", got)
	}
	rs.Auto.Header.Set("Referrer-Policy", "no-referrer, unsafe-url, bogus")
	if got := referrerTest(rs).result; got != ReferrerUnsafe {
		t.Errorf("referrer last valid: %s", got)
	}
	rs.Auto.Header.Set("Referrer-Policy", "bogus")
	if got := referrerTest(rs).result; got != ReferrerInvalid {
		t.Errorf("referrer invalid: %s", got)
	}
}

func TestGradeForScore(t *testing.T) {
	for score, want := range map[int]string{
		-10: "F", 0: "F", 24: "F", 25: "D-", 30: "D", 39: "D", 40: "D+", 45: "C-", 50: "C", 59: "C",
		60: "C+", 65: "B-", 70: "B", 79: "B", 80: "B+", 85: "A-", 90: "A", 99: "A", 100: "A+", 165: "A+",
	} {
		if got := gradeForScore(score); got != want {
			t.Errorf("GradeForScore(%d) = %s, want %s", score, got, want)
		}
	}
	if !GradeAtLeast("A+", "A") || GradeAtLeast("A-", "A") || GradeAtLeast("", "F") || GradeAtLeast("A", "Q") {
		t.Error("GradeAtLeast ordering wrong")
	}
}

// Extra credit counts only while the uncurved score stays >= 90.
func TestExtraCreditRule(t *testing.T) {
	rs := loadCapturedScan(t, "scan-fixture-observatory-mozilla-org.json")
	rs.Preload = mozillaPreload
	rs.Auto.Header.Del("X-Content-Type-Options") // -5: uncurved 95, bonuses kept
	if rep := gradeResponses(rs); rep.Score != 105 || rep.Grade != "A+" {
		t.Errorf("score %d %s, want 105 A+", rep.Score, rep.Grade)
	}
	rs.Auto.Header.Del("Strict-Transport-Security")
	rs.Auto.Header.Del("Content-Security-Policy") // -25 more: uncurved 70, bonuses dropped
	if rep := gradeResponses(rs); rep.Score != 70 || rep.Grade != "B" {
		t.Errorf("score %d %s, want 70 B", rep.Score, rep.Grade)
	}
}

func TestDebugMarkers(t *testing.T) {
	for body, leak := range map[string]bool{
		djangoTechnical404:                          true,
		`<html data-rampart-debug><pre>panic</pre>`: true,
		"<h1>Not Found</h1>":                        false,
		"<p>You\u2019re seeing this error because you have <code>DEBUG = True</code></p>": true,
	} {
		rs := emptySet(t, "")
		rs.DebugProbe = &response{URL: "https://mozilla.org/x", Status: 404, Body: body}
		if c := debugCheck(rs); c.Pass == leak {
			t.Errorf("body %.40q: pass=%v", body, c.Pass)
		}
	}
}

func TestRegistrableDomain(t *testing.T) {
	for host, want := range map[string]string{
		"www.mozilla.org": "mozilla.org", "mozilla.org": "mozilla.org", "a.b.example.co.uk": "example.co.uk",
		"foo.github.io": "github.io", "localhost": "", "127.0.0.1": "", "org": "",
	} {
		if got := registrableDomain(host); got != want {
			t.Errorf("registrableDomain(%q) = %q, want %q", host, got, want)
		}
	}
}

func FuzzParseCSP(f *testing.F) {
	for _, s := range []string{"default-src 'none'", "script-src 'nonce-a' 'strict-dynamic' https:, img-src %zz/", "a;;b c", "report-uri a; report-uri b"} {
		f.Add(s, "default-src https:")
	}
	f.Fuzz(func(t *testing.T, header, meta string) {
		m, err := effectiveCSP(splitPolicies([]string{header}))
		if err == nil {
			for d, srcs := range m {
				if d != strings.ToLower(d) && d != duplicateWarningsKey {
					t.Fatalf("directive %q not lower-cased", d)
				}
				if len(srcs) == 0 {
					t.Fatalf("directive %q has no sources", d)
				}
			}
		}
		rs := &responseSet{URL: "https://example.com/", Auto: &response{
			Header: http.Header{"Content-Security-Policy": {header}, "Content-Type": {"text/html"}},
			Body:   `<meta http-equiv="content-security-policy" content="` + strings.ReplaceAll(meta, `"`, "") + `">`,
		}}
		o := cspTest(rs)
		if _, ok := scoreTable[o.result]; !ok {
			t.Fatalf("unknown result %q", o.result)
		}
	})
}

func FuzzParseSFToken(f *testing.F) {
	for _, s := range []string{"same-origin", `a; b="c"`, "?1", ":aa==:", "-1.123; x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, ok := parseSFToken(s)
		if ok && (tok == "" || !strings.Contains(s, tok)) {
			t.Fatalf("token %q from %q", tok, s)
		}
	})
}

func FuzzHTML(f *testing.F) {
	f.Add(`<form method=post action=/x><input name=a value=b></form><script src=//x integrity=y></script><meta name=referrer content=no-referrer>`)
	f.Fuzz(func(t *testing.T, body string) {
		if !utf8.ValidString(body) {
			return
		}
		rs := &responseSet{Hostname: "example.com", URL: "https://example.com/", Auto: &response{
			Header: http.Header{"Content-Type": {"text/html"}}, Body: body}}
		_ = sriTest(rs)
		_ = firstPostForm(body)
		_ = rs.httpEquiv()
	})
}

func BenchmarkGrade(b *testing.B) {
	rs := loadCapturedScan(b, "scan-fixture-mozilla-org.json")
	rs.Preload = mozillaPreload
	b.ReportAllocs()
	for b.Loop() {
		_ = gradeResponses(rs)
	}
}

func BenchmarkParseCSP(b *testing.B) {
	rs := emptySet(b, "")
	rs.Auto.Header.Set("Content-Security-Policy", "default-src 'self' *.mozilla.org; script-src 'self' 'unsafe-eval' 'unsafe-inline' cdn.transcend.io js.stripe.com; img-src 'self' data: www.mozilla.org; object-src 'none'; frame-ancestors 'none'")
	b.ReportAllocs()
	for b.Loop() {
		_ = cspTest(rs)
	}
}
