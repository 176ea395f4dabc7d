package main

import (
	"context"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/store/sqlite"
)

// TestPermsCommands drives grant, revoke, groups and createuser --superuser against a SQLite
// database as an operator would, and checks the database and the audit trail after.
func TestPermsCommands(t *testing.T) {
	newUserDir(t)
	if code, _, errs := runTool(t, "", "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, errs)
	}
	pw := "long enough passphrase 1\n"
	steps := []struct {
		stdin string
		args  []string
		code  int
		out   string // a substring of stdout (code 0) or stderr
	}{
		{pw, []string{"createuser", "--username", "root", "--superuser", "--password-stdin"}, 0, "staff true, superuser true"},
		{pw, []string{"createuser", "--username", "ann", "--password-stdin"}, 0, "superuser false"},
		{"", []string{"groups"}, 0, "no groups in sqlite://rampart.db"},
		{"", []string{"groups", "create", "editors"}, 0, `created group "editors"`},
		{"", []string{"groups", "create", "editors"}, 1, `a group named "editors" already exists`},
		{"", []string{"groups", "create", " bad"}, 2, "leading or trailing space"},
		{"", []string{"grant", "--group", "editors", "comments.delete", "comments.edit"}, 0, "granted comments.edit to group editors"},
		{"", []string{"grant", "--group", "nobody", "comments.delete"}, 1, `no group named "nobody"`},
		{"", []string{"grant", "--user", "ann", "admin.view"}, 0, "granted admin.view to user ann"},
		{"", []string{"grant", "--user", "nobody", "admin.view"}, 1, `no user named "nobody"`},
		{"", []string{"grant", "--user", "ann", "Admin.View"}, 2, "only a-z"},
		{"", []string{"grant", "--user", "ann", "--group", "editors", "a.b"}, 2, "usage: rampart grant"},
		{"", []string{"grant", "--user", "ann"}, 2, "usage: rampart grant"},
		{"", []string{"groups", "add", "--user", "ANN", "editors"}, 0, `added ann to group "editors"`},
		{"", []string{"groups", "add", "--user", "ann", "nobody"}, 1, `no group named "nobody"`},
		{"", []string{"groups", "list"}, 0, "editors: comments.delete comments.edit"},
		{"", []string{"groups", "show", "--user", "ann"}, 0, "effective: admin.view comments.delete comments.edit"},
		{"", []string{"revoke", "--group", "editors", "comments.edit"}, 0, "revoked comments.edit from group editors"},
		{"", []string{"revoke", "--user", "ann", "comments.delete"}, 0, "did not hold comments.delete directly"},
		{"", []string{"groups", "remove", "--user", "ann", "editors"}, 0, `removed ann from group "editors"`},
		{"", []string{"groups", "delete", "editors"}, 0, `deleted group "editors"`},
		{"", []string{"groups", "delete", "editors"}, 1, `no group named "editors"`},
		{"", []string{"groups", "frobnicate"}, 2, "usage: rampart groups"},
		{"", []string{"groups", "add", "editors"}, 2, "usage: rampart groups"},
	}
	for _, s := range steps {
		code, out, errs := runTool(t, s.stdin, s.args...)
		got := out
		if s.code != 0 {
			got = errs
		}
		if code != s.code || !strings.Contains(got, s.out) {
			t.Fatalf("rampart %s: exit %d (want %d)\nstdout %q\nstderr %q\nwant %q", strings.Join(s.args, " "), code, s.code, out, errs, s.out)
		}
	}
	st, err := sqlite.OpenWith("rampart.db", sqlite.Options{NoSessionCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	root, err := st.UserByUsername(ctx, "root")
	if err != nil || !root.IsSuperuser || !root.IsStaff {
		t.Fatalf("root: %+v, %v", root, err)
	}
	ann, _ := st.UserByUsername(ctx, "ann")
	g, err := st.UserGrants(ctx, ann.ID)
	if err != nil || strings.Join(g.Effective, " ") != "admin.view" || len(g.Groups) != 0 {
		t.Fatalf("ann's grants at the end: %+v, %v", g, err)
	}
	events, err := st.RecentEvents(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if strings.HasPrefix(e.Kind, "perm.") || strings.HasPrefix(e.Kind, "group.") || e.Kind == "user.superuser" || e.Kind == "user.staff" {
			if e.Username != cliActor().Name || !strings.HasPrefix(e.Username, "cli") {
				t.Errorf("event %s by %q, want %q", e.Kind, e.Username, cliActor().Name)
			}
			kinds = append(kinds, e.Kind)
		}
	}
	want := "user.staff user.superuser group.create perm.grant perm.grant perm.grant group.add_user perm.revoke perm.revoke group.remove_user group.delete"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("audited: %s\nwant     %s", strings.Join(kinds, " "), want)
	}
}
