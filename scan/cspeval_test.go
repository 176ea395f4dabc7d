package scan

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// idsAtLeast returns the distinct finding IDs (without the "csp/" prefix),
// leaving out the two pieces of advice almost every policy gets.
func cspIDs(fs []Finding) string {
	var out []string
	for _, id := range findingIDs(fs) {
		if id == ruleCSPNoReporting || id == ruleCSPNoTrustedTypes {
			continue
		}
		out = append(out, strings.TrimPrefix(id, "csp/"))
	}
	return strings.Join(out, " ")
}

// The expectations agree with Google's CSP Evaluator (see
// testdata/csp-evaluator) except where cspEvaluatorDeviations says.
func TestEvaluateCSPTable(t *testing.T) {
	tests := []struct {
		policy string
		want   string // finding IDs without "csp/", sorted, advice left out
	}{
		{`script-src 'nonce-r4nd0mR4nd0m' 'strict-dynamic'; object-src 'none'; base-uri 'none'`, ""},
		{`script-src 'nonce-r4nd0mR4nd0m' 'strict-dynamic'; object-src 'none'`, "missing-base-uri"},
		{`script-src 'strict-dynamic'; object-src 'none'; base-uri 'none'`, "strict-dynamic-without-nonce"},
		{`script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'`, "script-allowlist unsafe-inline"},
		{`script-src 'self' 'unsafe-inline' 'nonce-r4nd0mR4nd0m'; object-src 'none'; base-uri 'none'`, "script-allowlist"},
		{`script-src 'self' 'unsafe-eval'; object-src 'none'`, "script-allowlist unsafe-eval"},
		{`script-src https://www.google.com; object-src 'none'`, "no-strict-dynamic script-allowlist-bypass"},
		{`script-src *.google.com; object-src 'none'`, "no-strict-dynamic script-allowlist-bypass"},
		{`script-src https://www.googletagmanager.com; object-src 'none'`, "no-strict-dynamic script-allowlist"},
		{`script-src https://www.googletagmanager.com 'unsafe-eval'; object-src 'none'`, "no-strict-dynamic script-allowlist-bypass unsafe-eval"},
		{`script-src https://ajax.googleapis.com/ajax/libs/; object-src 'none'`, "no-strict-dynamic script-allowlist-bypass"},
		{`script-src https://ajax.googleapis.com/ajax/libs/jquery/3.7.1/jquery.min.js; object-src 'none'`, "no-strict-dynamic script-allowlist"},
		{`script-src https://cdn.example.com; object-src 'none'`, "no-strict-dynamic script-allowlist"},
		{`script-src data:; object-src 'none'`, "no-strict-dynamic plain-scheme"},
		{`script-src http:; object-src 'none'`, "no-strict-dynamic plain-scheme"},
		{`script-src https: 'unsafe-inline'; object-src 'none'`, "no-strict-dynamic plain-scheme unsafe-inline"},
		{`script-src *; object-src 'none'`, "no-strict-dynamic wildcard"},
		{`script-src https://*; object-src 'none'`, "no-strict-dynamic wildcard"},
		{`default-src 'self'`, "script-allowlist"},
		{`default-src 'none'`, ""},
		{`style-src 'self'`, "missing-object-src missing-script-src"},
		{`script-src 'none'`, "missing-object-src"},
		{`script-src 'none'; object-src https://plugins.example.com`, "object-allowlist"},
		{`script-src 'none'; object-src *`, "object-allowlist wildcard"},
		{`script-src 'none'; object-src data:`, "object-allowlist plain-scheme"},
		{`script-src 'none'; object-src 'none'; base-uri *`, "wildcard"},
		{`script-src 'none'; object-src 'none'; base-uri https:`, "plain-scheme"},
		{`script-src 'nonce-abc'; object-src 'none'; base-uri 'none'`, "nonce-length"},
		{`script-src 'nonce-abc!defghij'; object-src 'none'; base-uri 'none'`, "invalid-keyword nonce-charset"},
		{`script-src http://cdn.example.com; object-src 'none'`, "http-source no-strict-dynamic script-allowlist"},
		{`default-src 'none'; report-uri http://example.com/csp`, "http-source"},
		{`script-src self; object-src 'none'`, "invalid-keyword no-strict-dynamic"},
		{`script-src 'self' object-src 'none'`, "missing-object-src missing-semicolon no-strict-dynamic"},
		{`script-src: 'self'; object-src 'none'`, "missing-script-src unknown-directive"},
		{`scirpt-src 'self'; object-src 'none'`, "missing-script-src unknown-directive"},
		{`script-src 'unsafe-hashes' 'sha256-abcdefghijklmnop'; object-src 'none'`, "unsafe-hashes"},
		{`script-src 'self'; object-src 'none'; reflected-xss block`, "deprecated-directive invalid-keyword script-allowlist"},
		{`script-src 'self'; object-src 'none'; referrer no-referrer`, "deprecated-directive script-allowlist"},
		{`script-src 127.0.0.1; object-src 'none'`, "ip-source no-strict-dynamic script-allowlist"},
		{`script-src 'sha256-abcdefghijkl' 'strict-dynamic' https:; object-src 'none'`, "missing-base-uri"},
		{`script-src 'nonce-r4nd0mR4nd0m' 'unsafe-inline' https: 'strict-dynamic'; object-src 'none'; base-uri 'none'; require-trusted-types-for 'script'; report-uri /csp`, ""},
		{`script-src 'self'; script-src-attr 'unsafe-inline'; object-src 'none'`, "script-allowlist unsafe-inline"},
		{`script-src 'self'; script-src-elem https://www.google.com; object-src 'none'`, "script-allowlist script-allowlist-bypass"},
		{`default-src https:`, "no-strict-dynamic plain-scheme"},
		{`object-src 'none'`, "missing-script-src"},
		{`object-src; script-src 'none'`, ""},
		{`script-src 'none'; object-src 'none'; plugin-types application/pdf`, ""},
		{`require-trusted-types-for 'script'; script-src 'none'; object-src 'none'`, ""},
		{`script-src 'self' 'wasm-unsafe-eval'; object-src 'none'`, "script-allowlist"},
		{`SCRIPT-SRC 'UNSAFE-INLINE'; OBJECT-SRC 'NONE'`, "unsafe-inline"},
		{`script-src 'nonce-r4nd0mR4nd0m'; object-src 'none'; base-uri 'none'; script-src 'unsafe-inline'`, ""},
		{`script-src https://accounts.google.com/o/oauth2/; object-src 'none'`, "no-strict-dynamic script-allowlist-bypass"},
		{`script-src 'self' 'unsafe-inline' https://www.youtube.com; object-src 'none'; base-uri 'none'; report-to csp`, "no-strict-dynamic script-allowlist script-allowlist-bypass unsafe-inline"},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d policies", len(tests))
	}
	for _, tc := range tests {
		got := cspIDs(evaluateCSP(cspInput{Header: []string{tc.policy}}, "https://example.com/"))
		if got != tc.want {
			t.Errorf("%s\n got  %q\n want %q", tc.policy, got, tc.want)
		}
	}
}

