package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/auth"
)

// limitRecorder stands in for debug.SetMemoryLimit in this package's tests: an in-process
// `rampart serve` must not put a soft limit on the test binary.
type limitRecorder struct {
	mu    sync.Mutex
	limit int64
	sets  int
	set0  int64 // the first limit set since reset
}

func (r *limitRecorder) set(n int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.limit
	if n >= 0 {
		if r.sets == 0 {
			r.set0 = n
		}
		r.limit = n
		r.sets++
	}
	return old
}

func (r *limitRecorder) get() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.limit
}

// first is the first limit set since reset; MaxInt64 when none was.
func (r *limitRecorder) first() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sets == 0 {
		return math.MaxInt64
	}
	return r.set0
}

// reset makes the process look as if no limit were set, and forgets earlier sets.
func (r *limitRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limit, r.sets, r.set0 = math.MaxInt64, 0, 0
}

var limits = &limitRecorder{limit: math.MaxInt64}

func TestMain(m *testing.M) {
	setMemoryLimit = limits.set
	os.Exit(m.Run())
}

// The default limit is set from the hashing memory when neither GOMEMLIMIT nor an earlier
// limit says otherwise, and is left alone when either does.
func TestApplyMemoryLimit(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		name      string
		gomem     string
		preset    int64 // the process's limit before; MaxInt64: none
		hashMiB   int
		want      int64 // the limit after
		wantInLog string
	}{
		{"unset: 2 × hashing + base", "", math.MaxInt64, 38, (2*38 + memLimitBaseMiB) << 20, "soft memory limit 84 MiB = 2 × 38 MiB of password hashing in flight + 8"},
		{"unset, 4 slots", "", math.MaxInt64, 76, (2*76 + memLimitBaseMiB) << 20, "limit 160 MiB"},
		{"GOMEMLIMIT set", "200MiB", math.MaxInt64, 38, math.MaxInt64, "GOMEMLIMIT=200MiB (from the environment)"},
		{"GOMEMLIMIT=off", "off", math.MaxInt64, 38, math.MaxInt64, "GOMEMLIMIT=off"},
		{"set in the process", "", 300 << 20, 38, 300 << 20, "memory limit 300 MiB (already set in the process)"},
	} {
		r := &limitRecorder{limit: c.preset}
		msg, lim := applyMemoryLimit(env(c.gomem), c.hashMiB, r.set)
		if lim != nil {
			lim.stop()
		}
		if (lim != nil) != (c.want != c.preset) {
			t.Errorf("%s: limiter %v", c.name, lim)
		}
		if got := r.get(); got != c.want {
			t.Errorf("%s: limit %d MiB, want %d MiB", c.name, got>>20, c.want>>20)
		}
		if r.sets > 1 {
			t.Errorf("%s: set %d times", c.name, r.sets)
		}
		if !strings.Contains(msg, c.wantInLog) {
			t.Errorf("%s: log %q, want it to contain %q", c.name, msg, c.wantInLog)
		}
	}
}

// The real runtime setter: applyMemoryLimit sets debug.SetMemoryLimit itself when the process
// has no limit; the test clears the process's limit first and puts it back after.
func TestApplyMemoryLimitRuntime(t *testing.T) {
	prev := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	_, lim := applyMemoryLimit(func(string) string { return "" }, 38, debug.SetMemoryLimit)
	lim.stop()
	if got, want := debug.SetMemoryLimit(-1), limitFor(38, 0, 0, 0); got != want {
		t.Errorf("runtime limit %d, want %d", got, want)
	}
}

// `rampart serve` sets the limit from its own Hasher (the zero value: GOMAXPROCS slots at the
// default cost) and says so at start-up; with GOMEMLIMIT in its environment it sets none.
func TestServeMemoryLimit(t *testing.T) {
	want := limitFor((&auth.Hasher{}).MemoryInFlightMiB(), 0, 0, 0)
	for _, c := range []struct {
		gomem string
		want  int64
	}{{"", want}, {"off", math.MaxInt64}} {
		t.Run("GOMEMLIMIT="+c.gomem, func(t *testing.T) {
			newUserDir(t)
			t.Setenv("RAMPART_INSECURE_DEV", "1")
			t.Setenv("RAMPART_ADDR", "127.0.0.1:0")
			t.Setenv("GOMEMLIMIT", c.gomem)
			limits.reset()
			startServe(t)
			if got := limits.first(); got != c.want {
				t.Errorf("serve set %d MiB first, want %d MiB", got>>20, c.want>>20)
			}
		})
	}
}

