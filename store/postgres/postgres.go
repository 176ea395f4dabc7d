// Package postgres is a store.Store on PostgreSQL through pgx v5 (pgxpool), for several
// application instances sharing one database.
//
// Every check-and-set is one SQL statement (an upsert with a condition, a DELETE whose row
// count is the answer), so racing instances agree without explicit locks. Keys that may carry
// user-typed bytes (session, counter and device keys) are bytea, because text columns reject
// NUL and invalid UTF-8; display-only text (IP, user agent, event fields) is made valid UTF-8
// before it is stored. Expired rows stay until Sweep (see SweepEvery).
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// Options tune Open. The zero value uses the connection's default schema and migrates at Open.
type Options struct {
	// Schema holds rampart's tables (created if missing); empty means the first schema in the
	// server's search_path, usually "public". Tests use a random schema per test.
	Schema string
	// NoMigrate skips Migrate at Open, for deployments that run `rampart migrate` as a separate
	// step with a more privileged role.
	NoMigrate bool
	// MaxConns caps the pool; 0 keeps pgxpool's default (max(4, NumCPU)).
	MaxConns int32
	// MaxEvents and MaxComments cap the audit trail and the reference app's comments (0 means 100,000
	// each): AppendEvent deletes the events beyond MaxEvents as it inserts, and Sweep the
	// oldest rows beyond both caps.
	MaxEvents, MaxComments int
	// Timeout bounds each operation when the caller's context allows more: waiting for a
	// pooled connection, connecting, and the round trips of the statement (0 means
	// store.DefaultTimeout; negative means no bound but the caller's context). A frozen or
	// unreachable server then fails the operation with context.DeadlineExceeded instead of
	// holding the request until it answers. Migrate and Sweep take their caller's context.
	Timeout time.Duration
	// Observer, when set, is told of every statement, query, batch and BEGIN: how long it
	// took and its error (package metrics).
	Observer store.Observer
}

// Store is a store.Store on one PostgreSQL database.
type Store struct {
	pool   *db
	schema string

	maxEvents, maxComments int
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.Passkeys    = (*Store)(nil)
	_ store.Permissions = (*Store)(nil)
)

// Open connects to the database at url (postgres://...), checks that it answers and, unless
// opt.NoMigrate, brings the schema up to date.
func Open(ctx context.Context, url string, opt Options) (*Store, error) {
	if opt.MaxEvents < 0 || opt.MaxComments < 0 {
		return nil, errors.New("postgres: negative MaxEvents or MaxComments")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opt.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opt.Schema}.Sanitize()
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: &db{raw: pool, timeout: common.Timeout(opt.Timeout), obs: opt.Observer}, schema: opt.Schema,
		maxEvents: cmp.Or(opt.MaxEvents, common.DefaultMaxRows), maxComments: cmp.Or(opt.MaxComments, common.DefaultMaxRows)}
	// The caller's context bounds the first round trip, not Options.Timeout: a first
	// connection may need DNS and TLS, and a server still starting up is waited for.
	var one int
	if err := pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		pool.Close()
		return nil, wrap(err)
	}
	if !opt.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// migrations are applied in order, each once; schema_version records how many ran. Append new
