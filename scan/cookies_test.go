package scan

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

var jarNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// The storage rules of RFC 6265bis §5.7, one case per rule, with the host
// names and origins a scan meets (the scan-level test only has 127.0.0.1).
func TestCookieJarStorage(t *testing.T) {
	const (
		www    = "https://www.example.com/"
		plain  = "http://www.example.com/"
		past   = "Thu, 01 Jan 1970 00:00:00 GMT"
		future = "Wed, 01 Jan 2100 00:00:00 GMT"
	)
	type line = setCookieLine
	tests := []struct {
		name    string
		lines   []line
		stored  []string // names kept, in order
		refused []string // "name: reason substring"
	}{
		{"host-only", []line{{www, "a=1"}}, []string{"a"}, nil},
		{"Domain of the parent", []line{{www, "a=1; Domain=example.com"}}, []string{"a"}, nil},
		{"Domain with a leading dot and capitals", []line{{www, "a=1; Domain=.EXAMPLE.com"}}, []string{"a"}, nil},
		{"Domain of the host itself", []line{{www, "a=1; Domain=www.example.com"}}, []string{"a"}, nil},
		{"empty Domain is host-only", []line{{www, "a=1; Domain="}}, []string{"a"}, nil},
		{"Domain of a sibling", []line{{www, "a=1; Domain=api.example.com"}}, nil, []string{"a: does not domain-match the host www.example.com"}},
		{"Domain of a child", []line{{www, "a=1; Domain=x.www.example.com"}}, nil, []string{"a: does not domain-match"}},
		{"Domain of another site", []line{{www, "a=1; Domain=example.org"}}, nil, []string{"a: does not domain-match"}},
		{"Domain that is only a suffix of the string", []line{{www, "a=1; Domain=ample.com"}}, nil, []string{"a: does not domain-match"}},
		{"Domain with a trailing dot", []line{{www, "a=1; Domain=example.com."}}, nil, []string{"a: does not domain-match"}},
		{"Domain=com", []line{{www, "a=1; Domain=com"}}, nil, []string{"a: Domain=com is a public suffix"}},
		{"Domain=co.uk", []line{{"https://shop.example.co.uk/", "a=1; Domain=co.uk"}}, nil, []string{"a: is a public suffix"}},
		{"private suffix github.io", []line{{"https://me.github.io/", "a=1; Domain=github.io"}}, nil, []string{"a: is a public suffix"}},
		{"single label localhost on itself", []line{{"https://localhost/", "a=1; Domain=localhost"}}, []string{"a"}, nil},
		{"single label from a subdomain", []line{{"https://app.localhost/", "a=1; Domain=localhost"}}, nil, []string{"a: is a public suffix"}},
		{"intranet name on itself", []line{{"https://intranet/", "a=1; Domain=INTRANET"}}, []string{"a"}, nil},
		{"IP host with its own Domain", []line{{"https://10.0.0.1/", "a=1; Domain=10.0.0.1"}}, []string{"a"}, nil},
		{"IP host with a parent Domain", []line{{"https://10.0.0.1/", "a=1; Domain=0.0.1"}}, nil, []string{"a: does not domain-match"}},
		{"IPv6 host", []line{{"https://[::1]:8443/", "a=1; Domain=::2"}, {"https://[::1]/", "b=1"}}, []string{"b"}, []string{"a: does not domain-match the host ::1"}},
		{"non-ASCII Domain", []line{{"https://xn--bcher-kva.example/", "a=1; Domain=bücher.example"}}, nil, []string{"a: not ASCII"}},
		{"IDN host matches its A-label Domain", []line{{"https://bücher.example/", "a=1; Domain=xn--bcher-kva.example"}}, []string{"a"}, nil},
		{"over-long Domain is ignored, host-only", []line{{www, "a=1; Domain=" + strings.Repeat("x", 1025)}}, []string{"a"}, nil},

		{"Secure over plain HTTP", []line{{plain, "a=1; Secure"}}, nil, []string{"a: Secure cookie set over plain HTTP"}},
		{"Secure over http://localhost is kept", []line{{"http://localhost:8000/", "a=1; Secure"}}, []string{"a"}, nil},
		{"Secure over http://127.0.0.1 is kept", []line{{"http://127.0.0.1:8000/", "__Host-a=1; Secure; Path=/"}}, []string{"__Host-a"}, nil},
		{"plain HTTP may not overlay a Secure cookie", []line{{www, "a=1; Secure"}, {plain, "a=2"}}, []string{"a"}, []string{"a: would overlay a Secure cookie"}},
		{"plain HTTP may set the name on another path", []line{{www, "a=1; Secure; Path=/login"}, {plain, "a=2; Path=/"}}, []string{"a", "a"}, nil},

		{"__Secure- without Secure", []line{{www, "__Secure-a=1"}}, nil, []string{"__Secure-a: __Secure- prefix without the Secure attribute"}},
		{"__secure- lower case without Secure", []line{{www, "__secure-a=1; Domain=example.com"}}, nil, []string{"__secure-a: __Secure- prefix"}},
		{"__SECURE- with Secure and a Domain", []line{{www, "__SECURE-a=1; Secure; Domain=example.com"}}, []string{"__SECURE-a"}, nil},
		{"__Secure- over plain HTTP", []line{{plain, "__Secure-a=1; Secure"}}, nil, []string{"__Secure-a: Secure cookie set over plain HTTP"}},
		{"__Host- by the rules", []line{{www, "__Host-a=1; Secure; Path=/"}}, []string{"__Host-a"}, nil},
		{"__HOST- by the rules", []line{{www, "__HOST-a=1; secure; path=/"}}, []string{"__HOST-a"}, nil},
		{"__Host- without Secure", []line{{www, "__Host-a=1; Path=/"}}, nil, []string{"__Host-a: __Host- prefix without Secure"}},
		{"__host- with Domain", []line{{www, "__host-a=1; Secure; Path=/; Domain=www.example.com"}}, nil, []string{"__host-a: __Host- prefix with Domain=www.example.com"}},
		{"__Host- without Path", []line{{"https://www.example.com/a/b", "__Host-a=1; Secure"}}, nil, []string{"__Host-a: without Path=/"}},
		{"__Host- whose default path is / still needs Path", []line{{www, "__Host-a=1; Secure"}}, nil, []string{"__Host-a: without Path=/"}},
		{"__Host- with Path=/x", []line{{www, "__Host-a=1; Secure; Path=/x"}}, nil, []string{"__Host-a: without Path=/"}},
		{"__Host- with an empty Path from /", []line{{www, "__Host-a=1; Secure; Path="}}, []string{"__Host-a"}, nil},
		{"__Host- with an empty Path from /a/b", []line{{"https://www.example.com/a/b", "__Host-a=1; Secure; Path="}}, nil, []string{"__Host-a: without Path=/"}},
		{"__Host- over plain HTTP", []line{{plain, "__Host-a=1; Secure; Path=/"}}, nil, []string{"__Host-a: Secure cookie set over plain HTTP"}},
		{"nameless cookie posing as __Host-", []line{{www, "__Host-a"}}, nil, []string{": nameless cookie"}},
		{"nameless cookie posing as __secure-", []line{{www, "=__secure-a"}}, nil, []string{": nameless cookie"}},
		{"Unicode space before the prefix: no prefix", []line{{plain, "\u00a0__Host-a=1"}}, []string{"\u00a0__Host-a"}, nil},
		{"tab before the prefix is trimmed", []line{{plain, "\t__Host-a=1"}}, nil, []string{"__Host-a: __Host- prefix"}},
		{"Kelvin sign is not k", []line{{www, "__Host-a=1; Secure; Path=/; Domain=\u212a.example.com"}}, nil, []string{"__Host-a: not ASCII"}},

		{"control character in an attribute", []line{{www, "a=1; Path=/\x01"}}, nil, []string{"a: control character"}},
		{"name and value over 4096 bytes", []line{{www, "a=" + strings.Repeat("v", 4096)}}, nil, []string{"a: exceed 4096 bytes"}},
		{"name and value of 4096 bytes", []line{{www, "a=" + strings.Repeat("v", 4095)}}, []string{"a"}, nil},
		{"blank lines are not reported", []line{{www, " "}, {www, "="}}, nil, nil},
		{"nameless and heroku cookies are stored but not graded", []line{{www, "v"}, {www, "heroku-session-affinity=1"}}, nil, nil},

		{"replace keeps first-set order", []line{{www, "a=1"}, {www, "b=1"}, {www, "a=2; Secure"}}, []string{"a", "b"}, nil},
		{"Max-Age=0 deletes", []line{{www, "a=1"}, {www, "a=; Max-Age=0"}}, nil, nil},
		{"Max-Age=-1 deletes", []line{{www, "a=1"}, {www, "a=; Max-Age=-1"}}, nil, nil},
		{"Max-Age=+0 is ignored", []line{{www, "a=1"}, {www, "a=; Max-Age=+0"}}, []string{"a"}, nil},
		{"Max-Age=0x0 is ignored", []line{{www, "a=1"}, {www, "a=; Max-Age=0x0"}}, []string{"a"}, nil},
		{"past Expires deletes", []line{{www, "a=1"}, {www, "a=; Expires=" + past}}, nil, nil},
		{"future Expires keeps", []line{{www, "a=1"}, {www, "a=2; Expires=" + future}}, []string{"a"}, nil},
		{"Max-Age wins over Expires", []line{{www, "a=1"}, {www, "a=2; Max-Age=60; Expires=" + past}}, []string{"a"}, nil},
		{"an invalid Expires is ignored", []line{{www, "a=1"}, {www, "a=2; Expires=yesterday"}}, []string{"a"}, nil},
		{"deletion on another path leaves the cookie", []line{{www, "a=1; Path=/"}, {www, "a=; Path=/x; Max-Age=0"}}, []string{"a"}, nil},
		{"deletion with another Domain leaves the cookie", []line{{www, "a=1"}, {www, "a=; Domain=example.com; Max-Age=0"}}, []string{"a"}, nil},
		{"refused deletion leaves the cookie", []line{{www, "__Host-a=1; Secure; Path=/"}, {www, "__Host-a=; Max-Age=0"}}, []string{"__Host-a"}, []string{"__Host-a: __Host- prefix"}},
		{"a cookie set again after deletion", []line{{www, "a=1"}, {www, "a=; Max-Age=0"}, {www, "a=3"}}, []string{"a"}, nil},
		{"no URL means the default URL", []line{{"", "a=1; Domain=mozilla.org"}}, []string{"a"}, nil},
		{"a URL without a host", []line{{"/relative", "a=1"}}, nil, []string{"a: has no host"}},

		{"SameSite=None without Secure is kept and graded", []line{{www, "a=1; SameSite=None"}}, []string{"a"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jar, refused := cookieJar(tc.lines, "https://mozilla.org/", jarNow)
			var names []string
			for _, c := range jar {
				names = append(names, c.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.stored, ",") {
				t.Errorf("stored %q, want %q", names, tc.stored)
			}
			if len(refused) != len(tc.refused) {
				t.Fatalf("refused %+v, want %q", refused, tc.refused)
			}
			for i, want := range tc.refused {
				name, reason, _ := strings.Cut(want, ": ")
				if refused[i].Name != name || !strings.Contains(refused[i].Reason, reason) {
					t.Errorf("refused[%d] = %q: %q, want %q: ...%q...", i, refused[i].Name, refused[i].Reason, name, reason)
				}
			}
		})
	}
}

func TestParseCookieDate(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339, "" when the date must not parse
	}{
		{"Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01T00:00:00Z"},
		{"Wed, 09 Jun 2021 10:18:14 GMT", "2021-06-09T10:18:14Z"},
		{"Thursday, 01-Jan-70 00:00:01 GMT", "1970-01-01T00:00:01Z"}, // RFC 850
		{"Thu Jan  1 00:00:00 1970", "1970-01-01T00:00:00Z"},         // asctime
		{"01 JANUARY 2030 1:2:3", "2030-01-01T01:02:03Z"},
		{"2030 Dec 31 23:59:59", "2030-12-31T23:59:59Z"},
		{"1 Jan 69 00:00:00", "2069-01-01T00:00:00Z"},
		{"1 Jan 99 00:00:00", "1999-01-01T00:00:00Z"},
		{"29 Feb 2024 00:00:00", "2024-02-29T00:00:00Z"},
		{"29 Feb 2023 00:00:00", ""},
		{"31 Apr 2030 00:00:00", ""},
		{"0 Jan 2030 00:00:00", ""},
		{"1 Jan 1600 00:00:00", ""},
		{"1 Jan 2030 24:00:00", ""},
		{"1 Jan 2030 00:60:00", ""},
		{"1 Jan 2030 000:00:00", ""},
		{"1 Jan 2030", ""},
		{"yesterday", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, ok := parseCookieDate(tc.in)
		s := ""
		if ok {
			s = got.Format(time.RFC3339)
		}
		if s != tc.want {
			t.Errorf("parseCookieDate(%q) = %q, want %q", tc.in, s, tc.want)
		}
	}
}

// Refused cookies are left out of the Observatory test and rampart's checks,
// and reported: by the refused-cookies check and in Report.RefusedCookies.
func TestGradeReportsRefusedCookies(t *testing.T) {
	rs := emptySet(t, "")
	rs.Cookies = []setCookieLine{
		{"https://www.mozilla.org/", "__Host-session=1; HttpOnly; SameSite=Lax; Path=/"},
		{"https://www.mozilla.org/", "csrftoken=1; Secure; SameSite=Strict; Domain=mozilla.org"},
		{"https://mozilla.org/robots.txt", "__Host-session=1; HttpOnly; SameSite=Lax; Path=/"}, // the same refusal again
		{"https://mozilla.org/robots.txt", "track=1; Secure; SameSite=Lax; Domain=example.net"},
	}
	rep := gradeResponses(*rs)
	if got := rep.Test(TestCookies).Result; got != CookiesSecureHttpOnlySameSite {
		t.Errorf("cookies = %s", got)
	}
	c := rep.Check(CheckRefusedCookies)
	if c.Pass || c.Skipped || strings.Count(c.Reason, "__Host-session") != 1 ||
		!strings.Contains(c.Reason, "__Host-session from https://www.mozilla.org/: __Host- prefix without Secure") ||
		!strings.Contains(c.Reason, "track from https://mozilla.org/robots.txt: Domain=example.net does not domain-match the host mozilla.org") {
		t.Errorf("refused-cookies check: %+v", c)
	}
	if s := rep.Check(CheckSessionCookie); !s.Skipped || !strings.Contains(s.Reason, "browsers refuse __Host-session: __Host- prefix without Secure") {
		t.Errorf("session-cookie check: %+v", s)
	}
	if s := rep.Check(CheckCSRFCookie); !s.Pass || s.Skipped {
		t.Errorf("csrf-cookie check: %+v", s)
	}
	if len(rep.RefusedCookies) != 2 || rep.RefusedCookies[0].Name != "__Host-session" || rep.RefusedCookies[1].Name != "track" {
		t.Errorf("Report.RefusedCookies = %+v", rep.RefusedCookies)
	}

	// No refusal: the check passes; no cookie at all: it is skipped.
	rs = emptySet(t, "")
	rs.Cookies = []setCookieLine{{Line: "__Host-a=1; Secure; Path=/; SameSite=Lax"}}
	if c := gradeResponses(*rs).Check(CheckRefusedCookies); !c.Pass || c.Skipped {
		t.Errorf("all stored: %+v", c)
	}
	rs.Cookies = nil
	if c := gradeResponses(*rs).Check(CheckRefusedCookies); !c.Pass || !c.Skipped {
		t.Errorf("no cookies: %+v", c)
	}
}

// FetchedAt pins the instant cookie expiry is judged at, so a captured scan
// grades the same later.
func TestGradeJudgesExpiryAtFetchTime(t *testing.T) {
	rs := emptySet(t, "")
	rs.Cookies = []setCookieLine{{Line: "sessionid=1"}, {Line: "sessionid=; Expires=Wed, 01 Jan 2031 00:00:00 GMT"}}
	rs.FetchedAt = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := gradeResponses(*rs).Test(TestCookies).Result; got != CookiesSessionNoSecure {
		t.Errorf("before the Expires date: %s, want %s", got, CookiesSessionNoSecure)
	}
	rs.FetchedAt = time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := gradeResponses(*rs).Test(TestCookies).Result; got != CookiesNotFound {
		t.Errorf("after the Expires date: %s, want %s", got, CookiesNotFound)
	}
}

func TestStartURLs(t *testing.T) {
	tests := []struct {
		target, httpOpt         string
		http, https, guessedURL string
	}{
		{"https://example.com/a?b", "", "http://example.com/a?b", "https://example.com/a?b", ""},
		{"example.com", "", "http://example.com/", "https://example.com/", ""},
		{"https://example.com:443/", "", "http://example.com/", "https://example.com/", ""},
		{"https://[::1]:443/", "", "http://[::1]/", "https://[::1]/", ""},
		{"https://example.com:8443/", "", "http://example.com:8443/", "https://example.com:8443/", "http://example.com:8443/"},
		{"example.com:8443", "", "http://example.com:8443/", "https://example.com:8443/", "http://example.com:8443/"},
		{"https://example.com:8443/", "http://example.com:8080/", "http://example.com:8080/", "https://example.com:8443/", ""},
		{"http://example.com:8080/", "", "http://example.com:8080/", "https://example.com:8080/", ""},
		{"http://example.com:80/", "", "http://example.com/", "https://example.com/", ""},
	}
	for _, tc := range tests {
		_, h, hs, g, err := startURLs(tc.target, Options{HTTPURL: tc.httpOpt})
		if err != nil || h != tc.http || hs != tc.https || g != tc.guessedURL {
			t.Errorf("startURLs(%q) = %q %q %q %v, want %q %q %q", tc.target, h, hs, g, err, tc.http, tc.https, tc.guessedURL)
		}
	}
}

// The https-redirect check on a guessed plain-HTTP URL: a redirect to HTTPS
// still passes, an error page from the TLS port is not evidence either way,
// and a page served over plain HTTP still fails, with the hint.
func TestHTTPSRedirectCheckGuessedPort(t *testing.T) {
	const guessed = "http://example.com:8443/"
	tests := []struct {
		name      string
		guessed   string
		http      *response
		chain     []string
		result    string // pass, skip, FAIL
		hint      bool
		redirTest string
	}{
		{"guessed, TLS port answers 400", guessed, &response{Status: 400}, []string{guessed}, "skip", true, RedirectionMissing},
		{"guessed, nothing answers", guessed, nil, nil, "skip", true, RedirectionNotNeeded},
		{"guessed, plain page served", guessed, &response{Status: 200}, []string{guessed}, "FAIL", true, RedirectionMissing},
		{"guessed, redirects to http", guessed, &response{Status: 200}, []string{guessed, "http://example.com/"}, "FAIL", true, RedirectionNotToHTTPS},
		{"guessed, redirects to https", guessed, &response{Status: 200}, []string{guessed, "https://example.com:8443/"}, "pass", false, RedirectionToHTTPS},
		{"port 80, no redirect", "", &response{Status: 400}, []string{"http://example.com/"}, "FAIL", false, RedirectionMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := emptySet(t, "")
			rs.GuessedHTTPURL = tc.guessed
			rs.HTTP = tc.http
			if rs.HTTP != nil {
				rs.HTTP.Verified, rs.HTTP.Header = true, http.Header{}
			}
			rs.HTTPRedirects = nil
			for _, u := range tc.chain {
				rs.HTTPRedirects = append(rs.HTTPRedirects, Redirect{URL: u, Status: 301})
			}
			c := httpsRedirectCheck(rs)
			if got := passWord(c.Pass, c.Skipped); got != tc.result {
				t.Errorf("check %s, want %s: %s", got, tc.result, c.Reason)
			}
			hasHint := strings.Contains(c.Reason, "--http-url") && strings.Contains(c.Reason, guessed)
			if hasHint != tc.hint {
				t.Errorf("hint %v, want %v: %s", hasHint, tc.hint, c.Reason)
			}
			if tc.http != nil && !strings.Contains(c.Reason, tc.chain[0]) {
				t.Errorf("reason does not name the probed URL %s: %s", tc.chain[0], c.Reason)
			}
			o := redirectionTest(rs)
			if o.result != tc.redirTest {
				t.Errorf("redirection test %s, want %s", o.result, tc.redirTest)
			}
			if noted := strings.Contains(o.note, "--http-url"); noted != (tc.guessed != "" && o.result != RedirectionToHTTPS) {
				t.Errorf("redirection note %q (%s)", o.note, o.result)
			}
		})
	}
}

