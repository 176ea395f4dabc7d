// Package sqlite is the embedded default store.Store, on modernc.org/sqlite (pure Go, no cgo).
//
// One file holds every kind of state and is the source of truth. What may be held in memory
// for a moment is a session update that changes no credential (a touch, an application
// value) and an audit event: they are committed within Options.SessionWriteDelay (10 ms),
// batched, and Close commits what is pending, so a graceful restart loses nothing; a crash
// may lose the last few milliseconds of them, never a login, logout, ID rotation, counter
// or user change (see Store.UpdateSessionDeferred; Options.SyncSessionWrites turns it off).
// The database runs in WAL mode so that readers never
// wait for the writer; writes go through a pool of one connection because SQLite has a single
// writer anyway, and queuing in Go is cheaper than spinning in the busy handler. The hot
// statements are prepared once at Open.
//
// Sessions are also kept in a bounded in-process write-through cache (see Options), which is
// correct only while this process is the only one writing sessions to the file: the SQLite
// store serves one application instance, and several instances should share PostgreSQL or
// Redis. A second process opening the file with the cache on is refused (ErrSessionsInUse,
// from a lock file beside the database). Processes that must share the file with other
// writers of sessions open it with OpenWith(path, Options{NoSessionCache: true}), every one
// of them; so do tools that serve no sessions, which may always read the file or change
// other state (users, counters: `rampart createuser`, `rampart unlock` while the server
// runs), which busy_timeout serialises.
//
// The logged-in request's two reads, UserByID and UserSessions, are answered from memory while
// nothing at all has been committed to the file since they were read, whoever the writer
// (this process, `rampart grant` or `unlock` in another, the sqlite3 shell): the store maps
// the WAL-index header, which SQLite rewrites at every commit, and compares it (walstamp.go).
// So a deactivation, a password change or a revoked permission is seen by the next request,
// as without the cache, and unlike the session cache this needs no single-writer rule.
//
// Expired sessions and counters stay in the file until Sweep (see SweepEvery).
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// Store is a store.Store on one SQLite file.
type Store struct {
	w, r *sql.DB // w: the single writer; r: readers (query_only)

	loadSession, saveSession, updateSession, deleteSession        *sql.Stmt
	incr, incrLive, reserve, getCounter, userByID, userByUsername *sql.Stmt
	userSessions                                                  *sql.Stmt

	// ck is the background checkpoint connection (checkpoint.go); ckStop ends its goroutine,
	// which closes ckDone.
	ck             *sql.DB
	ckStop, ckDone chan struct{}
	ckOnce         sync.Once

	// cache is nil with Options.NoSessionCache. smu is held across every session write and
	// the cache update that follows it, so the cache sees writes in commit order (two racing
	// saves of one key cannot leave the older one cached). The writer pool has one connection,
	// so session writes were serialised already; smu costs no concurrency.
	cache *sessionCache
	smu   ctxMutex
	// fmu is taken before smu by everything that writes sessions to the file or flushes the
	// deferred ones (lockWriter): a background flush holds it, and not smu, while its
	// transaction runs (see flushInBackground), so a synchronous write of a key cannot reach
	// the file before the older deferred update of that key.
	fmu ctxMutex
	// sessionLock is held while the cache is on (see ErrSessionsInUse); nil otherwise.
	sessionLock *os.File

	// watch tells whether anything was committed to the file since a stamp (walstamp.go);
	// users and lists keep UserByID and UserSessions reads valid until then: the logged-in
	// page's two reads on every request. pin is a reader connection held open while watch
	// maps the -shm file (see walWatch). All four are nil when the -shm file cannot be mapped.
	watch *walWatch
	pin   *sql.Conn
	users *stampCache[store.User]
	lists *stampCache[[]store.Session]

	// Deferred session updates (deferred.go), all guarded by smu. pending holds the updates
	// not yet committed, newest per key; they are also in the cache.
	writeDelay time.Duration // 0: every update is synchronous
	pending    map[string]store.Session
	flushing   map[string]store.Session // the batch a background flush is writing, or nil
	events     []store.Event            // pending audit events, oldest first
	flushTimer *time.Timer
	flushArmed bool
	flushErr   error // the last flush failed; updates are synchronous until one succeeds
	closed     bool

	maxEvents, maxComments int
	eventsTrimmed          atomic.Int64 // events with an id up to this one were deleted (trimEvents)
	log                    *slog.Logger

	timeout time.Duration // Options.Timeout made usable (common.Timeout)
	health  writeHealth   // Ping's write probe (health.go)
}

// Options tune OpenWith. The zero value is what Open uses.
type Options struct {
	// NoSessionCache turns off the in-process session cache, so that every LoadSession reads
	// the file. Set it in every process when several processes write sessions to one file:
	// a cache cannot see another process's writes, so a session ended there (logout, "end my
	// other sessions", password change) would stay valid here until evicted.
	NoSessionCache bool
	// CacheSize bounds how many sessions the cache keeps (0 means DefaultCacheSize); the
	// least recently used of a small random sample is evicted when it is full.
	CacheSize int
	// SyncSessionWrites commits every session update and audit event before it returns. By
	// default an update that changes no credential (a touch, application values) and an audit
	// event are committed within SessionWriteDelay, batched with the others (see
	// Store.UpdateSessionDeferred and AppendEvent): a crash of the process may lose those of
	// the last few milliseconds; a graceful stop loses nothing. Without the cache
	// (NoSessionCache) they are always synchronous.
	SyncSessionWrites bool
	// SessionWriteDelay is how long a deferred update may wait (0 means
	// DefaultSessionWriteDelay).
	SessionWriteDelay time.Duration
	// MaxEvents and MaxComments cap the audit trail and the reference app's comments (0 means 100,000
	// each). Events are trimmed as they are written, in steps of a hundredth of MaxEvents, so
	// the table never holds more than 1% over MaxEvents whatever the rate; Sweep deletes the
	// oldest rows beyond both caps.
	MaxEvents, MaxComments int
	// Logger receives failures of the background flush (default slog.Default()); they are
	// retried every second, and meanwhile updates and events are written synchronously.
	Logger *slog.Logger
	// Timeout bounds each operation when the caller's context allows more, including the
	// wait for the single writer connection, for the session write lock and for another
	// process's write lock (busy_timeout) (0 means store.DefaultTimeout; negative means no
	// bound but the caller's context). Sweep, Flush and Close take their caller's context.
	Timeout time.Duration
}