// steps; never edit a released one.
var migrations = []string{
	`CREATE TABLE sessions (
		key bytea PRIMARY KEY,
		user_id text NOT NULL,
		data bytea,
		ip text NOT NULL,
		user_agent text NOT NULL,
		created_at timestamptz NOT NULL,
		last_seen timestamptz NOT NULL,
		expires_at timestamptz NOT NULL
	);
	CREATE INDEX sessions_user ON sessions (user_id, last_seen) WHERE user_id <> '';
	CREATE INDEX sessions_expires ON sessions (expires_at);
	CREATE TABLE counters (key bytea PRIMARY KEY, n bigint NOT NULL, expires_at timestamptz NOT NULL);
	CREATE INDEX counters_expires ON counters (expires_at);
	CREATE TABLE otp_steps (device bytea PRIMARY KEY, step bigint NOT NULL);
	CREATE TABLE users (
		id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- a sequence: IDs are never reused
		username text NOT NULL,
		username_key text COLLATE "C" NOT NULL UNIQUE,
		email text NOT NULL,
		email_key text COLLATE "C" UNIQUE, -- NULL when there is no e-mail; NULLs do not collide
		password_hash text NOT NULL,
		is_active boolean NOT NULL,
		is_staff boolean NOT NULL,
		date_joined timestamptz NOT NULL,
		last_login timestamptz,
		totp_secret bytea,
		totp_enabled boolean NOT NULL,
		device_epoch bigint NOT NULL
	);
	CREATE TABLE backup_codes (user_id text NOT NULL, hash text NOT NULL, PRIMARY KEY (user_id, hash));
	CREATE TABLE events (
		id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		time timestamptz NOT NULL,
		kind text NOT NULL,
		user_id text NOT NULL,
		username text NOT NULL,
		ip text NOT NULL,
		detail text NOT NULL
	);`,
	`CREATE TABLE comments (
		id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		user_id text NOT NULL,
		username text NOT NULL,
		body text NOT NULL,
		created_at timestamptz NOT NULL
	);`,
	`CREATE TABLE passkeys (
		id bytea PRIMARY KEY,
		user_id text NOT NULL,
		name text NOT NULL,
		data bytea NOT NULL,
		sign_count bigint NOT NULL,
		created_at timestamptz NOT NULL,
		last_used timestamptz NOT NULL
	);
	CREATE INDEX passkeys_user ON passkeys (user_id, created_at);`,
	// A user's sessions are found by user_id alone (they are few; sorting them is free): with
	// last_seen in the index, every session touch also inserted an index entry.
	`DROP INDEX sessions_user;
	CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id <> '';`,
	// Permissions and groups (perms.go). Names and permissions are bytea: they are opaque
	// bytes to the store, NUL and invalid UTF-8 included. perms_version is moved forward with
	// every change to what a user holds, so a cache keyed by it is invalid on every instance.
	`ALTER TABLE users ADD COLUMN is_superuser boolean NOT NULL DEFAULT false;
	ALTER TABLE users ADD COLUMN perms_version bigint NOT NULL DEFAULT 0;
	CREATE TABLE user_perms (user_id bigint NOT NULL, perm bytea NOT NULL, PRIMARY KEY (user_id, perm));
	CREATE TABLE auth_groups (name bytea PRIMARY KEY);
	CREATE TABLE group_perms (
		group_name bytea NOT NULL REFERENCES auth_groups (name) ON DELETE CASCADE,
		perm bytea NOT NULL,
		PRIMARY KEY (group_name, perm)
	);
	CREATE TABLE user_groups (
		user_id bigint NOT NULL,
		group_name bytea NOT NULL REFERENCES auth_groups (name) ON DELETE CASCADE,
		PRIMARY KEY (user_id, group_name)
	);
	CREATE INDEX user_groups_group ON user_groups (group_name);`,
}

