package scan

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// jsonSchema validates JSON against a JSON Schema draft-04 document, for the
// keywords the SARIF 2.1.0 schema uses ($ref, type, properties,
// additionalProperties, required, items, minItems, uniqueItems, enum,
// minimum, maximum, pattern, format, oneOf, anyOf). It is test code: the
// stdlib has no JSON Schema validator, and TestSARIFValidatorRejects shows
// it rejects what the schema forbids. Where Python's jsonschema is installed,
// TestSARIFSchemaValid also validates with it.
type jsonSchema struct{ root map[string]any }

func loadJSON(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func (s jsonSchema) resolve(ref string) map[string]any {
	if ref == "#" {
		return s.root
	}
	var node any = s.root
	for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := node.(map[string]any)
		node = m[p]
	}
	m, _ := node.(map[string]any)
	return m
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func (s jsonSchema) validate(sch map[string]any, v any, path string) []string {
	if sch == nil {
		return nil
	}
	if ref, ok := sch["$ref"].(string); ok {
		return s.validate(s.resolve(ref), v, path)
	}
	var errs []string
	fail := func(format string, a ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, a...)) }
	if ty, ok := sch["type"]; ok {
		var types []string
		switch x := ty.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, e := range x {
				types = append(types, e.(string))
			}
		}
		got := jsonType(v)
		okType := false
		for _, want := range types {
			okType = okType || want == got || (want == "number" && got == "integer")
		}
		if !okType {
			fail("type %s, want %v", got, types)
			return errs
		}
	}
	if enum, ok := sch["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || reflect.DeepEqual(e, v)
		}
		if !found {
			fail("%v not in enum %v", v, enum)
		}
	}
	if n, ok := v.(json.Number); ok {
		f, _ := n.Float64()
		if m, ok := sch["minimum"].(json.Number); ok {
			if mf, _ := m.Float64(); f < mf {
				fail("%v < minimum %v", f, mf)
			}
		}
		if m, ok := sch["maximum"].(json.Number); ok {
			if mf, _ := m.Float64(); f > mf {
				fail("%v > maximum %v", f, mf)
			}
		}
	}
	if str, ok := v.(string); ok {
		if p, ok := sch["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
		switch sch["format"] {
		case "uri":
			if u, err := url.Parse(str); err != nil || !u.IsAbs() {
				fail("%q is not an absolute URI", str)
			}
		case "uri-reference":
			if _, err := url.Parse(str); err != nil {
				fail("%q is not a URI reference", str)
			}
		case "date-time":
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				fail("%q is not a date-time", str)
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if m, ok := sch["minItems"].(json.Number); ok {
			if n, _ := m.Int64(); int64(len(arr)) < n {
				fail("%d items, want at least %d", len(arr), n)
			}
		}
		if u, _ := sch["uniqueItems"].(bool); u {
			seen := map[string]bool{}
			for _, e := range arr {
				b, _ := json.Marshal(e)
				if seen[string(b)] {
					fail("duplicate item %s", b)
				}
				seen[string(b)] = true
			}
		}
		if items, ok := sch["items"].(map[string]any); ok {
			for i, e := range arr {
				errs = append(errs, s.validate(items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := sch["properties"].(map[string]any)
		if req, ok := sch["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					fail("missing required %q", r)
				}
			}
		}
		for k, e := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, s.validate(ps, e, path+"."+k)...)
				continue
			}
			switch ap := sch["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("property %q not allowed", k)
				}
			case map[string]any:
				errs = append(errs, s.validate(ap, e, path+"."+k)...)
			}
		}
	}
	if one, ok := sch["oneOf"].([]any); ok {
		n := 0
		for _, o := range one {
			if len(s.validate(o.(map[string]any), v, path)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d of oneOf, want 1", n)
		}
	}
	if anyOf, ok := sch["anyOf"].([]any); ok {
		n := 0
		for _, o := range anyOf {
			if len(s.validate(o.(map[string]any), v, path)) == 0 {
				n++
			}
		}
		if n == 0 {
			fail("matches none of anyOf")
		}
	}
	return errs
}

