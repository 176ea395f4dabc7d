package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/rampart-go/rampart/store"
)

func permStore(t *testing.T, s store.Store) store.Permissions {
	t.Helper()
	ps, ok := s.(store.Permissions)
	if !ok {
		t.Skip("store has no Permissions")
	}
	return ps
}

func wantGrants(t *testing.T, ps store.Permissions, userID string, groups, perms, effective []string) {
	t.Helper()
	g, err := ps.UserGrants(context.Background(), userID)
	must(t, err)
	if !slices.Equal(g.Groups, groups) || !slices.Equal(g.Perms, perms) || !slices.Equal(g.Effective, effective) {
		t.Fatalf("UserGrants(%s) = %+v\nwant groups %q perms %q effective %q", userID, g, groups, perms, effective)
	}
}

func version(t *testing.T, s store.Users, id string) int64 {
	t.Helper()
	u, err := s.UserByID(context.Background(), id)
	must(t, err)
	return u.PermsVersion
}

// testPermissions checks grants to users and groups, membership, and the effective set.
func testPermissions(t *testing.T, s PermissionStore) {
	ps := store.Permissions(s)
	ctx := context.Background()
	now := base()
	alice, err := s.CreateUser(ctx, user("alice", "", now))
	must(t, err)
	bob, err := s.CreateUser(ctx, user("bob", "", now))
	must(t, err)

	wantGrants(t, ps, alice.ID, nil, nil, nil)
	wantGrants(t, ps, "999999", nil, nil, nil)
	if err := ps.GrantUserPerm(ctx, "999999", "comments.delete"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GrantUserPerm(missing user) = %v, want ErrNotFound", err)
	}
	must(t, ps.GrantUserPerm(ctx, alice.ID, "comments.delete"))
	must(t, ps.GrantUserPerm(ctx, alice.ID, "comments.delete")) // again: no error, no duplicate
	must(t, ps.GrantUserPerm(ctx, alice.ID, "admin.view"))
	wantGrants(t, ps, alice.ID, nil, []string{"admin.view", "comments.delete"}, []string{"admin.view", "comments.delete"})
	wantGrants(t, ps, bob.ID, nil, nil, nil)

	groups, err := ps.Groups(ctx)
	must(t, err)
	if len(groups) != 0 {
		t.Fatalf("fresh store has groups: %+v", groups)
	}
	must(t, ps.CreateGroup(ctx, "editors"))
	if err := ps.CreateGroup(ctx, "editors"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateGroup(existing) = %v, want ErrConflict", err)
	}
	must(t, ps.CreateGroup(ctx, "Editors")) // names are exact, not folded
	must(t, ps.CreateGroup(ctx, "auditors"))
	if err := ps.GrantGroupPerm(ctx, "nobody", "x.y"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GrantGroupPerm(missing group) = %v, want ErrNotFound", err)
	}
	must(t, ps.GrantGroupPerm(ctx, "editors", "comments.delete"))
	must(t, ps.GrantGroupPerm(ctx, "editors", "comments.edit"))
	must(t, ps.GrantGroupPerm(ctx, "auditors", "admin.view"))
	groups, err = ps.Groups(ctx)
	must(t, err)
	want := []store.Group{{Name: "Editors"}, {Name: "auditors", Perms: []string{"admin.view"}}, {Name: "editors", Perms: []string{"comments.delete", "comments.edit"}}}
	if fmt.Sprint(groups) != fmt.Sprint(want) {
		t.Fatalf("Groups = %+v, want %+v", groups, want)
	}

	if err := ps.AddUserToGroup(ctx, bob.ID, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddUserToGroup(missing group) = %v, want ErrNotFound", err)
	}
	if err := ps.AddUserToGroup(ctx, "999999", "editors"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddUserToGroup(missing user) = %v, want ErrNotFound", err)
	}
	if _, err := ps.GroupMembers(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GroupMembers(missing group) = %v, want ErrNotFound", err)
	}
	must(t, ps.AddUserToGroup(ctx, bob.ID, "editors"))
	must(t, ps.AddUserToGroup(ctx, bob.ID, "editors"))
	must(t, ps.AddUserToGroup(ctx, alice.ID, "editors"))
	must(t, ps.AddUserToGroup(ctx, alice.ID, "auditors"))
	members, err := ps.GroupMembers(ctx, "editors")
	must(t, err)
	slices.Sort(members)
	wantMembers := []string{alice.ID, bob.ID}
	slices.Sort(wantMembers)
	if !slices.Equal(members, wantMembers) {
		t.Fatalf("GroupMembers(editors) = %q, want %q", members, wantMembers)
	}
	wantGrants(t, ps, bob.ID, []string{"editors"}, nil, []string{"comments.delete", "comments.edit"})
	wantGrants(t, ps, alice.ID, []string{"auditors", "editors"}, []string{"admin.view", "comments.delete"},
		[]string{"admin.view", "comments.delete", "comments.edit"})

	// Revoking a direct grant leaves what a group gives.
	ok, err := ps.RevokeUserPerm(ctx, alice.ID, "comments.delete")
	must(t, err)
	if !ok {
		t.Fatal("RevokeUserPerm(held) = false")
	}
	if ok, err := ps.RevokeUserPerm(ctx, alice.ID, "comments.delete"); err != nil || ok {
		t.Fatalf("RevokeUserPerm(not held) = %v, %v; want false, nil", ok, err)
	}
	wantGrants(t, ps, alice.ID, []string{"auditors", "editors"}, []string{"admin.view"},
		[]string{"admin.view", "comments.delete", "comments.edit"})

	if ok, err := ps.RevokeGroupPerm(ctx, "editors", "comments.delete"); err != nil || !ok {
		t.Fatalf("RevokeGroupPerm(held) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := ps.RevokeGroupPerm(ctx, "editors", "comments.delete"); err != nil || ok {
		t.Fatalf("RevokeGroupPerm(not held) = %v, %v; want false, nil", ok, err)
	}
	if ok, err := ps.RevokeGroupPerm(ctx, "nobody", "comments.delete"); err != nil || ok {
		t.Fatalf("RevokeGroupPerm(missing group) = %v, %v; want false, nil", ok, err)
	}
	wantGrants(t, ps, bob.ID, []string{"editors"}, nil, []string{"comments.edit"})

	if ok, err := ps.RemoveUserFromGroup(ctx, bob.ID, "editors"); err != nil || !ok {
		t.Fatalf("RemoveUserFromGroup(member) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := ps.RemoveUserFromGroup(ctx, bob.ID, "editors"); err != nil || ok {
		t.Fatalf("RemoveUserFromGroup(not a member) = %v, %v; want false, nil", ok, err)
	}
	wantGrants(t, ps, bob.ID, nil, nil, nil)

	if ok, err := ps.DeleteGroup(ctx, "editors"); err != nil || !ok {
		t.Fatalf("DeleteGroup = %v, %v; want true, nil", ok, err)
	}
	if ok, err := ps.DeleteGroup(ctx, "editors"); err != nil || ok {
		t.Fatalf("DeleteGroup(again) = %v, %v; want false, nil", ok, err)
	}
	wantGrants(t, ps, alice.ID, []string{"auditors"}, []string{"admin.view"}, []string{"admin.view"})
	// A new group of the same name starts empty: no member or permission survives.
	must(t, ps.CreateGroup(ctx, "editors"))
	members, err = ps.GroupMembers(ctx, "editors")
	must(t, err)
	groups, err = ps.Groups(ctx)
	must(t, err)
	if len(members) != 0 || fmt.Sprint(groups) != fmt.Sprint([]store.Group{{Name: "Editors"}, {Name: "auditors", Perms: []string{"admin.view"}}, {Name: "editors"}}) {
		t.Fatalf("recreated group: members %q, groups %+v", members, groups)
	}

	// Odd strings are data, not syntax.
	for _, odd := range []string{"a'b", "%", "*", "x\x00y", "\xff", "é.ü", "a:b"} {
		must(t, ps.CreateGroup(ctx, odd))
		must(t, ps.GrantGroupPerm(ctx, odd, odd))
		must(t, ps.AddUserToGroup(ctx, bob.ID, odd))
		must(t, ps.GrantUserPerm(ctx, bob.ID, odd+"!"))
		g, err := ps.UserGrants(ctx, bob.ID)
		must(t, err)
		if !slices.Contains(g.Groups, odd) || !slices.Contains(g.Effective, odd) || !slices.Contains(g.Perms, odd+"!") {
			t.Fatalf("odd name %q: grants %+v", odd, g)
		}
		must(t, func() error { _, err := ps.DeleteGroup(ctx, odd); return err }())
		must(t, func() error { _, err := ps.RevokeUserPerm(ctx, bob.ID, odd+"!"); return err }())
	}
	wantGrants(t, ps, bob.ID, nil, nil, nil)
}

// testPermsVersion checks that every change to what a user holds moves the user's
// PermsVersion forward, and that CreateUser and UpdateUser cannot set it.
func testPermsVersion(t *testing.T, s PermissionStore) {
	ps := store.Permissions(s)
	ctx := context.Background()
	now := base()
	in := user("alice", "", now)
	in.PermsVersion = 41
	alice, err := s.CreateUser(ctx, in)
	must(t, err)
	if alice.PermsVersion != 0 || version(t, s, alice.ID) != 0 {
		t.Fatalf("new user PermsVersion = %d (stored %d), want 0", alice.PermsVersion, version(t, s, alice.ID))
	}
	bob, err := s.CreateUser(ctx, user("bob", "", now))
	must(t, err)
	must(t, ps.CreateGroup(ctx, "editors"))

	steps := []struct {
		name  string
		do    func() error
		bumps []string // users whose version must move
		keeps []string // users whose version must not
	}{
		{"grant user", func() error { return ps.GrantUserPerm(ctx, alice.ID, "a.b") }, []string{alice.ID}, []string{bob.ID}},
		{"revoke user", func() error { _, err := ps.RevokeUserPerm(ctx, alice.ID, "a.b"); return err }, []string{alice.ID}, []string{bob.ID}},
		{"join group", func() error { return ps.AddUserToGroup(ctx, alice.ID, "editors") }, []string{alice.ID}, []string{bob.ID}},
		{"bob joins", func() error { return ps.AddUserToGroup(ctx, bob.ID, "editors") }, []string{bob.ID}, []string{alice.ID}},
		{"grant group", func() error { return ps.GrantGroupPerm(ctx, "editors", "c.d") }, []string{alice.ID, bob.ID}, nil},
		{"revoke group", func() error { _, err := ps.RevokeGroupPerm(ctx, "editors", "c.d"); return err }, []string{alice.ID, bob.ID}, nil},
		{"leave group", func() error { _, err := ps.RemoveUserFromGroup(ctx, bob.ID, "editors"); return err }, []string{bob.ID}, []string{alice.ID}},
		{"delete group", func() error { _, err := ps.DeleteGroup(ctx, "editors"); return err }, []string{alice.ID}, []string{bob.ID}},
	}
	for _, st := range steps {
		before := map[string]int64{alice.ID: version(t, s, alice.ID), bob.ID: version(t, s, bob.ID)}
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, id := range st.bumps {
			if v := version(t, s, id); v <= before[id] {
				t.Fatalf("%s: user %s PermsVersion %d -> %d, want it to move forward", st.name, id, before[id], v)
			}
		}
		for _, id := range st.keeps {
			if v := version(t, s, id); v != before[id] {
				t.Fatalf("%s: user %s PermsVersion %d -> %d, want it unchanged", st.name, id, before[id], v)
			}
		}
	}

	// A stale copy written back keeps the stored version, so it cannot revive a cache entry.
	stale, err := s.UserByID(ctx, alice.ID)
	must(t, err)
	must(t, ps.GrantUserPerm(ctx, alice.ID, "e.f"))
	v := version(t, s, alice.ID)
	stale.IsStaff = true
	stale.PermsVersion = 0
	must(t, s.UpdateUser(ctx, stale))
	got, err := s.UserByID(ctx, alice.ID)
	must(t, err)
	if got.PermsVersion != v || !got.IsStaff {
		t.Fatalf("after UpdateUser of a stale copy: PermsVersion %d (want %d), IsStaff %v", got.PermsVersion, v, got.IsStaff)
	}
	// IsSuperuser is an ordinary field.
	got.IsSuperuser = true
	must(t, s.UpdateUser(ctx, got))
	if got, err = s.UserByID(ctx, alice.ID); err != nil || !got.IsSuperuser {
		t.Fatalf("IsSuperuser did not round-trip: %+v, %v", got, err)
	}
}

// testGroupPermsRace grants to a group while users join it: whatever the interleaving, every
// member ends with a version past the one it had when it saw the group's old permissions.
func testGroupPermsRace(t *testing.T, s PermissionStore) {
	ps := store.Permissions(s)
	ctx := context.Background()
	now := base()
	must(t, ps.CreateGroup(ctx, "g"))
	var ids []string
	for i := range 8 {
		u, err := s.CreateUser(ctx, user(fmt.Sprintf("u%d", i), "", now))
		must(t, err)
		ids = append(ids, u.ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(ids))
	for i, id := range ids {
		wg.Add(2)
		go func() { defer wg.Done(); errs <- ps.AddUserToGroup(ctx, id, "g") }()
		go func() { defer wg.Done(); errs <- ps.GrantGroupPerm(ctx, "g", fmt.Sprintf("p.%d", i)) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	for _, id := range ids {
		g, err := ps.UserGrants(ctx, id)
		must(t, err)
		if len(g.Effective) != len(ids) || len(g.Groups) != 1 {
			t.Fatalf("user %s after the race: %+v", id, g)
		}
	}
}

// testPermissionsShared checks that a change on one instance is seen by the other, version
// included: the other instance's cache is keyed by it.
func testPermissionsShared(t *testing.T, a, b store.Store) {
	pa, pb := permStore(t, a), permStore(t, b)
	ctx := context.Background()
	u, err := a.CreateUser(ctx, user("alice", "", base()))
	must(t, err)
	must(t, pa.CreateGroup(ctx, "editors"))
	must(t, pb.AddUserToGroup(ctx, u.ID, "editors"))
	must(t, pa.GrantGroupPerm(ctx, "editors", "comments.delete"))
	v := version(t, b, u.ID)
	wantGrants(t, pb, u.ID, []string{"editors"}, nil, []string{"comments.delete"})
	if _, err := pa.RevokeGroupPerm(ctx, "editors", "comments.delete"); err != nil {
		t.Fatal(err)
	}
	if got := version(t, b, u.ID); got <= v {
		t.Fatalf("b sees PermsVersion %d after a revoke on a, want > %d", got, v)
	}
	wantGrants(t, pb, u.ID, []string{"editors"}, nil, nil)
}
