package redis

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// Each change to what a user holds is one script: the change and the PermsVersion bumps it
// causes are atomic, and scripts run one at a time, so a membership and a group's grant
// cannot interleave.

// bumpLua moves user id's version forward if the user exists (a local function in scripts).
const bumpLua = `
local function bump(p, id)
	if redis.call('EXISTS', p .. 'u:' .. id) == 1 then redis.call('HINCRBY', p .. 'u:' .. id, 'pv', 1) end
end
local function bumpMembers(p, name)
	for _, id in ipairs(redis.call('SMEMBERS', p .. 'grpm:' .. name)) do bump(p, id) end
end
`

var grantUserPermScript = goredis.NewScript(bumpLua + `
local p, id, perm = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', p .. 'u:' .. id) == 0 then return -1 end
redis.call('SADD', p .. 'uperm:' .. id, perm)
bump(p, id)
return 0`)

// GrantUserPerm implements store.Permissions.
func (s *Store) GrantUserPerm(ctx context.Context, userID, perm string) error {
	if !validID(userID) {
		return store.ErrNotFound
	}
	n, err := grantUserPermScript.Run(ctx, s.c, s.route(), s.p, userID, perm).Int()
	if err != nil {
		return wrap(err)
	}
	if n < 0 {
		return store.ErrNotFound
	}
	return nil
}

var revokeUserPermScript = goredis.NewScript(bumpLua + `
local p, id, perm = ARGV[1], ARGV[2], ARGV[3]
local n = redis.call('SREM', p .. 'uperm:' .. id, perm)
bump(p, id)
return n`)

// RevokeUserPerm implements store.Permissions.
func (s *Store) RevokeUserPerm(ctx context.Context, userID, perm string) (bool, error) {
	if !validID(userID) {
		return false, nil
	}
	n, err := revokeUserPermScript.Run(ctx, s.c, s.route(), s.p, userID, perm).Int()
	return n > 0, wrap(err)
}

