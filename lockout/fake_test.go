package lockout

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store"
)

// fakeCounters is a minimal store.Counters following the contract in store/store.go, used
// until (and alongside) store/memory, plus an injectable outage.
type fakeCounters struct {
	mu   sync.Mutex
	m    map[string]store.Counter
	fail error
}

func newFake() *fakeCounters { return &fakeCounters{m: map[string]store.Counter{}} }

var errOutage = errors.New("fake: connection refused")

func (f *fakeCounters) Incr(_ context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (store.Counter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.Counter{}, f.fail
	}
	c, ok := f.m[key]
	if !ok || !c.ExpiresAt.After(now) {
		c = store.Counter{Key: key, ExpiresAt: now.Add(ttl)}
	} else if extend {
		c.ExpiresAt = now.Add(ttl)
	}
	c.N += delta
	f.m[key] = c
	return c, nil
}

func (f *fakeCounters) GetCounter(_ context.Context, key string, now time.Time) (store.Counter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.Counter{}, f.fail
	}
	c, ok := f.m[key]
	if !ok || !c.ExpiresAt.After(now) {
		return store.Counter{Key: key}, nil
	}
	return c, nil
}

func (f *fakeCounters) DeleteCounter(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	delete(f.m, key)
	return nil
}

func (f *fakeCounters) ListCounters(_ context.Context, prefix string, min int64, now time.Time, limit int) ([]store.Counter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.Counter
	for k, c := range f.m {
		if strings.HasPrefix(k, prefix) && c.N >= min && c.ExpiresAt.After(now) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
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
