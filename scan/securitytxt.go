package scan

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-go/rampart/internal/ascii"
)

// security.txt rules (RFC 9116).
var (
	ruleSTMissing = rule(Rule{ID: "security.txt/missing", Area: AreaSecurityTx, Severity: SeverityLow,
		Title:     "no security.txt at /.well-known/security.txt",
		Fix:       "publish /.well-known/security.txt with at least Contact and Expires (RFC 9116)",
		Reference: "RFC 9116 §3"})
	ruleSTLegacy = rule(Rule{ID: "security.txt/legacy-location", Area: AreaSecurityTx, Severity: SeverityLow,
		Title:     "security.txt only at /security.txt, not at /.well-known/security.txt",
		Fix:       "serve it at /.well-known/security.txt (the top-level path is for legacy compatibility only)",
		Reference: "RFC 9116 §3"})
	ruleSTNotHTTPS = rule(Rule{ID: "security.txt/not-https", Area: AreaSecurityTx, Severity: SeverityMedium,
		Title:     "security.txt not served over HTTPS",
		Fix:       "serve security.txt over HTTPS",
		Reference: "RFC 9116 §3"})
	ruleSTRedirect = rule(Rule{ID: "security.txt/offsite-redirect", Area: AreaSecurityTx, Severity: SeverityLow,
		Title:     "security.txt redirects to another site (not followed)",
		Fix:       "serve the file on the site itself, or check the redirect target is yours",
		Reference: "RFC 9116 §3, §6.5"})
	ruleSTContentType = rule(Rule{ID: "security.txt/content-type", Area: AreaSecurityTx, Severity: SeverityLow,
		Title:     "security.txt is not served as text/plain; charset=utf-8",
		Fix:       "send Content-Type: text/plain; charset=utf-8",
		Reference: "RFC 9116 §3"})
	ruleSTNoContact = rule(Rule{ID: "security.txt/no-contact", Area: AreaSecurityTx, Severity: SeverityMedium,
		Title:     "security.txt has no Contact field",
		Fix:       "add Contact: mailto:security@example.com (or an https:// form)",
		Reference: "RFC 9116 §2.5.3"})
	ruleSTNoExpires = rule(Rule{ID: "security.txt/no-expires", Area: AreaSecurityTx, Severity: SeverityMedium,
		Title:     "security.txt has no valid Expires field",
		Fix:       "add Expires: with an RFC 3339 date less than a year ahead, e.g. 2027-01-31T23:00:00Z",
		Reference: "RFC 9116 §2.5.5"})
	ruleSTExpired = rule(Rule{ID: "security.txt/expired", Area: AreaSecurityTx, Severity: SeverityMedium,
		Title:     "security.txt has expired (its Expires date is past)",
		Fix:       "review the file and move Expires forward (less than a year)",
		Reference: "RFC 9116 §2.5.5"})
	ruleSTExpiresFar = rule(Rule{ID: "security.txt/expires-far", Area: AreaSecurityTx, Severity: SeverityInfo,
		Title:     "security.txt Expires is more than a year ahead",
		Fix:       "set Expires less than a year ahead so the file is reviewed",
		Reference: "RFC 9116 §2.5.5"})
	ruleSTSyntax = rule(Rule{ID: "security.txt/syntax", Area: AreaSecurityTx, Severity: SeverityLow,
		Title:     "security.txt has lines or fields that do not follow RFC 9116",
		Fix:       "fix the lines named (one \"Field: value\" per line, Expires and Preferred-Languages once)",
		Reference: "RFC 9116 §2"})
	ruleSTInsecureURI = rule(Rule{ID: "security.txt/insecure-uri", Area: AreaSecurityTx, Severity: SeverityLow,
		Title:     "a security.txt field points at a plain http:// URI",
		Fix:       "use https:// web URIs",
		Reference: "RFC 9116 §2.5"})
	ruleSTCanonical = rule(Rule{ID: "security.txt/canonical-mismatch", Area: AreaSecurityTx, Severity: SeverityLow,
		Title:     "security.txt's Canonical fields do not list the URL it was fetched from",
		Fix:       "list every URL the file is served at in Canonical",
		Reference: "RFC 9116 §2.5.2"})
	ruleSTUnsigned = rule(Rule{ID: "security.txt/unsigned", Area: AreaSecurityTx, Severity: SeverityInfo,
		Title:     "security.txt is not signed",
		Fix:       "sign it with an OpenPGP cleartext signature and give Canonical (recommended, not required)",
		Reference: "RFC 9116 §2.3"})
	ruleSTBadSignature = rule(Rule{ID: "security.txt/signature-format", Area: AreaSecurityTx, Severity: SeverityLow,
		Title:     "security.txt looks signed but is not a well-formed OpenPGP cleartext signed message",
		Fix:       "re-sign with gpg --clearsign",
		Reference: "RFC 9116 §2.3; RFC 4880 §7"})
)

