package scan

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	"github.com/rampart-go/rampart/internal/ascii"
)

// The CSP evaluation below reproduces the checks of Google's CSP Evaluator
// (google/csp-evaluator, checks/security_checks.ts, parser_checks.ts and
// strictcsp_checks.ts): it says why a policy is weak and how to fix it,
// where the Observatory test only grades it. It parses policies the way
// browsers do (CSP3 §2.2.1: first occurrence of a directive wins, an empty
// source list allows nothing), unlike the Observatory-exact parser in csp.go.
//
// Severities follow the Evaluator's, mapped to rampart's scale: HIGH is high,
// MEDIUM is medium, MEDIUM_MAYBE is low (it means "maybe, check by hand")
// except 'unsafe-eval', which stays medium as the Observatory penalises it,
// SYNTAX is low, INFO and STRICT_CSP are info.
//
// Deliberate differences from the Evaluator: a directive with an empty source
// list counts as 'none' (as in browsers) rather than as missing; Flash
// object-src bypasses are not listed (no browser runs Flash since 2021); the
// bypass host list is a cited selection (see cspbypass.go); several enforced
// policies are evaluated together (a weakness counts only when every policy
// has it, as a browser must satisfy all of them).

// CSP evaluation rules.
var (
	ruleCSPMissing = rule(Rule{ID: "csp/missing", Area: AreaCSP, Severity: SeverityHigh,
		Title:     "no Content-Security-Policy",
		Fix:       "send a Content-Security-Policy header, e.g. a strict policy: script-src 'nonce-{random}' 'strict-dynamic'; object-src 'none'; base-uri 'none'",
		Reference: "https://w3c.github.io/webappsec-csp/"})
	ruleCSPReportOnly = rule(Rule{ID: "csp/report-only", Area: AreaCSP, Severity: SeverityHigh,
		Title:     "CSP is only in Content-Security-Policy-Report-Only, so nothing is enforced",
		Fix:       "once the reports are clean, send the same policy as Content-Security-Policy",
		Reference: "https://w3c.github.io/webappsec-csp/#cspro-header"})
	ruleCSPReportOnlyExtra = rule(Rule{ID: "csp/report-only-policy", Area: AreaCSP, Severity: SeverityInfo,
		Title: "a Report-Only policy is sent beside the enforced one (it is tested, not enforced)",
		Fix:   "none needed; enforce it once its reports are clean"})
	ruleCSPUnsafeInline = rule(Rule{ID: "csp/unsafe-inline", Area: AreaCSP, Severity: SeverityHigh,
		Title:     "'unsafe-inline' allows injected inline scripts and event handlers",
		Fix:       "remove 'unsafe-inline' from script-src and allow scripts with a per-response nonce or hashes",
		Reference: "csp-evaluator checkScriptUnsafeInline"})
	ruleCSPUnsafeHashes = rule(Rule{ID: "csp/unsafe-hashes", Area: AreaCSP, Severity: SeverityLow,
		Title:     "'unsafe-hashes' allows inline event handlers whose hashes are listed",
		Fix:       "move event handlers into script files or nonced scripts and drop 'unsafe-hashes'",
		Reference: "csp-evaluator checkScriptUnsafeInline"})
	ruleCSPUnsafeEval = rule(Rule{ID: "csp/unsafe-eval", Area: AreaCSP, Severity: SeverityMedium,
		Title:     "'unsafe-eval' allows code injected into eval() and similar sinks to run",
		Fix:       "remove 'unsafe-eval'; replace eval(), new Function() and string timers (use 'wasm-unsafe-eval' for WebAssembly only)",
		Reference: "csp-evaluator checkScriptUnsafeEval"})
	ruleCSPPlainScheme = rule(Rule{ID: "csp/plain-scheme", Area: AreaCSP, Severity: SeverityHigh,
		Title:     "a bare scheme (data:, http: or https:) allows scripts from anywhere",
		Fix:       "remove the scheme source; allow scripts by nonce or hash (add 'strict-dynamic'), or by exact host",
		Reference: "csp-evaluator checkPlainUrlSchemes"})
	ruleCSPWildcard = rule(Rule{ID: "csp/wildcard", Area: AreaCSP, Severity: SeverityHigh,
		Title:     "'*' allows scripts, plugins or base URLs from any host",
		Fix:       "replace '*' with nonces or hashes (script-src), 'none' (object-src) or 'self'/'none' (base-uri)",
		Reference: "csp-evaluator checkWildcards"})
	ruleCSPMissingObjectSrc = rule(Rule{ID: "csp/missing-object-src", Area: AreaCSP, Severity: SeverityHigh,
		Title:     "no object-src (nor default-src): plugins that can run script may be injected",
		Fix:       "add object-src 'none'",
		Reference: "csp-evaluator checkMissingObjectSrcDirective"})
	ruleCSPMissingScriptSrc = rule(Rule{ID: "csp/missing-script-src", Area: AreaCSP, Severity: SeverityHigh,
		Title:     "no script-src (nor default-src): scripts are not restricted",
		Fix:       "add script-src with a nonce or hashes and 'strict-dynamic'",
		Reference: "csp-evaluator checkMissingScriptSrcDirective"})
	ruleCSPMissingBaseURI = rule(Rule{ID: "csp/missing-base-uri", Area: AreaCSP, Severity: SeverityHigh,
		Title:     "no base-uri in a nonce- or hash-based policy: an injected <base> can redirect relative script URLs",
		Fix:       "add base-uri 'none' (or 'self')",
		Reference: "csp-evaluator checkMissingBaseUriDirective"})
	ruleCSPBypassHost = rule(Rule{ID: "csp/script-allowlist-bypass", Area: AreaCSP, Severity: SeverityHigh,
		Title:     "an allow-listed script host serves JSONP or AngularJS, which bypasses the policy",
		Fix:       "drop the host allow-list: allow scripts by nonce or hash with 'strict-dynamic'",
		Reference: "csp-evaluator checkScriptAllowlistBypass; host list: " + cspBypassSource})
	ruleCSPAllowlist = rule(Rule{ID: "csp/script-allowlist", Area: AreaCSP, Severity: SeverityLow,
		Title:     "scripts are allowed by host, which is often bypassable",
		Fix:       "make sure the host serves no JSONP, AngularJS or user uploads, or move to nonces with 'strict-dynamic'",
		Reference: "csp-evaluator checkScriptAllowlistBypass"})
	ruleCSPObjectAllowlist = rule(Rule{ID: "csp/object-allowlist", Area: AreaCSP, Severity: SeverityLow,
		Title:     "object-src allows plugins from listed sources",
		Fix:       "set object-src 'none'",
		Reference: "csp-evaluator checkFlashObjectAllowlistBypass"})
	ruleCSPIPSource = rule(Rule{ID: "csp/ip-source", Area: AreaCSP, Severity: SeverityInfo,
		Title:     "a source is an IP address",
		Fix:       "use host names; remove loopback sources in production",
		Reference: "csp-evaluator checkIpSource"})
	ruleCSPNonceLength = rule(Rule{ID: "csp/nonce-length", Area: AreaCSP, Severity: SeverityMedium,
		Title:     "nonce shorter than 8 characters",
		Fix:       "use a fresh random nonce of at least 128 bits (22 base64 characters) per response",
		Reference: "csp-evaluator checkNonceLength"})
	ruleCSPNonceCharset = rule(Rule{ID: "csp/nonce-charset", Area: AreaCSP, Severity: SeverityInfo,
		Title:     "nonce uses characters outside base64",
		Fix:       "encode the nonce in base64 or base64url",
		Reference: "csp-evaluator checkNonceLength"})
	ruleCSPHTTPSource = rule(Rule{ID: "csp/http-source", Area: AreaCSP, Severity: SeverityMedium,
		Title:     "a source or report URL uses plain http://",
		Fix:       "use https:// URLs",
		Reference: "csp-evaluator checkSrcHttp"})
	ruleCSPDeprecated = rule(Rule{ID: "csp/deprecated-directive", Area: AreaCSP, Severity: SeverityInfo,
		Title:     "deprecated directive",
		Fix:       "remove it (reflected-xss, referrer and disown-opener have header replacements)",
		Reference: "csp-evaluator checkDeprecatedDirective"})
	ruleCSPUnknownDirective = rule(Rule{ID: "csp/unknown-directive", Area: AreaCSP, Severity: SeverityLow,
		Title:     "unknown directive (ignored by browsers)",
		Fix:       "fix the directive's spelling",
		Reference: "csp-evaluator checkUnknownDirective"})
	ruleCSPMissingSemicolon = rule(Rule{ID: "csp/missing-semicolon", Area: AreaCSP, Severity: SeverityLow,
		Title:     "a directive name appears as a source: a ';' is probably missing",
		Fix:       "separate directives with ';'",
		Reference: "csp-evaluator checkMissingSemicolon"})
	ruleCSPInvalidKeyword = rule(Rule{ID: "csp/invalid-keyword", Area: AreaCSP, Severity: SeverityLow,
		Title:     "a keyword is not quoted or is not a CSP keyword",
		Fix:       "quote keywords ('self', 'none', 'nonce-…') and fix their spelling",
		Reference: "csp-evaluator checkInvalidKeyword"})
	ruleCSPStrictDynamicAlone = rule(Rule{ID: "csp/strict-dynamic-without-nonce", Area: AreaCSP, Severity: SeverityLow,
		Title:     "'strict-dynamic' without a nonce or hash blocks every script (the Observatory calls the policy invalid)",
		Fix:       "add a per-response 'nonce-…' (or hashes) next to 'strict-dynamic'",
		Reference: "csp-evaluator checkStrictDynamicNotStandalone"})
	ruleCSPNoStrictDynamic = rule(Rule{ID: "csp/no-strict-dynamic", Area: AreaCSP, Severity: SeverityInfo,
		Title:     "host allow-list without 'strict-dynamic'",
		Fix:       "consider a strict policy: nonces or hashes with 'strict-dynamic'",
		Reference: "csp-evaluator checkStrictDynamic"})
	ruleCSPNoTrustedTypes = rule(Rule{ID: "csp/no-trusted-types", Area: AreaCSP, Severity: SeverityInfo,
		Title:     "Trusted Types not required",
		Fix:       "consider require-trusted-types-for 'script' to lock down DOM XSS sinks",
		Reference: "csp-evaluator checkRequiresTrustedTypesForScripts"})
	ruleCSPNoReporting = rule(Rule{ID: "csp/no-reporting", Area: AreaCSP, Severity: SeverityInfo,
		Title:     "no report-uri or report-to: violations go unseen",
		Fix:       "add report-uri (and report-to) pointing at a CSP report endpoint",
		Reference: "csp-evaluator checkHasConfiguredReporting"})
)

