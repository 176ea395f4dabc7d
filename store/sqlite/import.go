package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

var _ store.AccountImporter = (*Store)(nil)

// ImportAccounts implements store.AccountImporter in one write transaction (BEGIN
// IMMEDIATE), so the import and any other writer of the file are serialised and a failure
// leaves the file as it was. The per-operation Timeout does not apply: an import of many
// accounts is one long operation, bounded by ctx.
func (s *Store) ImportAccounts(ctx context.Context, groups []store.Group, accounts []store.ImportedAccount, dryRun bool) (store.ImportResult, error) {
	var res store.ImportResult
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return res, wrap(err)
	}
	defer tx.Rollback()
	for _, g := range groups {
		n, err := affected(tx.ExecContext(ctx, `INSERT OR IGNORE INTO auth_groups (name) VALUES (?)`, g.Name))
		if err != nil {
			return res, err
		}
		res.GroupsCreated += int(n)
		added := false
		for _, p := range g.Perms {
			n, err := affected(tx.ExecContext(ctx, `INSERT OR IGNORE INTO group_perms (group_name, perm) VALUES (?, ?)`, g.Name, p))
			if err != nil {
				return res, err
			}
			res.GroupPermsAdded += int(n)
			added = added || n > 0
		}
		if added {
			// Members already in the store now hold more: their cached permissions must go.
			if err := bumpMembers(ctx, tx, g.Name); err != nil {
				return res, err
			}
		}
	}
	for _, a := range accounts {
		u := a.User
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE username_key = ?`, common.FoldKey(u.Username)).Scan(&one)
		if err == nil {
			res.Existing = append(res.Existing, u.Username)
			continue
		} else if !errors.Is(err, sql.ErrNoRows) {
			return res, wrap(err)
		}
		if u.Email != "" {
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE email_key = ?`, common.FoldKey(u.Email)).Scan(&one)
			if err == nil {
				u.Email = ""
				res.EmailDropped = append(res.EmailDropped, u.Username)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return res, wrap(err)
			}
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO users (username, username_key, email, email_key, password_hash,
				is_active, is_staff, date_joined, last_login, totp_secret, totp_enabled, device_epoch, is_superuser)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			u.Username, common.FoldKey(u.Username), u.Email, emailKey(u.Email), u.PasswordHash, u.IsActive, u.IsStaff,
			common.Micros(u.DateJoined), common.Micros(u.LastLogin), u.TOTPSecret, u.TOTPEnabled, u.DeviceEpoch, u.IsSuperuser).Scan(&id)
		if err != nil {
			return res, fmt.Errorf("user %q: %w", u.Username, wrap(err))
		}
		uid := strconv.FormatInt(id, 10)
		for _, g := range a.Groups {
			if err := groupExists(ctx, tx, g); err != nil {
				return res, fmt.Errorf("user %q, group %q: %w", u.Username, g, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_groups (user_id, group_name) VALUES (?, ?)`, id, g); err != nil {
				return res, wrap(err)
			}
		}
		for _, p := range a.Perms {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_perms (user_id, perm) VALUES (?, ?)`, id, p); err != nil {
				return res, wrap(err)
			}
		}
		for _, h := range a.BackupCodeHashes {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO backup_codes (user_id, hash) VALUES (?, ?)`, uid, h); err != nil {
				return res, wrap(err)
			}
		}
		if a.LastStep >= 0 {
			// The same upsert as ClaimStep: the replay state only moves forward.
			if _, err := tx.ExecContext(ctx, `INSERT INTO otp_steps (device, step) VALUES (?, ?)
				ON CONFLICT (device) DO UPDATE SET step = excluded.step WHERE excluded.step > otp_steps.step`, uid, a.LastStep); err != nil {
				return res, wrap(err)
			}
		}
		res.Created = append(res.Created, u.Username)
	}
	if dryRun {
		return res, wrap(tx.Rollback())
	}
	return res, wrap(tx.Commit())
}
