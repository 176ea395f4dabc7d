package scan

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtureDir = "testdata/observatory"

// emptySet mirrors the Observatory's test helper emptyRequests: page URL
// https://mozilla.org/, Content-Type text/html, the same three-hop http chain.
func emptySet(t testing.TB, htmlFile string) *responseSet {
	t.Helper()
	body := ""
	if htmlFile != "" {
		b, err := os.ReadFile(filepath.Join(fixtureDir, htmlFile))
		if err != nil {
			t.Fatal(err)
		}
		body = string(b)
	}
	mk := func() *response {
		return &response{URL: "https://mozilla.org/", Status: 200, Verified: true,
			Header: http.Header{"Content-Type": {"text/html"}}, Body: body}
	}
	return &responseSet{
		Hostname: "mozilla.org", URL: "https://mozilla.org/",
		Auto: mk(), HTTP: mk(), HTTPS: mk(), CORS: mk(),
		HTTPRedirects: []Redirect{{"http://mozilla.org/", 301}, {"https://mozilla.org/", 301}, {"https://www.mozilla.org/", 200}},
	}
}

type cspCases struct {
	ResultCases []struct {
		CSP      string `json:"content_security_policy"`
		Expected string `json:"expected_result"`
		Pass     *bool  `json:"pass"` // absent where the Observatory's test does not assert it
	} `json:"result_cases"`
	PolicyFlagCases []struct {
		CSP   string          `json:"content_security_policy"`
		Flags map[string]bool `json:"policy_flags"`
	} `json:"policy_flag_cases"`
	OtherCases []struct {
		Header      string `json:"header"`
		Value       string `json:"value"`
		Expected    string `json:"expected_result"`
		ExpectedNot string `json:"expected_not"`
		Pass        *bool  `json:"pass"`
	} `json:"other_cases"`
}