// Migrate brings the schema up to date. It is idempotent and safe to run from several
// instances at once: an advisory lock serialises them. Open calls it unless NoMigrate.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.pool.raw.Begin(ctx) // DDL may take long: the caller bounds it
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	steps := []string{`SELECT pg_advisory_xact_lock(hashtext('rampart-migrate:' || $1::text))`}
	if s.schema != "" {
		steps = append(steps, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{s.schema}.Sanitize())
	}
	steps = append(steps, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`)
	for i, q := range steps {
		var args []any
		if i == 0 {
			args = []any{s.schema}
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("postgres: database schema version %d is newer than this program knows (%d)", v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.Exec(ctx, migrations[i]); err != nil {
			return fmt.Errorf("postgres: migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, len(migrations)); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// SchemaVersion reports how many migrations the database has run.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, wrap(err)
}

// SweepEvery runs Sweep with the wall clock every interval until ctx is done, reporting
// failures to onErr (which may be nil). Run it in its own goroutine.
func (s *Store) SweepEvery(ctx context.Context, every time.Duration, onErr func(error)) {
	common.SweepLoop(ctx, every, time.Now, s.Sweep, onErr)
}

func wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("%w (%s)", store.ErrConflict, pe.ConstraintName)
	}
	return fmt.Errorf("postgres: %w", err)
}

// clean makes display-only text storable in a text column (no NUL, valid UTF-8).
func clean(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// storable reports whether s can be kept in a text column as is; a username or e-mail that
// cannot is never stored, so looking it up finds nothing.
func storable(s string) bool { return utf8.ValidString(s) && !strings.Contains(s, "\x00") }

var errBadText = errors.New("postgres: username and e-mail must be valid UTF-8 without NUL")

func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// nullTime maps the zero time (never) to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = ts(t)
	return &t
}

func utc(t time.Time) time.Time { return t.UTC() }

const sessionCols = `key, user_id, data, ip, user_agent, created_at, last_seen, expires_at`

func scanSession(row pgx.Row) (store.Session, error) {
	var x store.Session
	var key []byte
	if err := row.Scan(&key, &x.UserID, &x.Data, &x.IP, &x.UserAgent, &x.CreatedAt, &x.LastSeen, &x.ExpiresAt); err != nil {
		return store.Session{}, wrap(err)
	}
	x.Key = string(key)
	x.CreatedAt, x.LastSeen, x.ExpiresAt = utc(x.CreatedAt), utc(x.LastSeen), utc(x.ExpiresAt)
	return x, nil
}

// LoadSession implements store.Sessions.
func (s *Store) LoadSession(ctx context.Context, key string, now time.Time) (store.Session, error) {
	return scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE key = $1 AND expires_at > $2`,
		[]byte(key), ts(now)))
}

// SaveSession implements store.Sessions.
func (s *Store) SaveSession(ctx context.Context, x store.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (key) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, ip = excluded.ip,
			user_agent = excluded.user_agent, created_at = excluded.created_at, last_seen = excluded.last_seen,
			expires_at = excluded.expires_at`,
		[]byte(x.Key), clean(x.UserID), x.Data, clean(x.IP), clean(x.UserAgent), ts(x.CreatedAt), ts(x.LastSeen), ts(x.ExpiresAt))
	return wrap(err)
}

// UpdateSession replaces the session only if it still exists, else it returns
// store.ErrNotFound, so a request finishing after a logout cannot bring the session back
// (the session package's optional Updater).
func (s *Store) UpdateSession(ctx context.Context, x store.Session) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET user_id = $2, data = $3, ip = $4, user_agent = $5,
			created_at = $6, last_seen = $7, expires_at = $8 WHERE key = $1`,
		[]byte(x.Key), clean(x.UserID), x.Data, clean(x.IP), clean(x.UserAgent), ts(x.CreatedAt), ts(x.LastSeen), ts(x.ExpiresAt))
	if err != nil {
		return wrap(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE key = $1`, []byte(key))
	return wrap(err)
}

// UserSessions implements store.Sessions.
func (s *Store) UserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	if userID == "" || !storable(userID) {
		return nil, nil
	}
	return queryAll(ctx, s.pool, scanSession, `SELECT `+sessionCols+` FROM sessions
		WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen DESC, key`, userID, ts(now))
}

// DeleteUserSessions implements store.Sessions.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptKey string) (int, error) {
	if userID == "" || !storable(userID) {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND key <> $2`, userID, []byte(exceptKey))
	if err != nil {
		return 0, wrap(err)
	}
	return int(tag.RowsAffected()), nil
}

