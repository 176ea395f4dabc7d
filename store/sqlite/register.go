package sqlite

import (
	"context"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/registry"
)

// Importing this package lets store/open (and so rampart.New and the settings'
// RAMPART_DATABASE_URL) open sqlite:, file: and plain-path URLs.
func init() {
	registry.Register("sqlite", registry.Driver{
		Open: func(_ context.Context, _ string, o registry.Options) (store.Store, error) {
			return OpenWith(o.Database.DSN, urlOptions(o))
		},
		Migrate: func(_ context.Context, _ string, o registry.Options) error {
			opts := urlOptions(o)
			opts.NoSessionCache = true               // migrating serves no sessions: beside a running server
			s, err := OpenWith(o.Database.DSN, opts) // opening migrates
			if err != nil {
				return err
			}
			return s.Close()
		},
	})
}

// urlOptions are the options a database URL and store/open's options give.
func urlOptions(o registry.Options) Options {
	return Options{
		NoSessionCache:    o.Database.SQLiteNoSessionCache || o.ServesNoSessions,
		SessionWriteDelay: o.Database.SQLiteWriteDelay,
		SyncSessionWrites: o.Database.SQLiteSyncWrites,
		Logger:            o.Logger,
		Timeout:           o.Timeout,
	}
}
