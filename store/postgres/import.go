package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

var _ store.AccountImporter = (*Store)(nil)

// ImportAccounts implements store.AccountImporter in one transaction. The per-operation
// Timeout does not apply: an import of many accounts is one long operation, bounded by ctx.
// A user created by someone else with the same username or e-mail while the import runs
// makes its INSERT fail, and with it the whole import (nothing is written).
func (s *Store) ImportAccounts(ctx context.Context, groups []store.Group, accounts []store.ImportedAccount, dryRun bool) (store.ImportResult, error) {
	var res store.ImportResult
	tx, err := s.pool.raw.Begin(ctx)
	if err != nil {
		return res, wrap(err)
	}
	defer tx.Rollback(ctx)
	for _, g := range groups {
		tag, err := tx.Exec(ctx, `INSERT INTO auth_groups (name) VALUES ($1) ON CONFLICT DO NOTHING`, []byte(g.Name))
		if err != nil {
			return res, wrap(err)
		}
		res.GroupsCreated += int(tag.RowsAffected())
		added := false
		for _, p := range g.Perms {
			tag, err := tx.Exec(ctx, `INSERT INTO group_perms (group_name, perm) VALUES ($1, $2) ON CONFLICT DO NOTHING`, []byte(g.Name), []byte(p))
			if err != nil {
				return res, wrap(err)
			}
			res.GroupPermsAdded += int(tag.RowsAffected())
			added = added || tag.RowsAffected() > 0
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
		if !storable(u.Username) || !storable(u.Email) {
			return res, fmt.Errorf("user %q: %w", u.Username, errBadText)
		}
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE username_key = $1`, common.FoldKey(u.Username)).Scan(&one)
		if err == nil {
			res.Existing = append(res.Existing, u.Username)
			continue
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return res, wrap(err)
		}
		if u.Email != "" {
			err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE email_key = $1`, common.FoldKey(u.Email)).Scan(&one)
			if err == nil {
				u.Email = ""
				res.EmailDropped = append(res.EmailDropped, u.Username)
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return res, wrap(err)
			}
		}
		var id int64
		err = tx.QueryRow(ctx, `INSERT INTO users (username, username_key, email, email_key, password_hash,
				is_active, is_staff, date_joined, last_login, totp_secret, totp_enabled, device_epoch, is_superuser)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			u.Username, common.FoldKey(u.Username), u.Email, emailKey(u.Email), clean(u.PasswordHash), u.IsActive, u.IsStaff,
			ts(u.DateJoined), nullTime(u.LastLogin), u.TOTPSecret, u.TOTPEnabled, u.DeviceEpoch, u.IsSuperuser).Scan(&id)
		if err != nil {
			return res, fmt.Errorf("user %q: %w", u.Username, wrap(err))
		}
		uid := strconv.FormatInt(id, 10)
		for _, g := range a.Groups {
			if err := lockGroup(ctx, tx, g); err != nil {
				return res, fmt.Errorf("user %q, group %q: %w", u.Username, g, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO user_groups (user_id, group_name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, []byte(g)); err != nil {
				return res, wrap(err)
			}
		}
		for _, p := range a.Perms {
			if _, err := tx.Exec(ctx, `INSERT INTO user_perms (user_id, perm) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, []byte(p)); err != nil {
				return res, wrap(err)
			}
		}
		for _, h := range a.BackupCodeHashes {
			if _, err := tx.Exec(ctx, `INSERT INTO backup_codes (user_id, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING`, uid, h); err != nil {
				return res, wrap(err)
			}
		}
		if a.LastStep >= 0 {
			// The same upsert as ClaimStep: the replay state only moves forward.
			if _, err := tx.Exec(ctx, `INSERT INTO otp_steps AS o (device, step) VALUES ($1, $2)
				ON CONFLICT (device) DO UPDATE SET step = excluded.step WHERE excluded.step > o.step`, []byte(uid), a.LastStep); err != nil {
				return res, wrap(err)
			}
		}
		res.Created = append(res.Created, u.Username)
	}
	if dryRun {
		return res, wrap(tx.Rollback(ctx))
	}
	return res, wrap(tx.Commit(ctx))
}