// Every finding carries a severity, a title and a fix; the headline cases
// carry the severity the issue asks for.
func TestEvaluateCSPFindingShape(t *testing.T) {
	fs := evaluateCSP(cspInput{Header: []string{"script-src 'self' 'unsafe-inline' 'unsafe-eval' https://www.google.com data:"}}, "https://example.com/p")
	want := map[string]Severity{ruleCSPUnsafeInline: SeverityHigh, ruleCSPUnsafeEval: SeverityMedium,
		ruleCSPPlainScheme: SeverityHigh, ruleCSPBypassHost: SeverityHigh, ruleCSPMissingObjectSrc: SeverityHigh}
	for _, f := range fs {
		if f.Title == "" || f.Fix == "" || f.Detail == "" || f.URL != "https://example.com/p" || f.Area != AreaCSP {
			t.Errorf("incomplete finding %+v", f)
		}
		if s, ok := want[f.ID]; ok {
			if f.Severity != s {
				t.Errorf("%s severity %s, want %s", f.ID, f.Severity, s)
			}
			delete(want, f.ID)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing findings %v in %+v", want, fs)
	}
	for i := 1; i < len(fs); i++ {
		if severityRank[fs[i].Severity] > severityRank[fs[i-1].Severity] {
			t.Errorf("findings not sorted by severity: %v then %v", fs[i-1].ID, fs[i].ID)
		}
	}
	var bypass Finding
	for _, f := range fs {
		if f.ID == ruleCSPBypassHost {
			bypass = f
		}
	}
	if !strings.Contains(bypass.Detail, "www.google.com") || !strings.Contains(bypass.Detail, "JSONP") || bypass.Evidence != "script-src https://www.google.com" {
		t.Errorf("bypass finding %+v", bypass)
	}
}

// Several policies, meta tags and Report-Only.
func TestEvaluateCSPDelivery(t *testing.T) {
	tests := []struct {
		name string
		in   cspInput
		want string
	}{
		{"none at all", cspInput{}, "missing"},
		{"empty header", cspInput{Header: []string{"  "}}, "missing"},
		{"a strict second policy closes the first one's hole",
			cspInput{Header: []string{"script-src 'unsafe-inline'; object-src 'none'", "script-src 'nonce-r4nd0mR4nd0m'; object-src 'none'; base-uri 'none'"}}, ""},
		{"comma-joined policies with the same hole",
			cspInput{Header: []string{"script-src 'unsafe-inline', script-src 'unsafe-inline' 'self'"}}, "missing-object-src unsafe-inline"},
		{"weakness only when every policy has it",
			cspInput{Header: []string{"script-src *; object-src 'none'", "script-src 'none'"}}, "no-strict-dynamic"},
		{"meta policy is enforced", cspInput{Meta: []string{"script-src 'unsafe-inline'"}}, "missing-object-src unsafe-inline"},
		{"meta policy ignores report-uri",
			cspInput{Meta: []string{"default-src 'none'; report-uri http://example.com/r"}}, ""},
		{"report-only alone", cspInput{ReportOnly: []string{"default-src 'none'; report-to /_/csp-reports"}}, "report-only"},
		{"report-only beside enforced",
			cspInput{Header: []string{"default-src 'none'"}, ReportOnly: []string{"script-src 'nonce-abcdefgh' 'strict-dynamic'"}}, "report-only-policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := evaluateCSP(tc.in, "https://example.com/")
			var strong []Finding
			for _, f := range fs {
				if f.Severity.AtLeast(SeverityLow) || f.ID == ruleCSPReportOnlyExtra || f.ID == ruleCSPNoStrictDynamic {
					strong = append(strong, f)
				}
			}
			if got := cspIDs(strong); got != tc.want {
				t.Errorf("got %q, want %q (all: %+v)", got, tc.want, fs)
			}
		})
	}
	// A Report-Only policy's own weaknesses are shown, at info severity.
	fs := evaluateCSP(cspInput{ReportOnly: []string{"script-src 'unsafe-inline'"}}, "https://example.com/")
	found := false
	for _, f := range fs {
		if f.ID == ruleCSPUnsafeInline {
			found = true
			if f.Severity != SeverityInfo || !strings.HasPrefix(f.Detail, "if enforced: ") {
				t.Errorf("report-only weakness %+v", f)
			}
		}
	}
	if !found {
		t.Errorf("report-only policy's unsafe-inline not shown: %+v", fs)
	}
}

