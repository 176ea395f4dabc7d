package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/rampart-go/rampart/store"
)

// testAccountImporter checks store.AccountImporter where the backend offers it: new accounts
// with everything they hold, existing usernames left alone, taken e-mails dropped, groups
// merged (members' PermsVersion moved), a dry run and a failing import that write nothing,
// and a second run that changes nothing.
func testAccountImporter(t *testing.T, s ImporterStore) {
	im, ps := store.AccountImporter(s), store.Permissions(s)
	ctx := context.Background()
	// One clock reading: base() truncates to the second, so two readings can differ.
	now := base()
	taken := mustCreate(t, s, store.User{Username: "Taken", Email: "x@example.com", PasswordHash: "h", IsActive: true})
	if err := ps.CreateGroup(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	if err := ps.AddUserToGroup(ctx, taken.ID, "g1"); err != nil {
		t.Fatal(err)
	}
	v0 := mustUser(t, s, taken.ID).PermsVersion
	groups := []store.Group{{Name: "g1", Perms: []string{"a.b", "a.c"}}, {Name: "g2", Perms: []string{"a.d"}}}
	accounts := []store.ImportedAccount{
		{User: store.User{Username: "taken", PasswordHash: "django"}, LastStep: 5},
		{User: store.User{Username: "New1", Email: "X@example.com", PasswordHash: "pbkdf2_sha256$1$s$h", IsActive: true, IsStaff: true,
			DateJoined: now, TOTPSecret: []byte{1, 2, 3}, TOTPEnabled: true},
			Groups: []string{"g1", "g2"}, Perms: []string{"p.q"}, BackupCodeHashes: []string{"h1", "h2"}, LastStep: 100},
		{User: store.User{Username: "new2", Email: "new2@example.com", PasswordHash: "md5$s$h", IsSuperuser: true}, LastStep: -1},
	}
	want := store.ImportResult{Created: []string{"New1", "new2"}, Existing: []string{"taken"}, EmailDropped: []string{"New1"},
		GroupsCreated: 1, GroupPermsAdded: 3}

	dry, err := im.ImportAccounts(ctx, groups, accounts, true)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("%T: %v", s, err)
	}
	if err != nil || !reflect.DeepEqual(dry, want) {
		t.Fatalf("dry run: %+v, %v; want %+v", dry, err, want)
	}
	if users, _ := s.ListUsers(ctx, "", 0); len(users) != 1 {
		t.Fatalf("the dry run wrote users: %+v", users)
	}
	if gs, _ := ps.Groups(ctx); !reflect.DeepEqual(gs, []store.Group{{Name: "g1"}}) {
		t.Fatalf("the dry run wrote groups: %+v", gs)
	}

	// A failing import (a membership of a group that does not exist) writes nothing either,
	// not even the accounts and groups before the failure.
	bad := append(append([]store.ImportedAccount{}, accounts...), store.ImportedAccount{User: store.User{Username: "new3"}, Groups: []string{"nope"}, LastStep: -1})
	if _, err := im.ImportAccounts(ctx, append(groups, store.Group{Name: "g3"}), bad, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("import with a missing group: %v, want ErrNotFound", err)
	}
	if users, _ := s.ListUsers(ctx, "", 0); len(users) != 1 {
		t.Fatalf("a failed import left users: %+v", users)
	}
	if gs, _ := ps.Groups(ctx); len(gs) != 1 || len(gs[0].Perms) != 0 {
		t.Fatalf("a failed import left groups: %+v", gs)
	}

	res, err := im.ImportAccounts(ctx, groups, accounts, false)
	if err != nil || !reflect.DeepEqual(res, want) {
		t.Fatalf("import: %+v, %v; want %+v", res, err, want)
	}
	if u := mustUser(t, s, taken.ID); u.PasswordHash != "h" || u.PermsVersion <= v0 {
		t.Errorf("the existing user: %+v (PermsVersion was %d: its group gained permissions)", u, v0)
	}
	n1, err := s.UserByUsername(ctx, "new1")
	if err != nil {
		t.Fatal(err)
	}
	if n1.Email != "" || !n1.IsStaff || !n1.TOTPEnabled || !reflect.DeepEqual(n1.TOTPSecret, []byte{1, 2, 3}) ||
		n1.PasswordHash != "pbkdf2_sha256$1$s$h" || !n1.DateJoined.Equal(now) {
		t.Errorf("New1 stored as %+v", n1)
	}
	g, err := ps.UserGrants(ctx, n1.ID)
	wantG := store.Grants{Groups: []string{"g1", "g2"}, Perms: []string{"p.q"}, Effective: []string{"a.b", "a.c", "a.d", "p.q"}}
	if err != nil || !reflect.DeepEqual(g, wantG) {
		t.Errorf("New1 holds %+v, %v; want %+v", g, err, wantG)
	}
	if n, err := s.CountBackupCodes(ctx, n1.ID); err != nil || n != 2 {
		t.Errorf("New1 backup codes: %d, %v", n, err)
	}
	if ok, err := s.UseBackupCode(ctx, n1.ID, "h1"); err != nil || !ok {
		t.Errorf("New1 backup code h1: %v, %v", ok, err)
	}
	if ok, err := s.ClaimStep(ctx, n1.ID, 100); err != nil || ok {
		t.Errorf("step 100, already accepted before the import, was claimed again: %v, %v", ok, err)
	}
	if ok, err := s.ClaimStep(ctx, n1.ID, 101); err != nil || !ok {
		t.Errorf("step 101: %v, %v", ok, err)
	}
	n2, err := s.UserByUsername(ctx, "new2")
	if err != nil || !n2.IsSuperuser || n2.Email != "new2@example.com" || !n2.LastLogin.IsZero() {
		t.Fatalf("new2 stored as %+v, %v", n2, err)
	}
	if ok, err := s.ClaimStep(ctx, n2.ID, 0); err != nil || !ok {
		t.Errorf("new2 has replay state it was not given: %v, %v", ok, err)
	}

	again, err := im.ImportAccounts(ctx, groups, accounts, false)
	wantAgain := store.ImportResult{Existing: []string{"taken", "New1", "new2"}}
	if err != nil || !reflect.DeepEqual(again, wantAgain) {
		t.Errorf("second import: %+v, %v; want %+v", again, err, wantAgain)
	}
}

func mustCreate(t *testing.T, s store.Users, u store.User) store.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustUser(t *testing.T, s store.Users, id string) store.User {
	t.Helper()
	u, err := s.UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
