package memory

import (
	"context"
	"maps"
	"slices"

	"github.com/rampart-go/rampart/store"
)

type set = map[string]struct{}

// permState is the permission tables; it is guarded by Store.mu.
type permState struct {
	userPerms  map[string]set // user ID -> permissions
	groups     map[string]set // group name -> permissions
	members    map[string]set // group name -> user IDs
	userGroups map[string]set // user ID -> group names
}

func newPermState() permState {
	return permState{userPerms: map[string]set{}, groups: map[string]set{}, members: map[string]set{}, userGroups: map[string]set{}}
}

func add(m map[string]set, k, v string) {
	if m[k] == nil {
		m[k] = set{}
	}
	m[k][v] = struct{}{}
}

func remove(m map[string]set, k, v string) bool {
	_, ok := m[k][v]
	delete(m[k], v)
	if len(m[k]) == 0 {
		delete(m, k)
	}
	return ok
}

func sorted(s set) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(s))
}

// bump moves the user's PermsVersion forward; the caller holds m.mu.
func (m *Store) bump(ids ...string) {
	for _, id := range ids {
		if u, ok := m.users[id]; ok {
			u.PermsVersion++
			m.users[id] = u
		}
	}
}

// GrantUserPerm implements store.Permissions.
func (m *Store) GrantUserPerm(_ context.Context, userID, perm string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[userID]; !ok {
		return store.ErrNotFound
	}
	add(m.perms.userPerms, userID, perm)
	m.bump(userID)
	return nil
}

// RevokeUserPerm implements store.Permissions.
func (m *Store) RevokeUserPerm(_ context.Context, userID, perm string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ok := remove(m.perms.userPerms, userID, perm)
	m.bump(userID)
	return ok, nil
}

// CreateGroup implements store.Permissions.
func (m *Store) CreateGroup(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.perms.groups[name]; ok {
		return store.ErrConflict
	}
	m.perms.groups[name] = set{}
	return nil
}

// DeleteGroup implements store.Permissions.
func (m *Store) DeleteGroup(_ context.Context, name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.perms.groups[name]; !ok {
		return false, nil
	}
	for id := range m.perms.members[name] {
		remove(m.perms.userGroups, id, name)
		m.bump(id)
	}
	delete(m.perms.members, name)
	delete(m.perms.groups, name)
	return true, nil
}

// Groups implements store.Permissions.
func (m *Store) Groups(_ context.Context) ([]store.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Group
	for _, name := range slices.Sorted(maps.Keys(m.perms.groups)) {
		out = append(out, store.Group{Name: name, Perms: sorted(m.perms.groups[name])})
	}
	return out, nil
}

// GroupMembers implements store.Permissions.
func (m *Store) GroupMembers(_ context.Context, name string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.perms.groups[name]; !ok {
		return nil, store.ErrNotFound
	}
	return sorted(m.perms.members[name]), nil
}

// GrantGroupPerm implements store.Permissions.
func (m *Store) GrantGroupPerm(_ context.Context, group, perm string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.perms.groups[group]
	if !ok {
		return store.ErrNotFound
	}
	g[perm] = struct{}{}
	for id := range m.perms.members[group] {
		m.bump(id)
	}
	return nil
}

// RevokeGroupPerm implements store.Permissions.
func (m *Store) RevokeGroupPerm(_ context.Context, group, perm string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.perms.groups[group]
	if !ok {
		return false, nil
	}
	_, had := g[perm]
	delete(g, perm)
	for id := range m.perms.members[group] {
		m.bump(id)
	}
	return had, nil
}

// AddUserToGroup implements store.Permissions.
func (m *Store) AddUserToGroup(_ context.Context, userID, group string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[userID]; !ok {
		return store.ErrNotFound
	}
	if _, ok := m.perms.groups[group]; !ok {
		return store.ErrNotFound
	}
	add(m.perms.members, group, userID)
	add(m.perms.userGroups, userID, group)
	m.bump(userID)
	return nil
}

// RemoveUserFromGroup implements store.Permissions.
func (m *Store) RemoveUserFromGroup(_ context.Context, userID, group string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	remove(m.perms.members, group, userID)
	ok := remove(m.perms.userGroups, userID, group)
	m.bump(userID)
	return ok, nil
}

// UserGrants implements store.Permissions.
func (m *Store) UserGrants(_ context.Context, userID string) (store.Grants, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	eff := maps.Clone(m.perms.userPerms[userID])
	if eff == nil {
		eff = set{}
	}
	for g := range m.perms.userGroups[userID] {
		maps.Copy(eff, m.perms.groups[g])
	}
	return store.Grants{Groups: sorted(m.perms.userGroups[userID]), Perms: sorted(m.perms.userPerms[userID]), Effective: sorted(eff)}, nil
}