// ErrSessionsInUse is returned by Open when another process (or another Store in this one)
// has the same file open with the session cache on. The cache answers loads from memory, so
// a second process writing sessions to the file would leave it stale: a logout there would
// not end the session here. Several instances should share PostgreSQL or Redis; processes
// that must share one SQLite file open it with NoSessionCache (session_cache=off in the URL),
// all of them. Tools that serve no sessions (createuser, unlock, migrate) open it that way too.
var ErrSessionsInUse = errors.New("sqlite: another process serves sessions from this file with its session cache on")

var (
	_ store.Store       = (*Store)(nil)
	_ store.EventQueue  = (*Store)(nil)
	_ store.Passkeys    = (*Store)(nil)
	_ store.Permissions = (*Store)(nil)
)

// pragmas apply to every connection: WAL for concurrent readers, a busy timeout so that
// another process holding the write lock makes us wait instead of fail, and BEGIN IMMEDIATE
// so that a transaction takes the write lock up front instead of failing when it upgrades.
//
// synchronous=NORMAL, chosen over FULL: in WAL mode a commit is written to the WAL (the
// operating system has it, so it survives a crash or kill of the application) and fsynced at
// checkpoints. The file cannot be corrupted this way; only a power loss or kernel crash may
// lose the transactions committed since the WAL was last synced (by the background checkpoint,
// every checkpointEvery (checkpoint.go), or by the kernel's writeback, about 30 s on Linux). FULL fsyncs the WAL on every
// commit: measured here (ext4 on a virtual disk) it made a session save or a counter hit
// 5 to 15 times slower (0.4 to 1.8 ms instead of under 0.1 ms), putting a disk flush on every
// rate-limited request. What a power loss could undo is small beside that: a few rate-limit
// or lockout hits, session touches, a logout or backup-code use of the last seconds.
// Applications that cannot accept this use PostgreSQL (synchronous_commit on).
const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// Open opens (creating if needed) the SQLite database at path and brings its schema up to
// date, with the session cache on: the process that calls it must be the only one writing
// sessions to the file (see Options.NoSessionCache); while it is open, another Open of the
// file fails with ErrSessionsInUse. path is a file name; ":memory:" is
// refused because each pooled connection would see a different empty database (use
// store/memory instead).
func Open(path string) (*Store, error) {
	return OpenWith(path, Options{})
}

