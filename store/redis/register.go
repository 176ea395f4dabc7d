package redis

import (
	"context"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/registry"
)

// Importing this package lets store/open (and so rampart.New and the settings'
// RAMPART_DATABASE_URL and RAMPART_REDIS_URL) open redis://, rediss:// and
// redis+sentinel:// URLs and probe their persistence.
func init() {
	registry.Register("redis", registry.Driver{
		Open: func(ctx context.Context, raw string, o registry.Options) (store.Store, error) {
			return Open(ctx, raw, Options{Timeout: o.Timeout, Observer: o.Observer})
		},
		ProbePersistence: ProbeURL,
	})
}
