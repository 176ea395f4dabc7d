package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/perms"
	"github.com/rampart-go/rampart/store"
)

// cliActor names the operator in the audit trail: "cli:" and the OS user who ran the
// command, or "cli" when it cannot be told.
func cliActor() perms.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		return perms.Actor{Name: "cli"}
	}
	return perms.Actor{Name: "cli:" + name}
}

// withPerms is withStack with a permission checker on the stack.
func withPerms(stderr io.Writer, f func(ctx context.Context, st *rampart.Stack, ck *perms.Checker) int) int {
	return withStack(stderr, func(ctx context.Context, st *rampart.Stack) int {
		ck, err := perms.New(st, perms.Options{})
		if err != nil {
			fail(stderr, err)
			return 1
		}
		return f(ctx, st, ck)
	})
}

// findUser looks a user up by username as the login page does (normalised first).
func findUser(ctx context.Context, users store.Users, username string) (store.User, error) {
	norm, err := auth.NormalizeUsername(username)
	if err != nil {
		return store.User{}, fmt.Errorf("no user named %q", username)
	}
	u, err := users.UserByUsername(ctx, norm)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("no user named %q", username)
	}
	return u, err
}

const grantUsage = "usage: rampart %s (--user U | --group G) PERMISSION...  (a permission is app.action, such as comments.delete)"

// grant gives (revoke false) or takes permissions from a user or a group.
func grant(name string, revoke bool, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	username := fs.String("user", "", "the user (username)")
	group := fs.String("group", "", "the group")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*username == "") == (*group == "") || fs.NArg() == 0 {
		fmt.Fprintf(stderr, grantUsage+"\n", name)
		return 2
	}
	for _, p := range fs.Args() {
		if err := perms.ValidPerm(p); err != nil {
			fail(stderr, err)
			return 2
		}
	}
	return withPerms(stderr, func(ctx context.Context, st *rampart.Stack, ck *perms.Checker) int {
		by := cliActor()
		var u store.User
		target := "group " + *group
		if *username != "" {
			var err error
			if u, err = findUser(ctx, st.Store, *username); err != nil {
				fail(stderr, err)
				return 1
			}
			target = "user " + u.Username
		}
		for _, p := range fs.Args() {
			var err error
			had := true
			switch {
			case *username != "" && !revoke:
				err = ck.GrantUser(ctx, by, u, p)
			case *username != "":
				had, err = ck.RevokeUser(ctx, by, u, p)
			case !revoke:
				err = ck.GrantGroup(ctx, by, *group, p)
			default:
				had, err = ck.RevokeGroup(ctx, by, *group, p)
			}
			if errors.Is(err, store.ErrNotFound) {
				err = fmt.Errorf("no group named %q (create it with `rampart groups create`)", *group)
			}
			if err != nil {
				fail(stderr, err)
				return 1
			}
			switch {
			case !revoke:
				fmt.Fprintf(stdout, "granted %s to %s in %s\n", p, target, storeName(st.Settings))
			case had:
				fmt.Fprintf(stdout, "revoked %s from %s in %s\n", p, target, storeName(st.Settings))
			default:
				fmt.Fprintf(stdout, "%s did not hold %s directly (nothing to revoke) in %s\n", target, p, storeName(st.Settings))
			}
		}
		return 0
	})
}

const groupsUsage = `usage: rampart groups [list]
       rampart groups create NAME | delete NAME
       rampart groups add --user U GROUP | remove --user U GROUP
       rampart groups show --user U`

// groups manages groups and membership.
func groups(args []string, stdout, stderr io.Writer) int {
	sub := "list"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("groups "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	username := fs.String("user", "", "the user (username)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	want := map[string]struct {
		args int
		user bool
	}{"list": {0, false}, "create": {1, false}, "delete": {1, false}, "add": {1, true}, "remove": {1, true}, "show": {0, true}}
	w, ok := want[sub]
	if !ok || fs.NArg() != w.args || (*username != "") != w.user {
		fmt.Fprintln(stderr, groupsUsage)
		return 2
	}
	if sub == "create" {
		if err := perms.ValidGroup(fs.Arg(0)); err != nil {
			fail(stderr, err)
			return 2
		}
	}
	return withPerms(stderr, func(ctx context.Context, st *rampart.Stack, ck *perms.Checker) int {
		by, where, name := cliActor(), storeName(st.Settings), fs.Arg(0)
		var u store.User
		if w.user {
			var err error
			if u, err = findUser(ctx, st.Store, *username); err != nil {
				fail(stderr, err)
				return 1
			}
		}
		var err error
		switch sub {
		case "list":
			var list []store.Group
			if list, err = ck.Groups(ctx); err == nil {
				for _, g := range list {
					fmt.Fprintf(stdout, "%s: %s\n", g.Name, strings.Join(g.Perms, " "))
				}
				if len(list) == 0 {
					fmt.Fprintf(stdout, "no groups in %s\n", where)
				}
			}
		case "create":
			if err = ck.CreateGroup(ctx, by, name); errors.Is(err, store.ErrConflict) {
				err = fmt.Errorf("a group named %q already exists", name)
			}
			if err == nil {
				fmt.Fprintf(stdout, "created group %q in %s\n", name, where)
			}
		case "delete":
			var found bool
			if found, err = ck.DeleteGroup(ctx, by, name); err == nil && !found {
				err = fmt.Errorf("no group named %q", name)
			}
			if err == nil {
				fmt.Fprintf(stdout, "deleted group %q in %s\n", name, where)
			}
		case "add":
			if err = ck.AddToGroup(ctx, by, u, name); errors.Is(err, store.ErrNotFound) {
				err = fmt.Errorf("no group named %q", name)
			}
			if err == nil {
				fmt.Fprintf(stdout, "added %s to group %q in %s\n", u.Username, name, where)
			}
		case "remove":
			var found bool
			if found, err = ck.RemoveFromGroup(ctx, by, u, name); err == nil {
				if found {
					fmt.Fprintf(stdout, "removed %s from group %q in %s\n", u.Username, name, where)
				} else {
					fmt.Fprintf(stdout, "%s was not in group %q in %s\n", u.Username, name, where)
				}
			}
		case "show":
			var g store.Grants
			if g, err = ck.Grants(ctx, u.ID); err == nil {
				fmt.Fprintf(stdout, "user %s: superuser %v, staff %v, active %v\ngroups: %s\npermissions: %s\neffective: %s\n",
					u.Username, u.IsSuperuser, u.IsStaff, u.IsActive, strings.Join(g.Groups, ", "), strings.Join(g.Perms, " "), strings.Join(g.Effective, " "))
			}
		}
		if err != nil {
			fail(stderr, err)
			return 1
		}
		return 0
	})
}

// makeSuperuser gives a user createuser just made the superuser flag (and staff, as Django's
// createsuperuser does), audited as the operator's change.
func makeSuperuser(ctx context.Context, st *rampart.Stack, u store.User) (store.User, error) {
	ck, err := perms.New(st, perms.Options{})
	if err != nil {
		return u, err
	}
	if _, err := ck.SetStaff(ctx, cliActor(), u.ID, true); err != nil {
		return u, err
	}
	return ck.SetSuperuser(ctx, cliActor(), u.ID, true)
}