// SecurityTxt is a parsed security.txt file (RFC 9116).
type SecurityTxt struct {
	// URL is where the file was read; "" when none was found.
	URL                string    `json:"url,omitempty"`
	Signed             bool      `json:"signed"`
	Contact            []string  `json:"contact,omitempty"`
	Expires            time.Time `json:"expires,omitzero"`
	Encryption         []string  `json:"encryption,omitempty"`
	Acknowledgments    []string  `json:"acknowledgments,omitempty"`
	PreferredLanguages string    `json:"preferred_languages,omitempty"`
	Canonical          []string  `json:"canonical,omitempty"`
	Policy             []string  `json:"policy,omitempty"`
	Hiring             []string  `json:"hiring,omitempty"`
	CSAF               []string  `json:"csaf,omitempty"`
	// Problems are the RFC 9116 violations found while parsing.
	Problems []string `json:"problems,omitempty"`

	expiresSeen     int
	signatureBroken bool
}

// maxSecurityTxt bounds the file read (real files are a few hundred bytes).
const maxSecurityTxt = 32 << 10

// parseSecurityTxt parses a security.txt body. It never fails: problems are
// listed in Problems. A cleartext-signed file is unwrapped (its signature is
// not verified: the key is the site's to publish) and dash-escaping undone.
func parseSecurityTxt(body string) SecurityTxt {
	var st SecurityTxt
	if !utf8.ValidString(body) {
		st.Problems = append(st.Problems, "the file is not valid UTF-8")
	}
	body = strings.TrimPrefix(body, "\ufeff")
	text := body
	if strings.Contains(body, "-----BEGIN PGP SIGNED MESSAGE-----") {
		st.Signed = true
		inner, ok := unwrapClearsigned(body)
		if !ok {
			st.signatureBroken = true
		}
		text = inner
	}
	once := map[string]int{}
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			st.Problems = append(st.Problems, fmt.Sprintf("line %d is not a field: %q", i+1, clip(line, 80)))
			continue
		}
		value = strings.TrimSpace(value)
		key := ascii.Lower(name)
		uriField := func(dst *[]string) {
			*dst = append(*dst, value)
			u, err := url.Parse(value)
			if err != nil || u.Scheme == "" {
				st.Problems = append(st.Problems, fmt.Sprintf("line %d: %s is not a URI: %q", i+1, name, clip(value, 80)))
			}
		}
		switch key {
		case "contact":
			uriField(&st.Contact)
		case "encryption":
			uriField(&st.Encryption)
		case "acknowledgments", "acknowledgements":
			uriField(&st.Acknowledgments)
		case "canonical":
			uriField(&st.Canonical)
		case "policy":
			uriField(&st.Policy)
		case "hiring":
			uriField(&st.Hiring)
		case "csaf":
			uriField(&st.CSAF)
		case "preferred-languages":
			once[key]++
			st.PreferredLanguages = value
		case "expires":
			st.expiresSeen++
			once[key]++
			t, err := time.Parse(time.RFC3339, value)
			if err != nil {
				st.Problems = append(st.Problems, fmt.Sprintf("line %d: Expires is not an RFC 3339 date-time: %q", i+1, clip(value, 80)))
				continue
			}
			if st.Expires.IsZero() {
				st.Expires = t
			}
		}
		// Unknown fields are allowed and ignored (RFC 9116 §2.4).
	}
	for _, k := range []string{"expires", "preferred-languages"} {
		if once[k] > 1 {
			st.Problems = append(st.Problems, fmt.Sprintf("%s appears %d times (at most once)", k, once[k]))
		}
	}
	return st
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// unwrapClearsigned returns the signed text of an OpenPGP cleartext signed
// message (RFC 4880 §7): the armor header line, hash headers, a blank line,
// the dash-escaped text, then the armored signature. ok is false when that
// structure is not there; the text is then everything up to the signature.
func unwrapClearsigned(body string) (string, bool) {
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	i := 0
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	ok := i < len(lines) && strings.TrimRight(lines[i], " \t") == "-----BEGIN PGP SIGNED MESSAGE-----"
	if ok {
		i++
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			if !strings.HasPrefix(lines[i], "Hash:") {
				ok = false
			}
			i++
		}
		i++ // the blank line
	} else {
		i = 0
	}
	var text []string
	sig := false
	for ; i < len(lines); i++ {
		if strings.TrimRight(lines[i], " \t") == "-----BEGIN PGP SIGNATURE-----" {
			sig = true
			break
		}
		l := lines[i]
		if strings.HasPrefix(l, "- ") {
			l = l[2:]
		} else if strings.HasPrefix(l, "-") && ok {
			ok = false // an unescaped dash line inside signed text
		}
		text = append(text, l)
	}
	end := false
	for ; i < len(lines); i++ {
		if strings.TrimRight(lines[i], " \t") == "-----END PGP SIGNATURE-----" {
			end = true
		}
	}
	return strings.Join(text, "\n"), ok && sig && end
}