// Incr implements store.Counters in one statement, so concurrent increments from any number
// of instances never lose a hit. SET expressions see the old row, so both CASEs test the
// same "still live" condition.
func (s *Store) Incr(ctx context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (store.Counter, error) {
	c := store.Counter{Key: key}
	err := s.pool.QueryRow(ctx, `INSERT INTO counters AS c (key, n, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET
			n = CASE WHEN c.expires_at > $4 THEN c.n + excluded.n ELSE excluded.n END,
			expires_at = CASE WHEN c.expires_at > $4 AND NOT $5 THEN c.expires_at ELSE excluded.expires_at END
		RETURNING n, expires_at`, []byte(key), delta, ts(now.Add(ttl)), ts(now), extend).Scan(&c.N, &c.ExpiresAt)
	if err != nil {
		return store.Counter{}, wrap(err)
	}
	c.ExpiresAt = utc(c.ExpiresAt)
	return c, nil
}

// Reserve implements store.Counters in one statement: the upsert's WHERE leaves a counter at
// its limit untouched (no row is returned then), so racing reservations from any number of
// instances never pass the limit.
func (s *Store) Reserve(ctx context.Context, key string, limit int64, now time.Time, ttl time.Duration) (store.Counter, bool, error) {
	if limit <= 0 {
		c, err := s.GetCounter(ctx, key, now)
		return c, false, err
	}
	c := store.Counter{Key: key}
	err := s.pool.QueryRow(ctx, `INSERT INTO counters AS c (key, n, expires_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			n = CASE WHEN c.expires_at > $3 THEN c.n + 1 ELSE 1 END,
			expires_at = excluded.expires_at
		WHERE c.expires_at <= $3 OR c.n < $4
		RETURNING n, expires_at`, []byte(key), ts(now.Add(ttl)), ts(now), limit).Scan(&c.N, &c.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		// At the limit: nothing changed. The state is read for the caller's Retry-After.
		c, err := s.GetCounter(ctx, key, now)
		return c, false, err
	}
	if err != nil {
		return store.Counter{}, false, wrap(err)
	}
	c.ExpiresAt = utc(c.ExpiresAt)
	return c, true, nil
}

// GetCounter implements store.Counters.
func (s *Store) GetCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	c := store.Counter{Key: key}
	err := s.pool.QueryRow(ctx, `SELECT n, expires_at FROM counters WHERE key = $1 AND expires_at > $2`,
		[]byte(key), ts(now)).Scan(&c.N, &c.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Counter{Key: key}, nil
	}
	if err != nil {
		return store.Counter{}, wrap(err)
	}
	c.ExpiresAt = utc(c.ExpiresAt)
	return c, nil
}

// DeleteCounter implements store.Counters.
func (s *Store) DeleteCounter(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM counters WHERE key = $1`, []byte(key))
	return wrap(err)
}

// ListCounters implements store.Counters. bytea compares byte-wise, so the prefix test is an
// exact byte comparison (no LIKE metacharacters) and the order is the same as on every backend.
func (s *Store) ListCounters(ctx context.Context, prefix string, min int64, now time.Time, limit int) ([]store.Counter, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	return queryAll(ctx, s.pool, func(rows pgx.Row) (store.Counter, error) {
		var c store.Counter
		var key []byte
		if err := rows.Scan(&key, &c.N, &c.ExpiresAt); err != nil {
			return c, wrap(err)
		}
		c.Key, c.ExpiresAt = string(key), utc(c.ExpiresAt)
		return c, nil
	}, `SELECT key, n, expires_at FROM counters
		WHERE key >= $1 AND substring(key from 1 for octet_length($1)) = $1 AND n >= $2 AND expires_at > $3
		ORDER BY key LIMIT $4`, []byte(prefix), min, ts(now), lim)
}

// ClaimStep implements store.OTPSteps in one statement: the upsert changes a row only when the
// step moves forward, so of several racing claims exactly one sees a change.
func (s *Store) ClaimStep(ctx context.Context, device string, step int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO otp_steps AS o (device, step) VALUES ($1, $2)
		ON CONFLICT (device) DO UPDATE SET step = excluded.step WHERE excluded.step > o.step`, []byte(device), step)
	if err != nil {
		return false, wrap(err)
	}
	return tag.RowsAffected() == 1, nil
}

