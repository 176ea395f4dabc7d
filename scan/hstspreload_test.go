package scan

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheckHSTSPreload(t *testing.T) {
	const good = "max-age=31536000; includeSubDomains; preload"
	resp := func(hsts ...string) *response {
		h := http.Header{}
		for _, v := range hsts {
			h.Add("Strict-Transport-Security", v)
		}
		return &response{URL: "https://example.com/", Status: 200, Header: h, Verified: true}
	}
	redirect := []Redirect{{"http://example.com/", 301}, {"https://example.com/", 200}}
	tests := []struct {
		name   string
		domain string
		first  *response
		certOK bool
		chain  []Redirect
		want   string // issue codes, space-separated, in order
	}{
		{"eligible", "example.com", resp(good), true, redirect, ""},
		{"eligible without plain HTTP", "example.com", resp(good), true, nil, ""},
		{"directives in any case and order", "example.com", resp("preload; INCLUDESUBDOMAINS;max-age=63072000"), true, redirect, ""},
		{"subdomain", "www.example.com", resp(good), true, nil, "domain.is_subdomain"},
		{"IP address", "127.0.0.1", resp(good), true, nil, "domain.format.is_ip_address"},
		{"public suffix", "co.uk", resp(good), true, nil, "domain.format.public_suffix"},
		{"short max-age", "example.com", resp("max-age=86400; includeSubDomains; preload"), true, redirect, "header.preloadable.max_age.below_1_year"},
		{"max-age 0", "example.com", resp("max-age=0; includeSubDomains; preload"), true, redirect, "header.preloadable.max_age.zero"},
		{"max-age not a number", "example.com", resp("max-age=1e9; includeSubDomains; preload"), true, redirect,
			"header.parse.max_age.non_digit_characters header.preloadable.max_age.missing"},
		{"no preload, no includeSubDomains", "example.com", resp("max-age=31536000"), true, redirect,
			"header.preloadable.include_sub_domains.missing header.preloadable.preload.missing"},
		{"no header", "example.com", resp(), true, redirect, "response.no_header"},
		{"two headers", "example.com", resp(good, good), true, redirect, "response.multiple_headers"},
		{"bad certificate", "example.com", resp(good), false, redirect, "domain.tls.invalid_cert_chain"},
		{"no HTTPS", "example.com", nil, false, redirect, "domain.tls.cannot_connect"},
		{"HTTP does not redirect", "example.com", resp(good), true, []Redirect{{"http://example.com/", 200}}, "redirects.http.no_redirect"},
		{"HTTP redirects to www first", "example.com", resp(good), true,
			[]Redirect{{"http://example.com/", 301}, {"https://www.example.com/", 200}}, "redirects.http.www_first"},
		{"HTTP redirects elsewhere", "example.com", resp(good), true,
			[]Redirect{{"http://example.com/", 301}, {"http://example.com/home", 301}, {"https://example.com/home", 200}}, "redirects.http.first_redirect.insecure"},
		{"later redirect to HTTP", "example.com", resp(good), true,
			[]Redirect{{"http://example.com/", 301}, {"https://example.com/", 302}, {"http://cdn.example.net/", 200}}, "redirects.insecure.subsequent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := checkHSTSPreload(tc.domain, tc.first, tc.certOK, tc.chain)
			var codes []string
			for _, is := range p.Issues {
				codes = append(codes, is.Code)
			}
			if got := strings.Join(codes, " "); got != tc.want {
				t.Errorf("issues %q, want %q", got, tc.want)
			}
			if p.Eligible != (tc.want == "") {
				t.Errorf("eligible = %v", p.Eligible)
			}
			if fs := hstsPreloadFindings(p, "https://example.com/"); len(fs) != len(p.Issues) {
				t.Errorf("%d findings for %d issues", len(fs), len(p.Issues))
			}
		})
	}
}

func FuzzHSTSPreloadHeader(f *testing.F) {
	f.Add("max-age=31536000; includeSubDomains; preload")
	f.Add("max-age=; max-age=99999999999999999999999; ;;preload=1")
	f.Fuzz(func(t *testing.T, h string) {
		for _, is := range hstsHeaderIssues(h) {
			if !strings.HasPrefix(is.Code, "header.") {
				t.Fatalf("odd issue %+v", is)
			}
		}
	})
}