// cspDirectives are the directives the Evaluator knows (csp.ts Directive).
var cspDirectives = newSet("child-src", "connect-src", "default-src", "font-src", "frame-src", "img-src",
	"media-src", "object-src", "script-src", "script-src-attr", "script-src-elem", "style-src",
	"style-src-attr", "style-src-elem", "prefetch-src", "manifest-src", "worker-src", "base-uri",
	"plugin-types", "sandbox", "disown-opener", "form-action", "frame-ancestors", "navigate-to",
	"report-to", "report-uri", "block-all-mixed-content", "upgrade-insecure-requests", "reflected-xss",
	"referrer", "require-sri-for", "trusted-types", "require-trusted-types-for", "webrtc",
	"fenced-frame-src")

// cspFetchDirectives fall back to default-src.
var cspFetchDirectives = newSet("child-src", "connect-src", "default-src", "font-src", "frame-src", "img-src",
	"manifest-src", "media-src", "object-src", "script-src", "script-src-attr", "script-src-elem",
	"style-src", "style-src-attr", "style-src-elem", "worker-src", "fenced-frame-src")

var cspKeywords = newSet("'self'", "'none'", "'unsafe-inline'", "'unsafe-eval'", "'wasm-eval'",
	"'wasm-unsafe-eval'", "'strict-dynamic'", "'unsafe-hashed-attributes'", "'unsafe-hashes'",
	"'report-sample'", "'block'", "'allow'", "'inline-speculation-rules'")

var (
	strictNonce = regexp.MustCompile(`^'nonce-[a-zA-Z0-9+/_-]+[=]{0,2}'$`)
	anyNonce    = regexp.MustCompile(`^'nonce-(.+)'$`)
	strictHash  = regexp.MustCompile(`^'(sha256|sha384|sha512)-[a-zA-Z0-9+/_-]+[=]{0,2}'$`)
	urlScheme   = regexp.MustCompile(`^[a-zA-Z][+a-zA-Z0-9.-]*:$`)
	schemeStrip = regexp.MustCompile(`^[a-zA-Z0-9_][+a-zA-Z0-9_.-]*://`)
	ipv4Like    = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$`)
)

// evalPolicy is one policy as a browser parses it.
type evalPolicy struct {
	dirs  map[string][]string
	order []string // directive names in order of appearance
}

// parseEvalPolicy parses one serialized policy (no commas): tokens split on
// ';', names lower-cased, the first occurrence of a directive kept, keywords
// and schemes lower-cased, repeated values dropped.
func parseEvalPolicy(s string) evalPolicy {
	p := evalPolicy{dirs: map[string][]string{}}
	for _, tok := range strings.Split(s, ";") {
		parts := strings.FieldsFunc(tok, isASCIIWhitespace)
		if len(parts) == 0 {
			continue
		}
		name := ascii.Lower(parts[0])
		if _, seen := p.dirs[name]; seen {
			continue
		}
		vals := []string{}
		for _, v := range parts[1:] {
			if lv := ascii.Lower(v); cspKeywords.has(lv) || urlScheme.MatchString(v) {
				v = lv
			}
			if indexOf(vals, v) < 0 {
				vals = append(vals, v)
			}
		}
		p.dirs[name] = vals
		p.order = append(p.order, name)
	}
	return p
}

func isASCIIWhitespace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r'
}

func (p evalPolicy) has(d string) bool { _, ok := p.dirs[d]; return ok }

// effective returns the directive that governs d: d itself, script-src for
// its -attr/-elem variants, then default-src for fetch directives.
func (p evalPolicy) effective(d string) string {
	if p.has(d) {
		return d
	}
	if (d == "script-src-attr" || d == "script-src-elem") && p.has("script-src") {
		return "script-src"
	}
	if (d == "style-src-attr" || d == "style-src-elem") && p.has("style-src") {
		return "style-src"
	}
	if cspFetchDirectives.has(d) {
		return "default-src"
	}
	return d
}

func (p evalPolicy) effectives(ds ...string) []string {
	var out []string
	for _, d := range ds {
		if e := p.effective(d); indexOf(out, e) < 0 {
			out = append(out, e)
		}
	}
	return out
}

func (p evalPolicy) values(d string) []string { return p.dirs[p.effective(d)] }

func (p evalPolicy) scriptHas(f func(string) bool) bool {
	for _, v := range p.values("script-src") {
		if f(v) {
			return true
		}
	}
	return false
}

func (p evalPolicy) hasNonces() bool { return p.scriptHas(strictNonce.MatchString) }
func (p evalPolicy) hasHashes() bool { return p.scriptHas(strictHash.MatchString) }
func (p evalPolicy) hasStrictDynamic() bool {
	return p.scriptHas(func(v string) bool { return v == "'strict-dynamic'" })
}

// effectivePolicy applies what a CSP3 browser ignores: 'unsafe-inline' next
// to a nonce or hash, and, with 'strict-dynamic', every host and scheme
// source plus 'self' and 'unsafe-inline'.
func (p evalPolicy) effectivePolicy() evalPolicy {
	e := evalPolicy{dirs: make(map[string][]string, len(p.dirs)), order: p.order}
	for k, v := range p.dirs {
		e.dirs[k] = append([]string(nil), v...)
	}
	for _, d := range []string{"script-src", "script-src-attr", "script-src-elem"} {
		name := e.effective(d)
		vals, ok := e.dirs[name]
		if !ok {
			continue
		}
		nonceOrHash, strictDyn := false, false
		for _, v := range vals {
			nonceOrHash = nonceOrHash || strictNonce.MatchString(v) || strictHash.MatchString(v)
			strictDyn = strictDyn || v == "'strict-dynamic'"
		}
		var kept []string
		for _, v := range vals {
			if nonceOrHash && v == "'unsafe-inline'" {
				continue
			}
			if strictDyn && (!strings.HasPrefix(v, "'") || v == "'self'" || v == "'unsafe-inline'") {
				continue
			}
			kept = append(kept, v)
		}
		e.dirs[name] = kept
	}
	return e
}

// cspIssue is one raw evaluator result for a single policy.
type cspIssue struct {
	id, directive, value, detail string
	weakness                     bool // removed by a stricter sibling policy
}

func schemeFree(v string) string {
	return strings.TrimPrefix(schemeStrip.ReplaceAllString(v, ""), "//")
}

// sourceHost returns the host part of a host-source ("" if none).
func sourceHost(v string) string {
	h := schemeFree(v)
	if i := strings.IndexAny(h, "/?#"); i >= 0 {
		h = h[:i]
	}
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i >= 0 {
			return h[:i+1]
		}
		return h
	}
	if i := strings.LastIndex(h, ":"); i >= 0 {
		h = h[:i]
	}
	return ascii.Lower(h)
}

// sourcePath returns the path part of a host-source ("" if none).
func sourcePath(v string) string {
	h := schemeFree(v)
	if i := strings.Index(h, "/"); i >= 0 {
		p := h[i:]
		if j := strings.IndexAny(p, "?#"); j >= 0 {
			p = p[:j]
		}
		return p
	}
	return ""
}

// bypassFor returns the first known bypass URL the source expression
// matches (CSP host and path matching, as csp-evaluator's matchWildcardUrls).
func bypassFor(src string, evalAllowed bool) (cspBypassURL, bool) {
	host := sourceHost(src)
	path := sourcePath(src)
	wild := strings.HasPrefix(host, "*.")
	for _, b := range cspBypassURLs {
		if b.needsEval && !evalAllowed {
			continue
		}
		if wild {
			if !strings.HasSuffix(b.host, host[1:]) {
				continue
			}
		} else if b.host != host {
			continue
		}
		if path != "" && path != "/" {
			if strings.HasSuffix(path, "/") {
				if !strings.HasPrefix(b.path, path) {
					continue
				}
			} else if b.path != path {
				continue
			}
		}
		return b, true
	}
	return cspBypassURL{}, false
}

// evaluatePolicy runs every check on one policy.
func evaluatePolicy(p evalPolicy) []cspIssue {
	var out []cspIssue
	add := func(id, d, v, detail string, weak bool) {
		out = append(out, cspIssue{id: id, directive: d, value: v, detail: detail, weakness: weak})
	}
	e := p.effectivePolicy()
	xssDirs := []string{"script-src", "script-src-attr", "script-src-elem", "object-src", "base-uri"}

	for _, d := range e.effectives("script-src", "script-src-attr", "script-src-elem") {
		vals := e.dirs[d]
		if indexOf(vals, "'unsafe-inline'") >= 0 {
			add(ruleCSPUnsafeInline, d, "'unsafe-inline'", d+" allows 'unsafe-inline' and has no nonce or hash that would make browsers ignore it", true)
		}
		if indexOf(vals, "'unsafe-hashes'") >= 0 {
			add(ruleCSPUnsafeHashes, d, "'unsafe-hashes'", d+" allows 'unsafe-hashes'", true)
		}
		if indexOf(vals, "'unsafe-eval'") >= 0 {
			add(ruleCSPUnsafeEval, d, "'unsafe-eval'", d+" allows 'unsafe-eval'", true)
		}
	}
	for _, d := range e.effectives(xssDirs...) {
		for _, v := range e.dirs[d] {
			switch ascii.Lower(v) {
			case "data:", "http:", "https:":
				add(ruleCSPPlainScheme, d, v, v+" in "+d+" allows script from any URL of that scheme", true)
			}
			if schemeFree(v) == "*" {
				add(ruleCSPWildcard, d, v, d+" allows "+v, true)
			}
		}
	}
	// Missing directives. An empty source list is 'none' to a browser, so it
	// restricts (the Evaluator would call it missing).
	if !e.has("object-src") && !e.has("default-src") {
		add(ruleCSPMissingObjectSrc, "object-src", "", "neither object-src nor default-src is set", true)
	}
	if !e.has("script-src") && !e.has("default-src") {
		add(ruleCSPMissingScriptSrc, "script-src", "", "neither script-src nor default-src is set", true)
	}
	if (e.hasNonces() || (e.hasHashes() && p.hasStrictDynamic())) && !e.has("base-uri") {
		add(ruleCSPMissingBaseURI, "base-uri", "", "the policy relies on nonces or hashes but sets no base-uri", true)
	}
	// Allow-listed script hosts.
	for _, d := range e.effectives("script-src", "script-src-elem") {
		vals := e.dirs[d]
		if indexOf(vals, "'none'") >= 0 {
			continue
		}
		evalOK := indexOf(vals, "'unsafe-eval'") >= 0
		for _, v := range vals {
			if v == "'self'" {
				add(ruleCSPAllowlist, d, v, "'self' in "+d+" is a bypass if the site hosts JSONP, AngularJS or user uploads", true)
				continue
			}
			if strings.HasPrefix(v, "'") || urlScheme.MatchString(v) || !strings.Contains(v, ".") {
				continue
			}
			if b, ok := bypassFor(v, evalOK); ok {
				add(ruleCSPBypassHost, d, v, fmt.Sprintf("%s in %s allows https://%s%s, which hosts %s usable to run any script", v, d, b.host, b.path, b.kind), true)
			} else {
				add(ruleCSPAllowlist, d, v, v+" in "+d+": no bypass is known, but make sure the host serves no JSONP, AngularJS or user uploads", true)
			}
		}
	}
	if d := e.effective("object-src"); d == "object-src" {
		vals := e.dirs[d]
		if indexOf(vals, "'none'") < 0 {
			for _, v := range vals {
				add(ruleCSPObjectAllowlist, d, v, "object-src allows "+v, true)
			}
		}
	}
	for _, d := range p.order {
		vals := p.dirs[d]
		if !cspDirectives.has(d) {
			detail := "directive " + d + " is not a CSP directive"
			if strings.HasSuffix(d, ":") {
				detail = "CSP directives don't end with a colon: " + d
			}
			add(ruleCSPUnknownDirective, d, "", detail, false)
		}
		for _, v := range vals {
			host := sourceHost(v)
			if !strings.HasPrefix(v, "'") && !urlScheme.MatchString(v) && host != "" &&
				(ipv4Like.MatchString(host) || strings.HasPrefix(host, "[") && net.ParseIP(strings.Trim(host, "[]")) != nil) {
				what := d + " has an IP address as source: " + host + " (browsers ignore IP sources in most places)"
				if host == "127.0.0.1" {
					what = d + " allows localhost (127.0.0.1); remove it in production"
				}
				add(ruleCSPIPSource, d, v, what, false)
			}
			if m := anyNonce.FindStringSubmatch(v); m != nil {
				if len(m[1]) < 8 {
					add(ruleCSPNonceLength, d, v, fmt.Sprintf("nonce %s is %d characters long", v, len(m[1])), false)
				}
				if !strictNonce.MatchString(v) {
					add(ruleCSPNonceCharset, d, v, "nonce "+v+" is not base64", false)
				}
			}
			if strings.HasPrefix(ascii.Lower(v), "http://") {
				what := d + " allows " + v + " over plain HTTP"
				if d == "report-uri" {
					what = "violation reports are sent over plain HTTP to " + v
				}
				add(ruleCSPHTTPSource, d, v, what, false)
			}
			if cspDirectives.has(ascii.Lower(v)) {
				add(ruleCSPMissingSemicolon, d, v, `"`+v+`" in `+d+" is a directive name, not a source", false)
			}
			if invalidKeyword(d, v) {
				add(ruleCSPInvalidKeyword, d, v, v+" in "+d+" is not a valid keyword (quote keywords: 'self', 'nonce-…')", false)
			}
		}
		switch d {
		case "reflected-xss":
			add(ruleCSPDeprecated, d, "", "reflected-xss is deprecated since CSP2 (use X-XSS-Protection or nothing)", false)
		case "referrer":
			add(ruleCSPDeprecated, d, "", "referrer is deprecated since CSP2 (use the Referrer-Policy header)", false)
		case "disown-opener":
			add(ruleCSPDeprecated, d, "", "disown-opener is deprecated (use Cross-Origin-Opener-Policy)", false)
		case "prefetch-src":
			add(ruleCSPDeprecated, d, "", "prefetch-src is deprecated and may stop working", false)
		}
	}
	// Strict-CSP advice (on the policy as written).
	sd := p.effective("script-src")
	if p.hasStrictDynamic() && !p.hasNonces() && !p.hasHashes() {
		add(ruleCSPStrictDynamicAlone, sd, "'strict-dynamic'", sd+" has 'strict-dynamic' but no nonce or hash, so no script may run", false)
	}
	hostOrScheme := false
	for _, v := range p.dirs[sd] {
		hostOrScheme = hostOrScheme || !strings.HasPrefix(v, "'")
	}
	if hostOrScheme && !p.hasStrictDynamic() {
		add(ruleCSPNoStrictDynamic, sd, "", sd+" allows scripts by host or scheme, without 'strict-dynamic'", false)
	}
	if indexOf(p.dirs["require-trusted-types-for"], "'script'") < 0 {
		add(ruleCSPNoTrustedTypes, "require-trusted-types-for", "", "the policy does not require Trusted Types for scripts", false)
	}
	if len(p.dirs["report-uri"]) == 0 && len(p.dirs["report-to"]) == 0 {
		add(ruleCSPNoReporting, "report-uri", "", "the policy names no report-uri or report-to", false)
	}
	return out
}

func invalidKeyword(d, v string) bool {
	bare := strings.Trim(ascii.Lower(v), "'")
	if !strings.HasPrefix(v, "'") {
		if cspKeywords.has("'"+bare+"'") || strings.HasPrefix(ascii.Lower(v), "nonce-") ||
			strings.HasPrefix(ascii.Lower(v), "sha256-") || strings.HasPrefix(ascii.Lower(v), "sha384-") ||
			strings.HasPrefix(ascii.Lower(v), "sha512-") {
			return true
		}
		return false
	}
	switch d {
	case "require-trusted-types-for":
		return v != "'script'"
	case "trusted-types":
		return v != "'allow-duplicates'" && v != "'none'"
	}
	return !cspKeywords.has(v) && !strictNonce.MatchString(v) && !strictHash.MatchString(v)
}

// cspInput is what a page delivered: Content-Security-Policy header values,
// <meta http-equiv> policies and Content-Security-Policy-Report-Only values.
type cspInput struct {
	Header, Meta, ReportOnly []string
}

// evaluateCSP evaluates a page's policies in the manner of Google's CSP
// Evaluator and returns findings about url (most serious first). Enforced
// policies (header and meta) are evaluated together; a Report-Only policy
// alone yields csp/report-only plus its own findings at info severity, as
// they show what enforcing it would leave weak.
func evaluateCSP(in cspInput, url string) []Finding {
	var enforced, reportOnly []evalPolicy
	for _, s := range splitPolicies(in.Header) {
		if p := parseEvalPolicy(s); len(p.order) > 0 {
			enforced = append(enforced, p)
		}
	}
	for _, s := range splitPolicies(in.Meta) {
		p := parseEvalPolicy(s)
		for _, d := range []string{"frame-ancestors", "report-uri", "sandbox"} {
			if p.has(d) {
				delete(p.dirs, d)
				p.order = append(p.order[:indexOf(p.order, d)], p.order[indexOf(p.order, d)+1:]...)
			}
		}
		if len(p.order) > 0 {
			enforced = append(enforced, p)
		}
	}
	for _, s := range splitPolicies(in.ReportOnly) {
		if p := parseEvalPolicy(s); len(p.order) > 0 {
			reportOnly = append(reportOnly, p)
		}
	}
	var out []Finding
	switch {
	case len(enforced) == 0 && len(reportOnly) == 0:
		return []Finding{newFinding(ruleCSPMissing, url, "the page sends no Content-Security-Policy header or meta tag", "")}
	case len(enforced) == 0:
		out = append(out, newFinding(ruleCSPReportOnly, url,
			"only Content-Security-Policy-Report-Only is sent: violations are reported, nothing is blocked",
			strings.Join(in.ReportOnly, ", ")))
		for _, f := range combinePolicyIssues(reportOnly, url) {
			f.Severity = SeverityInfo
			f.Detail = "if enforced: " + f.Detail
			out = append(out, f)
		}
	default:
		if len(reportOnly) > 0 {
			out = append(out, newFinding(ruleCSPReportOnlyExtra, url, "Content-Security-Policy-Report-Only is sent beside the enforced policy", strings.Join(in.ReportOnly, ", ")))
		}
		out = append(out, combinePolicyIssues(enforced, url)...)
	}
	sortFindings(out)
	return out
}

// combinePolicyIssues evaluates each policy. A weakness is reported only
// when every policy has it (a browser enforces them all, so one strict
// policy closes the hole); advice and syntax issues are reported from any
// policy, once.
func combinePolicyIssues(ps []evalPolicy, url string) []Finding {
	per := make([][]cspIssue, len(ps))
	for i, p := range ps {
		per[i] = evaluatePolicy(p)
	}
	inAll := func(id string) bool {
		for _, issues := range per {
			found := false
			for _, is := range issues {
				found = found || is.id == id
			}
			if !found {
				return false
			}
		}
		return true
	}
	seen := map[string]bool{}
	var out []Finding
	for _, is := range per[0] {
		if !is.weakness || !inAll(is.id) {
			continue
		}
		if k := is.id + "\x00" + is.directive + "\x00" + is.value; !seen[k] {
			seen[k] = true
			out = append(out, cspFinding(is, url))
		}
	}
	for _, issues := range per {
		for _, is := range issues {
			if is.weakness {
				continue
			}
			if is.id == ruleCSPNoTrustedTypes || is.id == ruleCSPNoReporting {
				// Advice about the whole set: one policy that does it is enough.
				if !inAll(is.id) {
					continue
				}
			}
			if k := is.id + "\x00" + is.directive + "\x00" + is.value; !seen[k] {
				seen[k] = true
				out = append(out, cspFinding(is, url))
			}
		}
	}
	return out
}

func cspFinding(is cspIssue, url string) Finding {
	ev := is.directive
	if is.value != "" {
		ev += " " + is.value
	}
	return newFinding(is.id, url, is.detail, ev)
}

// findingIDs lists the distinct IDs of fs, sorted (for tests and summaries).
func findingIDs(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		if indexOf(out, f.ID) < 0 {
			out = append(out, f.ID)
		}
	}
	sort.Strings(out)
	return out
}
