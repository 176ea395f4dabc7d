package scan

// Observatory test names (algorithm v6), in the order the Observatory runs them.
const (
	TestCSP            = "content-security-policy"
	TestCookies        = "cookies"
	TestCORS           = "cross-origin-resource-sharing"
	TestRedirection    = "redirection"
	TestReferrerPolicy = "referrer-policy"
	TestHSTS           = "strict-transport-security"
	TestSRI            = "subresource-integrity"
	TestXCTO           = "x-content-type-options"
	TestXFO            = "x-frame-options"
	TestCORP           = "cross-origin-resource-policy"
	TestCOOP           = "cross-origin-opener-policy"
	TestCOEP           = "cross-origin-embedder-policy"
)

// AlgorithmVersion is the Observatory scoring algorithm this package reproduces.
const AlgorithmVersion = 6

// Observatory result names (the "expectation" strings of the Observatory).
const (
	CSPDefaultNone              = "csp-implemented-with-no-unsafe-default-src-none"
	CSPNoUnsafe                 = "csp-implemented-with-no-unsafe"
	CSPUnsafeInlineStyleOnly    = "csp-implemented-with-unsafe-inline-in-style-src-only"
	CSPDuplicateDirectives      = "csp-implemented-but-duplicate-directives"
	CSPInsecureSchemePassive    = "csp-implemented-with-insecure-scheme-in-passive-content-only"
	CSPUnsafeEval               = "csp-implemented-with-unsafe-eval"
	CSPUnsafeInline             = "csp-implemented-with-unsafe-inline"
	CSPInsecureScheme           = "csp-implemented-with-insecure-scheme"
	CSPHeaderInvalid            = "csp-header-invalid"
	CSPNotImplemented           = "csp-not-implemented"
	CSPNotImplementedReportOnly = "csp-not-implemented-but-reporting-enabled"

	CookiesSecureHttpOnlySameSite     = "cookies-secure-with-httponly-sessions-and-samesite"
	CookiesSecureHttpOnly             = "cookies-secure-with-httponly-sessions"
	CookiesNotFound                   = "cookies-not-found"
	CookiesNoSecureHSTS               = "cookies-without-secure-flag-but-protected-by-hsts"
	CookiesSessionNoSecureHSTS        = "cookies-session-without-secure-flag-but-protected-by-hsts"
	CookiesNoSecure                   = "cookies-without-secure-flag"
	CookiesSameSiteInvalid            = "cookies-samesite-flag-invalid"
	CookiesAntiCSRFNoSameSite         = "cookies-anticsrf-without-samesite-flag"
	CookiesSessionNoHttpOnly          = "cookies-session-without-httponly-flag"
	CookiesSessionNoSecure            = "cookies-session-without-secure-flag"
	CORSNotImplemented                = "cross-origin-resource-sharing-not-implemented"
	CORSPublic                        = "cross-origin-resource-sharing-implemented-with-public-access"
	CORSRestricted                    = "cross-origin-resource-sharing-implemented-with-restricted-access"
	CORSUniversal                     = "cross-origin-resource-sharing-implemented-with-universal-access"
	RedirectionAllPreloaded           = "redirection-all-redirects-preloaded"
	RedirectionToHTTPS                = "redirection-to-https"
	RedirectionNotNeeded              = "redirection-not-needed-no-http"
	RedirectionOffHost                = "redirection-off-host-from-http"
	RedirectionNotToHTTPSInitial      = "redirection-not-to-https-on-initial-redirection"
	RedirectionNotToHTTPS             = "redirection-not-to-https"
	RedirectionMissing                = "redirection-missing"
	RedirectionInvalidCert            = "redirection-invalid-cert"
	ReferrerPrivate                   = "referrer-policy-private"
	ReferrerNotImplemented            = "referrer-policy-not-implemented"
	ReferrerUnsafe                    = "referrer-policy-unsafe"
	ReferrerInvalid                   = "referrer-policy-header-invalid"
	HSTSPreloaded                     = "hsts-preloaded"
	HSTSSixMonths                     = "hsts-implemented-max-age-at-least-six-months"
	HSTSShort                         = "hsts-implemented-max-age-less-than-six-months"
	HSTSNotImplemented                = "hsts-not-implemented"
	HSTSInvalid                       = "hsts-header-invalid"
	HSTSNoHTTPS                       = "hsts-not-implemented-no-https"
	HSTSInvalidCert                   = "hsts-invalid-cert"
	SRIAllSecure                      = "sri-implemented-and-all-scripts-loaded-securely"
	SRIExternalSecure                 = "sri-implemented-and-external-scripts-loaded-securely"
	SRINotHTML                        = "sri-not-implemented-response-not-html"
	SRINoScripts                      = "sri-not-implemented-but-no-scripts-loaded"
	SRINotImplementedSecureOrigin     = "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"
	SRINotImplementedExternalSecure   = "sri-not-implemented-but-external-scripts-loaded-securely"
	SRIImplementedExternalInsecure    = "sri-implemented-but-external-scripts-not-loaded-securely"
	SRINotImplementedExternalInsecure = "sri-not-implemented-and-external-scripts-not-loaded-securely"
	HTMLNotParseable                  = "html-not-parseable"
	XCTONosniff                       = "x-content-type-options-nosniff"
	XCTONotImplemented                = "x-content-type-options-not-implemented"
	XCTOInvalid                       = "x-content-type-options-header-invalid"
	XFOViaCSP                         = "x-frame-options-implemented-via-csp"
	XFOSameOriginOrDeny               = "x-frame-options-sameorigin-or-deny"
	XFOAllowFrom                      = "x-frame-options-allow-from-origin"
	XFONotImplemented                 = "x-frame-options-not-implemented"
	XFOInvalid                        = "x-frame-options-header-invalid"
	CORPSameOrigin                    = "corp-implemented-with-same-origin"
	CORPSameSite                      = "corp-implemented-with-same-site"
	CORPCrossOrigin                   = "corp-implemented-with-cross-origin"
	CORPNotImplemented                = "corp-not-implemented"
	CORPInvalid                       = "corp-header-invalid"
	COOPSameOrigin                    = "coop-implemented-with-same-origin"
	COOPSameOriginAllowPopups         = "coop-implemented-with-same-origin-allow-popups"
	COOPNoopenerAllowPopups           = "coop-implemented-with-noopener-allow-popups"
	COOPUnsafeNone                    = "coop-implemented-with-unsafe-none"
	COOPNotImplemented                = "coop-not-implemented"
	COOPInvalid                       = "coop-header-invalid"
	COEPRequireCorp                   = "coep-implemented-with-require-corp"
	COEPCredentialless                = "coep-implemented-with-credentialless"
	COEPUnsafeNone                    = "coep-implemented-with-unsafe-none"
	COEPNotImplemented                = "coep-not-implemented"
	COEPInvalid                       = "coep-header-invalid"
)

