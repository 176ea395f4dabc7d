package lockout

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

// fakeCounters is store/memory with an injectable outage.
type fakeCounters struct {
	c    store.Counters
	mu   sync.Mutex
	fail error
}

func newFake() *fakeCounters { return &fakeCounters{c: memory.New()} }

var errOutage = errors.New("fake: connection refused")

func (f *fakeCounters) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail
}

func (f *fakeCounters) Incr(ctx context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (store.Counter, error) {
	if err := f.err(); err != nil {
		return store.Counter{}, err
	}
	return f.c.Incr(ctx, key, delta, now, ttl, extend)
}

func (f *fakeCounters) GetCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	if err := f.err(); err != nil {
		return store.Counter{}, err
	}
	return f.c.GetCounter(ctx, key, now)
}

func (f *fakeCounters) DeleteCounter(ctx context.Context, key string) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.c.DeleteCounter(ctx, key)
}

func (f *fakeCounters) ListCounters(ctx context.Context, prefix string, min int64, now time.Time, limit int) ([]store.Counter, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.c.ListCounters(ctx, prefix, min, now, limit)
}

func (f *fakeCounters) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

// clock is an injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
