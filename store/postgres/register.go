package postgres

import (
	"context"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/registry"
)

// Importing this package lets store/open (and so rampart.New and the settings'
// RAMPART_DATABASE_URL) open postgres:// and postgresql:// URLs.
func init() {
	registry.Register("postgres", registry.Driver{
		Open: func(ctx context.Context, raw string, o registry.Options) (store.Store, error) {
			return Open(ctx, raw, Options{Timeout: o.Timeout, Observer: o.Observer})
		},
		Migrate: func(ctx context.Context, raw string, _ registry.Options) error {
			s, err := Open(ctx, raw, Options{NoMigrate: true})
			if err != nil {
				return err
			}
			defer s.Close()
			return s.Migrate(ctx)
		},
	})
}