type scoreEntry struct {
	modifier    int
	description string
}

// scoreTable is the Observatory's SCORE_TABLE (modifiers per result) with
// short descriptions used as the "reason" column.
var scoreTable = map[string]scoreEntry{
	CSPDefaultNone:              {10, "CSP implemented with default-src 'none' and no unsafe sources"},
	CSPNoUnsafe:                 {5, "CSP implemented without 'unsafe-inline' or 'unsafe-eval'"},
	CSPUnsafeInlineStyleOnly:    {0, "CSP implemented with unsafe sources inside style-src only"},
	CSPDuplicateDirectives:      {0, "CSP implemented, but contains duplicate report-uri/report-to directives"},
	CSPInsecureSchemePassive:    {-10, "CSP allows images or media over HTTP"},
	CSPUnsafeEval:               {-10, "CSP allows 'unsafe-eval'"},
	CSPUnsafeInline:             {-20, "CSP allows 'unsafe-inline', data: or broad sources in script-src/object-src, or leaves them unrestricted"},
	CSPInsecureScheme:           {-20, "CSP allows active content over HTTP"},
	CSPHeaderInvalid:            {-25, "CSP header cannot be parsed"},
	CSPNotImplemented:           {-25, "CSP header not implemented"},
	CSPNotImplementedReportOnly: {-25, "only Content-Security-Policy-Report-Only is set"},

	CookiesSecureHttpOnlySameSite: {5, "all cookies Secure, session cookies HttpOnly, all cookies SameSite"},
	CookiesSecureHttpOnly:         {0, "all cookies Secure and session cookies HttpOnly, but SameSite missing"},
	CookiesNotFound:               {0, "no cookies detected"},
	CookiesNoSecureHSTS:           {-5, "cookies without Secure, but HSTS protects them"},
	CookiesSessionNoSecureHSTS:    {-10, "session cookie without Secure, but HSTS protects it"},
	CookiesNoSecure:               {-20, "cookies set without the Secure flag"},
	CookiesSameSiteInvalid:        {-20, "SameSite set to an invalid value (or None without Secure)"},
	CookiesAntiCSRFNoSameSite:     {-20, "anti-CSRF cookie without SameSite"},
	CookiesSessionNoHttpOnly:      {-30, "session cookie without HttpOnly"},
	CookiesSessionNoSecure:        {-40, "session cookie without Secure"},

	CORSNotImplemented: {0, "content not visible via CORS"},
	CORSPublic:         {0, "public content visible via Access-Control-Allow-Origin: *"},
	CORSRestricted:     {0, "CORS restricted to specific origins"},
	CORSUniversal:      {-50, "any origin is reflected with credentials allowed"},

	RedirectionAllPreloaded:      {0, "all redirect hosts are HSTS-preloaded"},
	RedirectionToHTTPS:           {0, "initial redirect is to HTTPS on the same host, final destination is HTTPS"},
	RedirectionNotNeeded:         {0, "not reachable over HTTP, no redirect needed"},
	RedirectionOffHost:           {-5, "initial HTTP->HTTPS redirect goes to a different host"},
	RedirectionNotToHTTPSInitial: {-10, "initial redirect is to another HTTP URL"},
	RedirectionNotToHTTPS:        {-20, "redirects, but final destination is not HTTPS"},
	RedirectionMissing:           {-20, "HTTP does not redirect to HTTPS"},
	RedirectionInvalidCert:       {-20, "invalid certificate chain during redirection"},

	ReferrerPrivate:        {5, "Referrer-Policy is private"},
	ReferrerNotImplemented: {0, "Referrer-Policy not implemented"},
	ReferrerUnsafe:         {-5, "Referrer-Policy is unsafe"},
	ReferrerInvalid:        {-5, "Referrer-Policy cannot be recognised"},

	HSTSPreloaded:      {5, "host is HSTS-preloaded"},
	HSTSSixMonths:      {0, "HSTS max-age is at least six months"},
	HSTSShort:          {-10, "HSTS max-age is less than six months"},
	HSTSNotImplemented: {-20, "Strict-Transport-Security not implemented"},
	HSTSInvalid:        {-20, "Strict-Transport-Security cannot be recognised"},
	HSTSNoHTTPS:        {-20, "site not available over HTTPS"},
	HSTSInvalidCert:    {-20, "invalid certificate chain"},

	SRIAllSecure:                      {5, "SRI implemented and all scripts loaded from a similar origin"},
	SRIExternalSecure:                 {5, "SRI implemented and all scripts loaded securely"},
	SRINotHTML:                        {0, "response is not HTML"},
	SRINoScripts:                      {0, "no script tags"},
	SRINotImplementedSecureOrigin:     {0, "SRI not implemented, but all scripts loaded from a similar origin"},
	SRINotImplementedExternalSecure:   {-5, "SRI not implemented, external scripts loaded over HTTPS"},
	SRIImplementedExternalInsecure:    {-20, "SRI implemented, but external scripts loaded over HTTP or protocol-relative URLs"},
	SRINotImplementedExternalInsecure: {-50, "SRI not implemented and external scripts loaded over HTTP or protocol-relative URLs"},
	HTMLNotParseable:                  {-20, "claims to be HTML, but cannot be parsed"},

	XCTONosniff:        {0, "X-Content-Type-Options: nosniff"},
	XCTONotImplemented: {-5, "X-Content-Type-Options not implemented"},
	XCTOInvalid:        {-5, "X-Content-Type-Options cannot be recognised"},

	XFOViaCSP:           {5, "framing controlled by CSP frame-ancestors"},
	XFOSameOriginOrDeny: {0, "X-Frame-Options is SAMEORIGIN or DENY"},
	XFOAllowFrom:        {0, "X-Frame-Options uses ALLOW-FROM"},
	XFONotImplemented:   {-20, "neither X-Frame-Options nor CSP frame-ancestors"},
	XFOInvalid:          {-20, "X-Frame-Options cannot be recognised"},

	CORPSameOrigin:     {10, "Cross-Origin-Resource-Policy: same-origin"},
	CORPSameSite:       {10, "Cross-Origin-Resource-Policy: same-site"},
	CORPCrossOrigin:    {0, "Cross-Origin-Resource-Policy: cross-origin"},
	CORPNotImplemented: {0, "Cross-Origin-Resource-Policy not implemented"},
	CORPInvalid:        {-5, "Cross-Origin-Resource-Policy cannot be recognised"},

	COOPSameOrigin:            {10, "Cross-Origin-Opener-Policy: same-origin"},
	COOPSameOriginAllowPopups: {10, "Cross-Origin-Opener-Policy: same-origin-allow-popups"},
	COOPNoopenerAllowPopups:   {10, "Cross-Origin-Opener-Policy: noopener-allow-popups"},
	COOPUnsafeNone:            {0, "Cross-Origin-Opener-Policy: unsafe-none"},
	COOPNotImplemented:        {0, "Cross-Origin-Opener-Policy not implemented"},
	COOPInvalid:               {-5, "Cross-Origin-Opener-Policy cannot be recognised"},

	COEPRequireCorp:    {10, "Cross-Origin-Embedder-Policy: require-corp"},
	COEPCredentialless: {10, "Cross-Origin-Embedder-Policy: credentialless"},
	COEPUnsafeNone:     {0, "Cross-Origin-Embedder-Policy: unsafe-none"},
	COEPNotImplemented: {0, "Cross-Origin-Embedder-Policy not implemented"},
	COEPInvalid:        {-5, "Cross-Origin-Embedder-Policy cannot be recognised"},
}

