package scan

import (
	"errors"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The CSP parser is written by hand on purpose: the grade must match the
// MDN HTTP Observatory bit for bit, including its quirks (policy
// intersection by sorted neighbours, superfluous-prefix pruning, empty
// source lists meaning 'none', URI-decoding errors making a header
// invalid). No Go CSP library reproduces those rules, and a browser-exact
// parser would give different grades.

const (
	// shortestPolicy mirrors the Observatory's minimum policy length
	// ("img-src" minus one character).
	shortestPolicy = len("img-src") - 1
	// duplicateWarningsKey is stored as a pseudo-directive, exactly as the
	// Observatory does, so map sizes (and thus "not implemented") agree.
	duplicateWarningsKey = "_observatory_duplicate_warnings"
)

// errInvalidCSP is returned for any policy list the Observatory refuses.
var errInvalidCSP = errors.New("scan: invalid content security policy")

// cspSet is a set of lower-cased sources. It is a map so that, as in the
// Observatory, a fallback (script-src -> default-src) aliases the same set
// and deletions are visible through both names.
type cspSet map[string]struct{}

func newSet(vals ...string) cspSet {
	s := make(cspSet, len(vals))
	for _, v := range vals {
		s[v] = struct{}{}
	}
	return s
}

func (s cspSet) has(v string) bool { _, ok := s[v]; return ok }

func (s cspSet) sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// cspMap maps a lower-cased directive name to its source set.
type cspMap map[string]cspSet

type cspSource struct {
	source string
	index  int
	keep   bool
}

// isJSSpace reports whether r is matched by JavaScript's \s, which the
// Observatory uses to split and trim policies.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func jsTrim(s string) string { return strings.TrimFunc(s, isJSSpace) }

// effectiveCSP parses a list of policies (one per header value or meta tag, already
// split on commas) into the effective policy: a source survives only if every
// policy that names the directive allows it. Directive names and sources are
// lower-cased. It returns an error for an empty or too short policy, a
// repeated directive (other than report-uri/report-to), or a malformed
// percent-encoding met while comparing sources.
func effectiveCSP(policies []string) (map[string][]string, error) {
	m, err := parseCSP(policies)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = v.sorted()
	}
	return out, nil
}

func parseCSP(cspList []string) (cspMap, error) {
	clean := make([]string, len(cspList))
	for i, s := range cspList {
		s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
		clean[i] = jsTrim(s)
	}
	if len(clean) == 0 {
		return cspMap{}, nil
	}
	for _, s := range clean {
		if s == "" || utf16Len(s) < shortestPolicy {
			return nil, errInvalidCSP
		}
	}

	csp := map[string][]*cspSource{}
	dups := newSet()

	for policyIndex, policy := range clean {
		seen := map[string]bool{}
		for _, entry := range strings.Split(policy, ";") {
			fields := strings.FieldsFunc(jsTrim(entry), isJSSpace)
			if len(fields) == 0 {
				continue
			}
			directive := strings.ToLower(fields[0])
			values := fields[1:]
			if seen[directive] {
				if directive == "report-uri" || directive == "report-to" {
					dups[directive] = struct{}{}
				} else {
					return nil, errInvalidCSP
				}
			} else {
				seen[directive] = true
			}

			keep := policyIndex == 0
			var vals []*cspSource
			if len(values) > 0 {
				for _, raw := range values {
					vals = append(vals, &cspSource{source: strings.ToLower(jsTrim(raw)), index: policyIndex, keep: keep})
				}
			} else if strings.HasSuffix(directive, "-src") {
				vals = append(vals, &cspSource{source: "'none'", index: policyIndex, keep: keep})
			}

			var combined []*cspSource
			if policyIndex == 0 {
				combined = append(combined, vals...)
			} else {
				combined = append(append(combined, csp[directive]...), vals...)
			}
			sort.SliceStable(combined, func(i, j int) bool {
				return collate(combined[i].source, combined[j].source) < 0
			})
			for i := 1; i < len(combined); i++ {
				src, prev := combined[i], combined[i-1]
				if src.index == prev.index && strings.HasPrefix(src.source, prev.source) {
					src.keep = false
				}
				if src.index != prev.index {
					ok, err := pathPartMatch(prev.source, src.source)
					if err != nil {
						return nil, err
					}
					if ok {
						src.keep = true
					}
				}
			}
			var kept []*cspSource
			for _, s := range combined {
				if s.keep {
					kept = append(kept, s)
				}
			}
			csp[directive] = kept
			if policyIndex == 0 && len(cspList) > 1 {
				for _, s := range kept {
					s.keep = false
				}
			}
		}
	}

	final := make(cspMap, len(csp)+1)
	for d, srcs := range csp {
		if len(srcs) == 0 {
			final[d] = newSet("'none'")
			continue
		}
		set := newSet()
		for _, s := range srcs {
			set[s.source] = struct{}{}
		}
		final[d] = set
	}
	if len(dups) > 0 {
		final[duplicateWarningsKey] = dups
	}
	return final, nil
}

