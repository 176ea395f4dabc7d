package attacktest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/internal/apptest"
)

const legacyReport = `{"csp-report":{"document-uri":"http://127.0.0.1/comments","referrer":"","violated-directive":"script-src-elem","effective-directive":"script-src-elem","original-policy":"default-src 'self'","disposition":"enforce","blocked-uri":"https://evil.example/x.js","status-code":200}}`

const reportingAPIReport = `[{"type":"csp-violation","age":10,"url":"http://127.0.0.1/comments","user_agent":"test","body":{"documentURL":"http://127.0.0.1/comments","blockedURL":"inline","effectiveDirective":"script-src-elem","originalPolicy":"default-src 'self'","disposition":"enforce","statusCode":200}}]`

// sendReport posts body to the report endpoint as a browser does: no cookies, no CSRF token.
func sendReport(t *testing.T, env *apptest.Env, ip, method, contentType, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+env.Settings.CSPReportURI, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	return resp
}

// cspReports returns how many CSP reports the stack has counted, and fails the test if any
// report became an audit event: reports are counted apart from the security events.
func cspReports(t *testing.T, env *apptest.Env) int64 {
	t.Helper()
	evs, err := env.Stack.Audit.Recent(t.Context(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == audit.KindCSPReport {
			t.Fatalf("a CSP report was stored as a security event: %+v", e)
		}
	}
	ws, err := env.Stack.CSPReports.Recent(t.Context(), 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, w := range ws {
		n += w.Total
	}
	return n
}

// TestCSPReportEndpoint: well-formed reports are counted without cookies or tokens; wrong
// types, oversized and malformed bodies are refused with the right status and not stored;
// one client flooding gets 429 after the limit while other clients still report.
func TestCSPReportEndpoint(t *testing.T) {
	env := apptest.New(t, apptest.Options{Env: map[string]string{"RAMPART_TRUSTED_PROXIES": "127.0.0.1/32"}})
	if env.Settings.CSPReportURI != "/csp-report" {
		t.Fatalf("report URI %q, want the contract's /csp-report", env.Settings.CSPReportURI)
	}
	big := `{"csp-report":{"document-uri":"http://127.0.0.1/","blocked-uri":"` + strings.Repeat("a", 17<<10) + `"}}`
	cases := []struct {
		name, method, ct, body string
		want                   int
		stored                 bool
	}{
		{"legacy report-uri JSON is accepted and stored", "POST", "application/csp-report", legacyReport, 204, true},
		{"Reporting API JSON is accepted and stored", "POST", "application/reports+json", reportingAPIReport, 204, true},
		{"wrong type text/plain is refused with 415", "POST", "text/plain", legacyReport, 415, false},
		{"wrong type application/json is refused with 415", "POST", "application/json", legacyReport, 415, false},
		{"form-encoded body (what a cross-site form can send) is refused with 415", "POST", "application/x-www-form-urlencoded", "a=b", 415, false},
		{"missing Content-Type is refused with 415", "POST", "", legacyReport, 415, false},
		{"oversized body (17 KiB) is refused with 413", "POST", "application/csp-report", big, 413, false},
		{"malformed JSON is refused with 400", "POST", "application/csp-report", `{"csp-report":`, 400, false},
		{"GET is refused with 405", "GET", "", "", 405, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := cspReports(t, env)
			resp := sendReport(t, env, clientIP(10+i), tc.method, tc.ct, tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if got := cspReports(t, env) - before; (got == 1) != tc.stored || got > 1 {
				t.Fatalf("%d reports counted, want counted=%v", got, tc.stored)
			}
		})
	}
	count("csp report shapes", len(cases))

	t.Run("one client flooding gets 429 after 20 reports a minute; nothing past the limit is counted", func(t *testing.T) {
		const flood = 200
		before := cspReports(t, env)
		accepted, limited := 0, 0
		for i := 0; i < flood; i++ {
			switch s := sendReport(t, env, "203.0.113.7", "POST", "application/csp-report", legacyReport).StatusCode; s {
			case http.StatusNoContent:
				if limited > 0 {
					t.Fatalf("report %d accepted after the limit had been reached", i)
				}
				accepted++
			case http.StatusTooManyRequests:
				limited++
			default:
				t.Fatalf("report %d: status %d", i, s)
			}
		}
		if accepted != 20 || limited != flood-20 {
			t.Fatalf("accepted %d, limited %d; want 20 and %d", accepted, limited, flood-20)
		}
		if got := cspReports(t, env) - before; got != int64(accepted) {
			t.Fatalf("%d reports counted for %d accepted", got, accepted)
		}
		// Oversized and wrong-type floods from the limited client are refused before reading.
		if s := sendReport(t, env, "203.0.113.7", "POST", "application/csp-report", big).StatusCode; s != http.StatusTooManyRequests {
			t.Fatalf("oversized report from the flooding client: %d, want 429", s)
		}
		// Legit: another client still reports, and the flooder may again after a minute.
		if s := sendReport(t, env, "203.0.113.8", "POST", "application/csp-report", legacyReport).StatusCode; s != http.StatusNoContent {
			t.Fatalf("other client during the flood: %d, want 204", s)
		}
		env.Clock.Advance(time.Minute)
		if s := sendReport(t, env, "203.0.113.7", "POST", "application/csp-report", legacyReport).StatusCode; s != http.StatusNoContent {
			t.Fatalf("flooding client a minute later: %d, want 204", s)
		}
		count("csp report flood", flood+3)
	})
}

// reportBatch is a Reporting API body of n CSP violations; item(i) gives the blocked URL and
// the document URL of the i-th.
func reportBatch(n int, item func(i int) (blocked, document string)) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		blocked, doc := item(i)
		dir := "script-src-elem"
		if blocked != "inline" {
			dir = "img-src"
		}
		fmt.Fprintf(&b, `{"type":"csp-violation","body":{"documentURL":%q,"blockedURL":%q,"effectiveDirective":%q}}`, doc, blocked, dir)
	}
	b.WriteByte(']')
	return b.String()
}