// cspEvaluatorDeviations are the policies on which rampart differs from
// Google's CSP Evaluator on purpose, with rampart's answer: an empty source
// list means 'none' to a browser (the Evaluator calls object-src missing), and
// an empty header is no policy at all.
var cspEvaluatorDeviations = map[string][]string{
	"object-src; script-src 'none'": {ruleCSPNoReporting, ruleCSPNoTrustedTypes},
	"default-src":                   {ruleCSPNoReporting, ruleCSPNoTrustedTypes},
	"  ":                            {ruleCSPMissing},
	"":                              {ruleCSPMissing},
}

func loadEvaluatorExpected(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "csp-evaluator", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

func compareWithEvaluator(t *testing.T, want map[string][]string) {
	t.Helper()
	agree := 0
	for policy, ids := range want {
		if dev, ok := cspEvaluatorDeviations[policy]; ok {
			ids = dev
		}
		got := findingIDs(evaluateCSP(cspInput{Header: []string{policy}}, "https://mozilla.org/"))
		if got == nil {
			got = []string{}
		}
		sort.Strings(ids)
		if reflect.DeepEqual(got, ids) {
			agree++
		} else {
			t.Errorf("%q: rampart %v, CSP Evaluator %v", policy, got, ids)
		}
	}
	t.Logf("CSP Evaluator: agree %d of %d policies (%d deliberate deviations)", agree, len(want), len(cspEvaluatorDeviations))
}

// Every policy of the Observatory's CSP corpus and of the table above gets
// the findings Google's CSP Evaluator gives it (recorded in testdata).
func TestEvaluateCSPMatchesEvaluator(t *testing.T) {
	want := loadEvaluatorExpected(t)
	cases := loadCSPCases(t)
	for _, c := range cases.ResultCases {
		if _, ok := want[c.CSP]; !ok {
			t.Errorf("corpus policy %q has no recorded CSP Evaluator result", c.CSP)
		}
	}
	for _, c := range cases.PolicyFlagCases {
		if _, ok := want[c.CSP]; !ok {
			t.Errorf("corpus policy %q has no recorded CSP Evaluator result", c.CSP)
		}
	}
	compareWithEvaluator(t, want)
}

// TestCSPEvaluatorLive runs Google's CSP Evaluator itself (npm csp_evaluator,
// in the node_modules of the directory RAMPART_TEST_CSP_EVALUATOR names) on
// every recorded policy and compares.
func TestCSPEvaluatorLive(t *testing.T) {
	dir := os.Getenv("RAMPART_TEST_CSP_EVALUATOR")
	if dir == "" {
		t.Skip("CSP Evaluator cross-check skipped: set RAMPART_TEST_CSP_EVALUATOR to a directory where `npm install csp_evaluator@1.1.8` ran")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("RAMPART_TEST_CSP_EVALUATOR is set but node is missing: %v", err)
	}
	recorded := loadEvaluatorExpected(t)
	policies := make([]string, 0, len(recorded))
	for p := range recorded {
		policies = append(policies, p)
	}
	sort.Strings(policies)
	in, _ := json.Marshal(policies)
	script, _ := filepath.Abs(filepath.Join("testdata", "csp-evaluator", "compare.js"))
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("csp_evaluator: %v", err)
	}
	var live map[string][]string
	if err := json.Unmarshal(out, &live); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(live, recorded) {
		t.Errorf("testdata/csp-evaluator/expected.json is stale: regenerate it (README.md)")
	}
	compareWithEvaluator(t, live)
}

func FuzzEvaluateCSP(f *testing.F) {
	for _, s := range []string{"script-src 'self'", "default-src 'none'; script-src 'nonce-abc' 'strict-dynamic'",
		"script-src https://*.google.com/a/ http://[::1]:80/x", "a;;;b c", "script-src 'nonce-\xff'", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fd := range evaluateCSP(cspInput{Header: []string{s}, Meta: []string{s}, ReportOnly: []string{s}}, "https://example.com/") {
			if _, ok := LookupRule(fd.ID); !ok {
				t.Fatalf("finding with unknown rule %q", fd.ID)
			}
		}
	})
}
