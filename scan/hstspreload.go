package scan

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// HSTS preload eligibility, judged offline from the responses the scan
// already holds, by the submission rules of hstspreload.org as its checker
// implements them (chromium/hstspreload @ d624d7c87b33307629f776b26c79448ca193a38f:
// domain.go, header.go, redirects.go, response.go). Issue codes are that
// checker's, so they can be looked up there. What cannot be judged offline
// is said so: that every subdomain serves HTTPS, and the www subdomain's TLS.

var ruleHSTSPreload = rule(Rule{ID: "hsts-preload/not-eligible", Area: AreaHSTS, Severity: SeverityInfo,
	Title:     "the domain does not meet an HSTS preload list requirement",
	Fix:       "meet hstspreload.org's requirements: valid certificate, HTTP redirects to HTTPS on the same host, Strict-Transport-Security: max-age=31536000; includeSubDomains; preload",
	Reference: "https://hstspreload.org/ (chromium/hstspreload)"})

// HSTSPreload is the preload eligibility of the scanned domain.
type HSTSPreload struct {
	Domain   string `json:"domain"`
	Eligible bool   `json:"eligible"`
	// Issues are the unmet requirements, each with hstspreload's code.
	Issues []PreloadIssue `json:"issues,omitempty"`
	// Unchecked names what an offline check cannot see.
	Unchecked string `json:"unchecked"`
}

// PreloadIssue is one unmet requirement.
type PreloadIssue struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// preloadMinMaxAge is hstspreload's minimum max-age (one year).
const preloadMinMaxAge = 86400 * 365

// hstsHeaderIssues parses an HSTS header as hstspreload's ParseHeaderString
// and returns the errors that make it unfit for preloading.
func hstsHeaderIssues(h string) []PreloadIssue {
	var out []PreloadIssue
	add := func(code, msg string) { out = append(out, PreloadIssue{code, msg}) }
	var (
		maxAge            *uint64
		includeSubDomains bool
		preload           bool
	)
	for _, d := range strings.Split(h, ";") {
		d = strings.TrimSpace(d)
		ld := strings.ToLower(d)
		switch {
		case ld == "preload":
			preload = true
		case ld == "includesubdomains":
			includeSubDomains = true
		case strings.HasPrefix(ld, "max-age="):
			v := d[len("max-age="):]
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || strings.TrimLeft(v, "0123456789") != "" {
				add("header.parse.max_age.non_digit_characters", "max-age is not a number: "+d)
				continue
			}
			if maxAge == nil {
				maxAge = &n
			}
		case strings.HasPrefix(ld, "max-age"):
			add("header.parse.invalid.max_age.no_value", "max-age has no value")
		}
	}
	if !includeSubDomains {
		add("header.preloadable.include_sub_domains.missing", "the header must contain includeSubDomains")
	}
	if !preload {
		add("header.preloadable.preload.missing", "the header must contain preload")
	}
	switch {
	case maxAge == nil:
		add("header.preloadable.max_age.missing", "the header must contain a valid max-age")
	case *maxAge == 0:
		add("header.preloadable.max_age.zero", "max-age is 0")
	case *maxAge < preloadMinMaxAge:
		add("header.preloadable.max_age.below_1_year", fmt.Sprintf("max-age must be at least %d (one year), not %d", preloadMinMaxAge, *maxAge))
	}
	return out
}

// preloadDomainIssues checks the domain's form: a registrable domain
// (eTLD+1), not an IP address, a public suffix or a subdomain.
func preloadDomainIssues(domain string) []PreloadIssue {
	switch {
	case net.ParseIP(strings.Trim(domain, "[]")) != nil:
		return []PreloadIssue{{"domain.format.is_ip_address", "an IP address cannot be preloaded"}}
	case isPublicSuffix(domain):
		return []PreloadIssue{{"domain.format.public_suffix", domain + " is a public suffix"}}
	}
	if e, err := publicsuffix.EffectiveTLDPlusOne(domain); err == nil && e != domain {
		return []PreloadIssue{{"domain.is_subdomain", domain + " is a subdomain: submit " + e + " (preloading it covers its subdomains)"}}
	}
	return nil
}

// checkHSTSPreload judges eligibility from the scan's responses: httpsFirst
// is the first response of https://domain/ (before any redirect), certOK
// whether its certificate verified, httpChain the plain-HTTP redirect chain
// (nil when nothing answered plain HTTP).
func checkHSTSPreload(domain string, httpsFirst *response, certOK bool, httpChain []Redirect) *HSTSPreload {
	p := &HSTSPreload{Domain: domain,
		Unchecked: "that every subdomain serves HTTPS, and the www subdomain's certificate, cannot be checked from the scanned responses"}
	p.Issues = append(p.Issues, preloadDomainIssues(domain)...)
	switch {
	case httpsFirst == nil:
		p.Issues = append(p.Issues, PreloadIssue{"domain.tls.cannot_connect", "the site does not answer over HTTPS"})
	case !certOK:
		p.Issues = append(p.Issues, PreloadIssue{"domain.tls.invalid_cert_chain", "the certificate chain is not valid"})
	}
	if httpsFirst != nil {
		vals := httpsFirst.Header.Values("Strict-Transport-Security")
		switch len(vals) {
		case 0:
			p.Issues = append(p.Issues, PreloadIssue{"response.no_header", "the HTTPS response has no Strict-Transport-Security header"})
		case 1:
			p.Issues = append(p.Issues, hstsHeaderIssues(vals[0])...)
		default:
			p.Issues = append(p.Issues, PreloadIssue{"response.multiple_headers", "the HTTPS response has more than one Strict-Transport-Security header"})
		}
	}
	if len(httpChain) > 0 {
		switch {
		case len(httpChain) < 2:
			p.Issues = append(p.Issues, PreloadIssue{"redirects.http.no_redirect", "http://" + domain + " does not redirect to HTTPS"})
		default:
			first, err := url.Parse(httpChain[1].URL)
			switch {
			case err != nil:
				p.Issues = append(p.Issues, PreloadIssue{"redirects.http.first_redirect.insecure", "the first redirect is not a URL"})
			case first.Scheme == "https" && strings.EqualFold(first.Hostname(), domain):
			case strings.EqualFold(first.Hostname(), "www."+domain):
				p.Issues = append(p.Issues, PreloadIssue{"redirects.http.www_first", "http://" + domain + " redirects to www first; it must redirect to https://" + domain + " first"})
			default:
				p.Issues = append(p.Issues, PreloadIssue{"redirects.http.first_redirect.insecure", "http://" + domain + " first redirects to " + httpChain[1].URL + ", not to https://" + domain})
			}
			for i, r := range httpChain[1:] {
				if u, err := url.Parse(r.URL); err == nil && u.Scheme != "https" && i > 0 {
					p.Issues = append(p.Issues, PreloadIssue{"redirects.insecure.subsequent", "a later redirect goes to " + r.URL})
					break
				}
			}
		}
	}
	p.Eligible = len(p.Issues) == 0
	return p
}

func hstsPreloadFindings(p *HSTSPreload, target string) []Finding {
	var out []Finding
	for _, is := range p.Issues {
		out = append(out, newFinding(ruleHSTSPreload, target, is.Message, is.Code))
	}
	return out
}
