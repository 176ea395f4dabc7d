package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// inTx runs f in one write transaction (BEGIN IMMEDIATE: the write lock is taken first), so
// a change and the PermsVersion bumps it causes commit together.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return wrap(tx.Commit())
}

func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, wrap(err)
	}
	n, err := res.RowsAffected()
	return n, wrap(err)
}

// bumpUser moves one user's perms_version forward; ErrNotFound when there is no such user.
func bumpUser(ctx context.Context, tx *sql.Tx, userID string) error {
	id, ok := parseID(userID)
	if !ok {
		return store.ErrNotFound
	}
	n, err := affected(tx.ExecContext(ctx, `UPDATE users SET perms_version = perms_version + 1 WHERE id = ?`, id))
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

func bumpMembers(ctx context.Context, tx *sql.Tx, group string) error {
	_, err := tx.ExecContext(ctx, `UPDATE users SET perms_version = perms_version + 1
		WHERE id IN (SELECT user_id FROM user_groups WHERE group_name = ?)`, group)
	return wrap(err)
}

func groupExists(ctx context.Context, tx *sql.Tx, name string) error {
	var one int
	return wrap(tx.QueryRowContext(ctx, `SELECT 1 FROM auth_groups WHERE name = ?`, name).Scan(&one))
}

// GrantUserPerm implements store.Permissions.
func (s *Store) GrantUserPerm(ctx context.Context, userID, perm string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := bumpUser(ctx, tx, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_perms (user_id, perm) VALUES (?, ?)`, userID, perm)
		return wrap(err)
	})
}

// RevokeUserPerm implements store.Permissions.
func (s *Store) RevokeUserPerm(ctx context.Context, userID, perm string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := bumpUser(ctx, tx, userID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var err error
		n, err = affected(tx.ExecContext(ctx, `DELETE FROM user_perms WHERE user_id = ? AND perm = ?`, userID, perm))
		return err
	})
	return n > 0, err
}

// CreateGroup implements store.Permissions.
func (s *Store) CreateGroup(ctx context.Context, name string) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.w.ExecContext(ctx, `INSERT INTO auth_groups (name) VALUES (?)`, name)
	return wrap(err)
}

// DeleteGroup implements store.Permissions; the group's permissions and memberships go with
// it (ON DELETE CASCADE), after its members' versions moved.
func (s *Store) DeleteGroup(ctx context.Context, name string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := bumpMembers(ctx, tx, name); err != nil {
			return err
		}
		var err error
		n, err = affected(tx.ExecContext(ctx, `DELETE FROM auth_groups WHERE name = ?`, name))
		return err
	})
	return n > 0, err
}

// Groups implements store.Permissions.
func (s *Store) Groups(ctx context.Context) ([]store.Group, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := queryAll(ctx, s.r, func(r rowScanner) (common.GroupRow, error) {
		var x common.GroupRow
		var perm sql.NullString
		err := r.Scan(&x.Name, &perm)
		x.Perm, x.HasPerm = perm.String, perm.Valid
		return x, wrap(err)
	}, `SELECT g.name, p.perm FROM auth_groups g LEFT JOIN group_perms p ON p.group_name = g.name`)
	if err != nil {
		return nil, err
	}
	return common.CollectGroups(rows), nil
}

// GroupMembers implements store.Permissions.
func (s *Store) GroupMembers(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	var out []string
	err := s.inRead(ctx, func(tx *sql.Tx) error {
		if err := groupExists(ctx, tx, name); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT user_id FROM user_groups WHERE group_name = ?`, name)
		if err != nil {
			return wrap(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return wrap(err)
			}
			out = append(out, id)
		}
		return wrap(rows.Err())
	})
	return out, err
}

// inRead runs f in a read transaction on the read pool, so its queries see one snapshot.
func (s *Store) inRead(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return wrap(err)
	}
	defer tx.Rollback()
	return f(tx)
}

// GrantGroupPerm implements store.Permissions.
func (s *Store) GrantGroupPerm(ctx context.Context, group, perm string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := groupExists(ctx, tx, group); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO group_perms (group_name, perm) VALUES (?, ?)`, group, perm); err != nil {
			return wrap(err)
		}
		return bumpMembers(ctx, tx, group)
	})
}

// RevokeGroupPerm implements store.Permissions.
func (s *Store) RevokeGroupPerm(ctx context.Context, group, perm string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if n, err = affected(tx.ExecContext(ctx, `DELETE FROM group_perms WHERE group_name = ? AND perm = ?`, group, perm)); err != nil {
			return err
		}
		return bumpMembers(ctx, tx, group)
	})
	return n > 0, err
}

// AddUserToGroup implements store.Permissions.
func (s *Store) AddUserToGroup(ctx context.Context, userID, group string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := groupExists(ctx, tx, group); err != nil {
			return err
		}
		if err := bumpUser(ctx, tx, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_groups (user_id, group_name) VALUES (?, ?)`, userID, group)
		return wrap(err)
	})
}

// RemoveUserFromGroup implements store.Permissions.
func (s *Store) RemoveUserFromGroup(ctx context.Context, userID, group string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := bumpUser(ctx, tx, userID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var err error
		n, err = affected(tx.ExecContext(ctx, `DELETE FROM user_groups WHERE user_id = ? AND group_name = ?`, userID, group))
		return err
	})
	return n > 0, err
}

// UserGrants implements store.Permissions in one query: kind 'g' rows are groups, 'p'
// direct permissions, 'e' permissions through a group.
func (s *Store) UserGrants(ctx context.Context, userID string) (store.Grants, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	var g store.Grants
	id, ok := parseID(userID)
	if !ok {
		return g, nil
	}
	rows, err := queryAll(ctx, s.r, func(r rowScanner) (common.GrantRow, error) {
		var x common.GrantRow
		return x, wrap(r.Scan(&x.Kind, &x.Value))
	}, `SELECT 'g', group_name FROM user_groups WHERE user_id = ?1
		UNION ALL SELECT 'p', perm FROM user_perms WHERE user_id = ?1
		UNION ALL SELECT 'e', gp.perm FROM user_groups ug JOIN group_perms gp ON gp.group_name = ug.group_name WHERE ug.user_id = ?1`, id)
	if err != nil {
		return g, err
	}
	return common.BuildGrants(rows), nil
}