func FuzzParseSetCookie(f *testing.F) {
	for _, s := range []string{"a=b; Secure; HttpOnly; SameSite=Lax", "=; samesite", ";;;", "x=1; Max-Age=-1; Domain=.",
		"__Host-a=1; Secure; Path=/", "__secure-x=1; Domain=example.com; Secure", "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
		"\u00a0__Host-a=1", "a=1; Domain=co.uk", "a=1; Domain=\u212a.example.com; Path=x"} {
		f.Add(s, "https://www.example.com/a/b")
	}
	f.Add("a=1; Secure", "http://localhost/")
	f.Add("a=1; Domain=10.0.0.1", "http://10.0.0.1:8080/")
	f.Fuzz(func(t *testing.T, line, rawURL string) {
		c, ok := ParseSetCookie(line)
		if ok && strings.Contains(c.Name, ";") {
			t.Fatalf("name %q contains ';'", c.Name)
		}
		if ok && c.SameSite != "" && c.SameSite != "lax" && c.SameSite != "strict" && c.SameSite != "none" {
			t.Fatalf("SameSite %q", c.SameSite)
		}
		_ = containsInvalidSameSite(line)
		lines := []setCookieLine{{rawURL, line}, {"https://www.example.com/", line}, {"http://www.example.com/x/", line}, {rawURL, line}}
		stored, refused := storeCookies(lines, "https://example.com/", jarNow)
		if len(stored)+len(refused) > len(lines) {
			t.Fatalf("%d stored + %d refused from %d lines", len(stored), len(refused), len(lines))
		}
		for _, s := range stored {
			// What a browser would never hold.
			if hasPrefixFold(s.Name, "__Secure-") && !s.Secure {
				t.Fatalf("stored %+v: __Secure- without Secure", s)
			}
			if hasPrefixFold(s.Name, "__Host-") && (!s.Secure || !s.hostOnly || s.path != "/") {
				t.Fatalf("stored %+v: __Host- rules broken", s)
			}
			if s.ExpiredAt(jarNow) {
				t.Fatalf("stored %+v: expired", s)
			}
			if s.Name == "" && s.value == "" {
				t.Fatalf("stored an empty cookie")
			}
			if !strings.HasPrefix(s.path, "/") {
				t.Fatalf("stored path %q", s.path)
			}
		}
		for _, r := range refused {
			if r.Reason == "" {
				t.Fatalf("refusal without a reason: %+v", r)
			}
		}
	})
}

