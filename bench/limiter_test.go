package bench

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-limiter/memorystore"
	"github.com/ulule/limiter/v3"
	ulmemory "github.com/ulule/limiter/v3/drivers/store/memory"
	"golang.org/x/time/rate"

	"github.com/rampart-go/rampart/ratelimit"
	"github.com/rampart-go/rampart/store/memory"
)

// Per-call limiter cost, limits so high they never trip (the check is what is measured),
// on one hot key and spread over 100k pre-populated keys. Rates are 1e9 per hour rather than
// per second so that every key stays live (tracked) for the whole run, as a busy client's
// does: at 1e9/s a key is forgotten a nanosecond after each call and re-inserted next time.

const limiterKeys = 100_000

type allowFunc func(key string) bool

// timeRateMap is the usual hand-rolled keyed x/time/rate limiter.
type timeRateMap struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (t *timeRateMap) allow(key string) bool {
	t.mu.Lock()
	l, ok := t.m[key]
	if !ok {
		l = rate.NewLimiter(rate.Limit(1e9/3600.0), 1e9)
		t.m[key] = l
	}
	t.mu.Unlock()
	return l.Allow()
}

func limiterImpls(tb testing.TB) []struct {
	name  string
	allow allowFunc
} {
	ctx := context.Background()
	rt := ratelimit.Rate{N: 1_000_000_000, Per: time.Hour}
	rm := ratelimit.NewMemory(rt, ratelimit.MemoryOptions{})
	rs := ratelimit.NewStore(memory.New(), rt, ratelimit.StoreOptions{})
	ul := limiter.New(ulmemory.NewStore(), limiter.Rate{Period: time.Hour, Limit: 1_000_000_000})
	// go-limiter refills delta_ticks*interval/tokens tokens per tick, so a huge token count
	// with a short interval refills 1 token a tick; a long interval keeps the bucket full.
	sv, err := memorystore.New(&memorystore.Config{Tokens: 100_000_000, Interval: 10_000 * time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sv.Close(ctx) })
	tr := &timeRateMap{m: map[string]*rate.Limiter{}}
	return []struct {
		name  string
		allow allowFunc
	}{
		{"rampart-memory-GCRA", func(k string) bool { r, err := rm.Allow(ctx, k); return err == nil && r.Allowed }},
		{"rampart-store-sliding-window(memory)", func(k string) bool { r, err := rs.Allow(ctx, k); return err == nil && r.Allowed }},
		{"ulule-memory", func(k string) bool { c, err := ul.Get(ctx, k); return err == nil && !c.Reached }},
		{"x-time-rate-map", tr.allow},
		{"sethvargo-memorystore", func(k string) bool { _, _, _, ok, err := sv.Take(ctx, k); return err == nil && ok }},
	}
}

func limiterKeyList() []string {
	keys := make([]string, limiterKeys)
	for i := range keys {
		keys[i] = "10." + strconv.Itoa(i>>16) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
	}
	return keys
}

func BenchmarkLimiter(b *testing.B) {
	keys := limiterKeyList()
	for _, im := range limiterImpls(b) {
		b.Run("hot-key/"+im.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !im.allow("192.0.2.10") {
					b.Fatal("denied")
				}
			}
		})
	}
	for _, im := range limiterImpls(b) {
		b.Run("100k-keys/"+im.name, func(b *testing.B) {
			for _, k := range keys {
				im.allow(k)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if !im.allow(keys[i]) {
					b.Fatal("denied")
				}
				if i++; i == len(keys) {
					i = 0
				}
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	keys := limiterKeyList()[:1000]
	for _, im := range limiterImpls(t) {
		t.Run(im.name, func(t *testing.T) {
			for _, k := range keys {
				// Twice per key: the second call finds the key tracked.
				for i := range 2 {
					if !im.allow(k) {
						t.Fatalf("%s denied %s (call %d)", im.name, k, i+1)
					}
				}
			}
		})
	}
}
