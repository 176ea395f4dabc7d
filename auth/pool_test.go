package auth

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// queueUp starts one acquirer per weight, each joining only after the previous one has
// queued, and returns the order in which they are admitted (their indices).
func queueUp(t *testing.T, p *pool, weights ...int) (admitted chan int) {
	t.Helper()
	admitted = make(chan int, len(weights))
	for i, w := range weights {
		go func() {
			if err := p.acquire(context.Background(), w); err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			admitted <- i
		}()
		synctest.Wait() // waiter i is now queued behind waiters 0..i-1
		if n := p.queued(); n != i+1 {
			t.Fatalf("after waiter %d: %d queued", i, n)
		}
	}
	return admitted
}

// The queue admits in arrival order, one freed slot at a time, and a newcomer arriving as a
// slot frees up does not overtake those already waiting.
func TestPoolFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(1, 64, -1)
		if err := p.acquire(ctx, 1); err != nil {
			t.Fatal(err)
		}
		const n = 6
		admitted := queueUp(t, p, 1, 1, 1, 1, 1, 1)
		late := make(chan struct{})
		for want := range n {
			start := time.Now()
			p.release(1, start) // the slot goes to the head of the queue, under the lock
			if want == 0 {
				// A newcomer right after the release finds the queue non-empty and joins it.
				go func() {
					if err := p.acquire(ctx, 1); err != nil {
						t.Error(err)
					}
					close(late)
				}()
			}
			synctest.Wait()
			select {
			case got := <-admitted:
				if got != want {
					t.Fatalf("admitted waiter %d, want %d (arrival order)", got, want)
				}
			default:
				t.Fatalf("no waiter admitted after release %d", want)
			}
			select {
			case <-late:
				t.Fatalf("the newcomer overtook %d waiters", n-want)
			default:
			}
		}
		p.release(1, time.Now())
		synctest.Wait()
		select {
		case <-late:
		default:
			t.Fatal("the newcomer was not admitted once the queue was through")
		}
		if got := p.peakInflight.Load(); got != 1 {
			t.Errorf("peak in flight %d, want 1", got)
		}
	})
}

// A large computation at the head of the queue is not starved by small ones behind it that
// would fit the memory left: they wait their turn.
func TestPoolHeadOfLineMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(4, 4, -1)
		if err := p.acquire(ctx, 3); err != nil {
			t.Fatal(err)
		}
		admitted := queueUp(t, p, 3, 1) // the 1 MiB would fit next to the 3 MiB held
		select {
		case i := <-admitted:
			t.Fatalf("waiter %d admitted ahead of the queue's head", i)
		default:
		}
		p.release(3, time.Now())
		synctest.Wait()
		// Both fit now (3 + 1 MiB) and are admitted together, so their order of reporting
		// here is the scheduler's.
		if got := <-admitted + <-admitted; got != 0+1 || len(admitted) != 0 {
			t.Errorf("admitted waiters summing to %d, want 0 and 1", got)
		}
	})
}

// A request whose predicted wait exceeds MaxQueueWait is refused at once with a BusyError
// carrying the prediction; one that queued and is still waiting after MaxQueueWait gives up.
// Neither leaves anything held.
func TestPoolWaitBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(1, 64, time.Second)
		// One computation held for 400 ms teaches the pool how long a slot is held.
		if err := p.acquire(ctx, 1); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		time.Sleep(400 * time.Millisecond)
		p.release(1, start)

		if err := p.acquire(ctx, 1); err != nil { // held from now on
			t.Fatal(err)
		}
		// Predicted waits: 400 ms and 800 ms queue; the third, 1.2 s, is over the bound.
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- p.acquire(ctx, 1) }()
			synctest.Wait()
		}
		if n := p.queued(); n != 2 {
			t.Fatalf("%d queued, want 2", n)
		}
		t0 := time.Now()
		err := p.acquire(ctx, 1)
		busy, ok := errors.AsType[*BusyError](err)
		if !ok || !errors.Is(err, ErrBusy) {
			t.Fatalf("third waiter: %v, want a BusyError", err)
		}
		if busy.RetryAfter != 1200*time.Millisecond || time.Since(t0) != 0 {
			t.Errorf("refused after %v with RetryAfter %v, want at once with 1.2s", time.Since(t0), busy.RetryAfter)
		}
		// Nobody releases: the queued two give up after the bound.
		time.Sleep(time.Second)
		synctest.Wait()
		for range 2 {
			if err := <-errs; !errors.Is(err, ErrBusy) {
				t.Errorf("queued waiter: %v, want ErrBusy", err)
			}
		}
		if p.queued() != 0 || p.held() != 1 {
			t.Errorf("after giving up: %d queued, %d held (want 0, 1)", p.queued(), p.held())
		}
	})
}