// OpenWith is Open with options.
func OpenWith(path string, opts Options) (*Store, error) {
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("sqlite: negative CacheSize %d", opts.CacheSize)
	}
	if opts.MaxEvents < 0 || opts.MaxComments < 0 {
		return nil, errors.New("sqlite: negative MaxEvents or MaxComments")
	}
	if opts.SessionWriteDelay < 0 {
		return nil, fmt.Errorf("sqlite: negative SessionWriteDelay %v", opts.SessionWriteDelay)
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: unusable database path %q (want a plain file name)", path)
	}
	w, err := sql.Open("sqlite", path+"?"+pragmas+writerPragmas)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0)) + 1 // one is pinned by startWatch
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s := &Store{w: w, r: r, maxEvents: cmp.Or(opts.MaxEvents, common.DefaultMaxRows), maxComments: cmp.Or(opts.MaxComments, common.DefaultMaxRows),
		log: cmp.Or(opts.Logger, slog.Default()), smu: make(ctxMutex, 1), fmu: make(ctxMutex, 1), timeout: common.Timeout(opts.Timeout)}
	if !opts.NoSessionCache {
		lock, err := lockSessions(path + "-sessions.lock")
		if err != nil {
			s.Close()
			if errors.Is(err, ErrSessionsInUse) {
				return nil, fmt.Errorf("%w (%s): several instances need PostgreSQL or Redis; processes sharing one file need session_cache=off in every one", err, path)
			}
			return nil, fmt.Errorf("sqlite: session lock: %w", err)
		}
		s.sessionLock = lock
		size := opts.CacheSize
		if size == 0 {
			size = DefaultCacheSize
		}
		s.cache = newSessionCache(size)
		if !opts.SyncSessionWrites {
			s.writeDelay = cmp.Or(opts.SessionWriteDelay, DefaultSessionWriteDelay)
			s.pending = make(map[string]store.Session)
			s.flushTimer = time.AfterFunc(time.Hour, s.flushInBackground)
			s.flushTimer.Stop()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.startCheckpointer(path); err != nil {
		s.Close()
		return nil, err
	}
	s.startWatch(ctx, path)
	return s, nil
}

// startWatch turns on the read caches of UserByID and UserSessions (walstamp.go): it pins a
// reader connection that has read the file, so that this process keeps the -shm file open
// and SQLite neither truncates nor deletes it while it is mapped, then maps it. Without
// either the store reads the file every time, as before.
func (s *Store) startWatch(ctx context.Context, path string) {
	pin, err := s.r.Conn(ctx)
	if err != nil {
		return
	}
	var v int
	if pin.QueryRowContext(ctx, `SELECT count(*) FROM schema_version`).Scan(&v) != nil {
		pin.Close()
		return
	}
	if s.watch = openWALWatch(path); s.watch == nil {
		pin.Close()
		return
	}
	s.pin = pin
	s.users = newStampCache[store.User](DefaultCacheSize)
	s.lists = newStampCache[[]store.Session](DefaultCacheSize)
}

func (s *Store) prepare(ctx context.Context) error {
	var err error
	prep := func(db *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.PrepareContext(ctx, q)
		return st
	}
	s.loadSession = prep(s.r, `SELECT user_id, data, ip, user_agent, created_at, last_seen, expires_at
		FROM sessions WHERE key = ? AND expires_at > ?`)
	s.saveSession = prep(s.w, `INSERT INTO sessions (key, user_id, data, ip, user_agent, created_at, last_seen, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, ip = excluded.ip,
			user_agent = excluded.user_agent, created_at = excluded.created_at, last_seen = excluded.last_seen,
			expires_at = excluded.expires_at`)
	s.updateSession = prep(s.w, `UPDATE sessions SET user_id = ?, data = ?, ip = ?, user_agent = ?,
			created_at = ?, last_seen = ?, expires_at = ? WHERE key = ?`)
	s.deleteSession = prep(s.w, `DELETE FROM sessions WHERE key = ?`)
	s.getCounter = prep(s.r, `SELECT n, expires_at FROM counters WHERE key = ? AND expires_at > ?`)
	// A user's session list is read by every view of the sessions page: parsing the
	// statement each time was half of that read (issue 18).
	s.userSessions = prep(s.r, `SELECT key, user_id, data, ip, user_agent, created_at, last_seen, expires_at
		FROM sessions WHERE user_id = ? AND user_id <> '' AND expires_at > ? ORDER BY last_seen DESC, key`)
	s.userByID = prep(s.r, `SELECT `+userCols+` FROM users WHERE id = ?`)
	s.userByUsername = prep(s.r, `SELECT `+userCols+` FROM users WHERE username_key = ?`)
	// One statement, so concurrent increments (also from other processes) never lose a hit.
	// SET expressions see the old row, so both CASEs test the same "still live" condition.
	s.incr = prep(s.w, `INSERT INTO counters (key, n, expires_at) VALUES (?1, ?2, ?3)
		ON CONFLICT (key) DO UPDATE SET
			n = CASE WHEN counters.expires_at > ?4 THEN counters.n + excluded.n ELSE excluded.n END,
			expires_at = CASE WHEN counters.expires_at > ?4 AND NOT ?5 THEN counters.expires_at ELSE excluded.expires_at END
		RETURNING n, expires_at`)
	// incrLive is Incr's fast path for a live fixed-window counter: it assigns n only, so the
	// commit rewrites one page instead of two (assigning expires_at, even to its old value,
	// also rewrites the counters_expires index page).
	s.incrLive = prep(s.w, `UPDATE counters SET n = n + ?2 WHERE key = ?1 AND expires_at > ?3 RETURNING n, expires_at`)
	// reserve is Reserve in one statement: the upsert's WHERE leaves a counter at its limit
	// untouched (no row is returned then), so racing reservations never pass the limit.
	s.reserve = prep(s.w, `INSERT INTO counters (key, n, expires_at) VALUES (?1, 1, ?2)
		ON CONFLICT (key) DO UPDATE SET
			n = CASE WHEN counters.expires_at > ?3 THEN counters.n + 1 ELSE 1 END,
			expires_at = excluded.expires_at
		WHERE counters.expires_at <= ?3 OR counters.n < ?4
		RETURNING n, expires_at`)
	if err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	return nil
}

// migrations are applied in order, each once; the schema_version table records how many ran.
// Append new steps; never edit a released one.
var migrations = []string{
	`CREATE TABLE sessions (
		key TEXT PRIMARY KEY,
		user_id TEXT NOT NULL,
		data BLOB,
		ip TEXT NOT NULL,
		user_agent TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		last_seen INTEGER NOT NULL,
		expires_at INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX sessions_user ON sessions (user_id, last_seen) WHERE user_id <> '';
	CREATE INDEX sessions_expires ON sessions (expires_at);
	CREATE TABLE counters (key TEXT PRIMARY KEY, n INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
	CREATE INDEX counters_expires ON counters (expires_at);
	CREATE TABLE otp_steps (device TEXT PRIMARY KEY, step INTEGER NOT NULL) WITHOUT ROWID;
	CREATE TABLE users (
		id INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: an ID is never reused
		username TEXT NOT NULL,
		username_key TEXT NOT NULL UNIQUE,
		email TEXT NOT NULL,
		email_key TEXT UNIQUE, -- NULL when there is no e-mail; NULLs do not collide
		password_hash TEXT NOT NULL,
		is_active INTEGER NOT NULL,
		is_staff INTEGER NOT NULL,
		date_joined INTEGER NOT NULL,
		last_login INTEGER NOT NULL,
		totp_secret BLOB,
		totp_enabled INTEGER NOT NULL,
		device_epoch INTEGER NOT NULL
	);
	CREATE TABLE backup_codes (user_id TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (user_id, hash)) WITHOUT ROWID;
	CREATE TABLE events (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		time INTEGER NOT NULL,
		kind TEXT NOT NULL,
		user_id TEXT NOT NULL,
		username TEXT NOT NULL,
		ip TEXT NOT NULL,
		detail TEXT NOT NULL
	);`,
	`CREATE TABLE comments (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		user_id TEXT NOT NULL,
		username TEXT NOT NULL,
		body TEXT NOT NULL,
		created_at INTEGER NOT NULL
	);`,
	`CREATE TABLE passkeys (
		id BLOB PRIMARY KEY,
		user_id TEXT NOT NULL,
		name TEXT NOT NULL,
		data BLOB NOT NULL,
		sign_count INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		last_used INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX passkeys_user ON passkeys (user_id, created_at);`,
	// A user's sessions are found by user_id alone (they are few; sorting them is free): with
	// last_seen in the index, every session touch also rewrote an index page, one more page
	// in every commit.
	`DROP INDEX sessions_user;
	CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id <> '';`,
	// Ping's write probe (health.go) inserts and deletes a row here: always empty.
	`CREATE TABLE write_probe (pad BLOB NOT NULL);`,
	// Permissions and groups (perms.go). perms_version is moved forward with every change to
	// what a user holds, so a cache keyed by it is invalid on every instance at once.
	`ALTER TABLE users ADD COLUMN is_superuser INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE users ADD COLUMN perms_version INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE user_perms (user_id INTEGER NOT NULL, perm TEXT NOT NULL, PRIMARY KEY (user_id, perm)) WITHOUT ROWID;
	CREATE TABLE auth_groups (name TEXT PRIMARY KEY) WITHOUT ROWID;
	CREATE TABLE group_perms (
		group_name TEXT NOT NULL REFERENCES auth_groups (name) ON DELETE CASCADE,
		perm TEXT NOT NULL,
		PRIMARY KEY (group_name, perm)
	) WITHOUT ROWID;
	CREATE TABLE user_groups (
		user_id INTEGER NOT NULL,
		group_name TEXT NOT NULL REFERENCES auth_groups (name) ON DELETE CASCADE,
		PRIMARY KEY (user_id, group_name)
	) WITHOUT ROWID;
	CREATE INDEX user_groups_group ON user_groups (group_name);`,
}

// Migrate brings the schema up to date; it is idempotent and safe to run from several
// processes at once (the write lock serialises them). Open calls it.
//
// Processes that open a new file at the same moment (tools started beside each other, or
// `rampart migrate` beside `rampart serve`) can see SQLITE_BUSY even with a busy timeout:
// switching a new file to WAL and recovering its index are not waited for by SQLite's busy
// handler. Migration is a start-up step, so it retries such a refusal until ctx ends.
func (s *Store) Migrate(ctx context.Context) error {
	wait := 5 * time.Millisecond
	for {
		err := s.migrateOnce(ctx)
		var se interface{ Code() int }
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY && se.Code()&0xff != sqlite3.SQLITE_LOCKED {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

func (s *Store) migrateOnce(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("sqlite: database schema version %d is newer than this program knows (%d)", v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, len(migrations)); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// SchemaVersion reports how many migrations the database has run.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
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
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se interface{ Code() int }
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("%w (%v)", store.ErrConflict, err)
	}
	return fmt.Errorf("sqlite: %w", err)
}

// LoadSession implements store.Sessions. With the cache on, a cached session is answered
// from memory: every write goes to the file first and then to the cache, under smu.
func (s *Store) LoadSession(ctx context.Context, key string, now time.Time) (store.Session, error) {
	if s.cache == nil {
		ctx, cancel := common.WithTimeout(ctx, s.timeout)
		defer cancel()
		return s.loadSessionDB(ctx, key, now)
	}
	x, res, tok := s.cache.lookup(key, now)
	switch res {
	case cacheHit:
		return x, nil
	case cacheExpired:
		return store.Session{}, store.ErrNotFound
	}
	// Only now, past the cache, can the load wait (for the session lock or the file).
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.writeDelay > 0 {
		// Evicted from the cache while its update is still pending: the file is older.
		x, ok, err := s.pendingSession(ctx, key)
		if err != nil {
			return store.Session{}, err
		}
		if ok {
			if !x.ExpiresAt.After(now) {
				return store.Session{}, store.ErrNotFound
			}
			return x, nil
		}
	}
	x, err := s.loadSessionDB(ctx, key, now)
	if err == nil {
		s.cache.fill(x, tok)
	}
	return x, err
}

func (s *Store) loadSessionDB(ctx context.Context, key string, now time.Time) (store.Session, error) {
	x := store.Session{Key: key}
	var c, l, e int64
	err := s.loadSession.QueryRowContext(ctx, key, common.Micros(now)).Scan(&x.UserID, &x.Data, &x.IP, &x.UserAgent, &c, &l, &e)
	if err != nil {
		return store.Session{}, wrap(err)
	}
	x.CreatedAt, x.LastSeen, x.ExpiresAt = common.FromMicros(c), common.FromMicros(l), common.FromMicros(e)
	return x, nil
}

// SaveSession implements store.Sessions.
func (s *Store) SaveSession(ctx context.Context, x store.Session) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	delete(s.pending, x.Key) // this write replaces every field
	_, err := s.saveSession.ExecContext(ctx, x.Key, x.UserID, x.Data, x.IP, x.UserAgent,
		common.Micros(x.CreatedAt), common.Micros(x.LastSeen), common.Micros(x.ExpiresAt))
	s.cached(x, err == nil)
	return wrap(err)
}

// cached brings the cache in step with a session write: the new value when the write is known
// to have committed, otherwise nothing (a failed write may or may not have reached the file).
func (s *Store) cached(x store.Session, committed bool) {
	switch {
	case s.cache == nil:
	case committed:
		s.cache.put(x)
	default:
		s.cache.remove(x.Key)
	}
}

// UpdateSession replaces the session only if it still exists, else it returns
// store.ErrNotFound, so a request finishing after a logout cannot bring the session back
// (the session package's optional Updater).
func (s *Store) UpdateSession(ctx context.Context, x store.Session) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	delete(s.pending, x.Key) // this write replaces every field
	res, err := s.updateSession.ExecContext(ctx, x.UserID, x.Data, x.IP, x.UserAgent,
		common.Micros(x.CreatedAt), common.Micros(x.LastSeen), common.Micros(x.ExpiresAt), x.Key)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	s.cached(x, err == nil && n == 1)
	if err != nil {
		return wrap(err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, key string) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	delete(s.pending, key) // also when the delete fails: the cache entry goes too (below)
	_, err := s.deleteSession.ExecContext(ctx, key)
	if s.cache != nil {
		s.cache.remove(key) // also when the delete failed: the next load asks the file
	}
	return wrap(err)
}

// UserSessions implements store.Sessions.
func (s *Store) UserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	// The lock and the read each wait at most Options.Timeout, and neither costs a timer when
	// it need not wait (a free lock, a cached list).
	if s.writeDelay > 0 {
		// Held across the read so that no write, and no end of a background flush, comes
		// between the rows and the deferred updates laid over them.
		if err := s.lock(ctx); err != nil {
			return nil, err
		}
		defer s.smu.Unlock()
	}
	list, err := s.userSessionsDB(ctx, userID, now)
	if err != nil || s.writeDelay == 0 {
		return list, err
	}
	return s.mergePendingLocked(list, userID, now), nil
}

// userSessionsDB is the file's answer to UserSessions, from the list cache while nothing was
// committed since it was read (then only expiry can have changed it).
func (s *Store) userSessionsDB(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	us := common.Micros(now)
	live := func(list []store.Session) []store.Session { return liveSessions(list, now) }
	return readThrough(s.watch, s.lists, userID, us, live, func() ([]store.Session, error) {
		ctx, cancel := common.WithTimeout(ctx, s.timeout)
		defer cancel()
		rows, err := s.userSessions.QueryContext(ctx, userID, us)
		return scanAll(rows, err, func(rows rowScanner) (store.Session, error) {
			var x store.Session
			var c, l, e int64
			if err := rows.Scan(&x.Key, &x.UserID, &x.Data, &x.IP, &x.UserAgent, &c, &l, &e); err != nil {
				return x, wrap(err)
			}
			x.CreatedAt, x.LastSeen, x.ExpiresAt = common.FromMicros(c), common.FromMicros(l), common.FromMicros(e)
			return x, nil
		})
	})
}

// DeleteUserSessions implements store.Sessions.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptKey string) (int, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.lockWriter(ctx); err != nil {
		return 0, err
	}
	defer s.unlockWriter()
	for k, x := range s.pending {
		if userID != "" && x.UserID == userID && k != exceptKey {
			delete(s.pending, k) // its row is deleted below
		}
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND user_id <> '' AND key <> ?`, userID, exceptKey)
	if s.cache != nil && userID != "" {
		s.cache.removeIf(func(e *cacheEntry) bool { return e.s.UserID == userID && e.s.Key != exceptKey })
	}
	if err != nil {
		return 0, wrap(err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap(err)
}

// Incr implements store.Counters.
func (s *Store) Incr(ctx context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (store.Counter, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	c := store.Counter{Key: key}
	var e int64
	us := common.Micros(now)
	if !extend {
		// Each statement is atomic on its own; when the fast path finds no live counter (or a
		// racing writer expires or creates it in between) the upsert decides, as it always can.
		err := s.incrLive.QueryRowContext(ctx, key, delta, us).Scan(&c.N, &e)
		if err == nil {
			c.ExpiresAt = common.FromMicros(e)
			return c, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return store.Counter{}, wrap(err)
		}
	}
	err := s.incr.QueryRowContext(ctx, key, delta, common.Micros(now.Add(ttl)), us, extend).Scan(&c.N, &e)
	if err != nil {
		return store.Counter{}, wrap(err)
	}
	c.ExpiresAt = common.FromMicros(e)
	return c, nil
}

// Reserve implements store.Counters.
func (s *Store) Reserve(ctx context.Context, key string, limit int64, now time.Time, ttl time.Duration) (store.Counter, bool, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if limit <= 0 {
		c, err := s.GetCounter(ctx, key, now)
		return c, false, err
	}
	c := store.Counter{Key: key}
	var e int64
	err := s.reserve.QueryRowContext(ctx, key, common.Micros(now.Add(ttl)), common.Micros(now), limit).Scan(&c.N, &e)
	if errors.Is(err, sql.ErrNoRows) {
		// At the limit: nothing changed. The state is read for the caller's Retry-After.
		c, err := s.GetCounter(ctx, key, now)
		return c, false, err
	}
	if err != nil {
		return store.Counter{}, false, wrap(err)
	}
	c.ExpiresAt = common.FromMicros(e)
	return c, true, nil
}

// GetCounter implements store.Counters.
func (s *Store) GetCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	c := store.Counter{Key: key}
	var e int64
	err := s.getCounter.QueryRowContext(ctx, key, common.Micros(now)).Scan(&c.N, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return store.Counter{}, wrap(err)
	}
	c.ExpiresAt = common.FromMicros(e)
	return c, nil
}

// DeleteCounter implements store.Counters.
func (s *Store) DeleteCounter(ctx context.Context, key string) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.w.ExecContext(ctx, `DELETE FROM counters WHERE key = ?`, key)
	return wrap(err)
}

// ListCounters implements store.Counters. The prefix is compared with substr rather than
// LIKE so that '%' and '_' in it are literal.
func (s *Store) ListCounters(ctx context.Context, prefix string, min int64, now time.Time, limit int) ([]store.Counter, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	return queryAll(ctx, s.r, func(rows rowScanner) (store.Counter, error) {
		var c store.Counter
		var e int64
		if err := rows.Scan(&c.Key, &c.N, &e); err != nil {
			return c, wrap(err)
		}
		c.ExpiresAt = common.FromMicros(e)
		return c, nil
	}, `SELECT key, n, expires_at FROM counters
		WHERE key >= ?1 AND substr(key, 1, length(?1)) = ?1 AND n >= ?2 AND expires_at > ?3
		ORDER BY key LIMIT ?4`, prefix, min, common.Micros(now), limit)
}

// ClaimStep implements store.OTPSteps in one statement: the upsert changes a row only when
// the step moves forward, so of several racing claims exactly one sees a change.
func (s *Store) ClaimStep(ctx context.Context, device string, step int64) (bool, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.w.ExecContext(ctx, `INSERT INTO otp_steps (device, step) VALUES (?, ?)
		ON CONFLICT (device) DO UPDATE SET step = excluded.step WHERE excluded.step > otp_steps.step`, device, step)
	if err != nil {
		return false, wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap(err)
	}
	return n == 1, nil
}

// ResetSteps implements store.OTPSteps.
func (s *Store) ResetSteps(ctx context.Context, device string) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.w.ExecContext(ctx, `DELETE FROM otp_steps WHERE device = ?`, device)
	return wrap(err)
}

const userCols = `id, username, email, password_hash, is_active, is_staff, date_joined, last_login, totp_secret, totp_enabled, device_epoch, is_superuser, perms_version`

func scanUser(row rowScanner) (store.User, error) {
	var u store.User
	var id, dj, ll int64
	err := row.Scan(&id, &u.Username, &u.Email, &u.PasswordHash, &u.IsActive, &u.IsStaff, &dj, &ll, &u.TOTPSecret, &u.TOTPEnabled, &u.DeviceEpoch, &u.IsSuperuser, &u.PermsVersion)
	if err != nil {
		return store.User{}, wrap(err)
	}
	u.ID = strconv.FormatInt(id, 10)
	u.DateJoined, u.LastLogin = common.FromMicros(dj), common.FromMicros(ll)
	return u, nil
}

// emailKey is NULL for an empty address so that users without one never collide or match.
func emailKey(email string) any {
	if email == "" {
		return nil
	}
	return common.FoldKey(email)
}

// parseID accepts only the canonical decimal form the store hands out, so "007" or "7 " do
// not alias user 7.
func parseID(id string) (int64, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatInt(n, 10) == id
}

// CreateUser implements store.Users; the unique indexes on the folded username and e-mail
// decide conflicts, so racing creates cannot both win.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	var id int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO users (username, username_key, email, email_key, password_hash,
			is_active, is_staff, date_joined, last_login, totp_secret, totp_enabled, device_epoch, is_superuser)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		u.Username, store.UsernameKey(u.Username), u.Email, emailKey(u.Email), u.PasswordHash, u.IsActive, u.IsStaff,
		common.Micros(u.DateJoined), common.Micros(u.LastLogin), u.TOTPSecret, u.TOTPEnabled, u.DeviceEpoch, u.IsSuperuser).Scan(&id)
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
	return readThrough(s.watch, s.users, id, 0, cachedUser, func() (store.User, error) {
		ctx, cancel := common.WithTimeout(ctx, s.timeout) // only a read can wait
		defer cancel()
		return scanUser(s.userByID.QueryRowContext(ctx, n))
	})
}

// UserByUsername implements store.Users.
func (s *Store) UserByUsername(ctx context.Context, username string) (store.User, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	return scanUser(s.userByUsername.QueryRowContext(ctx, store.UsernameKey(username)))
}

// UserByEmail implements store.Users.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if email == "" {
		return store.User{}, store.ErrNotFound
	}
	return scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email_key = ?`, common.FoldKey(email)))
}

