package lockout

import (
	"time"

	"github.com/rampart-go/rampart/internal/testclock"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/storetest"
)

// newFake is store/memory with an injectable outage (Down/Up).
func newFake() *storetest.Flaky { return storetest.NewFlaky(memory.New()) }

// newClock is an injected clock stopped at a fixed date.
func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }
