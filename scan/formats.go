package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report formats for Main's --format.
const (
	formatTable    = "table"
	formatJSON     = "json"
	formatSARIF    = "sarif"
	formatJUnit    = "junit"
	formatMarkdown = "markdown"
)

// formats lists the accepted --format values.
var formats = []string{formatTable, formatJSON, formatSARIF, formatJUnit, formatMarkdown}

// checkSeverity is how serious a failing rampart check is, so that checks
// count for --fail-on and the CI formats like findings do.
var checkSeverity = map[string]Severity{
	CheckDebugPage: SeverityHigh, CheckCSRFEnforcement: SeverityHigh, CheckSessionCookie: SeverityHigh,
	CheckCSRFCookie: SeverityMedium, CheckRefusedCookies: SeverityMedium, CheckHTTPSRedirect: SeverityMedium,
}

// checkFix says what to do about a failing rampart check.
var checkFix = map[string]string{
	CheckDebugPage:       "turn debug mode off in production (Django: DEBUG = False; rampart: RAMPART_DEBUG unset)",
	CheckSessionCookie:   "set Secure, HttpOnly and SameSite=Lax (or Strict) on the session cookie",
	CheckCSRFCookie:      "set Secure and SameSite=Lax (or Strict) on the CSRF cookie",
	CheckRefusedCookies:  "fix the Set-Cookie lines browsers refuse (prefix rules, Domain, Secure over plain HTTP)",
	CheckCSRFEnforcement: "answer cross-origin unsafe requests without a valid CSRF token with 403 (Django's CsrfViewMiddleware, rampart's csrf package)",
	CheckHTTPSRedirect:   "redirect every plain-HTTP request to HTTPS on the same host (301 or 308)",
}

// AllFindings returns the findings plus each failing rampart check as a
// finding with ID "check/<name>", most serious first. The Observatory tests
// are not included: they make the grade.
func (r Report) AllFindings() []Finding {
	out := append([]Finding(nil), r.Findings...)
	for _, c := range r.Checks {
		if c.Pass || c.Skipped {
			continue
		}
		sev, ok := checkSeverity[c.Name]
		if !ok {
			sev = SeverityMedium
		}
		out = append(out, Finding{ID: "check/" + c.Name, Area: "checks", Severity: sev, Title: "rampart check " + c.Name + " failed",
			Detail: c.Reason, Fix: checkFix[c.Name], URL: r.FinalURL})
	}
	sortFindings(out)
	return out
}

// failPolicy is what --fail-on makes a scan fail on.
type failPolicy struct {
	// Severity fails the scan on any finding (or failing check) this
	// serious or more; "" means findings never fail it.
	Severity Severity
	// MinGrade fails the scan when the Observatory grade is below it; ""
	// means the grade never fails it.
	MinGrade string
}

// parseFailOn parses a comma-separated --fail-on value: a severity (info,
// low, medium, high, critical) and/or grade:X (e.g. grade:A).
func parseFailOn(s string) (failPolicy, error) {
	var p failPolicy
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(strings.ToLower(part), "grade:"):
			g := strings.ToUpper(part[len("grade:"):])
			if _, ok := gradeRank[g]; !ok {
				return failPolicy{}, fmt.Errorf("scan: --fail-on: unknown grade %q", part[len("grade:"):])
			}
			p.MinGrade = g
		default:
			sev, err := ParseSeverity(part)
			if err != nil {
				return failPolicy{}, fmt.Errorf("scan: --fail-on: %q is neither a severity nor grade:X", part)
			}
			if p.Severity == "" || !sev.AtLeast(p.Severity) {
				p.Severity = sev
			}
		}
	}
	return p, nil
}

