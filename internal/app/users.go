package app

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/perms"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
)

// Permissions of the user administration pages (Django's auth.view_user and
// auth.change_user). Staff users need them, superusers hold them.
const (
	PermUsersView   = "users.view"
	PermUsersChange = "users.change"
)

// Audit kinds of the user administration, beside perms' (staff, superuser, groups).
const (
	KindUserDeactivate = "user.deactivate"
	KindUserActivate   = "user.activate"
	Kind2FAReset       = "2fa.reset"
)

// authzRoutes mounts comment moderation (the author or comments.delete) and the user
// administration: staff only, behind sudo mode (a recent password, like Django's admin behind
// django-sudo), and the users.view / users.change permissions. Every change is a CSRF-checked
// POST (the stack checks every POST) and audited.
func (a *App) authzRoutes() {
	a.mux.Handle("POST /comments/{id}/delete", a.acc.RequireLogin(http.HandlerFunc(a.deleteComment)))
	guard := func(perm string, h http.HandlerFunc) http.Handler {
		return a.acc.RequireStaff(a.acc.RequireRecentAuth(a.perms.RequirePermission(perm)(h)))
	}
	a.mux.Handle("GET /admin/users", guard(PermUsersView, a.users))
	a.mux.Handle("GET /admin/users/{id}", guard(PermUsersView, a.userDetail))
	a.mux.Handle("POST /admin/users/{id}", guard(PermUsersChange, a.userChange))
	a.mux.Handle("GET /admin/groups", guard(PermUsersView, a.groups))
	a.mux.Handle("POST /admin/groups", guard(PermUsersView, a.groups)) // and superusers only: see groupChange
}

type usersData struct {
	Query string
	Users []store.User
	// Next is the username to continue after, when there are more.
	Next string
}

// maxUserRows is how many users a page lists.
const maxUserRows = 50

// users lists users by username, filtered by a substring of the username or e-mail.
func (a *App) users(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	if len(q) > 254 {
		q = q[:254]
	}
	after := r.URL.Query().Get("after")
	d := usersData{Query: q}
	// Pages of the store's order, filtered here: the store has no search, and a reference app
	// with thousands of users still answers within a few pages.
	for len(d.Users) <= maxUserRows {
		batch, err := a.st.Store.ListUsers(ctx, after, 500)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		for _, u := range batch {
			if q == "" || strings.Contains(strings.ToLower(u.Username), q) || strings.Contains(strings.ToLower(u.Email), q) {
				d.Users = append(d.Users, u)
			}
		}
		if len(batch) < 500 {
			break
		}
		after = batch[len(batch)-1].Username
	}
	if len(d.Users) > maxUserRows {
		d.Users = d.Users[:maxUserRows]
		d.Next = d.Users[maxUserRows-1].Username
	}
	a.render(w, r, http.StatusOK, "users", page{Title: "Users", Data: d})
}

type userDetailData struct {
	U        store.User
	Grants   store.Grants
	Groups   []store.Group
	Sessions int
	// CanSuperuser is set when the viewer may give or take the superuser flag.
	CanSuperuser bool
	Self         bool
}

func (a *App) target(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	u, err := a.st.Store.UserByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		a.st.Errors.Write(w, r, http.StatusNotFound)
		return u, false
	}
	if err != nil {
		a.unavailable(w, r, err)
		return u, false
	}
	return u, true
}

func (a *App) userDetail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, ok := a.target(w, r)
	if !ok {
		return
	}
	me := accounts.User(r)
	d := userDetailData{U: u, CanSuperuser: me.IsSuperuser, Self: me.ID == u.ID}
	var err error
	if d.Grants, err = a.perms.Grants(ctx, u.ID); err == nil {
		if d.Groups, err = a.perms.Groups(ctx); err == nil {
			var list []store.Session
			list, err = a.st.Store.UserSessions(ctx, u.ID, a.now())
			d.Sessions = len(list)
		}
	}
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "user", page{Title: "User " + u.Username, Data: d})
}