// ResetSteps implements store.OTPSteps.
func (s *Store) ResetSteps(ctx context.Context, device string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM otp_steps WHERE device = $1`, []byte(device))
	return wrap(err)
}

const userCols = `id, username, email, password_hash, is_active, is_staff, date_joined, last_login, totp_secret, totp_enabled, device_epoch, is_superuser, perms_version`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var id int64
	var ll *time.Time
	err := row.Scan(&id, &u.Username, &u.Email, &u.PasswordHash, &u.IsActive, &u.IsStaff, &u.DateJoined, &ll, &u.TOTPSecret, &u.TOTPEnabled, &u.DeviceEpoch, &u.IsSuperuser, &u.PermsVersion)
	if err != nil {
		return store.User{}, wrap(err)
	}
	u.ID = strconv.FormatInt(id, 10)
	u.DateJoined = utc(u.DateJoined)
	if ll != nil {
		u.LastLogin = utc(*ll)
	}
	return u, nil
}

// emailKey is NULL for an empty address so that users without one never collide or match.
func emailKey(email string) *string {
	if email == "" {
		return nil
	}
	k := common.FoldKey(email)
	return &k
}

// parseID accepts only the canonical decimal form the store hands out, so "007" does not
// alias user 7.
func parseID(id string) (int64, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatInt(n, 10) == id
}

// CreateUser implements store.Users; the unique indexes on the folded username and e-mail
// decide conflicts, so racing creates cannot both win.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	if !storable(u.Username) || !storable(u.Email) {
		return store.User{}, errBadText
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO users (username, username_key, email, email_key, password_hash,
			is_active, is_staff, date_joined, last_login, totp_secret, totp_enabled, device_epoch, is_superuser)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		u.Username, store.UsernameKey(u.Username), u.Email, emailKey(u.Email), clean(u.PasswordHash), u.IsActive, u.IsStaff,
		ts(u.DateJoined), nullTime(u.LastLogin), u.TOTPSecret, u.TOTPEnabled, u.DeviceEpoch, u.IsSuperuser).Scan(&id)
	if err != nil {
		return store.User{}, wrap(err)
	}
	u.ID = strconv.FormatInt(id, 10)
	u.PermsVersion = 0
	return u, nil
}

// UserByID implements store.Users.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	n, ok := parseID(id)
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, n))
}

// UserByUsername implements store.Users.
func (s *Store) UserByUsername(ctx context.Context, username string) (store.User, error) {
	if !storable(username) {
		return store.User{}, store.ErrNotFound
	}
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE username_key = $1`, store.UsernameKey(username)))
}