func sarifSchema(t testing.TB) (jsonSchema, string) {
	t.Helper()
	p := filepath.Join("testdata", "sarif", "sarif-schema-2.1.0.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return jsonSchema{root: loadJSON(t, b).(map[string]any)}, p
}

// weakTLSSite serves weakHandler over TLS 1.0-1.2 with CBC and 3DES suites,
// an expired security.txt and a page with mixed content, so every area of
// findings shows up in the reports.
func weakTLSSite(t testing.TB) (string, Options) {
	t.Helper()
	ca := newTestCA(t)
	mux := http.NewServeMux()
	mux.Handle("/", weakHandler())
	mux.HandleFunc("/about", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<html><img src="http://cdn.example/a.png"></html>`)
	})
	mux.HandleFunc("/sitemap.xml", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<urlset><url><loc>https://"+r.Host+"/about</loc></url></urlset>")
	})
	mux.HandleFunc("/.well-known/security.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Contact: mailto:security@example.com\nExpires: 2020-01-01T00:00:00Z\n")
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, leafSpec{rsaBits: 2048})}, MinVersion: tls.VersionTLS10,
		MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/", Options{RootCAs: ca.pool, Pages: 3}
}

func weakTLSReport(t testing.TB) Report {
	t.Helper()
	target, opts := weakTLSSite(t)
	rep, err := Scan(context.Background(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	areas := map[string]bool{}
	for _, f := range rep.Findings {
		areas[f.Area] = true
	}
	for _, a := range []string{AreaTLS, AreaCSP, AreaHSTS, AreaSecurityTx} {
		if !areas[a] {
			t.Fatalf("no %s findings in the weak site's report: %+v", a, rep.Findings)
		}
	}
	return rep
}

func TestSARIFSchemaValid(t *testing.T) {
	schema, schemaPath := sarifSchema(t)
	rep := weakTLSReport(t)
	var b bytes.Buffer
	if err := rep.WriteSARIF(&b); err != nil {
		t.Fatal(err)
	}
	doc := loadJSON(t, b.Bytes())
	if errs := schema.validate(schema.root, doc, "$"); len(errs) > 0 {
		t.Fatalf("SARIF output is not valid SARIF 2.1.0:\n%s", strings.Join(errs, "\n"))
	}
	// What a code-scanning dashboard needs: every result names a rule of
	// the driver, a level, a location and a stable fingerprint.
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				Fingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
			Properties struct {
				Observatory struct {
					Grade string `json:"grade"`
					Score int    `json:"score"`
				} `json:"observatory"`
			} `json:"properties"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if run.Properties.Observatory.Grade != rep.Grade || run.Properties.Observatory.Score != rep.Score {
		t.Errorf("observatory properties %+v, report %s/%d", run.Properties.Observatory, rep.Grade, rep.Score)
	}
	ids := map[string]bool{}
	for i, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID || res.Level == "" || len(res.Locations) == 0 ||
			res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" || res.Fingerprints["rampartFinding/v1"] == "" {
			t.Errorf("result %d incomplete: %+v", i, res)
		}
		ids[res.RuleID] = true
	}
	for _, want := range []string{"tls/protocol-tls1.0", "tls/cipher-3des-idea", "csp/missing", "security.txt/expired", "check/debug-page", "observatory/content-security-policy", "pages/mixed-content"} {
		if !ids[want] {
			t.Errorf("no SARIF result for %s (have %v)", want, ids)
		}
	}
	// Fingerprints are stable from run to run.
	var again bytes.Buffer
	_ = rep.WriteSARIF(&again)
	if !bytes.Equal(stripEndTime(b.Bytes()), stripEndTime(again.Bytes())) {
		t.Error("SARIF output differs between two writes of one report")
	}

	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import jsonschema").Run() != nil {
		t.Log("python3 jsonschema not installed: validated with the in-test draft-04 validator only")
		return
	}
	out := filepath.Join(t.TempDir(), "out.sarif")
	_ = os.WriteFile(out, b.Bytes(), 0o600)
	cmd := exec.Command(python, "-c", `import json,sys,jsonschema
s=json.load(open(sys.argv[1])); d=json.load(open(sys.argv[2]))
jsonschema.Draft4Validator(s, format_checker=jsonschema.FormatChecker()).validate(d)`, schemaPath, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("python jsonschema rejects the SARIF output: %v\n%s", err, msg)
	}
}

var endTime = regexp.MustCompile(`"endTimeUtc": "[^"]*"`)

func stripEndTime(b []byte) []byte { return endTime.ReplaceAll(b, nil) }

