package app_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/internal/app"
	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/perms"
	"github.com/rampart-go/rampart/store"
)

const pw = "correct horse battery staple 9"

type adminEnv struct {
	env                   *apptest.Env
	ck                    *perms.Checker
	root, mod, ann, plain store.User
}

// newAdminEnv: root is a superuser, mod a staff user with the user-admin permissions (through
// a group), plain a staff user without them, ann an ordinary user.
func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	ctx := context.Background()
	env := apptest.New(t, apptest.Options{})
	ck, err := perms.New(env.Stack, perms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &adminEnv{env: env, ck: ck}
	by := perms.Actor{Name: "test"}
	e.root = env.CreateUser(t, "root", pw, true)
	if e.root, err = ck.SetSuperuser(ctx, by, e.root.ID, true); err != nil {
		t.Fatal(err)
	}
	e.mod = env.CreateUser(t, "mod", pw, true)
	e.plain = env.CreateUser(t, "plain", pw, true)
	e.ann = env.CreateUser(t, "ann", pw, false)
	for _, err := range []error{
		ck.CreateGroup(ctx, by, "moderators"),
		ck.GrantGroup(ctx, by, "moderators", app.PermUsersView),
		ck.GrantGroup(ctx, by, "moderators", app.PermUsersChange),
		ck.AddToGroup(ctx, by, e.mod, "moderators"),
		ck.CreateGroup(ctx, by, "editors"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *adminEnv) login(t *testing.T, name string) *apptest.Client {
	c := e.env.Client(t)
	c.Login(name, pw)
	return c
}

func (e *adminEnv) act(c *apptest.Client, u store.User, form url.Values) *apptest.Response {
	return c.Post("/admin/users/"+u.ID, "/admin/users/"+u.ID, form)
}

func (e *adminEnv) user(t *testing.T, id string) store.User {
	t.Helper()
	u, err := e.env.Stack.Store.UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUserAdminAccess: the pages answer only staff with the permissions and a recent login.
func TestUserAdminAccess(t *testing.T) {
	e := newAdminEnv(t)
	anon := e.env.Client(t)
	if r := anon.Get("/admin/users"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(apptest.Path(r.Header.Get("Location")), "/accounts/login?next=") {
		t.Fatalf("anonymous: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	cases := []struct {
		who  string
		path string
		want int
	}{
		{"ann", "/admin/users", http.StatusForbidden},               // not staff
		{"plain", "/admin/users", http.StatusForbidden},             // staff without users.view
		{"plain", "/admin/users/" + e.ann.ID, http.StatusForbidden}, // likewise
		{"mod", "/admin/users", http.StatusOK},
		{"mod", "/admin/users/" + e.ann.ID, http.StatusOK},
		{"mod", "/admin/users/999999", http.StatusNotFound},
		{"root", "/admin/users", http.StatusOK}, // a superuser holds every permission
	}
	for _, tc := range cases {
		c := e.login(t, tc.who)
		if r := c.Get(tc.path); r.StatusCode != tc.want {
			t.Errorf("%s GET %s: %d, want %d", tc.who, tc.path, r.StatusCode, tc.want)
		}
	}
	// plain cannot change either, even with a valid form.
	c := e.login(t, "plain")
	if r := e.act(c, e.ann, url.Values{"action": {"deactivate"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("plain deactivates: %d", r.StatusCode)
	}
	if !e.user(t, e.ann.ID).IsActive {
		t.Fatal("ann deactivated by a staff user without users.change")
	}
	// A stale login is sent to confirm it first (sudo mode), for reads and changes.
	mod := e.login(t, "mod")
	e.env.Clock.Advance(accounts.DefaultRecentAuth + time.Minute)
	if r := mod.Get("/admin/users"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(apptest.Path(r.Header.Get("Location")), "/accounts/confirm?next=") {
		t.Fatalf("stale session GET: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	form := url.Values{"action": {"deactivate"}, "csrf_token": {mod.Token()}}
	req, _ := http.NewRequest("POST", e.env.URL+"/admin/users/"+e.ann.ID, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.env.URL)
	if r := mod.Do(req); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(apptest.Path(r.Header.Get("Location")), "/accounts/confirm") {
		t.Fatalf("stale session POST: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if !e.user(t, e.ann.ID).IsActive {
		t.Fatal("ann deactivated through a stale session")
	}
	// A cross-site POST is refused by the stack's CSRF check, token or not.
	fresh := e.login(t, "mod")
	fresh.Get("/admin/users/" + e.ann.ID)
	for _, hdr := range [][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		form := url.Values{"action": {"deactivate"}, "csrf_token": {fresh.Token()}}
		req, _ = http.NewRequest("POST", e.env.URL+"/admin/users/"+e.ann.ID, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(hdr[0], hdr[1])
		if r := fresh.Do(req); r.StatusCode != http.StatusForbidden || !e.user(t, e.ann.ID).IsActive {
			t.Fatalf("cross-site POST (%s: %s): %d", hdr[0], hdr[1], r.StatusCode)
		}
	}
}

// TestUserAdminSearch: the list filters by username or e-mail.
func TestUserAdminSearch(t *testing.T) {
	e := newAdminEnv(t)
	c := e.login(t, "mod")
	body := c.Get("/admin/users?q=ANN").Body
	if !strings.Contains(body, ">ann</a>") || strings.Contains(body, ">root</a>") {
		t.Fatalf("search ann:\n%s", body)
	}
	body = c.Get("/admin/users?q=%3Cscript%3E").Body
	if !strings.Contains(body, "No users match.") || strings.Contains(body, "<script>") {
		t.Fatalf("search with markup:\n%s", body)
	}
	if body := c.Get("/admin/users").Body; strings.Count(body, `<a href="/admin/users/`) != 4 {
		t.Fatalf("all users:\n%s", body)
	}
}

// TestUserAdminActions: each action does what it says and is audited with who did it.
func TestUserAdminActions(t *testing.T) {
	ctx := context.Background()
	e := newAdminEnv(t)
	annB := e.login(t, "ann")
	mod := e.login(t, "mod")
	ok := func(r *apptest.Response, what string) {
		t.Helper()
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d\n%s", what, r.StatusCode, r.Body)
		}
	}
	// Deactivation ends ann's sessions: her open browser is sent to log in.
	ok(e.act(mod, e.ann, url.Values{"action": {"deactivate"}}), "deactivate")
	if e.user(t, e.ann.ID).IsActive {
		t.Fatal("still active")
	}
	if r := annB.Get("/accounts/sessions"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(apptest.Path(r.Header.Get("Location")), "/accounts/login") {
		t.Fatalf("deactivated user's session: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	ok(e.act(mod, e.ann, url.Values{"action": {"activate"}}), "activate")
	annB = e.login(t, "ann")
	ok(e.act(mod, e.ann, url.Values{"action": {"end_sessions"}}), "end sessions")
	if r := annB.Get("/accounts/sessions"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("session after end_sessions: %d", r.StatusCode)
	}
	// Groups.
	ok(e.act(mod, e.ann, url.Values{"action": {"group_add"}, "group": {"editors"}}), "group add")
	if g, _ := e.ck.Grants(ctx, e.ann.ID); strings.Join(g.Groups, ",") != "editors" {
		t.Fatalf("groups after add: %+v", g)
	}
	r := e.act(mod, e.ann, url.Values{"action": {"group_add"}, "group": {"nobody"}})
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(mod.Get("/admin/users/"+e.ann.ID).Body, "There is no such group.") {
		t.Fatalf("add to a missing group: %d", r.StatusCode)
	}
	ok(e.act(mod, e.ann, url.Values{"action": {"group_remove"}, "group": {"editors"}}), "group remove")
	// No escalation: mod cannot hand out (to ann or to itself) a group with permissions it
	// lacks; root can.
	by := perms.Actor{Name: "test"}
	if err := e.ck.CreateGroup(ctx, by, "admins"); err != nil {
		t.Fatal(err)
	}
	if err := e.ck.GrantGroup(ctx, by, "admins", "security.everything"); err != nil {
		t.Fatal(err)
	}
	for _, target := range []store.User{e.ann, e.mod} {
		if r := e.act(mod, target, url.Values{"action": {"group_add"}, "group": {"admins"}}); r.StatusCode != http.StatusForbidden {
			t.Fatalf("mod adds %s to a group with more permissions than its own: %d", target.Username, r.StatusCode)
		}
		if g, _ := e.ck.Grants(ctx, target.ID); slices.Contains(g.Groups, "admins") {
			t.Fatalf("%s's groups after a refused add: %v", target.Username, g.Groups)
		}
	}
	if r := e.act(e.login(t, "root"), e.ann, url.Values{"action": {"group_add"}, "group": {"admins"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("root adds ann to admins: %d", r.StatusCode)
	}
	ok(e.act(mod, e.ann, url.Values{"action": {"group_remove"}, "group": {"admins"}}), "group remove admins")
	// Staff: yes. Superuser: only a superuser may.
	ok(e.act(mod, e.ann, url.Values{"action": {"staff_on"}}), "staff on")
	if !e.user(t, e.ann.ID).IsStaff {
		t.Fatal("staff_on did nothing")
	}
	if r := e.act(mod, e.ann, url.Values{"action": {"superuser_on"}}); r.StatusCode != http.StatusForbidden || e.user(t, e.ann.ID).IsSuperuser {
		t.Fatalf("staff makes a superuser: %d", r.StatusCode)
	}
	if r := e.act(mod, e.root, url.Values{"action": {"deactivate"}}); r.StatusCode != http.StatusForbidden || !e.user(t, e.root.ID).IsActive {
		t.Fatalf("staff deactivates a superuser: %d", r.StatusCode)
	}
	root := e.login(t, "root")
	ok(e.act(root, e.ann, url.Values{"action": {"superuser_on"}}), "root makes a superuser")
	if !e.user(t, e.ann.ID).IsSuperuser {
		t.Fatal("superuser_on by root did nothing")
	}
	ok(e.act(root, e.ann, url.Values{"action": {"superuser_off"}}), "root takes superuser")
	// One's own account: no self-deactivation.
	if r := e.act(mod, e.mod, url.Values{"action": {"deactivate"}}); r.StatusCode != http.StatusSeeOther || !e.user(t, e.mod.ID).IsActive {
		t.Fatalf("self-deactivation: %d", r.StatusCode)
	}
	if r := e.act(mod, e.ann, url.Values{"action": {"frobnicate"}}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown action: %d", r.StatusCode)
	}
	// Reset two-factor of a locked-out user: TOTP, backup codes and remembered browsers go,
	// and the user is mailed.
	u := e.user(t, e.ann.ID)
	u.TOTPEnabled, u.TOTPSecret = true, []byte("sealed")
	if err := e.env.Stack.Store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := e.env.Stack.Store.ReplaceBackupCodes(ctx, u.ID, []string{"h1", "h2"}); err != nil {
		t.Fatal(err)
	}
	ok(e.act(mod, e.ann, url.Values{"action": {"reset_2fa"}}), "reset 2fa")
	after := e.user(t, e.ann.ID)
	if n, _ := e.env.Stack.Store.CountBackupCodes(ctx, u.ID); after.TOTPEnabled || after.TOTPSecret != nil || after.DeviceEpoch != u.DeviceEpoch+1 || n != 0 {
		t.Fatalf("after the reset: %+v, %d backup codes", after, n)
	}
	var mailed bool
	for _, m := range e.env.Stack.Outbox.Messages() {
		mailed = mailed || m.To == "ann@example.test" && strings.Contains(m.Subject, "Two-factor")
	}
	if !mailed {
		t.Fatalf("no mail to ann: %+v", e.env.Stack.Outbox.Messages())
	}
	ok(e.act(mod, e.ann, url.Values{"action": {"unlock"}}), "unlock")

	events, err := e.env.Stack.Audit.Recent(ctx, 200)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i]
		if ev.Username == "mod" || ev.Username == "root" {
			switch ev.Kind {
			case "login.success", "reauth":
				continue
			}
			got = append(got, ev.Username+" "+ev.Kind)
		}
	}
	want := "mod user.deactivate, mod user.activate, mod session.end, mod group.add_user, mod group.remove_user, " +
		"root group.add_user, mod group.remove_user, mod user.staff, " +
		"root user.superuser, root user.superuser, mod 2fa.reset, mod lockout.unlock"
	if strings.Join(got, ", ") != want {
		t.Fatalf("audited:\n%s\nwant\n%s", strings.Join(got, ", "), want)
	}
}

// TestGroupsAdmin: staff with users.view see the groups; only superusers change them.
func TestGroupsAdmin(t *testing.T) {
	ctx := context.Background()
	e := newAdminEnv(t)
	mod := e.login(t, "mod")
	if r := mod.Get("/admin/groups"); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "<code>users.change</code>") || strings.Contains(r.Body, `id="group-create"`) {
		t.Fatalf("mod's groups page: %d\n%s", r.StatusCode, r.Body)
	}
	if r := mod.Post("/admin/groups", "/admin/groups", url.Values{"action": {"grant"}, "group": {"moderators"}, "perm": {"security.everything"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("mod grants to its own group: %d", r.StatusCode)
	}
	if r := e.login(t, "plain").Get("/admin/groups"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("staff without users.view: %d", r.StatusCode)
	}
	root := e.login(t, "root")
	steps := []struct {
		form  url.Values
		flash string
	}{
		{url.Values{"action": {"create"}, "group": {"auditors"}}, "Group auditors created."},
		{url.Values{"action": {"create"}, "group": {"auditors"}}, "A group named auditors already exists."},
		{url.Values{"action": {"create"}, "group": {"bad\x01name"}}, "unprintable"},
		{url.Values{"action": {"grant"}, "group": {"auditors"}, "perm": {"audit.view"}}, "Granted audit.view to auditors."},
		{url.Values{"action": {"grant"}, "group": {"auditors"}, "perm": {"Not A Perm"}}, "want app.action"},
		{url.Values{"action": {"grant"}, "group": {"nobody"}, "perm": {"audit.view"}}, "There is no such group."},
		{url.Values{"action": {"revoke"}, "group": {"auditors"}, "perm": {"audit.view"}}, "Revoked audit.view from auditors."},
		{url.Values{"action": {"delete"}, "group": {"auditors"}}, "Group auditors deleted."},
		{url.Values{"action": {"delete"}, "group": {"auditors"}}, "There is no such group."},
	}
	for _, s := range steps {
		if r := root.Post("/admin/groups", "/admin/groups", s.form); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("%v: %d", s.form, r.StatusCode)
		}
		if body := root.Get("/admin/groups").Body; !strings.Contains(body, s.flash) {
			t.Fatalf("%v: no %q in\n%s", s.form, s.flash, body)
		}
	}
	groups, _ := e.ck.Groups(ctx)
	var names []string
	for _, g := range groups {
		names = append(names, g.Name)
	}
	if strings.Join(names, ",") != "editors,moderators" {
		t.Fatalf("groups at the end: %v", names)
	}
}