// minimumScoreForExtraCredit: bonuses count only when the site earns an A without them.
const minimumScoreForExtraCredit = 90

// gradeForScore maps a final score to its letter grade with the Observatory's
// grade table (score rounded down to a multiple of 5, capped at 100).
func gradeForScore(score int) string {
	if score < 0 {
		score = 0
	}
	s := score - score%5
	if s > 100 {
		s = 100
	}
	switch {
	case s >= 100:
		return "A+"
	case s >= 90:
		return "A"
	case s >= 85:
		return "A-"
	case s >= 80:
		return "B+"
	case s >= 70:
		return "B"
	case s >= 65:
		return "B-"
	case s >= 60:
		return "C+"
	case s >= 50:
		return "C"
	case s >= 45:
		return "C-"
	case s >= 40:
		return "D+"
	case s >= 30:
		return "D"
	case s >= 25:
		return "D-"
	default:
		return "F"
	}
}

var gradeRank = map[string]int{
	"F": 0, "D-": 1, "D": 2, "D+": 3, "C-": 4, "C": 5, "C+": 6,
	"B-": 7, "B": 8, "B+": 9, "A-": 10, "A": 11, "A+": 12,
}

// GradeAtLeast reports whether grade is min or better. Unknown grades never pass.
func GradeAtLeast(grade, min string) bool {
	g, ok1 := gradeRank[grade]
	m, ok2 := gradeRank[min]
	return ok1 && ok2 && g >= m
}
