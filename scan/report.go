package scan

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// TestResult is one Observatory test.
type TestResult struct {
	Name          string     `json:"name"`
	Result        string     `json:"result"`
	Pass          bool       `json:"pass"`
	ScoreModifier int        `json:"score_modifier"`
	Reason        string     `json:"reason"`
	Policy        *CSPPolicy `json:"csp_policy,omitempty"`
}

// Check is one of rampart's own findings. Checks are reported next to the
// Observatory tests but never change the score, so the grade stays comparable
// with the Observatory's; a failing check is still a failing scan line.
type Check struct {
	Name    string `json:"name"`
	Pass    bool   `json:"pass"`
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason"`
}

// Report is the outcome of a scan. Field names in JSON are stable.
type Report struct {
	Target           string       `json:"target"`
	FinalURL         string       `json:"final_url,omitempty"`
	AlgorithmVersion int          `json:"algorithm_version"`
	Grade            string       `json:"grade"`
	Score            int          `json:"score"`
	StatusCode       int          `json:"status_code"`
	TestsPassed      int          `json:"tests_passed"`
	TestsFailed      int          `json:"tests_failed"`
	TestsQuantity    int          `json:"tests_quantity"`
	Tests            []TestResult `json:"tests"`
	Checks           []Check      `json:"checks"`
	Redirects        []Redirect   `json:"redirects,omitempty"`
	// RefusedCookies are Set-Cookie lines browsers would not store (RFC
	// 6265bis), left out of the grade and reported by the refused-cookies check.
	RefusedCookies []RefusedCookie `json:"refused_cookies,omitempty"`
	// Findings are rampart's findings beyond the Observatory (TLS, CSP
	// evaluation, security.txt, other pages), most serious first. They never
	// change Score or Grade.
	Findings []Finding `json:"findings"`
	// TLS is what the TLS probe found (nil when not made).
	TLS *TLSReport `json:"tls,omitempty"`
	// HSTSPreload is the HSTS preload eligibility of the host (nil without HTTPS).
	HSTSPreload *HSTSPreload `json:"hsts_preload,omitempty"`
	// SecurityTxt is the site's security.txt (nil when none was found).
	SecurityTxt *SecurityTxt `json:"security_txt,omitempty"`
	// Pages are the pages scanned besides the start page (--pages).
	Pages []PageReport `json:"pages,omitempty"`
	// Error is set when the site cannot be graded (no response, bad status).
	Error string `json:"error,omitempty"`
}

// Test returns the named Observatory test result (zero value if absent).
func (r Report) Test(name string) TestResult {
	for _, t := range r.Tests {
		if t.Name == name {
			return t
		}
	}
	return TestResult{}
}

// Check returns the named rampart check (zero value if absent).
func (r Report) Check(name string) Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

// gradeResponses grades a captured or fetched response set with the Observatory
// algorithm (v6) and adds rampart's own checks. It does no I/O.
func gradeResponses(rs responseSet) Report {
	rep := Report{Target: rs.URL, AlgorithmVersion: AlgorithmVersion, Tests: []TestResult{}, Checks: []Check{}, Findings: []Finding{}, Redirects: rs.HTTPRedirects}
	if rs.Auto == nil {
		rep.Error = "the site seems to be down"
		return rep
	}
	if rs.FetchedAt.IsZero() {
		rs.FetchedAt = time.Now() // one instant for every cookie-expiry decision below
	}
	_, refused := rs.cookieJar()
	rep.RefusedCookies = uniqueRefused(refused)
	rep.FinalURL = rs.Auto.URL
	rep.StatusCode = rs.Auto.Status
	rep.Checks = rampartChecks(&rs)
	if st := rs.Auto.Status; st < 200 || (st >= 400 && st != 401 && st != 403) {
		rep.Error = fmt.Sprintf("site answered with an unexpected HTTP status %d", st)
		return rep
	}

	csp := cspTest(&rs)
	outs := []outcome{
		{name: TestCSP, result: csp.result, pass: csp.pass, policy: csp.policy},
		cookiesTest(&rs),
		corsTest(&rs),
		redirectionTest(&rs),
		referrerTest(&rs),
		hstsTest(&rs),
		sriTest(&rs),
		xctoTest(&rs),
		xfoTest(&rs, csp),
		corpTest(&rs),
		coopTest(&rs),
		coepTest(&rs),
	}
	withCredit, uncurved := 100, 100
	for _, o := range outs {
		e := scoreTable[o.result]
		reason := e.description
		if o.note != "" {
			reason += " (" + o.note + ")"
		}
		rep.Tests = append(rep.Tests, TestResult{Name: o.name, Result: o.result, Pass: o.pass,
			ScoreModifier: e.modifier, Reason: reason, Policy: o.policy})
		if o.pass {
			rep.TestsPassed++
		}
		withCredit += e.modifier
		if e.modifier < 0 {
			uncurved += e.modifier
		}
	}
	score := uncurved
	if uncurved >= minimumScoreForExtraCredit {
		score = withCredit
	}
	if score < 0 {
		score = 0
	}
	rep.Score = score
	rep.Grade = gradeForScore(score)
	rep.TestsQuantity = len(outs)
	rep.TestsFailed = rep.TestsQuantity - rep.TestsPassed
	// The CSP evaluation needs only the page, so captured scans get it too.
	rep.Findings = evaluateCSP(pageCSP(rs.Auto, rs.httpEquiv()["content-security-policy"]), rs.Auto.URL)
	return rep
}

// WriteTable writes the report as an aligned, human-readable table.
func (r Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rampart scan of %s\n", r.Target)
	if r.FinalURL != "" && r.FinalURL != r.Target {
		fmt.Fprintf(&b, "final URL: %s\n", r.FinalURL)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", r.Error)
	} else {
		fmt.Fprintf(&b, "grade: %s  score: %d  passed: %d/%d  (MDN HTTP Observatory algorithm v%d)\n",
			r.Grade, r.Score, r.TestsPassed, r.TestsQuantity, r.AlgorithmVersion)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TEST\tRESULT\tSCORE\tREASON")
	for _, t := range r.Tests {
		fmt.Fprintf(tw, "%s\t%s\t%+d\t%s (%s)\n", t.Name, passWord(t.Pass, false), t.ScoreModifier, t.Reason, t.Result)
	}
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "rampart:%s\t%s\t-\t%s\n", c.Name, passWord(c.Pass, c.Skipped), c.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Findings go in a table of their own: they do not count in the score.
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "\nfindings beyond the Observatory (not scored): %d\n\n", len(r.Findings))
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tID\tWHERE\tDETAIL")
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Severity, f.ID, f.URL, f.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Pages) > 0 {
		fmt.Fprintf(&b, "\npages scanned besides the start page: %d\n", len(r.Pages))
		for _, p := range r.Pages {
			if len(p.Differences) > 0 {
				fmt.Fprintf(&b, "  %s: %s\n", p.URL, strings.Join(p.Differences, "; "))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func passWord(pass, skipped bool) string {
	switch {
	case skipped:
		return "skip"
	case pass:
		return "pass"
	default:
		return "FAIL"
	}
}