// parseCSPMeta drops the directives a <meta http-equiv> policy may not carry.
func parseCSPMeta(list []string) (cspMap, error) {
	m, err := parseCSP(list)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"frame-ancestors", "report-uri", "sandbox"} {
		delete(m, d)
	}
	return m, nil
}

// utf16Len counts UTF-16 code units, the unit of JavaScript's length.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func pathPartMatch(a, b string) (bool, error) {
	if a == "" {
		return true, nil
	}
	if a == "/" && b == "" {
		return true, nil
	}
	exact := !strings.HasSuffix(a, "/")
	la, lb := strings.Split(a, "/"), strings.Split(b, "/")
	if len(la) > len(lb) {
		return false, nil
	}
	if exact && len(la) != len(lb) {
		return false, nil
	}
	if !exact {
		la = la[:len(la)-1]
	}
	for i := range la {
		pa, err := decodeURIComponent(la[i])
		if err != nil {
			return false, err
		}
		pb, err := decodeURIComponent(lb[i])
		if err != nil {
			return false, err
		}
		if pa != pb {
			return false, nil
		}
	}
	return true, nil
}

// decodeURIComponent follows JavaScript: a '%' not followed by two hex digits,
// or escapes that do not decode to UTF-8, are errors (the Observatory then
// calls the whole header invalid).
func decodeURIComponent(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errInvalidCSP
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	if !utf8.ValidString(b.String()) {
		return "", errInvalidCSP
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// collationOrder is the CLDR root primary order of ASCII punctuation, digits
// and letters. The Observatory sorts sources with Intl.Collator("en"); which
// sources become neighbours (and so get pruned or intersected) depends on it.
const collationOrder = "\t\n\v\f\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"

var collationRank = func() [128]int {
	var r [128]int
	for i := range r {
		r[i] = -1
	}
	for i := 0; i < len(collationOrder); i++ {
		r[collationOrder[i]] = i + 1
	}
	for c := 'A'; c <= 'Z'; c++ {
		r[c] = r[unicode.ToLower(c)]
	}
	return r
}()

func runeRank(r rune) int {
	if r < 128 {
		if v := collationRank[r]; v >= 0 {
			return v
		}
		return 0 // other controls: ignorable, sort first
	}
	return 1000 + int(r)
}

func collate(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if x, y := runeRank(ra), runeRank(rb); x != y {
			if x < y {
				return -1
			}
			return 1
		}
		a, b = a[na:], b[nb:]
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

// CSPPolicy holds the Observatory's policy flags for the effective CSP.
type CSPPolicy struct {
	AntiClickjacking      bool `json:"antiClickjacking"`
	DefaultNone           bool `json:"defaultNone"`
	InsecureBaseURI       bool `json:"insecureBaseUri"`
	InsecureFormAction    bool `json:"insecureFormAction"`
	InsecureSchemeActive  bool `json:"insecureSchemeActive"`
	InsecureSchemePassive bool `json:"insecureSchemePassive"`
	StrictDynamic         bool `json:"strictDynamic"`
	UnsafeEval            bool `json:"unsafeEval"`
	UnsafeInline          bool `json:"unsafeInline"`
	UnsafeInlineStyle     bool `json:"unsafeInlineStyle"`
	UnsafeObjects         bool `json:"unsafeObjects"`
}

var (
	dangerouslyBroad = newSet("ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*")
	unsafeInlineSet  = newSet("'unsafe-inline'", "data:")
	passiveDirective = []string{"img-src", "media-src"}
	noncesHashes     = []string{"'sha256-", "'sha384-", "'sha512-", "'nonce-"}
)

func broadOrInline(s string) bool { return dangerouslyBroad.has(s) || unsafeInlineSet.has(s) }

func anyOf(s cspSet, f func(string) bool) bool {
	for v := range s {
		if f(v) {
			return true
		}
	}
	return false
}

func hasNonceOrHash(s cspSet) bool {
	return anyOf(s, func(v string) bool {
		for _, p := range noncesHashes {
			if strings.HasPrefix(v, p) {
				return true
			}
		}
		return false
	})
}

// cspOutcome is the result of the Observatory CSP test.
type cspOutcome struct {
	result      string
	pass        bool
	policy      *CSPPolicy
	data        map[string][]string
	numPolicies int
	http, meta  bool
}

func splitPolicies(values []string) []string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			out = append(out, jsTrim(p))
		}
	}
	return out
}