// userChange carries out one action on a user, named by the form's action field.
func (a *App) userChange(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, ok := a.target(w, r)
	if !ok {
		return
	}
	me := accounts.User(r)
	by := perms.RequestActor(r)
	back := "/admin/users/" + u.ID
	flash := func(msg string) {
		session.FromRequest(r).Flash(msg)
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
	// Staff may manage ordinary users; a superuser's account is a superuser's business.
	if u.IsSuperuser && !me.IsSuperuser {
		a.st.Errors.Write(w, r, http.StatusForbidden)
		return
	}
	var err error
	var msg string
	switch action := r.PostFormValue("action"); action {
	case "deactivate", "activate":
		on := action == "activate"
		if u.ID == me.ID {
			flash("You cannot deactivate your own account.")
			return
		}
		if u.IsActive != on {
			u.IsActive = on
			if err = a.st.Store.UpdateUser(ctx, u); err == nil && !on {
				// Sessions of an inactive user end at their next request anyway; deleting them
				// now also ends what a store with a session cache would keep.
				_, err = a.st.Store.DeleteUserSessions(ctx, u.ID, "")
			}
			if err == nil {
				kind := KindUserActivate
				if !on {
					kind = KindUserDeactivate
				}
				a.event(r, kind, me, "", label(u))
			}
		}
		msg = fmt.Sprintf("%s is now %s.", u.Username, map[bool]string{true: "active", false: "inactive"}[on])
	case "end_sessions":
		var n int
		if n, err = a.st.Store.DeleteUserSessions(ctx, u.ID, ""); err == nil {
			a.event(r, audit.KindSessionEnd, me, "", fmt.Sprintf("%s: %d sessions ended by an administrator", label(u), n))
			msg = fmt.Sprintf("Ended %d sessions of %s.", n, u.Username)
		}
	case "staff_on", "staff_off":
		if _, err = a.perms.SetStaff(ctx, by, u.ID, action == "staff_on"); err == nil {
			msg = "Staff status changed."
		}
	case "superuser_on", "superuser_off":
		if _, err = a.perms.SetSuperuser(ctx, by, u.ID, action == "superuser_on"); err == nil {
			msg = "Superuser status changed."
		}
	case "group_add":
		group := r.PostFormValue("group")
		// No escalation through groups: a staff user may only hand out a group whose
		// permissions they hold themselves (a superuser holds all).
		var holds bool
		if holds, err = a.holdsGroup(r, me, group); err == nil && !holds {
			a.st.Errors.Write(w, r, http.StatusForbidden)
			return
		}
		if err == nil {
			if err = a.perms.AddToGroup(ctx, by, u, group); err == nil {
				msg = "Added to the group."
			}
		}
	case "group_remove":
		if _, err = a.perms.RemoveFromGroup(ctx, by, u, r.PostFormValue("group")); err == nil {
			msg = "Removed from the group."
		}
	case "unlock":
		if _, err = a.st.Lockout.ClearUser(ctx, u.Username); err == nil {
			a.event(r, audit.KindUnlock, me, "", "username "+u.Username)
			msg = "Lockout cleared."
		}
	case "reset_2fa":
		err = a.reset2FA(r, me, u)
		msg = "Two-factor authentication was reset; the user was told by e-mail."
	default:
		a.st.Errors.Write(w, r, http.StatusBadRequest)
		return
	}
	switch {
	case errors.Is(err, perms.ErrForbidden):
		a.st.Errors.Write(w, r, http.StatusForbidden)
	case errors.Is(err, store.ErrNotFound):
		flash("There is no such group.")
	case err != nil && isUserError(err):
		flash(strings.TrimPrefix(err.Error(), "perms: "))
	case err != nil:
		a.unavailable(w, r, err)
	default:
		flash(msg)
	}
}

// isUserError tells the perms package's refusals (own flags) from store failures.
func isUserError(err error) bool { return strings.HasPrefix(err.Error(), "perms: ") }

func label(u store.User) string { return fmt.Sprintf("user %s (id %s)", u.Username, u.ID) }

// reset2FA turns a locked-out user's two-factor off (django-two-factor-auth's admin reset):
// the TOTP device, the backup codes and every remembered browser go, the user's sessions end,
// and the user is told by e-mail, so that a reset nobody asked for is noticed.
func (a *App) reset2FA(r *http.Request, me *store.User, u store.User) error {
	ctx := r.Context()
	u.TOTPEnabled, u.TOTPSecret = false, nil
	u.DeviceEpoch++
	if err := a.st.Store.UpdateUser(ctx, u); err != nil {
		return err
	}
	if err := a.st.Store.ReplaceBackupCodes(ctx, u.ID, nil); err != nil {
		return err
	}
	if _, err := a.st.Store.DeleteUserSessions(ctx, u.ID, ""); err != nil {
		return err
	}
	a.event(r, Kind2FAReset, me, "", label(u))
	if u.Email != "" && a.st.Mailer != nil {
		err := a.st.Mailer.Send(ctx, mail.Message{To: u.Email, Subject: "Two-factor authentication was turned off",
			Body: "An administrator turned off two-factor authentication on your account " + u.Username +
				".\nLog in and turn it on again. If you did not ask for this, tell the site's administrators at once.\n"})
		if err != nil {
			a.log.Error("app: 2FA reset mail", "user", u.ID, "err", err)
		}
	}
	return nil
}

// holdsGroup reports whether me holds every permission of the group; store.ErrNotFound when
// there is no such group.
func (a *App) holdsGroup(r *http.Request, me *store.User, group string) (bool, error) {
	groups, err := a.perms.Groups(r.Context())
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if g.Name == group {
			return a.perms.HasPerms(r.Context(), me, g.Perms...)
		}
	}
	return false, store.ErrNotFound
}
