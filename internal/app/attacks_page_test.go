package app_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
)

// TestAdminAttackPicture: failed logins show on /admin/security as bars of the hour chart,
// with the attacked username (markup escaped) and the client IP in the tops; ?window=day
// switches the span; the section carries no script and no style attribute.
func TestAdminAttackPicture(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.Grant(t, env.CreateUser(t, "root", "correct horse battery staple 9", true), "security.view")
	attacker := env.Client(t)
	for range 3 {
		if r := attacker.Post("/accounts/login", "/accounts/login", url.Values{"username": {"<b>victim</b>"}, "password": {"wrong"}}); r.StatusCode != 200 {
			t.Fatalf("failed login: %d", r.StatusCode)
		}
	}
	admin := env.Client(t)
	admin.Login("root", "correct horse battery staple 9")
	page := admin.Get("/admin/security").Body
	i, j := strings.Index(page, `<section id="attacks">`), strings.Index(page, `</section>`)
	if i < 0 || j < i {
		t.Fatalf("no attack section:\n%s", page)
	}
	sec := page[i:j]
	for _, want := range []string{
		"<h2>Refusals, last hour</h2>", "3 refused", `<svg class="attacks"`, `fill="#f79009"`,
		"UTC: 3 failed login</title>", "failed login: 3",
		"<td>&lt;b&gt;victim&lt;/b&gt;</td><td>3</td>", "<td>127.0.0.1</td><td>3</td>",
		`<a href="/admin/security?window=day">last day</a>`,
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("attack section lacks %q", want)
		}
	}
	if strings.Contains(sec, "<b>") || strings.Contains(sec, "<script") || strings.Contains(sec, "style=") {
		t.Errorf("markup, script or style attribute in the section:\n%s", sec)
	}
	day := admin.Get("/admin/security?window=day").Body
	if !strings.Contains(day, "<h2>Refusals, last day</h2>") || !strings.Contains(day, "per hour, last day") {
		t.Errorf("day window not shown")
	}
	if t.Failed() {
		t.Log(sec)
	}
}

// TestAdminCountsRefusalFlood: a flood of refused cross-site posts is stored as its first
// three and a count, and /admin/security shows every one of them — in the event list (the
// current minute's count, before it is stored) and in the chart and the top clients.
func TestAdminCountsRefusalFlood(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.Grant(t, env.CreateUser(t, "root", "correct horse battery staple 9", true), "security.view")
	attacker := env.Client(t)
	attacker.Origin, attacker.Site = "https://evil.example", "cross-site"
	for range 50 {
		if r := attacker.Post("", "/comments", url.Values{"body": {"hi"}}); r.StatusCode != 403 {
			t.Fatalf("cross-site post: %d", r.StatusCode)
		}
	}
	admin := env.Client(t)
	admin.Login("root", "correct horse battery staple 9")
	page := admin.Get("/admin/security").Body
	for _, want := range []string{
		"<td>csrf.reject</td><td></td><td>127.0.0.1</td><td>×47 more", // the live count
		"50 refused", "CSRF refused: 50", "<td>127.0.0.1</td><td>50</td>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("admin page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<td>csrf.reject</td>"); n != 4 {
		t.Errorf("%d csrf.reject rows listed, want the first 3 and the count", n)
	}
	if t.Failed() {
		t.Log(page)
	}
}