func loadCSPCases(t *testing.T) cspCases {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "observatory-csp-cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c cspCases
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCSPResultCases(t *testing.T) {
	cases := loadCSPCases(t)
	if len(cases.ResultCases) != 62 {
		t.Fatalf("want 62 result cases, got %d", len(cases.ResultCases))
	}
	for _, c := range cases.ResultCases {
		rs := emptySet(t, "")
		rs.Auto.Header.Set("Content-Security-Policy", c.CSP)
		got := cspTest(rs)
		if got.result != c.Expected {
			t.Errorf("CSP %q: got %s, want %s", c.CSP, got.result, c.Expected)
		}
		if c.Pass != nil && got.pass != *c.Pass {
			t.Errorf("CSP %q: pass=%v, want %v", c.CSP, got.pass, *c.Pass)
		}
		// The Observatory's "strict dynamic" cases assert the flag instead of pass.
		if c.Pass == nil && (got.policy == nil || !got.policy.StrictDynamic) {
			t.Errorf("CSP %q: strictDynamic flag not set", c.CSP)
		}
		if got.numPolicies != 1 {
			t.Errorf("CSP %q: numPolicies %d, want 1", c.CSP, got.numPolicies)
		}
	}
}

func TestCSPPolicyFlagCases(t *testing.T) {
	cases := loadCSPCases(t)
	if len(cases.PolicyFlagCases) != 22 {
		t.Fatalf("want 22 policy-flag cases, got %d", len(cases.PolicyFlagCases))
	}
	for _, c := range cases.PolicyFlagCases {
		rs := emptySet(t, "")
		rs.Auto.Header.Set("Content-Security-Policy", c.CSP)
		got := cspTest(rs)
		if got.policy == nil {
			t.Errorf("CSP %q: no policy", c.CSP)
			continue
		}
		flags := map[string]bool{
			"antiClickjacking":      got.policy.AntiClickjacking,
			"insecureBaseUri":       got.policy.InsecureBaseURI,
			"unsafeObjects":         got.policy.UnsafeObjects,
			"insecureSchemePassive": got.policy.InsecureSchemePassive,
			"insecureFormAction":    got.policy.InsecureFormAction,
		}
		for name, want := range c.Flags {
			g, ok := flags[name]
			if !ok {
				t.Fatalf("unknown flag %s", name)
			}
			if g != want {
				t.Errorf("CSP %q: %s = %v, want %v", c.CSP, name, g, want)
			}
		}
	}
}

func TestCSPOtherCases(t *testing.T) {
	for _, c := range loadCSPCases(t).OtherCases {
		rs := emptySet(t, "")
		rs.Auto.Header.Set(c.Header, c.Value)
		got := cspTest(rs)
		if c.Expected != "" && got.result != c.Expected {
			t.Errorf("%s: %q: got %s, want %s", c.Header, c.Value, got.result, c.Expected)
		}
		if c.ExpectedNot != "" && got.result == c.ExpectedNot {
			t.Errorf("%s: %q: got %s", c.Header, c.Value, got.result)
		}
		if c.Pass != nil && got.pass != *c.Pass {
			t.Errorf("%s: %q: pass %v, want %v", c.Header, c.Value, got.pass, *c.Pass)
		}
	}
}

// The remaining cases of the Observatory's csp.test.js that involve meta tags.
func TestCSPHTTPEquiv(t *testing.T) {
	tests := []struct {
		file, header string
		want         string
		num          int
		http, meta   bool
	}{
		{"test_parse_http_equiv_headers_csp2.html", "default-src http:", CSPDefaultNone, 2, true, true},
		{"test_parse_http_equiv_headers_csp1.html", "", CSPDefaultNone, 1, false, true},
		{"test_parse_http_equiv_headers_csp_multiple_http_equiv1.html", "", CSPDefaultNone, 4, false, true},
		{"test_parse_http_equiv_headers_csp1.html", "default-src 'none'", CSPDefaultNone, 2, true, true},
		{"test_parse_http_equiv_headers_csp2.html", "default-src 'none'", CSPDefaultNone, 2, true, true},
		{"test_parse_http_equiv_headers_csp1.html", "img-src 'none'", CSPDefaultNone, 2, true, true},
		// frame-ancestors is not allowed in a meta policy: nothing is left.
		{"test_parse_http_equiv_headers_not_allowed.html", "", CSPNotImplemented, 1, false, false},
		{"test_parse_http_equiv_headers_not_allowed.html", "frame-anchestors 'none'", CSPUnsafeInline, 2, false, false},
	}
	for _, tc := range tests {
		rs := emptySet(t, tc.file)
		if tc.header != "" {
			rs.Auto.Header.Set("Content-Security-Policy", tc.header)
		}
		got := cspTest(rs)
		if got.result != tc.want {
			t.Errorf("%s + %q: got %s, want %s", tc.file, tc.header, got.result, tc.want)
		}
		if got.numPolicies != tc.num {
			t.Errorf("%s + %q: numPolicies %d, want %d", tc.file, tc.header, got.numPolicies, tc.num)
		}
		if tc.want == CSPDefaultNone && (got.http != tc.http || got.meta != tc.meta || !got.pass) {
			t.Errorf("%s + %q: http=%v meta=%v pass=%v", tc.file, tc.header, got.http, got.meta, got.pass)
		}
	}
}

func TestHTTPEquivReferrerAndXFO(t *testing.T) {
	for _, f := range []string{"test_parse_http_equiv_headers_referrer1.html", "test_parse_http_equiv_headers_case_insensitivity.html"} {
		rs := emptySet(t, f)
		eq := rs.httpEquiv()
		if got := eq["referrer-policy"]; len(got) != 1 || got[0] != "no-referrer, same-origin" {
			t.Errorf("%s: referrer meta = %q", f, got)
		}
		if got := referrerTest(rs); got.result != ReferrerPrivate || !got.pass {
			t.Errorf("%s: referrer result %s", f, got.result)
		}
		// A header plus the meta tag: the meta tag comes last and wins.
		rs = emptySet(t, f)
		rs.Auto.Header.Set("Referrer-Policy", "unsafe-url")
		if got := referrerTest(rs); got.result != ReferrerPrivate {
			t.Errorf("%s + unsafe header: %s", f, got.result)
		}
	}
	// X-Frame-Options is never taken from a meta tag.
	rs := emptySet(t, "test_parse_http_equiv_headers_x_frame_options.html")
	if got := xfoTest(rs, cspTest(rs)); got.result != XFONotImplemented {
		t.Errorf("XFO from meta: %s", got.result)
	}
}

func TestSRIFixtures(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtureDir, "sri-expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			t.Fatalf("bad row %q", line)
		}
		n++
		got := sriTest(emptySet(t, cols[0]))
		if got.result != cols[1] || got.pass != (cols[2] == "true") {
			t.Errorf("%s: got %s pass=%v, want %s pass=%s", cols[0], got.result, got.pass, cols[1], cols[2])
		}
	}
	if n != 12 {
		t.Fatalf("want 12 SRI rows, got %d", n)
	}
	// Non-HTML responses need no SRI.
	rs := emptySet(t, "test_content_sri_notimpl_external_http.html")
	rs.Auto.Header.Set("Content-Type", "application/json")
	if got := sriTest(rs); got.result != SRINotHTML || !got.pass {
		t.Errorf("json: %s", got.result)
	}
}

