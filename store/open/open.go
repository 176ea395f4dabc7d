// Package open turns the two URLs of rampart's settings (RAMPART_DATABASE_URL and the optional
// RAMPART_REDIS_URL) into one store.Store.
//
// The database URL picks the main backend: postgres:// or postgresql:// for PostgreSQL,
// sqlite:PATH, sqlite://PATH, sqlite:///ABS/PATH, file:PATH or a plain file path for SQLite,
// sqlite::memory: for the in-process memory store (state lost on restart), redis://,
// rediss:// or redis+sentinel:// (the master of a Sentinel group) to keep everything in Redis.
// A SQLite URL takes two options in its query: session_cache=off (when several processes write sessions to one file; see
// sqlite.Options.NoSessionCache) and session_write_delay=DURATION (how long a session update
// that changes no credential may wait to be committed, batched; 0 commits each one before it
// returns; default sqlite.DefaultSessionWriteDelay). When a Redis URL is given as well, sessions and counters (hot,
// short-lived, shared by every instance) go to Redis and the durable state (users, backup
// codes, TOTP steps, audit events) stays in the database; SplitStore.DurableCounters offers
// the database's counters for those that must survive a Redis restart (lockout, 2FA
// throttle). CheckRedisPersistence tells whether each Redis named keeps its data.
//
// This package links no backend: store/sqlite, store/postgres and store/redis register
// themselves when imported (store/all imports the three), so that a program links only the
// drivers it uses. A URL whose backend is not imported fails with ErrNotLinked, naming the
// import to add; sqlite::memory: needs none.
package open

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
	"github.com/rampart-go/rampart/store/internal/registry"
	"github.com/rampart-go/rampart/store/memory"
)

// kind classifies a database URL with the settings' parser (so that what `rampart check`
// and the settings accept is what opens): "memory" for sqlite::memory:, else the driver's
// name, with the parsed URL.
func kind(databaseURL string) (k string, d settings.Database, err error) {
	d, err = settings.ParseDatabaseURL(databaseURL)
	if err != nil {
		return "", settings.Database{}, fmt.Errorf("store: database URL: %w", err)
	}
	if d.Driver == "sqlite" && d.DSN == ":memory:" {
		return "memory", d, nil
	}
	return d.Driver, d, nil
}

// backends names each driver and the package that registers it, for the error that says
// which import is missing.
var backends = map[string]struct{ scheme, name, pkg string }{
	"sqlite":   {"sqlite:", "SQLite", "github.com/rampart-go/rampart/store/sqlite"},
	"postgres": {"postgres://", "PostgreSQL", "github.com/rampart-go/rampart/store/postgres"},
	"redis":    {"redis://", "Redis", "github.com/rampart-go/rampart/store/redis"},
}

// ErrNotLinked is returned (wrapped, with the import to add) when a URL names a backend whose
// package the program does not import.
var ErrNotLinked = errors.New("backend not linked")

// driver returns the registered driver for kind k, or an error naming the import that
// registers it. The scheme given is what the URL starts with, never the URL, which may hold
// a password.
func driver(k string) (registry.Driver, error) {
	if d, ok := registry.Lookup(k); ok {
		return d, nil
	}
	b, ok := backends[k]
	if !ok {
		return registry.Driver{}, fmt.Errorf("store: no backend for driver %q", k)
	}
	return registry.Driver{}, fmt.Errorf("store: a %s URL needs the %s backend, which this program does not link (%w): "+
		"add import _ %q (or _ \"github.com/rampart-go/rampart/store/all\" for every backend)", b.scheme, b.name, ErrNotLinked, b.pkg)
}

// Options tune OpenWith. The zero value is what Open uses.
type Options struct {
	// ServesNoSessions opens the stores for a process that serves no sessions: a command-line
	// tool running beside the server (createuser, unlock). SQLite's session cache is left off,
	// and with it the lock that lets only one process cache a file's sessions.
	ServesNoSessions bool
	// Logger receives the SQLite store's background write failures (default slog.Default()).
	Logger *slog.Logger
	// Timeout bounds each store operation when the caller's context allows more (every
	// backend's Options.Timeout; 0 means store.DefaultTimeout, negative means none).
	Timeout time.Duration
	// Observer, when set, is told of every operation the PostgreSQL and Redis backends make
	// (package metrics: store latency and errors). SQLite and memory stores report nothing.
	Observer store.Observer
}

func (o Options) driverOptions(d settings.Database) registry.Options {
	return registry.Options{Database: d, ServesNoSessions: o.ServesNoSessions, Logger: o.Logger, Timeout: o.Timeout, Observer: o.Observer}
}

func openMain(ctx context.Context, databaseURL string, o Options) (store.Store, error) {
	k, d, err := kind(databaseURL)
	if err != nil {
		return nil, err
	}
	if k == "memory" {
		return memory.New(), nil
	}
	drv, err := driver(k)
	if err != nil {
		return nil, err
	}
	return drv.Open(ctx, strings.TrimSpace(databaseURL), o.driverOptions(d))
}