// Reasons returns why the report fails the policy (none: it passes).
func (p failPolicy) Reasons(r Report) []string {
	var out []string
	if p.MinGrade != "" && !GradeAtLeast(r.Grade, p.MinGrade) {
		out = append(out, fmt.Sprintf("grade %s is below %s", r.Grade, p.MinGrade))
	}
	if p.Severity != "" {
		n := 0
		for _, f := range r.AllFindings() {
			if f.Severity.AtLeast(p.Severity) {
				n++
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%d findings of severity %s or more", n, p.Severity))
		}
	}
	return out
}

// write writes the report in format; failOn (which may be zero) marks
// which findings count as failures in the JUnit format.
func (r Report) write(w io.Writer, format string, failOn failPolicy) error {
	switch format {
	case formatTable, "":
		return r.WriteTable(w)
	case formatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case formatSARIF:
		return r.WriteSARIF(w)
	case formatJUnit:
		return r.writeJUnit(w, failOn)
	case formatMarkdown:
		return r.WriteMarkdown(w)
	}
	return fmt.Errorf("scan: unknown format %q (want %s)", format, strings.Join(formats, ", "))
}

// SARIF 2.1.0 (OASIS), the subset rampart writes.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool              sarifTool         `json:"tool"`
		AutomationDetails *sarifAutomation  `json:"automationDetails,omitempty"`
		Invocations       []sarifInvocation `json:"invocations"`
		Results           []sarifResult     `json:"results"`
		Properties        map[string]any    `json:"properties,omitempty"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri"`
		SemanticVer    string      `json:"semanticVersion"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		ShortDescription sarifText      `json:"shortDescription"`
		FullDescription  sarifText      `json:"fullDescription"`
		Help             sarifText      `json:"help"`
		HelpURI          string         `json:"helpUri,omitempty"`
		DefaultConfig    sarifConfig    `json:"defaultConfiguration"`
		Properties       map[string]any `json:"properties"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifAutomation struct {
		ID string `json:"id"`
	}
	sarifInvocation struct {
		ExecutionSuccessful bool                `json:"executionSuccessful"`
		EndTimeUTC          string              `json:"endTimeUtc,omitempty"`
		Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level   string    `json:"level"`
		Message sarifText `json:"message"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Properties          map[string]any    `json:"properties,omitempty"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
)

// sarifLevel maps a severity to a SARIF result level.
func sarifLevel(s Severity) string {
	switch s {
	case SeverityCritical, SeverityHigh:
		return "error"
	case SeverityMedium:
		return "warning"
	default:
		return "note"
	}
}

// securitySeverity is the CVSS-like score GitHub code scanning reads from
// a rule's "security-severity" property to rank alerts.
var securitySeverity = map[Severity]string{SeverityCritical: "9.5", SeverityHigh: "8.0", SeverityMedium: "5.5", SeverityLow: "3.0", SeverityInfo: "0.0"}

// WriteSARIF writes the report as a SARIF 2.1.0 log for code-scanning
// dashboards: one result per finding (failing rampart checks and failing
// Observatory tests included, under check/… and observatory/… rules), each
// with a stable fingerprint. The Observatory grade and score are run
// properties, apart from the results.
func (r Report) WriteSARIF(w io.Writer) error {
	type item struct {
		f    Finding
		rule Rule
	}
	var items []item
	for _, f := range r.AllFindings() {
		ru, ok := LookupRule(f.ID)
		if !ok {
			ru = Rule{ID: f.ID, Area: f.Area, Severity: checkSeverity[strings.TrimPrefix(f.ID, "check/")], Title: "rampart check " + strings.TrimPrefix(f.ID, "check/"), Fix: f.Fix}
			if ru.Severity == "" {
				ru.Severity = f.Severity
			}
		}
		items = append(items, item{f, ru})
	}
	for _, t := range r.Tests {
		if t.Pass {
			continue
		}
		sev := SeverityLow
		switch {
		case t.ScoreModifier <= -20:
			sev = SeverityHigh
		case t.ScoreModifier < 0:
			sev = SeverityMedium
		}
		f := Finding{ID: "observatory/" + t.Name, Area: "observatory", Severity: sev, Title: "Observatory test " + t.Name + " failed: " + t.Result,
			Detail: t.Reason, URL: r.FinalURL, Evidence: t.Result}
		items = append(items, item{f, Rule{ID: f.ID, Area: "observatory", Severity: sev, Title: "MDN HTTP Observatory test " + t.Name,
			Fix: "see the MDN HTTP Observatory's advice for " + t.Name, Reference: "https://developer.mozilla.org/en-US/observatory/docs/tests_and_scoring"}})
	}
	ruleIndex := map[string]int{}
	var rules []sarifRule
	var results []sarifResult
	for _, it := range items {
		idx, ok := ruleIndex[it.rule.ID]
		if !ok {
			idx = len(rules)
			ruleIndex[it.rule.ID] = idx
			help := it.rule.Fix
			if it.rule.Reference != "" {
				help += " (" + it.rule.Reference + ")"
			}
			sr := sarifRule{ID: it.rule.ID, Name: sarifRuleName(it.rule.ID), ShortDescription: sarifText{it.rule.Title},
				FullDescription: sarifText{it.rule.Title + ". Fix: " + it.rule.Fix}, Help: sarifText{help},
				DefaultConfig: sarifConfig{sarifLevel(it.rule.Severity)},
				Properties:    map[string]any{"tags": []string{"security", it.rule.Area}, "security-severity": securitySeverity[it.rule.Severity]}}
			if strings.HasPrefix(it.rule.Reference, "https://") {
				sr.HelpURI = it.rule.Reference
			}
			rules = append(rules, sr)
		}
		uri := it.f.URL
		if uri == "" {
			uri = r.Target
		}
		sum := sha256.Sum256([]byte(it.f.ID + "\x00" + uri + "\x00" + it.f.Evidence))
		msg := it.f.Title + ": " + it.f.Detail
		if it.f.Fix != "" {
			msg += ". Fix: " + it.f.Fix
		}
		props := map[string]any{"severity": string(it.f.Severity)}
		if it.f.Evidence != "" {
			props["evidence"] = it.f.Evidence
		}
		results = append(results, sarifResult{RuleID: it.f.ID, RuleIndex: idx, Level: sarifLevel(it.f.Severity), Message: sarifText{msg},
			Locations:           []sarifLocation{{sarifPhysical{sarifArtifact{uri}}}},
			PartialFingerprints: map[string]string{"rampartFinding/v1": hex.EncodeToString(sum[:16])},
			Properties:          props})
	}
	inv := sarifInvocation{ExecutionSuccessful: r.Error == "", EndTimeUTC: time.Now().UTC().Format(time.RFC3339)}
	if r.Error != "" {
		inv.Notifications = []sarifNotification{{Level: "error", Message: sarifText{r.Error}}}
	}
	if rules == nil {
		rules = []sarifRule{}
	}
	if results == nil {
		results = []sarifResult{}
	}
	log := sarifLog{
		Schema:  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool:              sarifTool{sarifDriver{Name: "rampart-scan", InformationURI: "https://github.com/rampart-go/rampart", SemanticVer: "1.0.0", Rules: rules}},
			AutomationDetails: &sarifAutomation{ID: "rampart-scan/" + r.Target},
			Invocations:       []sarifInvocation{inv},
			Results:           results,
			Properties: map[string]any{"observatory": map[string]any{"grade": r.Grade, "score": r.Score,
				"algorithm_version": r.AlgorithmVersion, "tests_passed": r.TestsPassed, "tests_quantity": r.TestsQuantity}},
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// sarifRuleName turns "csp/unsafe-inline" into "CspUnsafeInline", the
// PascalCase form SARIF viewers expect for rule names.
func sarifRuleName(id string) string {
	var b strings.Builder
	up := true
	for _, c := range id {
		if c == '/' || c == '-' || c == '.' || c == '_' {
			up = true
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		b.WriteRune(c)
	}
	return b.String()
}

// JUnit XML (the Ant/Jenkins dialect CI systems read).
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Properties []junitProperty `xml:"properties>property,omitempty"`
		Cases      []junitCase     `xml:"testcase"`
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Failure   *junitFailure `xml:"failure,omitempty"`
		Error     *junitFailure `xml:"error,omitempty"`
		Skipped   *junitFailure `xml:"skipped,omitempty"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",chardata"`
	}
)

func (s *junitSuite) add(c junitCase) {
	s.Cases = append(s.Cases, c)
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Error != nil:
		s.Errors++
	case c.Skipped != nil:
		s.Skipped++
	}
}

// writeJUnit writes the report as JUnit XML: one suite for the Observatory
// tests (grade and score as properties), one for rampart's checks, and one
// per findings area with a test case per finding. A finding is a failure
// when it reaches failOn.Severity (medium when that is unset); less serious
// ones are passing cases that say what was seen. An area without findings
// has one passing case, so the suite shows it ran.
func (r Report) writeJUnit(w io.Writer, failOn failPolicy) error {
	threshold := failOn.Severity
	if threshold == "" {
		threshold = SeverityMedium
	}
	all := junitSuites{Name: "rampart scan " + r.Target}
	obs := junitSuite{Name: "observatory", Properties: []junitProperty{{"grade", r.Grade}, {"score", fmt.Sprint(r.Score)},
		{"algorithm_version", fmt.Sprint(r.AlgorithmVersion)}}}
	if r.Error != "" {
		obs.add(junitCase{Name: "grade", Classname: "observatory", Error: &junitFailure{Message: r.Error}})
	}
	for _, t := range r.Tests {
		c := junitCase{Name: t.Name, Classname: "observatory", SystemOut: fmt.Sprintf("%s (%+d): %s", t.Result, t.ScoreModifier, t.Reason)}
		if !t.Pass {
			c.Failure = &junitFailure{Message: t.Result, Type: fmt.Sprintf("score %+d", t.ScoreModifier), Text: t.Reason}
		}
		obs.add(c)
	}
	if failOn.MinGrade != "" && r.Error == "" {
		c := junitCase{Name: "grade at least " + failOn.MinGrade, Classname: "observatory", SystemOut: "grade " + r.Grade}
		if !GradeAtLeast(r.Grade, failOn.MinGrade) {
			c.Failure = &junitFailure{Message: "grade " + r.Grade + " is below " + failOn.MinGrade}
		}
		obs.add(c)
	}
	checks := junitSuite{Name: "rampart-checks"}
	for _, ck := range r.Checks {
		c := junitCase{Name: ck.Name, Classname: "checks", SystemOut: ck.Reason}
		switch {
		case ck.Skipped:
			c.Skipped = &junitFailure{Message: ck.Reason}
		case !ck.Pass:
			c.Failure = &junitFailure{Message: ck.Reason, Type: string(checkSeverity[ck.Name])}
		}
		checks.add(c)
	}
	all.Suites = append(all.Suites, obs, checks)
	byArea := map[string][]Finding{}
	for _, f := range r.Findings {
		byArea[f.Area] = append(byArea[f.Area], f)
	}
	for _, area := range []string{AreaTLS, AreaCSP, AreaHSTS, AreaSecurityTx, AreaPages} {
		s := junitSuite{Name: area}
		if len(byArea[area]) == 0 {
			s.add(junitCase{Name: area + ": no findings", Classname: area})
		}
		for _, f := range byArea[area] {
			name := f.ID
			if f.URL != "" {
				name += " " + f.URL
			}
			if f.Evidence != "" {
				name += " [" + f.Evidence + "]"
			}
			c := junitCase{Name: name, Classname: area, SystemOut: fmt.Sprintf("%s: %s: %s. Fix: %s", f.Severity, f.Title, f.Detail, f.Fix)}
			if f.Severity.AtLeast(threshold) {
				c.Failure = &junitFailure{Message: f.Title, Type: string(f.Severity), Text: f.Detail + "\nFix: " + f.Fix}
			}
			s.add(c)
		}
		all.Suites = append(all.Suites, s)
	}
	for _, s := range all.Suites {
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// mdCell makes text safe for one Markdown table cell.
func mdCell(s string) string {
	s = strings.NewReplacer("|", `\|`, "\r", " ", "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
	return strings.TrimSpace(s)
}

// WriteMarkdown writes the report as Markdown, e.g. for a CI job summary or
// a pull-request comment.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# rampart scan: %s\n\n", mdCell(r.Target))
	if r.Error != "" {
		fmt.Fprintf(&b, "**Error:** %s\n\n", mdCell(r.Error))
	} else {
		fmt.Fprintf(&b, "**Observatory grade %s**, score %d, %d of %d tests passed (MDN HTTP Observatory algorithm v%d; rampart's findings below do not change it).\n\n",
			r.Grade, r.Score, r.TestsPassed, r.TestsQuantity, r.AlgorithmVersion)
	}
	all := r.AllFindings()
	counts := map[Severity]int{}
	for _, f := range all {
		counts[f.Severity]++
	}
	var parts []string
	for _, s := range []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	fmt.Fprintf(&b, "**Findings:** %s\n\n", strings.Join(parts, ", "))
	if len(all) > 0 {
		b.WriteString("## Findings\n\n| Severity | ID | Where | What | Fix |\n|---|---|---|---|---|\n")
		for _, f := range all {
			what := f.Title
			if f.Detail != "" {
				what += ": " + f.Detail
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", f.Severity, f.ID, mdCell(f.URL), mdCell(what), mdCell(f.Fix))
		}
		b.WriteString("\n")
	}
	if len(r.Tests) > 0 {
		b.WriteString("## Observatory tests\n\n| Test | Result | Score | Reason |\n|---|---|---|---|\n")
		for _, t := range r.Tests {
			mark := "pass"
			if !t.Pass {
				mark = "**FAIL**"
			}
			fmt.Fprintf(&b, "| %s | %s `%s` | %+d | %s |\n", t.Name, mark, t.Result, t.ScoreModifier, mdCell(t.Reason))
		}
		b.WriteString("\n")
	}
	if len(r.Checks) > 0 {
		b.WriteString("## rampart checks\n\n| Check | Result | Reason |\n|---|---|---|\n")
		for _, c := range r.Checks {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, passWord(c.Pass, c.Skipped), mdCell(c.Reason))
		}
		b.WriteString("\n")
	}
	if t := r.TLS; t != nil {
		b.WriteString("## TLS\n\n| Protocol | Offered |\n|---|---|\n")
		for _, p := range t.Protocols {
			fmt.Fprintf(&b, "| %s | %v |\n", p.Name, p.Offered)
		}
		if c := t.Certificate; c != nil {
			fmt.Fprintf(&b, "\nCertificate: %s, issued by %s, %s %d bits, valid until %s, trusted: %v, host name matches: %v. OCSP stapled: %v.\n",
				mdCell(c.Subject), mdCell(c.Issuer), c.KeyType, c.KeyBits, c.NotAfter.UTC().Format("2006-01-02"), c.Trusted, c.HostnameMatch, t.OCSPStapled)
		}
		b.WriteString("\n")
	}
	if p := r.HSTSPreload; p != nil {
		fmt.Fprintf(&b, "HSTS preload eligible (hstspreload.org rules, offline): %v.\n\n", p.Eligible)
	}
	if len(r.Pages) > 0 {
		b.WriteString("## Pages\n\n| Page | Status | Differences from the start page |\n|---|---|---|\n")
		pages := append([]PageReport(nil), r.Pages...)
		sort.SliceStable(pages, func(i, j int) bool { return len(pages[i].Differences) > len(pages[j].Differences) })
		for _, p := range pages {
			d := strings.Join(p.Differences, "; ")
			if p.Error != "" {
				d = "error: " + p.Error
			}
			if d == "" {
				d = "none"
			}
			fmt.Fprintf(&b, "| %s | %d | %s |\n", mdCell(p.URL), p.Status, mdCell(d))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
