// Package registry is where the store backends (store/sqlite, store/postgres, store/redis)
// register how to open themselves from a URL, in their init functions, so that store/open
// and the root package can open a configured URL without importing, and so linking, every
// backend: an application links only the backends it imports, as with database/sql drivers.
// It is internal so that the set of backends and what a URL means stay rampart's own.
package registry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/redisinfo"
)

// Options are what store/open passes a driver: its own options and the parsed URL.
type Options struct {
	// Database is the URL as the settings parsed it (for SQLite: the file and its options).
	Database settings.Database
	// ServesNoSessions, Logger, Timeout and Observer are store/open's Options.
	ServesNoSessions bool
	Logger           *slog.Logger
	Timeout          time.Duration
	Observer         store.Observer
}

// Driver opens one backend, named by settings.Database.Driver.
type Driver struct {
	// Open opens the store at raw (the URL, trimmed), migrating an SQL schema.
	Open func(ctx context.Context, raw string, o Options) (store.Store, error)
	// Migrate brings the schema at raw up to date; nil when there is none (Redis).
	Migrate func(ctx context.Context, raw string, o Options) error
	// ProbePersistence tells how the server at raw persists (Redis only), with each step
	// bounded by timeout.
	ProbePersistence func(ctx context.Context, raw string, timeout time.Duration) (redisinfo.Persistence, error)
}

var (
	mu      sync.RWMutex
	drivers = map[string]Driver{}
)

// Register makes d the driver for name. It panics when name is registered twice, which only
// two copies of one backend could do.
func Register(name string, d Driver) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := drivers[name]; dup {
		panic("store: driver " + name + " registered twice")
	}
	drivers[name] = d
}

// Lookup returns the driver registered for name.
func Lookup(name string) (Driver, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := drivers[name]
	return d, ok
}