// UpdateUser implements store.Users.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	id, ok := parseID(u.ID)
	if !ok {
		return store.ErrNotFound
	}
	res, err := s.w.ExecContext(ctx, `UPDATE users SET username = ?, username_key = ?, email = ?, email_key = ?,
			password_hash = ?, is_active = ?, is_staff = ?, date_joined = ?, last_login = ?, totp_secret = ?,
			totp_enabled = ?, device_epoch = ?, is_superuser = ?
		WHERE id = ?`,
		u.Username, store.UsernameKey(u.Username), u.Email, emailKey(u.Email), u.PasswordHash, u.IsActive, u.IsStaff,
		common.Micros(u.DateJoined), common.Micros(u.LastLogin), u.TOTPSecret, u.TOTPEnabled, u.DeviceEpoch, u.IsSuperuser, id)
	if err != nil {
		return wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListUsers implements store.Users.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if limit <= 0 {
		limit = -1
	}
	return queryAll(ctx, s.r, scanUser, `SELECT `+userCols+` FROM users WHERE username_key > ? ORDER BY username_key LIMIT ?`,
		store.UsernameKey(after), limit)
}

// ReplaceBackupCodes implements store.BackupCodes in one transaction, so a half-replaced set
// is never visible.
func (s *Store) ReplaceBackupCodes(ctx context.Context, userID string, hashes []string) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM backup_codes WHERE user_id = ?`, userID); err != nil {
		return wrap(err)
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO backup_codes (user_id, hash) VALUES (?, ?)`, userID, h); err != nil {
			return wrap(err)
		}
	}
	return wrap(tx.Commit())
}