// A cookie stored from a URL keeps to that URL's host: fuzz the host side.
func FuzzCookieDomainMatch(f *testing.F) {
	for _, h := range []string{"www.example.com", "example.com", "localhost", "10.0.0.1", "a.b.example.co.uk", "me.github.io"} {
		f.Add(h, "example.com", true)
	}
	f.Fuzz(func(t *testing.T, host, domain string, secure bool) {
		line := "a=1; Domain=" + domain
		if secure {
			line += "; Secure"
		}
		u := "https://" + host + "/"
		stored, _ := storeCookies([]setCookieLine{{u, line}}, u, jarNow)
		for _, s := range stored {
			h := canonicalHost(hostOf(u))
			if !s.hostOnly && !domainMatch(h, s.domain) {
				t.Fatalf("host %q stored a cookie for %q", h, s.domain)
			}
			if s.hostOnly && s.domain != h {
				t.Fatalf("host-only cookie of %q stored for %q", h, s.domain)
			}
			if !s.hostOnly && isPublicSuffix(s.domain) {
				t.Fatalf("host %q stored a cookie for the public suffix %q", h, s.domain)
			}
		}
	})
}

func FuzzParseCookieDate(f *testing.F) {
	for _, s := range []string{"Thu, 01 Jan 1970 00:00:00 GMT", "Thursday, 01-Jan-70 00:00:01 GMT", "Thu Jan  1 00:00:00 1970", "1:2:3 4 may 55"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseCookieDate(s)
		if ok && (d.Year() < 1601 || d.Year() > 9999 || d.Location() != time.UTC) {
			t.Fatalf("parseCookieDate(%q) = %v", s, d)
		}
	})
}
