package app

import (
	"errors"
	"net/http"
	"strings"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/perms"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
)

type groupsData struct {
	Groups []store.Group
	// CanChange is set for superusers: editing a group's permissions hands them to every
	// member, so it is reserved to those who hold them all.
	CanChange bool
}

// groups lists the groups and their permissions; superusers also create, delete, grant and
// revoke here (the CLI does the same: rampart groups, grant, revoke).
func (a *App) groups(w http.ResponseWriter, r *http.Request) {
	me := accounts.User(r)
	if r.Method == http.MethodPost {
		a.groupChange(w, r, me)
		return
	}
	list, err := a.perms.Groups(r.Context())
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "groups", page{Title: "Groups", Data: groupsData{Groups: list, CanChange: me.IsSuperuser}})
}

func (a *App) groupChange(w http.ResponseWriter, r *http.Request, me *store.User) {
	if !me.IsSuperuser {
		a.st.Errors.Write(w, r, http.StatusForbidden)
		return
	}
	ctx := r.Context()
	by := perms.RequestActor(r)
	group, perm := r.PostFormValue("group"), strings.TrimSpace(r.PostFormValue("perm"))
	var err error
	var msg string
	switch r.PostFormValue("action") {
	case "create":
		group = strings.TrimSpace(group)
		if err = a.perms.CreateGroup(ctx, by, group); err == nil {
			msg = "Group " + group + " created."
		} else if errors.Is(err, store.ErrConflict) {
			err, msg = nil, "A group named "+group+" already exists."
		}
	case "delete":
		var found bool
		if found, err = a.perms.DeleteGroup(ctx, by, group); err == nil && !found {
			err = store.ErrNotFound
		}
		msg = "Group " + group + " deleted."
	case "grant":
		err = a.perms.GrantGroup(ctx, by, group, perm)
		msg = "Granted " + perm + " to " + group + "."
	case "revoke":
		_, err = a.perms.RevokeGroup(ctx, by, group, perm)
		msg = "Revoked " + perm + " from " + group + "."
	default:
		a.st.Errors.Write(w, r, http.StatusBadRequest)
		return
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		msg = "There is no such group."
	case err != nil && isUserError(err):
		msg = strings.TrimPrefix(err.Error(), "perms: ")
	case err != nil:
		a.unavailable(w, r, err)
		return
	}
	session.FromRequest(r).Flash(msg)
	http.Redirect(w, r, "/admin/groups", http.StatusSeeOther)
}