// CreateGroup implements store.Permissions.
func (s *Store) CreateGroup(ctx context.Context, name string) error {
	n, err := s.c.SAdd(ctx, s.p+"grps", name).Result()
	if err != nil {
		return wrap(err)
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

var deleteGroupScript = goredis.NewScript(bumpLua + `
local p, name = ARGV[1], ARGV[2]
if redis.call('SREM', p .. 'grps', name) == 0 then return 0 end
for _, id in ipairs(redis.call('SMEMBERS', p .. 'grpm:' .. name)) do
	redis.call('SREM', p .. 'ugrp:' .. id, name)
	bump(p, id)
end
redis.call('DEL', p .. 'grp:' .. name, p .. 'grpm:' .. name)
return 1`)

// DeleteGroup implements store.Permissions.
func (s *Store) DeleteGroup(ctx context.Context, name string) (bool, error) {
	n, err := deleteGroupScript.Run(ctx, s.c, s.route(), s.p, name).Int()
	return n > 0, wrap(err)
}

var groupsScript = goredis.NewScript(`
local p = ARGV[1]
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', p .. 'grps')) do
	table.insert(out, {name, redis.call('SMEMBERS', p .. 'grp:' .. name)})
end
return out`)

// Groups implements store.Permissions.
func (s *Store) Groups(ctx context.Context) ([]store.Group, error) {
	v, err := groupsScript.Run(ctx, s.c, s.route(), s.p).Slice()
	if err != nil {
		return nil, wrap(err)
	}
	var rows []common.GroupRow
	for _, x := range v {
		pair, _ := x.([]any)
		if len(pair) != 2 {
			continue
		}
		name := str(pair[0])
		perms, _ := pair[1].([]any)
		rows = append(rows, common.GroupRow{Name: name})
		for _, perm := range perms {
			rows = append(rows, common.GroupRow{Name: name, Perm: str(perm), HasPerm: true})
		}
	}
	return common.CollectGroups(rows), nil
}

var groupMembersScript = goredis.NewScript(`
local p, name = ARGV[1], ARGV[2]
if redis.call('SISMEMBER', p .. 'grps', name) == 0 then return false end
return redis.call('SMEMBERS', p .. 'grpm:' .. name)`)

// GroupMembers implements store.Permissions.
func (s *Store) GroupMembers(ctx context.Context, name string) ([]string, error) {
	v, err := groupMembersScript.Run(ctx, s.c, s.route(), s.p, name).StringSlice()
	if errors.Is(err, goredis.Nil) { // the script's false: no such group
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, wrap(err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

var grantGroupPermScript = goredis.NewScript(bumpLua + `
local p, name, perm = ARGV[1], ARGV[2], ARGV[3]
if redis.call('SISMEMBER', p .. 'grps', name) == 0 then return -1 end
redis.call('SADD', p .. 'grp:' .. name, perm)
bumpMembers(p, name)
return 0`)

// GrantGroupPerm implements store.Permissions.
func (s *Store) GrantGroupPerm(ctx context.Context, group, perm string) error {
	n, err := grantGroupPermScript.Run(ctx, s.c, s.route(), s.p, group, perm).Int()
	if err != nil {
		return wrap(err)
	}
	if n < 0 {
		return store.ErrNotFound
	}
	return nil
}

var revokeGroupPermScript = goredis.NewScript(bumpLua + `
local p, name, perm = ARGV[1], ARGV[2], ARGV[3]
local n = redis.call('SREM', p .. 'grp:' .. name, perm)
bumpMembers(p, name)
return n`)

// RevokeGroupPerm implements store.Permissions.
func (s *Store) RevokeGroupPerm(ctx context.Context, group, perm string) (bool, error) {
	n, err := revokeGroupPermScript.Run(ctx, s.c, s.route(), s.p, group, perm).Int()
	return n > 0, wrap(err)
}

var addUserToGroupScript = goredis.NewScript(bumpLua + `
local p, id, name = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', p .. 'u:' .. id) == 0 or redis.call('SISMEMBER', p .. 'grps', name) == 0 then return -1 end
redis.call('SADD', p .. 'grpm:' .. name, id)
redis.call('SADD', p .. 'ugrp:' .. id, name)
bump(p, id)
return 0`)

// AddUserToGroup implements store.Permissions.
func (s *Store) AddUserToGroup(ctx context.Context, userID, group string) error {
	if !validID(userID) {
		return store.ErrNotFound
	}
	n, err := addUserToGroupScript.Run(ctx, s.c, s.route(), s.p, userID, group).Int()
	if err != nil {
		return wrap(err)
	}
	if n < 0 {
		return store.ErrNotFound
	}
	return nil
}

var removeUserFromGroupScript = goredis.NewScript(bumpLua + `
local p, id, name = ARGV[1], ARGV[2], ARGV[3]
redis.call('SREM', p .. 'grpm:' .. name, id)
local n = redis.call('SREM', p .. 'ugrp:' .. id, name)
bump(p, id)
return n`)

// RemoveUserFromGroup implements store.Permissions.
func (s *Store) RemoveUserFromGroup(ctx context.Context, userID, group string) (bool, error) {
	if !validID(userID) {
		return false, nil
	}
	n, err := removeUserFromGroupScript.Run(ctx, s.c, s.route(), s.p, userID, group).Int()
	return n > 0, wrap(err)
}

var userGrantsScript = goredis.NewScript(`
local p, id = ARGV[1], ARGV[2]
local groups = redis.call('SMEMBERS', p .. 'ugrp:' .. id)
local eff = {}
for _, g in ipairs(groups) do
	for _, perm in ipairs(redis.call('SMEMBERS', p .. 'grp:' .. g)) do table.insert(eff, perm) end
end
return {groups, redis.call('SMEMBERS', p .. 'uperm:' .. id), eff}`)

// UserGrants implements store.Permissions in one script.
func (s *Store) UserGrants(ctx context.Context, userID string) (store.Grants, error) {
	if !validID(userID) {
		return store.Grants{}, nil
	}
	v, err := userGrantsScript.Run(ctx, s.c, s.route(), s.p, userID).Slice()
	if err != nil {
		return store.Grants{}, wrap(err)
	}
	var rows []common.GrantRow
	for i, kind := range []string{"g", "p", "e"} {
		if i >= len(v) {
			break
		}
		list, _ := v[i].([]any)
		for _, x := range list {
			rows = append(rows, common.GrantRow{Kind: kind, Value: str(x)})
		}
	}
	return common.BuildGrants(rows), nil
}
