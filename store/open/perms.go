package open

import (
	"context"
	"errors"

	"github.com/rampart-go/rampart/store"
)

// errNoPermissions is returned when the durable store keeps no permissions (every backend in
// this module does).
var errNoPermissions = errors.New("store: durable backend has no permission tables")

var _ store.Permissions = (*SplitStore)(nil)

// permissions is the durable store's, where users live: grants and PermsVersion must move
// together.
func (s *SplitStore) permissions() (store.Permissions, error) {
	if ps, ok := s.Durable.(store.Permissions); ok {
		return ps, nil
	}
	return nil, errNoPermissions
}

func fwd(s *SplitStore, f func(store.Permissions) error) error {
	ps, err := s.permissions()
	if err != nil {
		return err
	}
	return f(ps)
}

func fwd2[T any](s *SplitStore, f func(store.Permissions) (T, error)) (T, error) {
	ps, err := s.permissions()
	if err != nil {
		var zero T
		return zero, err
	}
	return f(ps)
}

// GrantUserPerm forwards to the durable store.
func (s *SplitStore) GrantUserPerm(ctx context.Context, userID, perm string) error {
	return fwd(s, func(ps store.Permissions) error { return ps.GrantUserPerm(ctx, userID, perm) })
}

// RevokeUserPerm forwards to the durable store.
func (s *SplitStore) RevokeUserPerm(ctx context.Context, userID, perm string) (bool, error) {
	return fwd2(s, func(ps store.Permissions) (bool, error) { return ps.RevokeUserPerm(ctx, userID, perm) })
}

// CreateGroup forwards to the durable store.
func (s *SplitStore) CreateGroup(ctx context.Context, name string) error {
	return fwd(s, func(ps store.Permissions) error { return ps.CreateGroup(ctx, name) })
}

// DeleteGroup forwards to the durable store.
func (s *SplitStore) DeleteGroup(ctx context.Context, name string) (bool, error) {
	return fwd2(s, func(ps store.Permissions) (bool, error) { return ps.DeleteGroup(ctx, name) })
}

// Groups forwards to the durable store.
func (s *SplitStore) Groups(ctx context.Context) ([]store.Group, error) {
	return fwd2(s, func(ps store.Permissions) ([]store.Group, error) { return ps.Groups(ctx) })
}

// GroupMembers forwards to the durable store.
func (s *SplitStore) GroupMembers(ctx context.Context, name string) ([]string, error) {
	return fwd2(s, func(ps store.Permissions) ([]string, error) { return ps.GroupMembers(ctx, name) })
}

// GrantGroupPerm forwards to the durable store.
func (s *SplitStore) GrantGroupPerm(ctx context.Context, group, perm string) error {
	return fwd(s, func(ps store.Permissions) error { return ps.GrantGroupPerm(ctx, group, perm) })
}

// RevokeGroupPerm forwards to the durable store.
func (s *SplitStore) RevokeGroupPerm(ctx context.Context, group, perm string) (bool, error) {
	return fwd2(s, func(ps store.Permissions) (bool, error) { return ps.RevokeGroupPerm(ctx, group, perm) })
}

// AddUserToGroup forwards to the durable store.
func (s *SplitStore) AddUserToGroup(ctx context.Context, userID, group string) error {
	return fwd(s, func(ps store.Permissions) error { return ps.AddUserToGroup(ctx, userID, group) })
}

// RemoveUserFromGroup forwards to the durable store.
func (s *SplitStore) RemoveUserFromGroup(ctx context.Context, userID, group string) (bool, error) {
	return fwd2(s, func(ps store.Permissions) (bool, error) { return ps.RemoveUserFromGroup(ctx, userID, group) })
}

// UserGrants forwards to the durable store.
func (s *SplitStore) UserGrants(ctx context.Context, userID string) (store.Grants, error) {
	return fwd2(s, func(ps store.Permissions) (store.Grants, error) { return ps.UserGrants(ctx, userID) })
}
