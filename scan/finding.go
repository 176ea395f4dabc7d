package scan

import (
	"fmt"
	"sort"
	"strings"
)

// Severity ranks a finding. The zero value is not a severity.
type Severity string

// Severities, least to most serious.
const (
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

var severityRank = map[Severity]int{SeverityInfo: 1, SeverityLow: 2, SeverityMedium: 3, SeverityHigh: 4, SeverityCritical: 5}

// AtLeast reports whether s is min or more serious. Unknown severities never are.
func (s Severity) AtLeast(min Severity) bool {
	a, ok1 := severityRank[s]
	b, ok2 := severityRank[min]
	return ok1 && ok2 && a >= b
}

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := severityRank[v]; !ok {
		return "", fmt.Errorf("scan: unknown severity %q (want info, low, medium, high or critical)", s)
	}
	return v, nil
}

// Areas group findings in reports.
const (
	AreaTLS        = "tls"
	AreaCSP        = "csp"
	AreaSecurityTx = "security.txt"
	AreaPages      = "pages"
	AreaHSTS       = "hsts-preload"
)

// Finding is one weakness (or notable fact) found beyond the Observatory's
// tests. Findings never change the Observatory score, so the grade stays
// comparable; they are what --fail-on and the CI formats act on.
type Finding struct {
	// ID is the stable identifier of the rule, e.g. "csp/unsafe-inline".
	// It never changes meaning between releases; CI baselines key on it.
	ID       string   `json:"id"`
	Area     string   `json:"area"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	// Detail says what was seen, on which page or endpoint.
	Detail string `json:"detail"`
	// Fix says what to change.
	Fix string `json:"fix,omitempty"`
	// URL is the page or endpoint the finding is about ("" for the site).
	URL string `json:"url,omitempty"`
	// Evidence is the exact directive, value, header or cipher suite.
	Evidence string `json:"evidence,omitempty"`
}

// Rule describes one kind of finding; every Finding.ID names a Rule.
type Rule struct {
	ID       string   `json:"id"`
	Area     string   `json:"area"`
	Severity Severity `json:"severity"` // the usual severity; a finding may differ
	Title    string   `json:"title"`
	Fix      string   `json:"fix"`
	// Reference is where the rule comes from (a standard or the tool whose
	// check it reproduces).
	Reference string `json:"reference,omitempty"`
}

var rules = map[string]Rule{}

// rule registers r and returns its ID, so each area declares its rules
// beside the code that finds them.
func rule(r Rule) string {
	if _, dup := rules[r.ID]; dup {
		panic("scan: duplicate rule " + r.ID)
	}
	if _, ok := severityRank[r.Severity]; !ok {
		panic("scan: rule " + r.ID + " has no severity")
	}
	rules[r.ID] = r
	return r.ID
}

// Rules returns every rule the scanner can report, sorted by ID.
func Rules() []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LookupRule returns the rule with id.
func LookupRule(id string) (Rule, bool) {
	r, ok := rules[id]
	return r, ok
}

// newFinding builds a finding of rule id with the rule's severity, title and fix.
func newFinding(id, url, detail, evidence string) Finding {
	r, ok := rules[id]
	if !ok {
		panic("scan: unknown rule " + id)
	}
	return Finding{ID: id, Area: r.Area, Severity: r.Severity, Title: r.Title, Detail: detail, Fix: r.Fix, URL: url, Evidence: evidence}
}

// sortFindings orders findings most serious first, then by ID, URL and
// evidence, so reports are stable from run to run.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := severityRank[a.Severity], severityRank[b.Severity]; ra != rb {
			return ra > rb
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.URL != b.URL {
			return a.URL < b.URL
		}
		return a.Evidence < b.Evidence
	})
}

// HasFinding reports whether the report holds a finding with id.
func (r Report) HasFinding(id string) bool {
	for _, f := range r.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

// FindingsAtLeast returns the findings of severity min or more.
func (r Report) FindingsAtLeast(min Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity.AtLeast(min) {
			out = append(out, f)
		}
	}
	return out
}