// UserByEmail implements store.Users.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	if email == "" || !storable(email) {
		return store.User{}, store.ErrNotFound
	}
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE email_key = $1`, common.FoldKey(email)))
}

// UpdateUser implements store.Users.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	id, ok := parseID(u.ID)
	if !ok {
		return store.ErrNotFound
	}
	if !storable(u.Username) || !storable(u.Email) {
		return errBadText
	}
	tag, err := s.pool.Exec(ctx, `UPDATE users SET username = $1, username_key = $2, email = $3, email_key = $4,
			password_hash = $5, is_active = $6, is_staff = $7, date_joined = $8, last_login = $9, totp_secret = $10,
			totp_enabled = $11, device_epoch = $12, is_superuser = $13
		WHERE id = $14`,
		u.Username, store.UsernameKey(u.Username), u.Email, emailKey(u.Email), clean(u.PasswordHash), u.IsActive, u.IsStaff,
		ts(u.DateJoined), nullTime(u.LastLogin), u.TOTPSecret, u.TOTPEnabled, u.DeviceEpoch, u.IsSuperuser, id)
	if err != nil {
		return wrap(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListUsers implements store.Users; username_key is COLLATE "C", so the order is byte-wise
// like every other backend's, whatever the database's default collation.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	return queryAll(ctx, s.pool, scanUser, `SELECT `+userCols+` FROM users WHERE username_key > $1 ORDER BY username_key LIMIT $2`,
		clean(store.UsernameKey(after)), lim)
}

// ReplaceBackupCodes implements store.BackupCodes in one transaction, so a half-replaced set
// is never visible.
func (s *Store) ReplaceBackupCodes(ctx context.Context, userID string, hashes []string) error {
	clean := make([]string, len(hashes))
	for i, h := range hashes {
		if !storable(h) {
			return errors.New("postgres: backup code hash must be valid UTF-8 without NUL")
		}
		clean[i] = h
	}
	// One bound for the whole transaction (db.Begin bounds only the BEGIN).
	ctx, cancel := common.WithTimeout(ctx, s.pool.timeout)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DELETE FROM backup_codes WHERE user_id = $1`, userID); err != nil {
		return wrap(err)
	}
	if len(clean) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO backup_codes (user_id, hash) SELECT $1, h FROM unnest($2::text[]) AS h
			ON CONFLICT DO NOTHING`, userID, clean); err != nil {
			return wrap(err)
		}
	}
	return wrap(tx.Commit(ctx))
}

// UseBackupCode implements store.BackupCodes: the DELETE that removes the row is the check.
func (s *Store) UseBackupCode(ctx context.Context, userID, hash string) (bool, error) {
	if !storable(userID) || !storable(hash) {
		return false, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM backup_codes WHERE user_id = $1 AND hash = $2`, userID, hash)
	if err != nil {
		return false, wrap(err)
	}
	return tag.RowsAffected() == 1, nil
}

// CountBackupCodes implements store.BackupCodes.
func (s *Store) CountBackupCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM backup_codes WHERE user_id = $1`, clean(userID)).Scan(&n)
	return n, wrap(err)
}

// AppendEvent implements store.Events. The same statement deletes the events older than the
// newest MaxEvents, so the table stays bounded between sweeps whatever the rate of events
// (identity ids grow with insertion; gaps only leave fewer rows).
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	_, err := s.pool.Exec(ctx, `WITH ins AS (INSERT INTO events (time, kind, user_id, username, ip, detail) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id)
		DELETE FROM events WHERE id <= (SELECT id FROM ins) - $7`,
		ts(e.Time), clean(e.Kind), clean(e.UserID), clean(e.Username), clean(e.IP), clean(e.Detail), int64(s.maxEvents))
	return wrap(err)
}

// RecentEvents implements store.Events.
func (s *Store) RecentEvents(ctx context.Context, limit int) ([]store.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, s.pool, func(rows pgx.Row) (store.Event, error) {
		var e store.Event
		if err := rows.Scan(&e.ID, &e.Time, &e.Kind, &e.UserID, &e.Username, &e.IP, &e.Detail); err != nil {
			return e, wrap(err)
		}
		e.Time = utc(e.Time)
		return e, nil
	}, `SELECT id, time, kind, user_id, username, ip, detail FROM events ORDER BY id DESC LIMIT $1`, limit)
}

// AddComment implements comments.Store. The body is stored as written (made valid UTF-8);
// it is sanitised when rendered.
func (s commentTable) AddComment(ctx context.Context, c comments.Comment) (comments.Comment, error) {
	c.UserID, c.Username, c.Body = clean(c.UserID), clean(c.Username), clean(c.Body)
	err := s.pool.QueryRow(ctx, `INSERT INTO comments (user_id, username, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		c.UserID, c.Username, c.Body, ts(c.CreatedAt)).Scan(&c.ID)
	if err != nil {
		return comments.Comment{}, wrap(err)
	}
	return c, nil
}

