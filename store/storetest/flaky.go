package storetest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store"
)

// ErrOutage is what a Flaky store returns while it is down.
var ErrOutage = errors.New("storetest: connection refused")

// Flaky wraps store.Counters with an outage a unit test switches on and off, so the
// consumers of counters (lockout, rate limits) can check that they fail closed without a
// networked backend; Proxy does the same for a real server.
type Flaky struct {
	c store.Counters

	mu   sync.Mutex
	down bool
}

// NewFlaky wraps c (typically a memory store); it starts up.
func NewFlaky(c store.Counters) *Flaky { return &Flaky{c: c} }

// Down makes every call fail with ErrOutage until Up.
func (f *Flaky) Down() { f.set(true) }

// Up passes calls through to the wrapped counters again.
func (f *Flaky) Up() { f.set(false) }

func (f *Flaky) set(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *Flaky) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return ErrOutage
	}
	return nil
}

// Incr implements store.Counters.
func (f *Flaky) Incr(ctx context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (store.Counter, error) {
	if err := f.err(); err != nil {
		return store.Counter{}, err
	}
	return f.c.Incr(ctx, key, delta, now, ttl, extend)
}

// Reserve implements store.Counters.
func (f *Flaky) Reserve(ctx context.Context, key string, limit int64, now time.Time, ttl time.Duration) (store.Counter, bool, error) {
	if err := f.err(); err != nil {
		return store.Counter{}, false, err
	}
	return f.c.Reserve(ctx, key, limit, now, ttl)
}

// GetCounter implements store.Counters.
func (f *Flaky) GetCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	if err := f.err(); err != nil {
		return store.Counter{}, err
	}
	return f.c.GetCounter(ctx, key, now)
}

// DeleteCounter implements store.Counters.
func (f *Flaky) DeleteCounter(ctx context.Context, key string) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.c.DeleteCounter(ctx, key)
}

// ListCounters implements store.Counters.
func (f *Flaky) ListCounters(ctx context.Context, prefix string, min int64, now time.Time, limit int) ([]store.Counter, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.c.ListCounters(ctx, prefix, min, now, limit)
}

var _ store.Counters = (*Flaky)(nil)
