package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
)

// TestAdminCSPReports: the security page shows counted CSP reports in their own section (top
// aggregates, the over-the-cap "other" count), with client-chosen text escaped, and no
// report among the security events.
func TestAdminCSPReports(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.Grant(t, env.CreateUser(t, "root", "correct horse battery staple 9", true), "security.view", "security.change")
	admin := env.Client(t)
	admin.Login("root", "correct horse battery staple 9")
	if r := admin.Get("/admin/security"); !strings.Contains(r.Body, `<section id="csp-reports">`+"\n<p>No reports.</p>") {
		t.Fatalf("empty CSP section:\n%s", r.Body)
	}

	// A report whose page path and directive carry markup, then 300 reports with distinct
	// blocked origins: the window's cap of 200 aggregates keeps 199 of them.
	post(t, env, `[{"type":"csp-violation","body":{"documentURL":"http://127.0.0.1/<img src=x onerror=alert(1)>","blockedURL":"inline","effectiveDirective":"<b>x</b>"}}]`)
	for b := range 3 {
		var items []string
		for i := range 100 {
			items = append(items, fmt.Sprintf(`{"type":"csp-violation","body":{"documentURL":"http://127.0.0.1/","blockedURL":"https://h%d.example/x.js","effectiveDirective":"script-src-elem"}}`, b*100+i))
		}
		post(t, env, "["+strings.Join(items, ",")+"]")
	}

	page := admin.Get("/admin/security").Body
	i := strings.Index(page, `<section id="csp-reports">`)
	if i < 0 || strings.Index(page, `id="events"`) > i {
		t.Fatalf("no CSP section after the events:\n%s", page)
	}
	events, reports := page[:i], page[i:]
	if strings.Contains(events, "csp") {
		t.Fatalf("a CSP report among the security events:\n%s", events)
	}
	for _, want := range []string{
		"301 reports, 200 distinct (top 20 shown)",
		`<tr class="other"><td colspan="3">other (over the cap of distinct entries per window)</td><td>101</td></tr>`,
		"<td>(unknown)</td><td>inline</td><td>/%3Cimg%20src=x%20onerror=alert%281%29%3E</td><td>1</td>",
	} {
		if !strings.Contains(reports, want) {
			t.Fatalf("CSP section lacks %q:\n%s", want, reports)
		}
	}
	if n := strings.Count(reports, "<td>script-src-elem</td>"); n != 19 {
		t.Fatalf("%d script-src-elem rows, want 19 beside the (unknown) one in the top 20", n)
	}
	if strings.Contains(reports, "<img") || strings.Contains(reports, "<b>") {
		t.Fatalf("client text not escaped:\n%s", reports)
	}
}

func post(t *testing.T, env *apptest.Env, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", env.URL+env.Settings.CSPReportURI, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/reports+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("report: %d", resp.StatusCode)
	}
}

// TestSecurityPageNeedsPermission: the security admin page takes more than the staff flag
// (Django's admin checks permissions too): staff without security.view get 403, with it the
// page; lifting a lock also needs security.change.
func TestSecurityPageNeedsPermission(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	pw := "correct horse battery staple 9"
	plain := env.CreateUser(t, "staffer", pw, true)
	c := env.Client(t)
	c.Login("staffer", pw)
	if r := c.Get("/admin/security"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("staff without security.view: %d, want 403", r.StatusCode)
	}
	env.Grant(t, plain, "security.view")
	if r := c.Get("/admin/security"); r.StatusCode != http.StatusOK {
		t.Fatalf("staff with security.view: %d", r.StatusCode)
	}
	if r := c.Post("/admin/security", "/admin/security", url.Values{"unlock": {"lockout:u|x"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("unlock without security.change: %d, want 403", r.StatusCode)
	}
}
