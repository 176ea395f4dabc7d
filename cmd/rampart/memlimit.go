package main

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The reference app's default soft memory limit (issue 18 item 4).
//
// Why the command sets one: a login hashes with argon2id at 19 MiB, and
// golang.org/x/crypto/argon2 allocates those 19 MiB afresh in every call (it has no way to
// pass a buffer), so a login burst turns over MaxConcurrent × 19 MiB of heap per round of
// hashes. With only GOGC, the heap goal is twice the live heap at the last collection, and the
// blocks in flight are part of it: the heap swells to about twice (app + blocks in flight)
// and the scavenger returns the freed pages slowly, so a burst of correct logins peaked at
// 146–149 MiB of RSS on 2 cores, although no more than 38 MiB of hashing memory is ever live.
// A soft limit makes the runtime collect and return pages before the heap passes it.
//
// Why here and not in package auth: the limit is process-wide (it bounds everything the
// process allocates, not only hashing) and only the application knows what else it holds, so
// a library must not set it; `rampart serve` is an application whose heap is known and small.
//
// Why not in the hashing pool (auth): it already bounds the blocks in flight; what swells is
// the dead ones, which only the collector frees, and a library must not force collections
// either. Nor would it help: tried (runtime.GC in the background after every hash, coalesced),
// the peak stayed at 145 MiB, since the next 19 MiB block rarely fits the hole the freed one
// left and the runtime keeps that hole resident until something makes it return it.
//
// Why a soft limit and not a lower GOGC: GOGC applies at every heap size, so it would make
// the page and POST paths collect more often too; the limit only acts when the heap nears it,
// which only the hashing burst does.

// memLimitBaseMiB is the least the limit leaves for everything but password hashing: the
// reference app's own live heap (about 1 MiB between requests), goroutine stacks and the
// runtime's metadata. Above it, the app's heap gets GOGC's share (limitFor). The limit counts
// only the Go runtime's memory: the process's RSS is about 23 MiB more (the binary's text and
// the SQLite driver's allocations), so 84 MiB of limit peaked at 109–124 MiB of RSS in
// bench/app.sh's login scenario (docs/ACCOUNTS-BENCH.md §4).
const memLimitBaseMiB = 8

// limitFor is the soft limit, in bytes, for a process whose password hashing holds inFlightMiB
// at once (auth.Hasher.MemoryInFlightMiB), after a collection that found live bytes live (and
// stacks and globals to scan). Two parts:
//
//   - hashing: twice the blocks in flight — the live ones, and as much again as headroom, so
//     that a whole round of MaxConcurrent hashes can allocate between two collections;
//   - the rest of the live heap: GOGC=100's goal for it (twice it, plus stacks and globals),
//     or the base when that is more.
//
// So on 2 cores at the default cost the limit is 2 × 38 + 8 = 84 MiB while the app's own heap
// is small. GOGC alone counts the blocks in flight twice (as live heap and as headroom) and
// lets the heap swell to twice (app + blocks) and more; a tighter limit than one round of
// headroom makes the runtime return and fault back the same pages at every hash (measured: 73
// MiB cost 63 ms of CPU per login against 35–38 with none or 84; even 84 costs some, see
// docs/ACCOUNTS-BENCH.md §4, the price of the bound). A fixed limit would make the
// collector run back to back (the runtime caps it at half the CPU) once the live heap nears it
// — a slow-client flood holding 10,000 connections has about 200 MiB live (docs/SCALING.md) —
// so the second part follows the live heap: the limit always leaves at least one round of
// hashes above it, and a large heap GOGC's headroom, as without a limit. The blocks are
// assumed live at the collection (they are during a login burst); if they were not, the next
// collection during a burst, which comes soon, corrects the limit upwards.
func limitFor(inFlightMiB int, live, stacks, globals uint64) int64 {
	const mib = 1 << 20
	inFlight := int64(inFlightMiB) * mib
	rest := max(int64(live)-inFlight, 0)
	return 2*inFlight + max(memLimitBaseMiB*mib, 2*rest+int64(stacks+globals))
}

// gcStats reads what the last collection found live, for limitFor.
func gcStats() (live, stacks, globals uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return v(0), v(1), v(2)
}

// memLimiter sets the soft limit to limitFor after every collection until stopped, from the
// smallest live heap of the last liveWindow collections. Why the smallest: a collection's live
// heap also counts what was allocated while it marked, so under load, when marking takes long,
// one collection of a login burst may find three or four argon2 blocks live instead of the two
// in flight; read as the app's own heap, they would raise the limit by twice their size. The
// app's heap does not come and go between consecutive collections like that, and when it grows
// (a flood), collections come closer together, so the window catches up within milliseconds.
type memLimiter struct {
	hashMiB int
	set     func(int64) int64
	stats   func() (live, stacks, globals uint64)

	mu      sync.Mutex
	stopped bool
	lives   [liveWindow]uint64 // the last collections' live heaps, oldest overwritten
	n       int                // collections seen
}

// liveWindow is how many collections' live heaps memLimiter takes the smallest of.
const liveWindow = 4

// adjust sets the limit for the last collection; false once stopped.
func (m *memLimiter) adjust() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return false
	}
	live, stacks, globals := m.stats()
	m.lives[m.n%liveWindow] = live
	m.n++
	least := live
	for _, l := range m.lives[:min(m.n, liveWindow)] {
		least = min(least, l)
	}
	m.set(limitFor(m.hashMiB, least, stacks, globals))
	return true
}

// stop ends the adjustments; once it returns, the limiter sets nothing more.
func (m *memLimiter) stop() {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
}

// gcSentinel is an object whose only use is to be collected. It holds a pointer so that it
// is not a tiny allocation, whose cleanup might never run.
type gcSentinel struct{ _ *byte }

// afterEachGC calls f after each garbage collection for as long as f returns true: a sentinel
// becomes unreachable at once, so the next collection frees it and runs its cleanup, which
// arms the next one. No timer: the limit is recomputed exactly as often as the live heap is.
func afterEachGC(f func() bool) {
	runtime.AddCleanup(&gcSentinel{}, func(struct{}) {
		if f() {
			afterEachGC(f)
		}
	}, struct{}{})
}

// applyMemoryLimit sets the default soft memory limit unless the operator chose one:
// GOMEMLIMIT in the environment (any value; GOMEMLIMIT=off turns the limit off) or a limit
// already set in the process. set is debug.SetMemoryLimit (a parameter so that the tests of
// `rampart serve` running in-process do not limit the test binary). It returns a line for the
// start-up log saying which limit is in force and why, and the limiter that recomputes it after
// each collection (nil when the limit is the operator's; stop it when serving ends).
func applyMemoryLimit(getenv func(string) string, hashMiB int, set func(int64) int64) (string, *memLimiter) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		return fmt.Sprintf("memory limit GOMEMLIMIT=%s (from the environment)", v), nil
	}
	if cur := set(-1); cur != math.MaxInt64 {
		return fmt.Sprintf("memory limit %d MiB (already set in the process)", cur>>20), nil
	}
	m := &memLimiter{hashMiB: hashMiB, set: set, stats: gcStats}
	start := limitFor(hashMiB, 0, 0, 0)
	set(start)
	afterEachGC(m.adjust)
	return fmt.Sprintf("soft memory limit %d MiB = 2 × %d MiB of password hashing in flight + %d, more as the live heap grows (GOMEMLIMIT overrides; GOMEMLIMIT=off for none)",
		start>>20, hashMiB, memLimitBaseMiB), m
}

// setMemoryLimit is what serve sets the limit with; the package's tests replace it (TestMain).
var setMemoryLimit = debug.SetMemoryLimit