// The limit is twice the hashing memory in flight plus GOGC=100's goal for the rest of the
// live heap, at least the base: it always leaves a round of hashes of headroom above the live
// heap (so the collector never runs back to back), and does not count the blocks twice.
func TestLimitFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name                  string
		live, stacks, globals uint64
		want                  int64
	}{
		{"no collection yet", 0, 0, 0, (76 + 8) * mib},
		{"idle app, no blocks", 4 * mib, 64 << 10, 1 * mib, (76 + 8) * mib},
		{"login burst: 2 blocks + 1 MiB live", 39 * mib, 1 * mib, 1 * mib, (76 + 8) * mib},
		{"app heap past the base", 38*mib + 20*mib, 1 * mib, 1 * mib, (76 + 42) * mib},
		{"10,000 held connections", 38*mib + 200*mib, 80 * mib, 1 * mib, (76 + 481) * mib},
	} {
		got := limitFor(38, c.live, c.stacks, c.globals)
		if got != c.want {
			t.Errorf("%s: %d MiB, want %d MiB", c.name, got/mib, c.want/mib)
		}
		// Whatever is live, a whole round of hashes fits above it.
		if got < int64(c.live)+38*mib {
			t.Errorf("%s: limit %d MiB leaves less than 38 MiB above %d MiB live", c.name, got/mib, c.live/mib)
		}
	}
}

// The limiter recomputes the limit after a collection, from what it found live, and sets
// nothing once stopped.
func TestMemLimiterAfterGC(t *testing.T) {
	const mib = 1 << 20
	r := &limitRecorder{limit: math.MaxInt64}
	live := make(chan uint64, 1)
	live <- 300 * mib
	m := &memLimiter{hashMiB: 38, set: r.set, stats: func() (uint64, uint64, uint64) {
		select {
		case v := <-live:
			return v, 0, 0
		default:
			return 0, 0, 0
		}
	}}
	adjusted := make(chan struct{}, 1)
	afterEachGC(func() bool {
		ok := m.adjust()
		select {
		case adjusted <- struct{}{}:
		default:
		}
		return ok
	})
	// The cleanup runs after the collection that frees the sentinel; a collection may also
	// finish before the sentinel was swept, so collect until the limiter has run.
	deadline := time.After(safety)
	for done := false; !done; {
		runtime.GC()
		select {
		case <-adjusted:
			done = true
		case <-deadline:
			t.Fatal("no adjustment after collections")
		default:
		}
	}
	if got := r.first(); got != (76+2*262)*mib {
		t.Errorf("first limit %d MiB, want 600 (2 × 38 + 2 × (300 − 38) MiB)", got/mib)
	}
	m.stop()
	r.reset()
	if m.adjust() {
		t.Error("adjust after stop reported true")
	}
	if r.first() != math.MaxInt64 {
		t.Errorf("a stopped limiter set %d MiB", r.first()/mib)
	}
}

// The limiter reads the smallest live heap of the last few collections: the extra argon2
// blocks one collection of a burst counts (allocated while it marked) do not raise the limit,
// and a heap that stays large raises it within the window.
func TestMemLimiterWindow(t *testing.T) {
	const mib = 1 << 20
	var live uint64
	r := &limitRecorder{limit: math.MaxInt64}
	m := &memLimiter{hashMiB: 38, set: r.set, stats: func() (uint64, uint64, uint64) { return live, 0, 0 }}
	for i, c := range []struct {
		liveMiB uint64
		want    int64 // MiB
	}{
		{39, 84}, {58, 84}, {77, 84}, {39, 84}, // a burst: 2, 3, 4, 2 blocks live
		{300, 84}, {300, 84}, {300, 84}, // a heap that grows: not yet the smallest of 4
		{300, 76 + 2*262}, // now it is
		{39, 84},          // and a small one counts at once
	} {
		live = c.liveMiB * mib
		m.adjust()
		if got := r.limit / mib; got != c.want {
			t.Errorf("collection %d (%d MiB live): limit %d MiB, want %d", i, c.liveMiB, got, c.want)
		}
	}
}