// UseBackupCode implements store.BackupCodes: the DELETE that removes the row is the check.
func (s *Store) UseBackupCode(ctx context.Context, userID, hash string) (bool, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.w.ExecContext(ctx, `DELETE FROM backup_codes WHERE user_id = ? AND hash = ?`, userID, hash)
	if err != nil {
		return false, wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap(err)
	}
	return n == 1, nil
}

// CountBackupCodes implements store.BackupCodes.
func (s *Store) CountBackupCodes(ctx context.Context, userID string) (int, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM backup_codes WHERE user_id = ?`, userID).Scan(&n)
	return n, wrap(err)
}

// AppendEvent implements store.Events.
// Like a deferred session update, an event is committed within SessionWriteDelay, batched
// (see appendEventDeferred); without deferral it is committed before AppendEvent returns.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.appendEventDeferred(ctx, e) {
		return nil
	}
	res, err := s.w.ExecContext(ctx, insertEvent, common.Micros(e.Time), e.Kind, e.UserID, e.Username, e.IP, e.Detail)
	if err != nil {
		return wrap(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return wrap(err)
	}
	return wrap(s.trimEvents(ctx, s.w, id))
}

// execer is a *sql.DB or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// trimEvents deletes the events older than the newest maxEvents once at least a hundredth
// of maxEvents (one at least) are over, given the id of the newest event written: the events
// table stays bounded between sweeps, so a burst of events between two sweeps cannot fill
// the disk, at the cost of one indexed range delete per hundredth of the cap. Ids grow with
// insertion (AUTOINCREMENT) and are never reused, so "id <= newest - maxEvents" leaves at
// most maxEvents rows.
func (s *Store) trimEvents(ctx context.Context, x execer, newest int64) error {
	upTo := newest - int64(s.maxEvents)
	step := max(int64(s.maxEvents)/100, 1)
	done := s.eventsTrimmed.Load()
	if upTo-done < step {
		return nil
	}
	if _, err := x.ExecContext(ctx, `DELETE FROM events WHERE id <= ?`, upTo); err != nil {
		return err
	}
	for done < upTo && !s.eventsTrimmed.CompareAndSwap(done, upTo) {
		done = s.eventsTrimmed.Load()
	}
	return nil
}

// TryAppendEvent implements store.EventQueue: it queues e for the next batch and reports
// true, or reports false when events are written synchronously (no batching, or the last
// flush failed).
func (s *Store) TryAppendEvent(e store.Event) bool {
	return s.appendEventDeferred(context.Background(), e)
}

const insertEvent = `INSERT INTO events (time, kind, user_id, username, ip, detail) VALUES (?, ?, ?, ?, ?, ?)`

// RecentEvents implements store.Events.
func (s *Store) RecentEvents(ctx context.Context, limit int) ([]store.Event, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if limit <= 0 {
		return nil, nil
	}
	if s.writeDelay > 0 {
		// Events still pending are written first, so the list is complete and has real IDs.
		if err := s.Flush(ctx); err != nil {
			return nil, err
		}
	}
	return queryAll(ctx, s.r, func(rows rowScanner) (store.Event, error) {
		var e store.Event
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Kind, &e.UserID, &e.Username, &e.IP, &e.Detail); err != nil {
			return e, wrap(err)
		}
		e.Time = common.FromMicros(t)
		return e, nil
	}, `SELECT id, time, kind, user_id, username, ip, detail FROM events ORDER BY id DESC LIMIT ?`, limit)
}

// AddComment implements comments.Store.
func (s commentTable) AddComment(ctx context.Context, c comments.Comment) (comments.Comment, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := s.w.QueryRowContext(ctx, `INSERT INTO comments (user_id, username, body, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		c.UserID, c.Username, c.Body, common.Micros(c.CreatedAt)).Scan(&c.ID)
	if err != nil {
		return comments.Comment{}, wrap(err)
	}
	return c, nil
}

