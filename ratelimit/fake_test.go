package ratelimit

import (
	"sync"
	"time"

	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/storetest"
)

// newFake is store/memory with an injectable outage (Down/Up).
func newFake() *storetest.Flaky { return storetest.NewFlaky(memory.New()) }

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