// loadCapturedScan converts an Observatory test fixture into a ResponseSet.
func loadCapturedScan(t testing.TB, name string) responseSet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	type resp struct {
		Headers  map[string]json.RawMessage `json:"headers"`
		Status   int                        `json:"status"`
		Verified bool                       `json:"verified"`
		Data     string                     `json:"data"`
	}
	var fx struct {
		Site struct {
			Hostname string `json:"hostname"`
		} `json:"site"`
		Responses struct {
			Auto, HTTP, HTTPS, CORS *resp
			HTTPRedirects           []Redirect `json:"httpRedirects"`
		} `json:"responses"`
		Resources struct {
			Path string `json:"path"`
		} `json:"resources"`
		Session struct {
			URL string `json:"url"`
		} `json:"session"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	conv := func(r *resp, body string) *response {
		if r == nil {
			return nil
		}
		h := http.Header{}
		for k, raw := range r.Headers {
			var one string
			if json.Unmarshal(raw, &one) == nil {
				h.Add(k, one)
				continue
			}
			var many []string
			if err := json.Unmarshal(raw, &many); err != nil {
				t.Fatalf("header %s: %v", k, err)
			}
			for _, v := range many {
				h.Add(k, v)
			}
		}
		return &response{Status: r.Status, Verified: r.Verified, Header: h, Body: body}
	}
	rs := responseSet{
		Hostname:      fx.Site.Hostname,
		URL:           fx.Session.URL,
		Auto:          conv(fx.Responses.Auto, fx.Resources.Path),
		HTTP:          conv(fx.Responses.HTTP, ""),
		HTTPS:         conv(fx.Responses.HTTPS, ""),
		CORS:          conv(fx.Responses.CORS, ""),
		HTTPRedirects: fx.Responses.HTTPRedirects,
	}
	for _, r := range []*response{rs.Auto, rs.HTTP, rs.HTTPS, rs.CORS} {
		if r != nil {
			r.URL = fx.Session.URL
			r.RequestHeader = http.Header{"Origin": {corsOrigin}}
		}
	}
	for _, line := range rs.Auto.Header.Values("Set-Cookie") {
		rs.Cookies = append(rs.Cookies, setCookieLine{URL: rs.URL, Line: line})
	}
	return rs
}

var mozillaPreload = PreloadList{
	"mozilla.org": {}, "www.mozilla.org": {}, "observatory.mozilla.org": {}, "developer.mozilla.org": {},
}

func TestCapturedScans(t *testing.T) {
	tests := []struct {
		file    string
		grade   string
		score   int
		passed  int
		results map[string]string
	}{
		{"scan-fixture-observatory-mozilla-org.json", "A+", 110, 12, map[string]string{
			TestCSP: CSPUnsafeInlineStyleOnly, TestHSTS: HSTSPreloaded, TestRedirection: RedirectionAllPreloaded,
			TestReferrerPolicy: ReferrerPrivate, TestXFO: XFOSameOriginOrDeny, TestCookies: CookiesNotFound,
		}},
		{"scan-fixture-mozilla-org.json", "B", 75, 10, map[string]string{
			TestCSP: CSPUnsafeInline, TestSRI: SRINotImplementedExternalSecure, TestXFO: XFOViaCSP,
			TestCOOP: COOPSameOrigin, TestCORS: CORSNotImplemented,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			rs := loadCapturedScan(t, tc.file)
			rs.Preload = mozillaPreload
			rep := gradeResponses(rs)
			if rep.Grade != tc.grade || rep.Score != tc.score || rep.TestsPassed != tc.passed ||
				rep.TestsQuantity != 12 || rep.TestsFailed != 12-tc.passed || rep.StatusCode != 200 {
				var b strings.Builder
				_ = rep.WriteTable(&b)
				t.Fatalf("got %s/%d/%d of %d, want %s/%d/%d of 12\n%s", rep.Grade, rep.Score, rep.TestsPassed,
					rep.TestsQuantity, tc.grade, tc.score, tc.passed, b.String())
			}
			for name, want := range tc.results {
				if got := rep.Test(name).Result; got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
			// Without the preload list the same capture loses the preload bonus.
			rs.Preload = nil
			if rep2 := gradeResponses(rs); rep2.Test(TestHSTS).Result == HSTSPreloaded {
				t.Errorf("HSTS preloaded without a preload list")
			}
		})
	}
}