// RecentComments implements comments.Store.
func (s commentTable) RecentComments(ctx context.Context, limit int) ([]comments.Comment, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, s.pool, func(rows pgx.Row) (comments.Comment, error) {
		var c comments.Comment
		if err := rows.Scan(&c.ID, &c.UserID, &c.Username, &c.Body, &c.CreatedAt); err != nil {
			return c, wrap(err)
		}
		c.CreatedAt = utc(c.CreatedAt)
		return c, nil
	}, `SELECT id, user_id, username, body, created_at FROM comments ORDER BY id DESC LIMIT $1`, limit)
}

const passkeyCols = `id, user_id, name, data, sign_count, created_at, last_used`

func scanPasskey(row pgx.Row) (store.Passkey, error) {
	var p store.Passkey
	var count int64
	if err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.Data, &count, &p.CreatedAt, &p.LastUsed); err != nil {
		return store.Passkey{}, wrap(err)
	}
	p.SignCount = uint32(count)
	p.CreatedAt, p.LastUsed = utc(p.CreatedAt), utc(p.LastUsed)
	return p, nil
}

// AddPasskey implements store.Passkeys.
func (s *Store) AddPasskey(ctx context.Context, p store.Passkey) error {
	if p.Data == nil {
		p.Data = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO passkeys (`+passkeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		p.ID, clean(p.UserID), clean(p.Name), p.Data, int64(p.SignCount), ts(p.CreatedAt), ts(p.LastUsed))
	return wrap(err)
}

// UserPasskeys implements store.Passkeys.
func (s *Store) UserPasskeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	if !storable(userID) {
		return nil, nil
	}
	return queryAll(ctx, s.pool, scanPasskey, `SELECT `+passkeyCols+` FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
}

// PasskeyByID implements store.Passkeys.
func (s *Store) PasskeyByID(ctx context.Context, id []byte) (store.Passkey, error) {
	return scanPasskey(s.pool.QueryRow(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE id = $1`, id))
}

// UsePasskey implements store.Passkeys: the conditional UPDATE is the check (row lock), so
// two logins racing with one counter value cannot both pass.
func (s *Store) UsePasskey(ctx context.Context, id []byte, count uint32, lastUsed time.Time) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `WITH u AS (
			UPDATE passkeys SET sign_count = $2, last_used = $3
			WHERE id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0)) RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM u) FROM passkeys WHERE id = $1`, id, int64(count), ts(lastUsed)).Scan(&ok)
	return ok, wrap(err)
}

// DeletePasskey implements store.Passkeys.
func (s *Store) DeletePasskey(ctx context.Context, userID string, id []byte) (bool, error) {
	if !storable(userID) {
		return false, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return false, wrap(err)
	}
	return tag.RowsAffected() == 1, nil
}

// Ping implements store.Store with a round trip (pool.Ping alone may reuse an idle connection
// without touching the server).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return wrap(s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one))
}

// Sweep implements store.Store: it deletes sessions and counters that expired by now, and
// the oldest events and comments beyond Options.MaxEvents and MaxComments.
func (s *Store) Sweep(ctx context.Context, now time.Time) error {
	batch := &pgx.Batch{}
	batch.Queue(`DELETE FROM sessions WHERE expires_at <= $1`, ts(now))
	batch.Queue(`DELETE FROM counters WHERE expires_at <= $1`, ts(now))
	// Keep the newest rows (identity ids grow with insertion); with fewer rows the subquery
	// is NULL and nothing is deleted.
	batch.Queue(`DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC OFFSET $1 LIMIT 1)`, s.maxEvents)
	batch.Queue(`DELETE FROM comments WHERE id <= (SELECT id FROM comments ORDER BY id DESC OFFSET $1 LIMIT 1)`, s.maxComments)
	// Not bounded by Options.Timeout: deleting many rows may take longer, and no request
	// waits for it (SweepEvery bounds each sweep with common.SweepTimeout).
	return wrap(s.pool.raw.SendBatch(ctx, batch).Close())
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.pool.raw.Close()
	return nil
}

// queryAll runs a read query and scans every row with scan: the one place that closes the
// rows and reports a scan or iteration error, for every list-returning method.
func queryAll[T any](ctx context.Context, pool *db, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, wrap(rows.Err())
}

// db is the pool with Options.Timeout applied to every operation: the one place where the
// store's statements meet the network, so that none can wait on a frozen server for longer
// (a pgx context deadline closes the connection, and the pool replaces it). Each method
// bounds its context with common.WithTimeout and releases the bound when the operation is
// over: after Scan for QueryRow, at Close for Query and SendBatch.
type db struct {
	raw     *pgxpool.Pool
	timeout time.Duration
	obs     store.Observer
}

// op starts one operation: its bounded context, and end, which releases the bound and tells
// the Observer (if any) how long the operation took and how it ended.
func (d *db) op(ctx context.Context, name string) (context.Context, func(error)) {
	ctx, cancel := common.WithTimeout(ctx, d.timeout)
	if d.obs == nil {
		return ctx, func(error) { cancel() }
	}
	start := time.Now()
	return ctx, func(err error) {
		cancel()
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil // a missing row is an answer
		}
		d.obs.ObserveStore("postgres", name, time.Since(start), err)
	}
}

func (d *db) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, end := d.op(ctx, "exec")
	tag, err := d.raw.Exec(ctx, sql, args...)
	end(err)
	return tag, err
}

func (d *db) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, end := d.op(ctx, "query")
	return boundRow{d.raw.QueryRow(ctx, sql, args...), end}
}

func (d *db) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, end := d.op(ctx, "query")
	rows, err := d.raw.Query(ctx, sql, args...)
	if err != nil {
		end(err)
		return nil, err
	}
	return boundRows{rows, end}, nil
}

// Begin bounds the BEGIN round trip only: the statements of the transaction take their own
// context, which the caller bounds for the whole transaction.
func (d *db) Begin(ctx context.Context) (pgx.Tx, error) {
	ctx, end := d.op(ctx, "begin")
	tx, err := d.raw.Begin(ctx)
	end(err)
	return tx, err
}

func (d *db) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	ctx, end := d.op(ctx, "batch")
	return boundBatch{d.raw.SendBatch(ctx, b), end}
}

type boundRow struct {
	pgx.Row
	end func(error)
}

func (r boundRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	r.end(err)
	return err
}

type boundRows struct {
	pgx.Rows
	end func(error)
}

func (r boundRows) Close() {
	r.Rows.Close()
	r.end(r.Rows.Err())
}

type boundBatch struct {
	pgx.BatchResults
	end func(error)
}

func (b boundBatch) Close() error {
	err := b.BatchResults.Close()
	b.end(err)
	return err
}

// CommentByID implements comments.Deleter.
func (s commentTable) CommentByID(ctx context.Context, id int64) (comments.Comment, error) {
	var c comments.Comment
	err := s.pool.QueryRow(ctx, `SELECT id, user_id, username, body, created_at FROM comments WHERE id = $1`, id).
		Scan(&c.ID, &c.UserID, &c.Username, &c.Body, &c.CreatedAt)
	if err != nil {
		return comments.Comment{}, wrap(err)
	}
	c.CreatedAt = utc(c.CreatedAt)
	return c, nil
}

// DeleteComment implements comments.Deleter (a sequence: IDs are never reused).
func (s commentTable) DeleteComment(ctx context.Context, id int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM comments WHERE id = $1`, id)
	if err != nil {
		return false, wrap(err)
	}
	return tag.RowsAffected() == 1, nil
}

// commentTable is the reference application's comments table (see internal/comments). The
// store keeps the table and trims it, but its methods are reached only through
// comments.For, so they are no part of the exported Store.
type commentTable struct{ *Store }

func init() {
	comments.Register(func(st any) (comments.Store, bool) {
		s, ok := st.(*Store)
		return commentTable{s}, ok && s != nil
	})
}
