package ratelimit

import (
	"context"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// Limiter decides whether one more event for key is within the limit. Implementations are
// safe for concurrent use. An error means the limiter could not decide; callers deny (fail closed).
type Limiter interface {
	Allow(ctx context.Context, key string) (Result, error)
}

// Result is one decision.
type Result struct {
	// Allowed reports whether the event is within the limit (and was counted).
	Allowed bool
	// Remaining is how many more events the key may have right now.
	Remaining int
	// RetryAfter is, when denied, how long until one more event would be allowed.
	RetryAfter time.Duration
	// Limit is the rate's N (for RateLimit headers).
	Limit int
	// Reset is how long until the key's quota is replenished (for RateLimit headers).
	Reset time.Duration
}

// ErrFull is returned by Memory when it tracks MaxKeys live keys and a new key arrives. Denying
// the newcomer keeps the limits of the keys already tracked intact; evicting them instead would
// let a flood of fresh keys reset an attacker's own counter.
var ErrFull = errors.New("ratelimit: memory limiter full")

// MemoryOptions configure NewMemory.
type MemoryOptions struct {
	// MaxKeys bounds the live keys kept (about 100 bytes each). Zero means 1<<20.
	MaxKeys int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

const shardCount = 64

// Memory is an in-process GCRA limiter (generic cell rate algorithm: the token bucket
// expressed as one "theoretical arrival time" per key). It allows bursts of up to N and then one
// event every Per/N, has no window boundaries to game (a fixed window lets 2N through around a
// boundary), and keeps a single int64 per key, so Allow on a known key does not allocate.
// Hand-written because golang.org/x/time/rate has no keyed map and allocates a Limiter per key.
type Memory struct {
	rate     Rate
	interval int64 // ns between events at the sustained rate
	window   int64 // interval*N: how far ahead the arrival time may run (the burst)
	now      func() time.Time
	base     time.Time // arrival times count from here, on the monotonic clock
	perShard int
	seed     maphash.Seed
	shards   [shardCount]shard
}

type shard struct {
	mu      sync.Mutex
	tat     map[string]int64 // key → theoretical arrival time (ns since base)
	sweepAt int
	_       [40]byte // keep shards on separate cache lines
}

// NewMemory returns a Memory limiter for rate. It panics on a rate ParseRate would reject, since
// rates are configuration fixed at start-up.
func NewMemory(rate Rate, opts MemoryOptions) *Memory {
	if err := rate.valid(); err != nil {
		panic(err)
	}
	m := &Memory{rate: rate, now: opts.Now, seed: maphash.MakeSeed()}
	if m.now == nil {
		m.now = time.Now
	}
	// Measuring from a base with Sub uses the monotonic clock, so a wall-clock step (NTP,
	// a VM resume) neither frees every key nor blocks them for hours.
	m.base = m.now()
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 1 << 20
	}
	m.perShard = max(1, maxKeys/shardCount)
	if rate.N > 0 {
		m.interval = max(1, int64(rate.Per)/int64(rate.N))
		m.window = m.interval * int64(rate.N)
	}
	for i := range m.shards {
		m.shards[i].tat = make(map[string]int64)
		m.shards[i].sweepAt = min(m.perShard, 64)
	}
	return m
}

// Rate returns the limiter's rate.
func (m *Memory) Rate() Rate { return m.rate }

// Allow counts one event for key when it is within the rate.
func (m *Memory) Allow(_ context.Context, key string) (Result, error) {
	if m.rate.N == 0 {
		return Result{RetryAfter: m.rate.Per, Reset: m.rate.Per}, nil
	}
	now := int64(m.now().Sub(m.base))
	s := &m.shards[maphash.String(m.seed, key)%shardCount]
	s.mu.Lock()
	tat, ok := s.tat[key]
	if !ok || tat < now {
		tat = now
	}
	next := tat + m.interval
	if next-now > m.window {
		s.mu.Unlock()
		return Result{
			Limit:      m.rate.N,
			RetryAfter: time.Duration(next - now - m.window),
			Reset:      time.Duration(tat - now),
		}, nil
	}
	if !ok {
		if len(s.tat) >= s.sweepAt {
			s.sweep(now)
			if len(s.tat) >= m.perShard {
				s.mu.Unlock()
				return Result{Limit: m.rate.N, RetryAfter: time.Duration(m.interval)}, ErrFull
			}
			s.sweepAt = min(m.perShard, max(64, 2*len(s.tat)))
		}
		// Clone so the map does not pin a larger buffer the caller's key was cut from.
		key = strings.Clone(key)
	}
	s.tat[key] = next
	s.mu.Unlock()
	return Result{
		Allowed:   true,
		Remaining: int((m.window - (next - now)) / m.interval),
		Limit:     m.rate.N,
		Reset:     time.Duration(next - now),
	}, nil
}

// sweep drops keys whose arrival time has passed: they are indistinguishable from new keys.
// Called only when the shard has doubled since the last sweep, so its cost is amortised.
func (s *shard) sweep(now int64) {
	for k, t := range s.tat {
		if t <= now {
			delete(s.tat, k)
		}
	}
}

// Reset forgets key (after a successful login, say).
func (m *Memory) Reset(key string) {
	s := &m.shards[maphash.String(m.seed, key)%shardCount]
	s.mu.Lock()
	delete(s.tat, key)
	s.mu.Unlock()
}

// Len reports how many keys are tracked, live or not yet swept.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}