// securityTxtFindings judges a fetched file at now.
func securityTxtFindings(st SecurityTxt, contentType string, now time.Time) []Finding {
	var out []Finding
	u := st.URL
	if mt, params, err := mime.ParseMediaType(contentType); err != nil || mt != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		out = append(out, newFinding(ruleSTContentType, u, fmt.Sprintf("Content-Type is %q", contentType), contentType))
	}
	if len(st.Contact) == 0 {
		out = append(out, newFinding(ruleSTNoContact, u, "no Contact field: researchers have nowhere to report", ""))
	}
	switch {
	case st.Expires.IsZero():
		out = append(out, newFinding(ruleSTNoExpires, u, "Expires is missing or not an RFC 3339 date-time", ""))
	case !st.Expires.After(now):
		out = append(out, newFinding(ruleSTExpired, u, "Expires "+st.Expires.Format(time.RFC3339)+" is past: the file must be treated as stale", st.Expires.Format(time.RFC3339)))
	case st.Expires.After(now.AddDate(1, 0, 0)):
		out = append(out, newFinding(ruleSTExpiresFar, u, "Expires "+st.Expires.Format(time.RFC3339)+" is more than a year ahead", st.Expires.Format(time.RFC3339)))
	}
	if len(st.Problems) > 0 {
		out = append(out, newFinding(ruleSTSyntax, u, strings.Join(st.Problems, "; "), ""))
	}
	for _, group := range [][]string{st.Contact, st.Encryption, st.Acknowledgments, st.Canonical, st.Policy, st.Hiring, st.CSAF} {
		for _, v := range group {
			if strings.HasPrefix(ascii.Lower(v), "http://") {
				out = append(out, newFinding(ruleSTInsecureURI, u, v+" uses plain http://", v))
			}
		}
	}
	if len(st.Canonical) > 0 && indexOf(st.Canonical, u) < 0 {
		out = append(out, newFinding(ruleSTCanonical, u, "fetched from "+u+", but Canonical lists "+strings.Join(st.Canonical, ", "), ""))
	}
	switch {
	case !st.Signed:
		out = append(out, newFinding(ruleSTUnsigned, u, "the file carries no OpenPGP signature", ""))
	case st.signatureBroken:
		out = append(out, newFinding(ruleSTBadSignature, u, "the PGP armor is incomplete or malformed (header, hash line, dash-escaping or signature block)", ""))
	}
	return out
}

// fetchSecurityTxt looks for the file at /.well-known/security.txt, then at
// /security.txt, following same-site redirects only.
func fetchSecurityTxt(ctx context.Context, s *session, base *url.URL) (*SecurityTxt, []Finding) {
	var findings []Finding
	try := func(path string) (body, ctype, at string, ok bool) {
		next := base.ResolveReference(&url.URL{Path: path}).String()
		for hop := 0; hop <= 5; hop++ {
			r, loc, err := s.do(ctx, http.MethodGet, next, http.Header{"Accept": {"text/plain"}}, nil)
			if err != nil {
				return "", "", "", false
			}
			if loc == "" {
				if r.Status != http.StatusOK {
					return "", "", "", false
				}
				return r.Body, r.Header.Get("Content-Type"), next, true
			}
			lu, err := url.Parse(loc)
			if err != nil {
				return "", "", "", false
			}
			if lu.Host != "" && !sameSite(lu.Hostname(), base.Hostname()) {
				findings = append(findings, newFinding(ruleSTRedirect, next, next+" redirects to "+loc, loc))
				return "", "", "", false
			}
			cur, err := url.Parse(next)
			if err != nil {
				return "", "", "", false
			}
			next = cur.ResolveReference(lu).String()
		}
		return "", "", "", false
	}
	body, ctype, at, ok := try("/.well-known/security.txt")
	legacy := false
	if !ok {
		body, ctype, at, ok = try("/security.txt")
		legacy = ok
	}
	if !ok {
		return nil, append(findings, newFinding(ruleSTMissing, base.ResolveReference(&url.URL{Path: "/.well-known/security.txt"}).String(),
			"neither /.well-known/security.txt nor /security.txt answers 200", ""))
	}
	if len(body) > maxSecurityTxt {
		body = body[:maxSecurityTxt]
	}
	st := parseSecurityTxt(body)
	st.URL = at
	if legacy {
		findings = append(findings, newFinding(ruleSTLegacy, at, "found at "+at+" only", ""))
	}
	if au, err := url.Parse(at); err == nil && au.Scheme != "https" {
		findings = append(findings, newFinding(ruleSTNotHTTPS, at, "read over "+au.Scheme+"://", ""))
	}
	findings = append(findings, securityTxtFindings(st, ctype, time.Now())...)
	return &st, findings
}

// siteOf is the registrable domain of host, or host itself for an IP
// address or a name with no registrable domain.
func siteOf(host string) string {
	if d := registrableDomain(host); d != "" {
		return d
	}
	return ascii.Lower(strings.Trim(host, "[]"))
}

// sameSite reports whether two hosts belong to one site.
func sameSite(a, b string) bool { return siteOf(a) == siteOf(b) }