// Open returns the store for databaseURL, with sessions and counters in Redis when redisURL is
// not empty. SQL schemas are migrated on open. The backends a URL names must be linked: the
// program imports store/sqlite, store/postgres or store/redis (or store/all), and a URL whose
// backend is missing fails with ErrNotLinked, naming the import.
func Open(ctx context.Context, databaseURL, redisURL string) (store.Store, error) {
	return OpenWith(ctx, databaseURL, redisURL, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, databaseURL, redisURL string, o Options) (store.Store, error) {
	var fast registry.Driver
	if strings.TrimSpace(redisURL) != "" {
		var err error
		if fast, err = driver("redis"); err != nil { // before opening (and migrating) the database
			return nil, err
		}
	}
	main, err := openMain(ctx, databaseURL, o)
	if err != nil {
		return nil, err
	}
	if fast.Open == nil {
		return main, nil
	}
	r, err := fast.Open(ctx, strings.TrimSpace(redisURL), o.driverOptions(settings.Database{Driver: "redis", DSN: strings.TrimSpace(redisURL)}))
	if err != nil {
		main.Close()
		return nil, err
	}
	return Split(r, main), nil
}

// Migrate brings the schema of the SQL database at databaseURL up to date (for
// `rampart migrate`); Redis needs no migration.
func Migrate(ctx context.Context, databaseURL string) error {
	k, d, err := kind(databaseURL)
	if err != nil || k == "memory" {
		return err
	}
	drv, err := driver(k)
	if err != nil {
		return err
	}
	if drv.Migrate == nil {
		return nil
	}
	return drv.Migrate(ctx, strings.TrimSpace(databaseURL), Options{}.driverOptions(d))
}

// SplitStore serves sessions and counters from Fast and everything else from Durable.
type SplitStore struct {
	store.Sessions
	store.Counters
	store.OTPSteps
	store.Users
	store.BackupCodes
	store.Events
	Fast, Durable store.Store
}

var _ store.Store = (*SplitStore)(nil)

// Split combines two stores: sessions and counters from fast, the rest from durable.
func Split(fast, durable store.Store) *SplitStore {
	return &SplitStore{
		Sessions: fast, Counters: fast,
		OTPSteps: durable, Users: durable, BackupCodes: durable, Events: durable,
		Fast: fast, Durable: durable,
	}
}

// UpdateSession forwards to the fast store's UpdateSession when it has one (every backend in
// this module does), else it falls back to SaveSession.
func (s *SplitStore) UpdateSession(ctx context.Context, x store.Session) error {
	if u, ok := s.Fast.(interface {
		UpdateSession(context.Context, store.Session) error
	}); ok {
		return u.UpdateSession(ctx, x)
	}
	return s.Fast.SaveSession(ctx, x)
}

// The reference app's comments live in the durable store: internal/comments finds them
// behind a SplitStore through this finder, so SplitStore itself has no comment methods.
func init() {
	comments.Register(func(st any) (comments.Store, bool) {
		if s, ok := st.(*SplitStore); ok && s != nil {
			return comments.For(s.Durable)
		}
		return nil, false
	})
}

// errNoPasskeys is returned when the durable store keeps no passkeys (every backend in this
// module does).
var errNoPasskeys = errors.New("store: durable backend has no passkeys table")

var _ store.Passkeys = (*SplitStore)(nil)

// passkeys returns the durable store's passkeys: credentials are durable state, like users.
func (s *SplitStore) passkeys() (store.Passkeys, error) {
	if ps, ok := s.Durable.(store.Passkeys); ok {
		return ps, nil
	}
	return nil, errNoPasskeys
}

// AddPasskey forwards to the durable store.
func (s *SplitStore) AddPasskey(ctx context.Context, p store.Passkey) error {
	ps, err := s.passkeys()
	if err != nil {
		return err
	}
	return ps.AddPasskey(ctx, p)
}

// UserPasskeys forwards to the durable store.
func (s *SplitStore) UserPasskeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	ps, err := s.passkeys()
	if err != nil {
		return nil, err
	}
	return ps.UserPasskeys(ctx, userID)
}

// PasskeyByID forwards to the durable store.
func (s *SplitStore) PasskeyByID(ctx context.Context, id []byte) (store.Passkey, error) {
	ps, err := s.passkeys()
	if err != nil {
		return store.Passkey{}, err
	}
	return ps.PasskeyByID(ctx, id)
}

// UsePasskey forwards to the durable store.
func (s *SplitStore) UsePasskey(ctx context.Context, id []byte, count uint32, lastUsed time.Time) (bool, error) {
	ps, err := s.passkeys()
	if err != nil {
		return false, err
	}
	return ps.UsePasskey(ctx, id, count, lastUsed)
}

// DeletePasskey forwards to the durable store.
func (s *SplitStore) DeletePasskey(ctx context.Context, userID string, id []byte) (bool, error) {
	ps, err := s.passkeys()
	if err != nil {
		return false, err
	}
	return ps.DeletePasskey(ctx, userID, id)
}

// DurableCounters returns the durable store's counters. The split serves counters from Fast
// (Redis), where a restart of a Redis without persistence empties them; counters whose loss
// unlocks accounts (lockout failures, the 2FA throttle) belong here instead, and rampart.New
// puts them here. Rate limits may stay in Fast: losing them only resets a window.
func (s *SplitStore) DurableCounters() store.Counters { return s.Durable }

// Ping reports an error when either backend does not answer.
func (s *SplitStore) Ping(ctx context.Context) error {
	return errors.Join(s.Fast.Ping(ctx), s.Durable.Ping(ctx))
}

// Sweep sweeps both backends.
func (s *SplitStore) Sweep(ctx context.Context, now time.Time) error {
	return errors.Join(s.Fast.Sweep(ctx, now), s.Durable.Sweep(ctx, now))
}

// Close closes both backends.
func (s *SplitStore) Close() error { return errors.Join(s.Fast.Close(), s.Durable.Close()) }

// SweepEvery calls s.Sweep with the wall clock every interval (0 means 10 minutes) until ctx is
// done, reporting failures to onErr (which may be nil). SQL backends keep expired sessions and
// counters until swept, so an application runs this in a goroutine; on Redis it only prunes
// the counter index.
func SweepEvery(ctx context.Context, s store.Store, every time.Duration, onErr func(error)) {
	common.SweepLoop(ctx, every, time.Now, s.Sweep, onErr)
}