// RecentComments implements comments.Store.
func (s commentTable) RecentComments(ctx context.Context, limit int) ([]comments.Comment, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, s.r, func(rows rowScanner) (comments.Comment, error) {
		var c comments.Comment
		var t int64
		if err := rows.Scan(&c.ID, &c.UserID, &c.Username, &c.Body, &t); err != nil {
			return c, wrap(err)
		}
		c.CreatedAt = common.FromMicros(t)
		return c, nil
	}, `SELECT id, user_id, username, body, created_at FROM comments ORDER BY id DESC LIMIT ?`, limit)
}

const passkeyCols = `id, user_id, name, data, sign_count, created_at, last_used`

func scanPasskey(row rowScanner) (store.Passkey, error) {
	var p store.Passkey
	var created, used int64
	if err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.Data, &p.SignCount, &created, &used); err != nil {
		return store.Passkey{}, wrap(err)
	}
	p.CreatedAt, p.LastUsed = common.FromMicros(created), common.FromMicros(used)
	return p, nil
}

// AddPasskey implements store.Passkeys.
func (s *Store) AddPasskey(ctx context.Context, p store.Passkey) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if p.Data == nil {
		p.Data = []byte{}
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.Name, p.Data, p.SignCount, common.Micros(p.CreatedAt), common.Micros(p.LastUsed))
	return wrap(err)
}