// flood posts bodies from one client as fast as the endpoint allows: 20 bodies a minute, so
// the clock is moved a minute on after every 20. Every body must be accepted.
func flood(t *testing.T, env *apptest.Env, ip string, bodies []string) {
	t.Helper()
	for i, body := range bodies {
		if i > 0 && i%20 == 0 {
			env.Clock.Advance(time.Minute)
		}
		if s := sendReport(t, env, ip, "POST", "application/reports+json", body).StatusCode; s != http.StatusNoContent {
			t.Fatalf("report body %d: status %d", i, s)
		}
	}
}

// toNextHour moves env's clock to the start of the next hour, so that a flood of a few minutes
// is counted in one window.
func toNextHour(env *apptest.Env) {
	now := env.Clock.Now()
	env.Clock.Advance(now.Truncate(time.Hour).Add(time.Hour).Sub(now))
}

// TestCSPReportFloodKeepsSecurityEvents (issue 11): 5,000 CSP reports from one client,
// without logging in, used to become 5,000 audit events and push every real security event
// off the admin page. They are now counted per directive, blocked origin and page in their
// own section, and the security events stay where they were.
func TestCSPReportFloodKeepsSecurityEvents(t *testing.T) {
	env := apptest.New(t, apptest.Options{Env: map[string]string{"RAMPART_TRUSTED_PROXIES": "127.0.0.1/32"}})
	cheapHashing(env)
	toNextHour(env)
	env.CreateUser(t, "alice", alicePW, false)
	env.Grant(t, env.CreateUser(t, "root", bobPW, true), "security.view", "security.change")

	// Real security events: failed logins, a login, a CSRF rejection.
	for i := range 5 {
		c := env.Client(t)
		c.IP = clientIP(500 + i)
		c.Post("/accounts/login", "/accounts/login", url.Values{"username": {"alice"}, "password": {"wrong " + strconv.Itoa(i)}})
	}
	env.Client(t).Login("alice", alicePW)
	forged := env.Client(t)
	forged.Origin, forged.Site = "https://evil.example", "cross-site"
	if r := postRaw(t, forged, env.URL, "/comments", url.Values{"body": {"x"}}, map[string]string{"Origin": "https://evil.example"}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("forged post: %d", r.StatusCode)
	}
	before, err := env.Stack.Audit.Recent(t.Context(), 100) // what the admin page lists
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range before {
		kinds[e.Kind]++
	}
	if kinds[audit.KindLoginFailure] != 5 || kinds[audit.KindLoginSuccess] != 1 || kinds[audit.KindCSRFReject] != 1 {
		t.Fatalf("security events before the flood: %v", kinds)
	}

	// The flood: 50 bodies of 100 reports, 60 inline scripts and 40 images each, every image
	// from a different URL of one origin and on a different query string of one page.
	const bodies, perBody = 50, csp.MaxBatch
	batches := make([]string, bodies)
	for b := range batches {
		batches[b] = reportBatch(perBody, func(i int) (string, string) {
			n := b*perBody + i
			if i < 60 {
				return "inline", "http://127.0.0.1/comments"
			}
			return fmt.Sprintf("https://evil.example/%d.png?x=%d", n, n), fmt.Sprintf("http://127.0.0.1/comments?page=%d", n)
		})
	}
	flood(t, env, "203.0.113.9", batches)
	count("csp report flood (events kept)", bodies*perBody)

	after, err := env.Stack.Audit.Recent(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[int64]bool{}
	for _, e := range after {
		kept[e.ID] = true
	}
	for _, e := range before {
		if !kept[e.ID] {
			t.Fatalf("security event %d (%s) was pushed out of the latest 100 by the report flood", e.ID, e.Kind)
		}
	}
	if len(after) != len(before) {
		t.Fatalf("%d events after the flood, %d before: the reports added events", len(after), len(before))
	}

	ws, err := env.Stack.CSPReports.Recent(t.Context(), 24, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []csp.ReportCount{
		{Directive: "script-src-elem", Blocked: "inline", Document: "/comments", N: 60 * bodies},
		{Directive: "img-src", Blocked: "https://evil.example", Document: "/comments", N: 40 * bodies},
	}
	if len(ws) != 1 || ws[0].Total != bodies*perBody || ws[0].Other != 0 || fmt.Sprint(ws[0].Counts) != fmt.Sprint(want) {
		t.Fatalf("counted %+v, want one window with %v", ws, want)
	}
	if cs, err := env.Stack.Store.ListCounters(t.Context(), "csp:", -1<<62, env.Clock.Now(), 0); err != nil || len(cs) != 3 {
		t.Fatalf("%d counters stored for two aggregates (want 3: two and the window's count), %v", len(cs), err)
	}

	// The admin page lists the events in their section and the counts in theirs.
	admin := env.Client(t)
	admin.Login("root", bobPW)
	page := admin.Get("/admin/security")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("/admin/security: %d", page.StatusCode)
	}
	events, reports := section(t, page.Body, `id="events"`), section(t, page.Body, `id="csp-reports"`)
	if strings.Count(events, audit.KindLoginFailure) != 5 || !strings.Contains(events, audit.KindCSRFReject) || strings.Contains(events, "csp") {
		t.Fatalf("events section:\n%s", events)
	}
	for _, w := range []string{"<td>script-src-elem</td><td>inline</td><td>/comments</td><td>3000</td>",
		"<td>img-src</td><td>https://evil.example</td><td>/comments</td><td>2000</td>", "5000 reports, 2 distinct"} {
		if !strings.Contains(reports, w) {
			t.Fatalf("CSP section lacks %q:\n%s", w, reports)
		}
	}
}

// TestCSPReportFloodUniqueURLsCapped: a client sending a new blocked origin in every report
// cannot make the store keep more than the cap of aggregates per window; the rest are
// counted in "other", and nothing is lost from the total.
func TestCSPReportFloodUniqueURLsCapped(t *testing.T) {
	env := apptest.New(t, apptest.Options{Env: map[string]string{"RAMPART_TRUSTED_PROXIES": "127.0.0.1/32"}})
	toNextHour(env)
	const bodies, perBody = 50, csp.MaxBatch
	batches := make([]string, bodies)
	for b := range batches {
		batches[b] = reportBatch(perBody, func(i int) (string, string) {
			n := b*perBody + i
			return fmt.Sprintf("https://h%d.evil.example/x.js", n), fmt.Sprintf("http://127.0.0.1/p%d", n)
		})
	}
	flood(t, env, "203.0.113.10", batches)
	count("csp report flood (unique URLs)", bodies*perBody)
	ws, err := env.Stack.CSPReports.Recent(t.Context(), 24, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Distinct != csp.DefaultMaxKeys || ws[0].Other != bodies*perBody-csp.DefaultMaxKeys || ws[0].Total != bodies*perBody {
		t.Fatalf("windows %+v; want %d distinct and %d other", ws, csp.DefaultMaxKeys, bodies*perBody-csp.DefaultMaxKeys)
	}
	if cs, err := env.Stack.Store.ListCounters(t.Context(), "csp:", -1<<62, env.Clock.Now(), 0); err != nil || len(cs) != csp.DefaultMaxKeys+2 {
		t.Fatalf("%d counters stored, want %d, %v", len(cs), csp.DefaultMaxKeys+2, err)
	}
	if n := cspReports(t, env); n != bodies*perBody {
		t.Fatalf("%d reports counted", n)
	}
}

// section returns the part of an HTML page from the element with attr to the next <h2> or
// the end of the page.
func section(t *testing.T, body, attr string) string {
	t.Helper()
	i := strings.Index(body, attr)
	if i < 0 {
		t.Fatalf("no element with %s in the page", attr)
	}
	rest := body[i:]
	if j := strings.Index(rest, "<h2>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
