package perms

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/store"
)

// Audit event kinds of the changes a Checker makes. The event's user is who made the change
// (Actor); Detail names what changed.
const (
	KindGrant       = "perm.grant"
	KindRevoke      = "perm.revoke"
	KindGroupCreate = "group.create"
	KindGroupDelete = "group.delete"
	KindGroupAdd    = "group.add_user"
	KindGroupRemove = "group.remove_user"
	KindSuperuser   = "user.superuser"
	KindStaff       = "user.staff"
)

// Actor is who makes a change, for the audit trail and for the rule that only superusers
// give or take the superuser flag.
type Actor struct {
	// User is the logged-in user making the change; nil for an operator's tool (the CLI),
	// which is trusted as whoever can reach the database is.
	User *store.User
	// Name is shown for a nil User: "cli:" and the OS user, say.
	Name string
	// IP is the client's address, empty for the CLI.
	IP string
}

// RequestActor is the request's logged-in user and client address.
func RequestActor(r *http.Request) Actor {
	return Actor{User: accounts.User(r), IP: clientip.FromRequest(r).IP.String()}
}

// ErrForbidden is returned when the actor may not make the change (only superusers may give
// or take the superuser flag).
var ErrForbidden = errors.New("perms: only a superuser may do this")

func (c *Checker) record(ctx context.Context, by Actor, kind, detail string) {
	e := store.Event{Kind: kind, IP: by.IP, Detail: detail, Username: by.Name}
	if by.User != nil {
		e.UserID, e.Username = by.User.ID, by.User.Username
	}
	_ = c.st.Audit.Record(ctx, e)
}

func userLabel(u store.User) string { return fmt.Sprintf("user %s (id %s)", u.Username, u.ID) }

// GrantUser gives u perm directly.
func (c *Checker) GrantUser(ctx context.Context, by Actor, u store.User, perm string) error {
	if err := ValidPerm(perm); err != nil {
		return err
	}
	if err := c.ps.GrantUserPerm(ctx, u.ID, perm); err != nil {
		return err
	}
	c.record(ctx, by, KindGrant, userLabel(u)+": "+perm)
	return nil
}

// RevokeUser takes perm from u (what u holds through a group stays) and reports whether u
// held it directly.
func (c *Checker) RevokeUser(ctx context.Context, by Actor, u store.User, perm string) (bool, error) {
	if err := ValidPerm(perm); err != nil {
		return false, err
	}
	ok, err := c.ps.RevokeUserPerm(ctx, u.ID, perm)
	if err != nil {
		return false, err
	}
	c.record(ctx, by, KindRevoke, userLabel(u)+": "+perm)
	return ok, nil
}

// CreateGroup adds an empty group; store.ErrConflict when the name is taken.
func (c *Checker) CreateGroup(ctx context.Context, by Actor, name string) error {
	if err := ValidGroup(name); err != nil {
		return err
	}
	if err := c.ps.CreateGroup(ctx, name); err != nil {
		return err
	}
	c.record(ctx, by, KindGroupCreate, "group "+name)
	return nil
}

// DeleteGroup removes a group, its permissions and memberships, and reports whether it
// existed.
func (c *Checker) DeleteGroup(ctx context.Context, by Actor, name string) (bool, error) {
	ok, err := c.ps.DeleteGroup(ctx, name)
	if err != nil || !ok {
		return ok, err
	}
	c.record(ctx, by, KindGroupDelete, "group "+name)
	return true, nil
}

// GrantGroup gives the group perm; store.ErrNotFound when there is no such group.
func (c *Checker) GrantGroup(ctx context.Context, by Actor, group, perm string) error {
	if err := ValidPerm(perm); err != nil {
		return err
	}
	if err := c.ps.GrantGroupPerm(ctx, group, perm); err != nil {
		return err
	}
	c.record(ctx, by, KindGrant, "group "+group+": "+perm)
	return nil
}

// RevokeGroup takes perm from the group and reports whether it held it.
func (c *Checker) RevokeGroup(ctx context.Context, by Actor, group, perm string) (bool, error) {
	if err := ValidPerm(perm); err != nil {
		return false, err
	}
	ok, err := c.ps.RevokeGroupPerm(ctx, group, perm)
	if err != nil {
		return false, err
	}
	c.record(ctx, by, KindRevoke, "group "+group+": "+perm)
	return ok, nil
}

// AddToGroup makes u a member of group; store.ErrNotFound when the group is missing.
func (c *Checker) AddToGroup(ctx context.Context, by Actor, u store.User, group string) error {
	if err := c.ps.AddUserToGroup(ctx, u.ID, group); err != nil {
		return err
	}
	c.record(ctx, by, KindGroupAdd, userLabel(u)+" to group "+group)
	return nil
}

// RemoveFromGroup ends u's membership of group and reports whether there was one.
func (c *Checker) RemoveFromGroup(ctx context.Context, by Actor, u store.User, group string) (bool, error) {
	ok, err := c.ps.RemoveUserFromGroup(ctx, u.ID, group)
	if err != nil || !ok {
		return ok, err
	}
	c.record(ctx, by, KindGroupRemove, userLabel(u)+" from group "+group)
	return true, nil
}

// Groups lists every group with its permissions.
func (c *Checker) Groups(ctx context.Context) ([]store.Group, error) { return c.ps.Groups(ctx) }

// Grants returns u's groups, direct and effective permissions.
func (c *Checker) Grants(ctx context.Context, userID string) (store.Grants, error) {
	return c.ps.UserGrants(ctx, userID)
}

// SetSuperuser gives or takes the superuser flag of the user with userID and returns the
// updated user. Only a superuser (or the CLI: a nil Actor.User) may; a user cannot take their
// own flag (the last superuser could lock every one out).
func (c *Checker) SetSuperuser(ctx context.Context, by Actor, userID string, on bool) (store.User, error) {
	if by.User != nil && (!by.User.IsSuperuser || !by.User.IsActive) {
		return store.User{}, ErrForbidden
	}
	if by.User != nil && by.User.ID == userID && !on {
		return store.User{}, errors.New("perms: you cannot remove your own superuser status")
	}
	return c.setFlag(ctx, by, userID, KindSuperuser, func(u *store.User) *bool { return &u.IsSuperuser }, on)
}

// SetStaff gives or takes the staff flag. Staff users reach the admin pages; taking a
// superuser's staff flag is reserved to superusers, as is giving staff to a superuser.
func (c *Checker) SetStaff(ctx context.Context, by Actor, userID string, on bool) (store.User, error) {
	if by.User != nil && by.User.ID == userID && !on {
		return store.User{}, errors.New("perms: you cannot remove your own staff status")
	}
	return c.setFlag(ctx, by, userID, KindStaff, func(u *store.User) *bool { return &u.IsStaff }, on)
}

func (c *Checker) setFlag(ctx context.Context, by Actor, userID, kind string, field func(*store.User) *bool, on bool) (store.User, error) {
	// Read fresh just before the write: the admin's page may be minutes old.
	u, err := c.st.Store.UserByID(ctx, userID)
	if err != nil {
		return store.User{}, err
	}
	if u.IsSuperuser && by.User != nil && !by.User.IsSuperuser {
		return store.User{}, ErrForbidden // a staff user cannot change a superuser
	}
	if *field(&u) == on {
		return u, nil
	}
	*field(&u) = on
	if err := c.st.Store.UpdateUser(ctx, u); err != nil {
		return store.User{}, err
	}
	c.record(ctx, by, kind, fmt.Sprintf("%s: %v", userLabel(u), on))
	return u, nil
}