// UserPasskeys implements store.Passkeys.
func (s *Store) UserPasskeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	return queryAll(ctx, s.r, scanPasskey, `SELECT `+passkeyCols+` FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, userID)
}

// PasskeyByID implements store.Passkeys.
func (s *Store) PasskeyByID(ctx context.Context, id []byte) (store.Passkey, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	return scanPasskey(s.r.QueryRowContext(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE id = ?`, id))
}

// UsePasskey implements store.Passkeys: the conditional UPDATE is the check, so two logins
// racing with one counter value cannot both pass.
func (s *Store) UsePasskey(ctx context.Context, id []byte, count uint32, lastUsed time.Time) (bool, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	var n int64
	err := s.w.QueryRowContext(ctx, `UPDATE passkeys SET sign_count = ?1, last_used = ?2
		WHERE id = ?3 AND (sign_count < ?1 OR (sign_count = 0 AND ?1 = 0)) RETURNING 1`,
		count, common.Micros(lastUsed), id).Scan(&n)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, wrap(err)
	}
	if _, err := s.PasskeyByID(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// DeletePasskey implements store.Passkeys.
func (s *Store) DeletePasskey(ctx context.Context, userID string, id []byte) (bool, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.w.ExecContext(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return false, wrap(err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(err)
}

// Ping implements store.Store: it checks both pools and that a write can still be
// committed (see health.go): a full disk leaves every read working, so a ping that only
// reads would report a store that answers every write with an error as healthy.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.w.PingContext(ctx); err != nil {
		return wrap(err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return wrap(err)
	}
	return s.checkWrites(ctx)
}

// Sweep implements store.Store: it deletes sessions and counters that expired by now, and
// the oldest events and comments beyond Options.MaxEvents and MaxComments.
func (s *Store) Sweep(ctx context.Context, now time.Time) error {
	us := common.Micros(now)
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	// Pending updates may have moved expiries forward: the file must have them first.
	if err := s.flushLocked(ctx); err != nil {
		s.unlockWriter()
		return err
	}
	_, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, us)
	if s.cache != nil {
		// Loads with an earlier now than this sweep's must not find what it deleted.
		s.cache.removeIf(func(e *cacheEntry) bool { return e.expires <= us })
	}
	s.unlockWriter()
	if err != nil {
		return wrap(err)
	}
	if _, err = s.w.ExecContext(ctx, `DELETE FROM counters WHERE expires_at <= ?`, us); err != nil {
		return wrap(err)
	}
	// Keep the newest rows: AUTOINCREMENT ids grow with insertion. With fewer rows the
	// subquery is NULL and nothing is deleted.
	if _, err = s.w.ExecContext(ctx, `DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)`, s.maxEvents); err != nil {
		return wrap(err)
	}
	_, err = s.w.ExecContext(ctx, `DELETE FROM comments WHERE id <= (SELECT id FROM comments ORDER BY id DESC LIMIT 1 OFFSET ?)`, s.maxComments)
	return wrap(err)
}

// Close implements store.Store.
func (s *Store) Close() error {
	ckErr := s.stopCheckpointer()
	var flushErr error
	if s.writeDelay > 0 {
		s.flushTimer.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		s.fmu.Lock()
		s.smu.Lock()
		flushErr = s.flushLocked(ctx)
		s.closed = true
		s.unlockWriter()
		cancel()
	}
	if s.cache != nil {
		s.cache.close()
	}
	for _, st := range []*sql.Stmt{s.loadSession, s.saveSession, s.updateSession, s.deleteSession,
		s.incr, s.incrLive, s.reserve, s.getCounter, s.userByID, s.userByUsername, s.userSessions} {
		if st != nil {
			st.Close()
		}
	}
	if s.pin != nil {
		s.pin.Close()
	}
	err := errors.Join(ckErr, flushErr, s.r.Close(), s.w.Close())
	s.watch.close() // after the last connection: nothing reads a stamp once Close returns
	if s.sessionLock != nil {
		s.sessionLock.Close() // releases the flock, after the last write
	}
	return err
}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface{ Scan(...any) error }

// queryAll runs a read query and scans every row with scan: the one place that closes the
// rows and reports a scan or iteration error, for every list-returning method.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	return scanAll(rows, err, scan)
}

// scanAll is queryAll for rows already queried (from a prepared statement) with err.
func scanAll[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
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

// CommentByID implements comments.Deleter.
func (s commentTable) CommentByID(ctx context.Context, id int64) (comments.Comment, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	var c comments.Comment
	var t int64
	err := s.r.QueryRowContext(ctx, `SELECT id, user_id, username, body, created_at FROM comments WHERE id = ?`, id).
		Scan(&c.ID, &c.UserID, &c.Username, &c.Body, &t)
	if err != nil {
		return comments.Comment{}, wrap(err)
	}
	c.CreatedAt = common.FromMicros(t)
	return c, nil
}

// DeleteComment implements comments.Deleter (AUTOINCREMENT: IDs are never reused).
func (s commentTable) DeleteComment(ctx context.Context, id int64) (bool, error) {
	ctx, cancel := common.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.w.ExecContext(ctx, `DELETE FROM comments WHERE id = ?`, id)
	if err != nil {
		return false, wrap(err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(err)
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
