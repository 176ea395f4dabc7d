package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// inTx runs f in one transaction, bounded as a whole, so a change and the PermsVersion bumps
// it causes commit together.
func (s *Store) inTx(ctx context.Context, f func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, cancel := common.WithTimeout(ctx, s.pool.timeout)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap(err)
	}
	defer tx.Rollback(ctx)
	if err := f(ctx, tx); err != nil {
		return err
	}
	return wrap(tx.Commit(ctx))
}

// bumpUser moves one user's perms_version forward; ErrNotFound when there is no such user.
func bumpUser(ctx context.Context, tx pgx.Tx, userID string) error {
	id, ok := parseID(userID)
	if !ok {
		return store.ErrNotFound
	}
	tag, err := tx.Exec(ctx, `UPDATE users SET perms_version = perms_version + 1 WHERE id = $1`, id)
	if err != nil {
		return wrap(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// bumpMembers moves every member's perms_version forward. The rows are locked in ID order
// first, so two changes to groups with shared members cannot deadlock.
func bumpMembers(ctx context.Context, tx pgx.Tx, group string) error {
	_, err := tx.Exec(ctx, `UPDATE users SET perms_version = perms_version + 1 WHERE id IN (
		SELECT id FROM users WHERE id IN (SELECT user_id FROM user_groups WHERE group_name = $1) ORDER BY id FOR UPDATE)`, []byte(group))
	return wrap(err)
}

// lockGroup takes the group's row lock (ErrNotFound when it is missing), so that a change to
// its permissions and a new membership are ordered: the later one sees the earlier.
func lockGroup(ctx context.Context, tx pgx.Tx, name string) error {
	var one int
	return wrap(tx.QueryRow(ctx, `SELECT 1 FROM auth_groups WHERE name = $1 FOR UPDATE`, []byte(name)).Scan(&one))
}

// GrantUserPerm implements store.Permissions.
func (s *Store) GrantUserPerm(ctx context.Context, userID, perm string) error {
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := bumpUser(ctx, tx, userID); err != nil {
			return err
		}
		id, _ := parseID(userID)
		_, err := tx.Exec(ctx, `INSERT INTO user_perms (user_id, perm) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, []byte(perm))
		return wrap(err)
	})
}

// RevokeUserPerm implements store.Permissions.
func (s *Store) RevokeUserPerm(ctx context.Context, userID, perm string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := bumpUser(ctx, tx, userID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		id, _ := parseID(userID)
		tag, err := tx.Exec(ctx, `DELETE FROM user_perms WHERE user_id = $1 AND perm = $2`, id, []byte(perm))
		n = tag.RowsAffected()
		return wrap(err)
	})
	return n > 0, err
}

// CreateGroup implements store.Permissions.
func (s *Store) CreateGroup(ctx context.Context, name string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_groups (name) VALUES ($1)`, []byte(name))
	return wrap(err)
}

// DeleteGroup implements store.Permissions; the group's permissions and memberships go with
// it (ON DELETE CASCADE), after its members' versions moved.
func (s *Store) DeleteGroup(ctx context.Context, name string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := lockGroup(ctx, tx, name); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		if err := bumpMembers(ctx, tx, name); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM auth_groups WHERE name = $1`, []byte(name))
		n = tag.RowsAffected()
		return wrap(err)
	})
	return n > 0, err
}

// Groups implements store.Permissions.
func (s *Store) Groups(ctx context.Context) ([]store.Group, error) {
	rows, err := queryAll(ctx, s.pool, func(r pgx.Row) (common.GroupRow, error) {
		var name, perm []byte
		err := r.Scan(&name, &perm)
		return common.GroupRow{Name: string(name), Perm: string(perm), HasPerm: perm != nil}, wrap(err)
	}, `SELECT g.name, p.perm FROM auth_groups g LEFT JOIN group_perms p ON p.group_name = g.name`)
	if err != nil {
		return nil, err
	}
	return common.CollectGroups(rows), nil
}

// GroupMembers implements store.Permissions in one query: a group without members gives
// one row with a NULL user.
func (s *Store) GroupMembers(ctx context.Context, name string) ([]string, error) {
	rows, err := queryAll(ctx, s.pool, func(r pgx.Row) (*int64, error) {
		var id *int64
		return id, wrap(r.Scan(&id))
	}, `SELECT ug.user_id FROM auth_groups g LEFT JOIN user_groups ug ON ug.group_name = g.name WHERE g.name = $1`, []byte(name))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, store.ErrNotFound
	}
	var out []string
	for _, id := range rows {
		if id != nil {
			out = append(out, strconv.FormatInt(*id, 10))
		}
	}
	return out, nil
}

// GrantGroupPerm implements store.Permissions.
func (s *Store) GrantGroupPerm(ctx context.Context, group, perm string) error {
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := lockGroup(ctx, tx, group); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO group_perms (group_name, perm) VALUES ($1, $2) ON CONFLICT DO NOTHING`, []byte(group), []byte(perm)); err != nil {
			return wrap(err)
		}
		return bumpMembers(ctx, tx, group)
	})
}

// RevokeGroupPerm implements store.Permissions.
func (s *Store) RevokeGroupPerm(ctx context.Context, group, perm string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := lockGroup(ctx, tx, group); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM group_perms WHERE group_name = $1 AND perm = $2`, []byte(group), []byte(perm))
		if err != nil {
			return wrap(err)
		}
		n = tag.RowsAffected()
		return bumpMembers(ctx, tx, group)
	})
	return n > 0, err
}

// AddUserToGroup implements store.Permissions. The group's row lock orders it against a
// concurrent change to the group's permissions: that change, if later, sees the new member
// and moves its version.
func (s *Store) AddUserToGroup(ctx context.Context, userID, group string) error {
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := lockGroup(ctx, tx, group); err != nil {
			return err
		}
		if err := bumpUser(ctx, tx, userID); err != nil {
			return err
		}
		id, _ := parseID(userID)
		_, err := tx.Exec(ctx, `INSERT INTO user_groups (user_id, group_name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, []byte(group))
		return wrap(err)
	})
}

// RemoveUserFromGroup implements store.Permissions.
func (s *Store) RemoveUserFromGroup(ctx context.Context, userID, group string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := bumpUser(ctx, tx, userID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		id, _ := parseID(userID)
		tag, err := tx.Exec(ctx, `DELETE FROM user_groups WHERE user_id = $1 AND group_name = $2`, id, []byte(group))
		n = tag.RowsAffected()
		return wrap(err)
	})
	return n > 0, err
}

// UserGrants implements store.Permissions in one query: kind 'g' rows are groups, 'p'
// direct permissions, 'e' permissions through a group.
func (s *Store) UserGrants(ctx context.Context, userID string) (store.Grants, error) {
	id, ok := parseID(userID)
	if !ok {
		return store.Grants{}, nil
	}
	rows, err := queryAll(ctx, s.pool, func(r pgx.Row) (common.GrantRow, error) {
		var x common.GrantRow
		var v []byte
		err := r.Scan(&x.Kind, &v)
		x.Value = string(v)
		return x, wrap(err)
	}, `SELECT 'g', group_name FROM user_groups WHERE user_id = $1
		UNION ALL SELECT 'p', perm FROM user_perms WHERE user_id = $1
		UNION ALL SELECT 'e', gp.perm FROM user_groups ug JOIN group_perms gp ON gp.group_name = ug.group_name WHERE ug.user_id = $1`, id)
	if err != nil {
		return store.Grants{}, err
	}
	return common.BuildGrants(rows), nil
}
