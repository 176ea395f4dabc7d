package attacktest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/audit"
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

func cspEvents(t *testing.T, env *apptest.Env) int {
	t.Helper()
	evs, err := env.Stack.Audit.Recent(t.Context(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Kind == audit.KindCSPReport {
			n++
		}
	}
	return n
}

// TestCSPReportEndpoint: well-formed reports are stored without cookies or tokens; wrong
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
			before := cspEvents(t, env)
			resp := sendReport(t, env, clientIP(10+i), tc.method, tc.ct, tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if got := cspEvents(t, env) - before; (got == 1) != tc.stored || got > 1 {
				t.Fatalf("%d events stored, want stored=%v", got, tc.stored)
			}
		})
	}
	count("csp report shapes", len(cases))

	t.Run("one client flooding gets 429 after 20 reports a minute; nothing past the limit is stored", func(t *testing.T) {
		const flood = 200
		before := cspEvents(t, env)
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
		if got := cspEvents(t, env) - before; got != accepted {
			t.Fatalf("%d events stored for %d accepted reports", got, accepted)
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
