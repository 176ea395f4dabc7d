package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy is matched (errors.Is) by the *BusyError a hash or verification returns when the
// hashing queue is too long to start it within Hasher.MaxQueueWait. The caller answers 503
// with the error's RetryAfter; nothing was checked, so it is neither a success nor a failure.
var ErrBusy = errors.New("auth: too many password checks queued")

// BusyError is the error of a refused hashing request: the queue's wait would exceed
// Hasher.MaxQueueWait. RetryAfter is the wait the queue predicted at that moment.
type BusyError struct {
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%v (predicted wait %v)", ErrBusy, e.RetryAfter.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrBusy) hold.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// pool admits hash computations in arrival order (FIFO): at most slots at once, and for argon2
// and scrypt at most budget MiB of their memory at once. A waiter that does not fit waits in the
// queue, and those behind it wait too, so a request's wait is its place in the queue, and a
// large hash cannot be starved by small ones. One queue under one lock, rather than channels
// (one for slots, one for memory), gives a single order over both bounds, the queue's length
// for predicting a newcomer's wait, and a slot that can be taken ahead of its computation
// (turn). The wait is bounded: a request whose predicted wait exceeds maxWait is refused at
// once (ErrBusy), and one still queued after maxWait gives up.
type pool struct {
	slots, budget int
	maxWait       time.Duration // <= 0: no bound but the caller's context

	mu      sync.Mutex
	used    int // computations holding a slot
	usedMiB int
	queue   []*waiter
	// hold is the moving average of how long a slot is held, from which the queue predicts a
	// newcomer's wait; zero until the first release.
	hold time.Duration

	// Observed by tests: computations started, the queue's peak length, in-flight MiB and its
	// peak, in-flight computations and their peak.
	started, peakQueued, inflightMiB, peakMiB, inflight, peakInflight atomic.Int64
	// onQueued, when set (tests), is called with each waiter's place in the queue after it
	// joined, outside the lock.
	onQueued func(w int, place int)
}

// waiter is one queued acquirer; ready is closed when it is granted its slot.
type waiter struct {
	w       int
	ready   chan struct{}
	granted bool
}

func newPool(slots, budgetMiB int, maxWait time.Duration) *pool {
	return &pool{slots: slots, budget: budgetMiB, maxWait: maxWait}
}

// fits reports whether a computation of w MiB can start now; the caller holds mu.
func (p *pool) fits(w int) bool {
	return p.used < p.slots && p.usedMiB+w <= p.budget
}

// take records a granted computation; the caller holds mu.
func (p *pool) take(w int) {
	p.used++
	p.usedMiB += w
	p.started.Add(1)
	raise(&p.peakMiB, p.inflightMiB.Add(int64(w)))
	raise(&p.peakInflight, p.inflight.Add(1))
}

func raise(peak *atomic.Int64, cur int64) {
	for {
		old := peak.Load()
		if cur <= old || peak.CompareAndSwap(old, cur) {
			return
		}
	}
}

// predict is the expected wait of a newcomer joining the queue now: it starts after the
// len(queue)+1 next releases, which come at slots per hold. The caller holds mu.
func (p *pool) predict() time.Duration {
	return time.Duration(len(p.queue)+1) * p.hold / time.Duration(p.slots)
}

// acquire waits for a slot and w MiB of the budget, in arrival order. It returns ctx's error
// when ctx ends first, and a *BusyError when the wait would exceed maxWait. The caller
// calls release(w, since) once the computation is over.
func (p *pool) acquire(ctx context.Context, w int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w = min(w, p.budget)
	p.mu.Lock()
	if len(p.queue) == 0 && p.fits(w) {
		p.take(w)
		p.mu.Unlock()
		return nil
	}
	if p.maxWait > 0 {
		if d := p.predict(); d > p.maxWait {
			p.mu.Unlock()
			return &BusyError{RetryAfter: d}
		}
	}
	me := &waiter{w: w, ready: make(chan struct{})}
	p.queue = append(p.queue, me)
	place := len(p.queue)
	raise(&p.peakQueued, int64(place))
	p.mu.Unlock()
	if p.onQueued != nil {
		p.onQueued(w, place)
	}

	var expired <-chan time.Time
	if p.maxWait > 0 {
		t := time.NewTimer(p.maxWait)
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case <-me.ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = &BusyError{RetryAfter: p.maxWait}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if me.granted {
		// Granted while giving up: hand the slot on.
		p.put(w, 0)
		return err
	}
	for i, q := range p.queue {
		if q == me {
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			break
		}
	}
	// The head may have left: whoever is behind it may fit now.
	p.grant()
	return err
}

// grant admits queued waiters from the head for as long as they fit; the caller holds mu.
func (p *pool) grant() {
	for len(p.queue) > 0 && p.fits(p.queue[0].w) {
		q := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.take(q.w)
		q.granted = true
		close(q.ready)
	}
}

// put gives back a slot and w MiB held for d (0: not a measured computation) and admits
// whoever fits now; the caller holds mu.
func (p *pool) put(w int, d time.Duration) {
	p.used--
	p.usedMiB -= w
	p.inflightMiB.Add(-int64(w))
	p.inflight.Add(-1)
	if d > 0 {
		if p.hold == 0 {
			p.hold = d
		} else {
			// An exponential moving average over about 8 computations: it follows a change
			// of load within a second while one slow computation moves it little.
			p.hold += (d - p.hold) / 8
		}
	}
	p.grant()
}

// release gives back what acquire(ctx, w) took, held since start.
func (p *pool) release(w int, start time.Time) {
	w = min(w, p.budget)
	p.mu.Lock()
	p.put(w, time.Since(start))
	p.mu.Unlock()
}

// queued reports how many acquirers are waiting.
func (p *pool) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// turnKey is the context key of an admitted turn (Hasher.Admit).
type turnKey struct{}

// turn is a slot taken ahead of the computation that will use it (Hasher.Admit). Its states:
// admitted (held, unused), running (a computation uses it), over (given back).
type turn struct {
	p     *pool
	w     int
	start time.Time

	mu    sync.Mutex
	state int // 0 admitted, 1 running, 2 over
}

// claim hands the turn to a computation of w MiB; false when it is not admitted any more or
// too small, in which case the computation queues as usual.
func (t *turn) claim(p *pool, w int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.p != p || t.state != 0 || min(w, p.budget) > t.w {
		return false
	}
	t.state = 1
	return true
}

// finish gives the slot back after the claiming computation.
func (t *turn) finish() {
	t.mu.Lock()
	t.state = 2
	t.mu.Unlock()
	t.p.release(t.w, t.start)
}

// done gives the slot back if no computation claimed it; otherwise the computation does.
func (t *turn) done() {
	t.mu.Lock()
	unused := t.state == 0
	if unused {
		t.state = 2
	}
	t.mu.Unlock()
	if unused {
		t.p.mu.Lock()
		t.p.put(t.w, 0) // not a computation: its hold time says nothing of hashing
		t.p.mu.Unlock()
	}
}