// A Hasher never runs more than MaxConcurrent computations at once (GOMAXPROCS by default),
// and counts every one of them.
func TestHasherConcurrencyCap(t *testing.T) {
	for _, slots := range []int{1, 2, 3} {
		h := &Hasher{Argon2: Argon2Params{MemoryKiB: 1024, Time: 1}, MaxConcurrent: slots, MaxQueueWait: -1}
		var wg sync.WaitGroup
		for range 12 {
			wg.Go(func() {
				if _, err := h.Hash(ctx, "pw"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		p := h.pool()
		if got := p.peakInflight.Load(); got < 1 || got > int64(slots) {
			t.Errorf("MaxConcurrent %d: %d computations at once", slots, got)
		}
		if got := p.peakMiB.Load(); got > int64(slots) {
			t.Errorf("MaxConcurrent %d: %d MiB at once, want at most %d", slots, got, slots)
		}
		if h.Computations() != 12 || p.inflight.Load() != 0 || p.queued() != 0 {
			t.Errorf("MaxConcurrent %d: %d computations, %d in flight, %d queued", slots, h.Computations(), p.inflight.Load(), p.queued())
		}
	}
}

// Admit takes a slot in queue order; the verification made with its context runs in that slot
// (one computation, no second place in the queue), and done frees an unused turn.
func TestAdmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &Hasher{Argon2: Argon2Params{MemoryKiB: 64, Time: 1}, MaxConcurrent: 1, MaxQueueWait: -1}
		enc, err := h.Hash(ctx, "pw")
		if err != nil {
			t.Fatal(err)
		}
		before := h.Computations()
		tctx, done, err := h.Admit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The one slot is the turn's: another caller queues behind it.
		other := make(chan error, 1)
		go func() { _, err := h.Hash(ctx, "x"); other <- err }()
		synctest.Wait()
		if n := h.pool().queued(); n != 1 {
			t.Fatalf("%d queued behind the turn, want 1", n)
		}
		if ok, err := h.Verify(tctx, "pw", enc); !ok || err != nil {
			t.Fatalf("Verify with the turn: %v, %v", ok, err)
		}
		if err := <-other; err != nil { // the turn's slot was freed when Verify ended
			t.Fatal(err)
		}
		done() // used: nothing more to free
		if got := h.Computations() - before; got != 2 {
			t.Errorf("%d computations, want 2 (the verification and the other hash)", got)
		}
		p := h.pool()
		if p.held() != 0 || p.heldMiB() != 0 || p.started.Load() != 3 {
			t.Errorf("after the turn: %d held, %d MiB, %d started", p.held(), p.heldMiB(), p.started.Load())
		}

		// An unused turn is freed by done, once.
		_, done2, err := h.Admit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done2()
		done2()
		if p.held() != 0 || p.heldMiB() != 0 {
			t.Errorf("after an unused turn: %d held, %d MiB", p.held(), p.heldMiB())
		}
	})
}

// held and heldMiB read the pool's slots and memory in use.
func (p *pool) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

func (p *pool) heldMiB() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.usedMiB
}

// MemoryInFlightMiB is MaxConcurrent × the configured cost, rounded up to whole MiB, capped by
// the budget, after the defaults; it is what `rampart serve` sizes its memory limit from.
func TestMemoryInFlightMiB(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, c := range []struct {
		name string
		h    *Hasher
		want int
	}{
		{"zero value", &Hasher{}, procs * 19},
		{"3 slots", &Hasher{MaxConcurrent: 3}, 3 * 19},
		{"cost rounded up", &Hasher{Argon2: Argon2Params{MemoryKiB: 1025}, MaxConcurrent: 2}, 4},
		{"budget caps", &Hasher{Argon2: Argon2Params{MemoryKiB: 64 << 10}, MaxConcurrent: 8, MemoryBudgetMiB: 100}, 100},
	} {
		if got := c.h.MemoryInFlightMiB(); got != c.want {
			t.Errorf("%s: %d MiB, want %d", c.name, got, c.want)
		}
	}
}