// The in-test validator is not toothless: documents the schema forbids are
// rejected.
func TestSARIFValidatorRejects(t *testing.T) {
	schema, _ := sarifSchema(t)
	var b bytes.Buffer
	rep := Report{Target: "https://example.com/", Findings: evaluateCSP(cspInput{Header: []string{"script-src *"}}, "https://example.com/")}
	if err := rep.WriteSARIF(&b); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	if errs := schema.validate(schema.root, loadJSON(t, []byte(good)), "$"); len(errs) > 0 {
		t.Fatalf("valid document rejected: %v", errs)
	}
	for name, bad := range map[string]string{
		"no version":         strings.Replace(good, `"version": "2.1.0",`, "", 1),
		"wrong version":      strings.Replace(good, `"version": "2.1.0"`, `"version": "2.0.0"`, 1),
		"unknown level":      strings.Replace(good, `"level": "error"`, `"level": "fatal"`, 1),
		"extra top property": strings.Replace(good, `"version": "2.1.0",`, `"version": "2.1.0", "bogus": 1,`, 1),
		"negative index":     strings.Replace(good, `"ruleIndex": 0`, `"ruleIndex": -5`, 1),
		"runs not array":     strings.Replace(strings.Replace(good, `"runs": [`, `"runs": `, 1), "}\n  ]\n}", "}\n}", 1),
	} {
		if bad == good {
			t.Fatalf("%s: mutation did not apply", name)
		}
		if errs := schema.validate(schema.root, loadJSON(t, []byte(bad)), "$"); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestJUnitReport(t *testing.T) {
	rep := weakTLSReport(t)
	var b bytes.Buffer
	if err := rep.writeJUnit(&b, failPolicy{Severity: SeverityHigh, MinGrade: "A"}); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Type string `xml:"type,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &suites); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, b.String())
	}
	byName := map[string]int{}
	tests, failures := 0, 0
	for i, s := range suites.Suites {
		byName[s.Name] = i
		if s.Tests != len(s.Cases) {
			t.Errorf("suite %s says %d tests, has %d", s.Name, s.Tests, len(s.Cases))
		}
		f := 0
		for _, c := range s.Cases {
			if c.Failure != nil {
				f++
				if s.Name == AreaTLS && c.Failure.Type != "high" && c.Failure.Type != "critical" {
					t.Errorf("a %s finding fails a --fail-on high run: %s", c.Failure.Type, c.Name)
				}
			}
		}
		if f != s.Failures {
			t.Errorf("suite %s says %d failures, has %d", s.Name, s.Failures, f)
		}
		tests += s.Tests
		failures += s.Failures
	}
	if tests != suites.Tests || failures != suites.Failures {
		t.Errorf("totals %d/%d, suites add up to %d/%d", suites.Tests, suites.Failures, tests, failures)
	}
	for _, name := range []string{"observatory", "rampart-checks", AreaTLS, AreaCSP, AreaHSTS, AreaSecurityTx, AreaPages} {
		if _, ok := byName[name]; !ok {
			t.Errorf("no suite %s", name)
		}
	}
	obs := suites.Suites[byName["observatory"]]
	if obs.Tests != 13 || obs.Failures == 0 { // 12 tests and the grade:A case
		t.Errorf("observatory suite: %d tests, %d failures", obs.Tests, obs.Failures)
	}
	if s := suites.Suites[byName[AreaCSP]]; s.Failures == 0 {
		t.Errorf("csp/missing (high) is not a failure: %+v", s)
	}
}

func TestMarkdownReport(t *testing.T) {
	rep := weakTLSReport(t)
	rep.Findings = append(rep.Findings, Finding{ID: "csp/wildcard", Severity: SeverityHigh, Title: "a|b", Detail: "<script>", URL: "https://example.com/"})
	var b bytes.Buffer
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"# rampart scan: ", "**Observatory grade F**", "## Findings", "| Severity | ID | Where | What | Fix |",
		"`tls/protocol-tls1.0`", "`check/debug-page`", "## Observatory tests", "## TLS", "| TLS 1.0 | true |", "## Pages", `a\|b: &lt;script&gt;`} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Every table row has as many cells as its header.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| ") {
			cells := len(regexp.MustCompile(`[^\\]\|`).FindAllString(line, -1))
			if cells < 2 {
				t.Errorf("odd table row %q", line)
			}
		}
	}
}

func TestParseFailOn(t *testing.T) {
	tests := []struct {
		in   string
		want failPolicy
		err  bool
	}{
		{"high", failPolicy{Severity: SeverityHigh}, false},
		{"Medium", failPolicy{Severity: SeverityMedium}, false},
		{"grade:A", failPolicy{MinGrade: "A"}, false},
		{"grade:b+,high", failPolicy{Severity: SeverityHigh, MinGrade: "B+"}, false},
		{"high,low", failPolicy{Severity: SeverityLow}, false},
		{"severe", failPolicy{}, true},
		{"grade:Z", failPolicy{}, true},
	}
	for _, tc := range tests {
		got, err := parseFailOn(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseFailOn(%q) = %+v, %v; want %+v, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// --format and --fail-on through Main, with the exit codes CI relies on.
func TestMainFormatsAndFailOn(t *testing.T) {
	weak := httptest.NewServer(weakHandler())
	defer weak.Close()
	tlsSrv := httptest.NewUnstartedServer(strongHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeCertPEM(t, ca, tlsSrv.Certificate())
	strong := []string{"--ca-file", ca, "--no-active-probes", tlsSrv.URL + "/"}
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--format", "sarif", weak.URL + "/"}, 1, `"version": "2.1.0"`},
		{[]string{"--format", "junit", "--min-grade", "F", weak.URL + "/"}, 0, "<testsuites"},
		{[]string{"--format", "markdown", "--min-grade", "F", weak.URL + "/"}, 0, "**Observatory grade F**"},
		{[]string{"--format", "json", "--min-grade", "F", weak.URL + "/"}, 0, `"findings": [`},
		{[]string{"--fail-on", "high", weak.URL + "/"}, 1, "grade: F"},
		{[]string{"--fail-on", "grade:F", weak.URL + "/"}, 0, "grade: F"},
		{[]string{"--fail-on", "critical", "--min-grade", "A", weak.URL + "/"}, 1, ""},
		{append([]string{"--fail-on", "high"}, strong...), 0, "grade: B+"},
		{append([]string{"--fail-on", "low"}, strong...), 1, "security.txt/missing"},
		{append([]string{"--fail-on", "grade:B+"}, strong...), 0, ""},
		{append([]string{"--fail-on", "grade:A+"}, strong...), 1, ""},
		{[]string{"--format", "xml", weak.URL + "/"}, 2, ""},
		{[]string{"--json", "--format", "sarif", weak.URL + "/"}, 2, ""},
		{[]string{"--fail-on", "severe", weak.URL + "/"}, 2, ""},
		{[]string{"--pages", "0", weak.URL + "/"}, 2, ""},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := Main(tc.args, &out, &errb)
		if code != tc.code {
			t.Errorf("Main(%q) = %d, want %d (stderr %q)", tc.args, code, tc.code, errb.String())
		}
		if tc.out != "" && !strings.Contains(out.String(), tc.out) {
			t.Errorf("Main(%q) output lacks %q:\n%s", tc.args, tc.out, out.String())
		}
	}
}

func writeCertPEM(t testing.TB, path string, c *x509.Certificate) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Rules are documented: every rule has a severity, title, fix and a
// unique, stable-looking ID.
func TestRulesComplete(t *testing.T) {
	idForm := regexp.MustCompile(`^(tls|csp|security\.txt|pages|hsts-preload)/[a-z0-9.-]+$`)
	var ids []string
	for _, r := range Rules() {
		if !idForm.MatchString(r.ID) || r.Title == "" || r.Fix == "" || r.Area == "" {
			t.Errorf("rule %+v incomplete", r)
		}
		ids = append(ids, r.ID)
	}
	if !sort.StringsAreSorted(ids) {
		t.Error("Rules() not sorted")
	}
	if len(ids) < 50 {
		t.Errorf("only %d rules", len(ids))
	}
}

// docs/SCAN.md lists every rule with its severity.
func TestDocsListEveryRule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "SCAN.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		if row := fmt.Sprintf("| `%s` | %s |", r.ID, r.Severity); !bytes.Contains(b, []byte(row)) {
			t.Errorf("docs/SCAN.md lacks %q", row)
		}
	}
}

// Failing checks become findings with a fix; passing and skipped ones do not.
func TestAllFindingsIncludesFailingChecks(t *testing.T) {
	r := Report{FinalURL: "https://example.com/", Checks: []Check{
		{Name: CheckDebugPage, Reason: "leaked"}, {Name: CheckCSRFCookie, Pass: true}, {Name: CheckHTTPSRedirect, Skipped: true, Pass: true}},
		Findings: []Finding{{ID: "csp/no-reporting", Severity: SeverityInfo}}}
	all := r.AllFindings()
	if len(all) != 2 || all[0].ID != "check/debug-page" || all[0].Severity != SeverityHigh || all[0].Fix == "" {
		t.Errorf("AllFindings = %+v", all)
	}
	if got := (failPolicy{Severity: SeverityHigh}).Reasons(r); len(got) != 1 {
		t.Errorf("--fail-on high on a debug page: %v", got)
	}
	for name := range checkSeverity {
		if checkFix[name] == "" {
			t.Errorf("check %s has no fix", name)
		}
	}
}
