package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store"
)

// StoreOptions configure NewStore.
type StoreOptions struct {
	// Name separates limiters sharing a store: two limiters with the same name, rate and key
	// share a count. Zero means the rate's string ("5/m").
	Name string
	// Prefix starts every counter key. Zero means "rl:".
	Prefix string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Store is a limiter on store.Counters, so instances sharing Redis or SQL share limits. It
// uses the sliding-window approximation (as Cloudflare and nginx-style limiters do): a fixed
// window counter for the current period plus the previous one weighted by how much of it still
// overlaps the sliding window, estimate = prev×(1−elapsed/Per) + cur. This removes the fixed
// window's 2N burst at a boundary at the cost of two counters per key and two round trips.
// Denied events are taken back out of the count, so a client that keeps hammering is let
// through again at the configured rate, like Memory.
type Store struct {
	c      store.Counters
	rate   Rate
	prefix string
	now    func() time.Time
	// denied remembers, per key, when a denial ends: within one window the counts can only
	// grow, so a client told to wait is refused locally until then, and a flood of refused
	// requests costs no store round trips. Bounded; past the bound the store is asked.
	mu     sync.Mutex
	denied map[string]time.Time
}

const maxDenied = 1 << 14

// NewStore returns a Store limiter for rate. It panics on a rate ParseRate would reject.
func NewStore(c store.Counters, rate Rate, opts StoreOptions) *Store {
	if err := rate.valid(); err != nil {
		panic(err)
	}
	name := opts.Name
	if name == "" {
		name = rate.String()
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "rl:"
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{c: c, rate: rate, prefix: prefix + name + ":", now: now, denied: make(map[string]time.Time)}
}

// Rate returns the limiter's rate.
func (l *Store) Rate() Rate { return l.rate }

// counterKey hashes key, as django-ratelimit does, so a hostile key (a username, a path) can
// neither forge another key's structure nor make store keys long.
func (l *Store) counterKey(key string, window int64) string {
	sum := sha256.Sum256([]byte(key))
	return l.prefix + base64.RawURLEncoding.EncodeToString(sum[:18]) + ":" + strconv.FormatInt(window, 10)
}

// Allow counts one event for key when the sliding-window estimate stays within the rate.
func (l *Store) Allow(ctx context.Context, key string) (Result, error) {
	per := int64(l.rate.Per)
	if l.rate.N == 0 {
		return Result{RetryAfter: l.rate.Per, Reset: l.rate.Per}, nil
	}
	now := l.now()
	l.mu.Lock()
	until, ok := l.denied[key]
	if ok && !now.Before(until) {
		delete(l.denied, key)
		ok = false
	}
	l.mu.Unlock()
	if ok {
		return Result{Limit: l.rate.N, RetryAfter: until.Sub(now), Reset: until.Sub(now)}, nil
	}
	ns := now.UnixNano()
	w := floorDiv(ns, per)
	start := w * per
	f := float64(ns-start) / float64(per) // elapsed fraction of the current window
	untilEnd := time.Duration(start + per - ns)

	prev, err := l.c.GetCounter(ctx, l.counterKey(key, w-1), now)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: store: %w", err)
	}
	curKey := l.counterKey(key, w)
	// The current counter must outlive its own window, when it becomes the previous one.
	cur, err := l.c.Incr(ctx, curKey, 1, now, untilEnd+l.rate.Per, false)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: store: %w", err)
	}
	n := float64(l.rate.N)
	est := float64(prev.N)*(1-f) + float64(cur.N)
	if est <= n {
		return Result{
			Allowed:   true,
			Remaining: int(math.Floor(n - est)),
			Limit:     l.rate.N,
			Reset:     untilEnd,
		}, nil
	}
	if _, err := l.c.Incr(ctx, curKey, -1, now, untilEnd+l.rate.Per, false); err != nil {
		return Result{}, fmt.Errorf("ratelimit: store: %w", err)
	}
	wait := retryAfter(float64(prev.N), float64(cur.N-1), n, f, l.rate.Per)
	l.rememberDenial(key, now.Add(wait), now)
	return Result{
		Limit:      l.rate.N,
		RetryAfter: wait,
		Reset:      untilEnd,
	}, nil
}

func (l *Store) rememberDenial(key string, until, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.denied) >= maxDenied {
		for k, t := range l.denied {
			if !now.Before(t) {
				delete(l.denied, k)
			}
		}
		if len(l.denied) >= maxDenied {
			return
		}
	}
	l.denied[strings.Clone(key)] = until
}

// retryAfter is how long until prev×(1−f)+cur+1 <= n, with the counts left as they are.
func retryAfter(prev, cur, n, f float64, per time.Duration) time.Duration {
	p := float64(per)
	var wait float64
	if cur+1 <= n && prev > 0 {
		// Later in this window, once enough of the previous window has slid out.
		wait = (1-(n-cur-1)/prev-f)*p + 1
	} else {
		// In the next window, where this window's count becomes the previous one.
		wait = (1 - f) * p
		if cur > n-1 {
			wait += (1 - (n-1)/cur) * p
		}
		wait++
	}
	return time.Duration(math.Ceil(max(wait, 1)))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}