// cspTest re-implements the Observatory's content-security-policy test.
func cspTest(rs *responseSet) cspOutcome {
	var o cspOutcome
	resp := rs.Auto
	if resp == nil || rs.URL == "" {
		o.result = CSPNotImplemented
		return o
	}
	httpPolicies := splitPolicies(headerValues(resp.Header, "Content-Security-Policy"))
	equivPolicies := splitPolicies(rs.httpEquiv()["content-security-policy"])
	o.numPolicies = len(httpPolicies) + len(equivPolicies)

	csp, err := parseCSP(append(append([]string{}, httpPolicies...), equivPolicies...))
	if err != nil {
		o.result = CSPHeaderInvalid
		return o
	}
	headerOnly, err := parseCSP(httpPolicies)
	if err != nil {
		headerOnly = cspMap{}
	}
	metaCSP, err := parseCSPMeta(equivPolicies)
	if err != nil {
		metaCSP = cspMap{}
	}
	if len(headerOnly)+len(metaCSP) == 0 {
		if firstHeader(resp.Header, "Content-Security-Policy-Report-Only") != "" {
			o.result = CSPNotImplementedReportOnly
		} else {
			o.result = CSPNotImplemented
		}
		return o
	}

	p := &CSPPolicy{}
	o.policy = p
	o.http = len(httpPolicies) > 0
	o.meta = len(equivPolicies) > 0

	get := func(m cspMap, names ...string) cspSet {
		for _, n := range names {
			if s, ok := m[n]; ok {
				return s
			}
		}
		return newSet("*")
	}
	baseURI := get(csp, "base-uri")
	frameAncestors := get(headerOnly, "frame-ancestors")
	formAction := get(csp, "form-action")
	objectSrc := get(csp, "object-src", "default-src")
	scriptSrc := get(csp, "script-src", "default-src")
	styleSrc := get(csp, "style-src", "default-src")

	for _, list := range []cspSet{scriptSrc, styleSrc} {
		if hasNonceOrHash(list) && list.has("'unsafe-inline'") {
			delete(list, "'unsafe-inline'")
		}
	}

	result := ""
	set := func(r string) {
		if result == "" {
			result = r
		}
	}
	if hasNonceOrHash(scriptSrc) && scriptSrc.has("'strict-dynamic'") {
		for src := range scriptSrc {
			broad := false
			for b := range dangerouslyBroad {
				if strings.HasPrefix(src, b) {
					broad = true
					break
				}
			}
			if broad || src == "'self'" || src == "'unsafe-inline'" {
				delete(scriptSrc, src)
			}
		}
		p.StrictDynamic = true
	} else if scriptSrc.has("'strict-dynamic'") {
		set(CSPHeaderInvalid)
	}

	var active []string
	for d, s := range csp {
		if d == "img-src" || d == "media-src" || d == "script-src" {
			continue
		}
		for v := range s {
			active = append(active, v)
		}
	}
	for v := range scriptSrc {
		active = append(active, v)
	}
	var passive []string
	for _, d := range passiveDirective {
		s, ok := csp[d]
		if !ok {
			s = csp["default-src"]
		}
		for v := range s {
			passive = append(passive, v)
		}
	}
	https := strings.HasPrefix(strings.ToLower(rs.URL), "https:")
	insecure := func(list []string) bool {
		for _, v := range list {
			if strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "ftp:") {
				return true
			}
		}
		return false
	}

	if anyOf(scriptSrc, broadOrInline) || anyOf(objectSrc, dangerouslyBroad.has) {
		set(CSPUnsafeInline)
		p.UnsafeInline = true
	}
	if https && insecure(active) {
		set(CSPInsecureScheme)
		p.InsecureSchemeActive = true
	}
	if scriptSrc.has("'unsafe-eval'") || styleSrc.has("'unsafe-eval'") {
		set(CSPUnsafeEval)
		p.UnsafeEval = true
	}
	if https && insecure(passive) {
		set(CSPInsecureSchemePassive)
		p.InsecureSchemePassive = true
	}
	if anyOf(styleSrc, broadOrInline) {
		set(CSPUnsafeInlineStyleOnly)
		p.UnsafeInlineStyle = true
	}
	if ds, ok := csp["default-src"]; ok && ds.has("'none'") && len(ds) == 1 {
		set(CSPDefaultNone)
		p.DefaultNone = true
	} else {
		set(CSPNoUnsafe)
	}

	p.AntiClickjacking = !anyOf(frameAncestors, dangerouslyBroad.has)
	p.InsecureBaseURI = anyOf(baseURI, broadOrInline)
	p.InsecureFormAction = anyOf(formAction, dangerouslyBroad.has)
	p.UnsafeObjects = anyOf(objectSrc, dangerouslyBroad.has)

	switch result {
	case CSPNoUnsafe, CSPDefaultNone, CSPUnsafeInlineStyleOnly, CSPInsecureSchemePassive:
		o.pass = true
		if _, ok := csp[duplicateWarningsKey]; ok {
			result = CSPDuplicateDirectives
		}
	}
	o.result = result
	o.data = map[string][]string{}
	for k, v := range csp {
		if k == duplicateWarningsKey {
			continue
		}
		o.data[k] = v.sorted()
	}
	return o
}
