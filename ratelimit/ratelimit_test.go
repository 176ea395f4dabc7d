package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testclock"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/storetest"
)

var ctx = context.Background()

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		err  string
	}{
		{"5/m", Rate{5, time.Minute}, ""},
		{"100/5m", Rate{100, 5 * time.Minute}, ""},
		{"10/s", Rate{10, time.Second}, ""},
		{"1000/h", Rate{1000, time.Hour}, ""},
		{"20/d", Rate{20, 24 * time.Hour}, ""},
		{"100/300", Rate{100, 300 * time.Second}, ""},
		{"100/300s", Rate{100, 300 * time.Second}, ""},
		{"0/s", Rate{0, time.Second}, ""},
		{" 5/m ", Rate{5, time.Minute}, ""},
		{"5/366d", Rate{5, 366 * 24 * time.Hour}, ""},
		{"", Rate{}, "missing '/'"},
		{"5", Rate{}, "missing '/'"},
		{"5/", Rate{}, "missing period"},
		{"/m", Rate{}, "count is empty"},
		{"-5/m", Rate{}, "not a whole number"},
		{"+5/m", Rate{}, "not a whole number"},
		{"5.5/m", Rate{}, "not a whole number"},
		{"5/0m", Rate{}, "zero period"},
		{"5/0", Rate{}, "zero period"},
		{"5/w", Rate{}, "unknown unit 'w'"},
		{"5/M", Rate{}, "unknown unit 'M'"},
		{"5/ m", Rate{}, "not a whole number"},
		{"5 /m", Rate{}, "not a whole number"},
		{"5/m/s", Rate{}, "not a whole number"},
		{"5/367d", Rate{}, "period above"},
		{"5/99999999999999999999s", Rate{}, "too large"},
		{"1000000001/s", Rate{}, "count above"},
		{"99999999999999999999/s", Rate{}, "too large"},
		{"５/m", Rate{}, "not a whole number"},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if back, err := ParseRate(got.String()); err != nil || back != got {
				t.Errorf("%q: String %q does not round-trip: %v %v", tt.in, got.String(), back, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalidRate) || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseRate(%q) error = %v; want one containing %q", tt.in, err, tt.err)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"5/m", "100/5m", "10/s", "1000/h", "20/d", "0/s", "100/300", "/", "5/0", "1/366d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRate) || r != (Rate{}) {
				t.Fatalf("%q: error %v with rate %v", s, err, r)
			}
			return
		}
		if r.valid() != nil {
			t.Fatalf("%q parsed to invalid %v", s, r)
		}
		if back, err := ParseRate(r.String()); err != nil || back != r {
			t.Fatalf("%q → %v → %q → %v, %v", s, r, r.String(), back, err)
		}
		// Both limiters must accept every rate ParseRate returns.
		NewMemory(r, MemoryOptions{})
		NewStore(newFake(), r, StoreOptions{})
	})
}

type step struct {
	advance   time.Duration
	allowed   bool
	remaining int
	retry     time.Duration // checked when denied and non-zero
}

func run(t *testing.T, l Limiter, clk *testclock.Clock, steps []step) {
	t.Helper()
	for i, s := range steps {
		clk.Advance(s.advance)
		res, err := l.Allow(ctx, "k")
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if res.Allowed != s.allowed || (s.allowed && res.Remaining != s.remaining) {
			t.Fatalf("step %d: %+v; want allowed=%v remaining=%d", i, res, s.allowed, s.remaining)
		}
		if !s.allowed && s.retry != 0 && res.RetryAfter != s.retry {
			t.Fatalf("step %d: RetryAfter %v, want %v", i, res.RetryAfter, s.retry)
		}
	}
}

func TestMemoryGCRA(t *testing.T) {
	clk := newClock()
	l := NewMemory(MustParseRate("5/m"), MemoryOptions{Now: clk.Now})
	run(t, l, clk, []step{
		{0, true, 4, 0}, {0, true, 3, 0}, {0, true, 2, 0}, {0, true, 1, 0}, {0, true, 0, 0},
		{0, false, 0, 12 * time.Second},
		{11 * time.Second, false, 0, time.Second},
		{time.Second, true, 0, 0}, // one event per 12s once the burst is spent
		{0, false, 0, 12 * time.Second},
		{time.Hour, true, 4, 0}, // idle: full burst again
	})
	// Denied events are not counted: hammering does not extend the wait.
	clk2 := newClock()
	l2 := NewMemory(MustParseRate("1/10s"), MemoryOptions{Now: clk2.Now})
	run(t, l2, clk2, []step{
		{0, true, 0, 0},
		{time.Second, false, 0, 9 * time.Second},
		{time.Second, false, 0, 8 * time.Second},
		{8 * time.Second, true, 0, 0},
	})
	// Keys are independent.
	for i := range 3 {
		if r, _ := l2.Allow(ctx, fmt.Sprint("other", i)); !r.Allowed {
			t.Fatalf("fresh key %d denied", i)
		}
	}
	l2.Reset("k")
	if r, _ := l2.Allow(ctx, "k"); !r.Allowed {
		t.Fatal("Reset did not forget the key")
	}
}

func TestZeroRateBlocks(t *testing.T) {
	clk := newClock()
	for _, l := range []Limiter{
		NewMemory(MustParseRate("0/m"), MemoryOptions{Now: clk.Now}),
		NewStore(newFake(), MustParseRate("0/m"), StoreOptions{Now: clk.Now}),
	} {
		if r, err := l.Allow(ctx, "k"); err != nil || r.Allowed || r.RetryAfter != time.Minute {
			t.Fatalf("%T: %+v %v", l, r, err)
		}
	}
}

func TestMemoryBoundedKeys(t *testing.T) {
	clk := newClock()
	l := NewMemory(MustParseRate("1/s"), MemoryOptions{Now: clk.Now, MaxKeys: shardCount * 64})
	full := 0
	for i := range 10 * shardCount * 64 {
		if _, err := l.Allow(ctx, fmt.Sprint("key", i)); errors.Is(err, ErrFull) {
			full++
		}
	}
	if full == 0 || l.Len() > shardCount*64 {
		t.Fatalf("full %d, len %d: the bound was not enforced", full, l.Len())
	}
	// Once the keys' arrival times pass, they are swept and new keys fit again.
	clk.Advance(2 * time.Second)
	for i := range 10 * shardCount * 64 {
		if _, err := l.Allow(ctx, fmt.Sprint("new", i)); err != nil && !errors.Is(err, ErrFull) {
			t.Fatal(err)
		}
	}
	if _, err := l.Allow(ctx, "new0"); err != nil {
		t.Fatalf("swept limiter still full for a tracked key: %v", err)
	}
}

func TestMemoryConcurrentExact(t *testing.T) {
	clk := newClock()
	l := NewMemory(MustParseRate("100/h"), MemoryOptions{Now: clk.Now})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if r, _ := l.Allow(ctx, "shared"); r.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 100 {
		t.Fatalf("allowed %d of 800, want exactly 100", allowed)
	}
}

func TestStoreSlidingWindow(t *testing.T) {
	clk := newClock() // 12:00:00, a minute boundary
	l := NewStore(newFake(), MustParseRate("10/m"), StoreOptions{Now: clk.Now})
	steps := make([]step, 0, 16)
	for i := range 10 {
		steps = append(steps, step{0, true, 9 - i, 0})
	}
	steps = append(steps,
		step{0, false, 0, 0},
		// Next window, 15 s in: the previous 10 still weigh 10×0.75 = 7.5, so 2 fit.
		step{time.Minute + 15*time.Second, true, 1, 0},
		step{0, true, 0, 0},
		step{0, false, 0, 0},
		// 30 s in: 10×0.5 + 2 = 7 → 3 more.
		step{15 * time.Second, true, 2, 0},
	)
	run(t, l, clk, steps)
}

func TestStoreRetryAfterIsHonest(t *testing.T) {
	// Whatever RetryAfter a denial reports, waiting exactly that long must be enough, and
	// waiting noticeably less must not be.
	for _, rate := range []string{"10/m", "3/s", "1/h", "7/5m"} {
		t.Run(rate, func(t *testing.T) {
			clk := newClock()
			clk.Advance(17 * time.Second) // not at a boundary
			c := newFake()
			l := NewStore(c, MustParseRate(rate), StoreOptions{Now: clk.Now})
			// probe shares the counts but not l's memory of denials, so it asks the store.
			probe := NewStore(c, MustParseRate(rate), StoreOptions{Now: clk.Now})
			for round := range 20 {
				var res Result
				for {
					var err error
					if res, err = l.Allow(ctx, "k"); err != nil {
						t.Fatal(err)
					}
					if !res.Allowed {
						break
					}
				}
				if res.RetryAfter <= 0 {
					t.Fatalf("round %d: RetryAfter %v", round, res.RetryAfter)
				}
				if res.RetryAfter > 10*time.Millisecond {
					clk.Advance(res.RetryAfter - 10*time.Millisecond)
					if r, _ := probe.Allow(ctx, "k"); r.Allowed {
						t.Fatalf("round %d: allowed 10ms before RetryAfter %v", round, res.RetryAfter)
					}
					clk.Advance(10 * time.Millisecond)
				} else {
					clk.Advance(res.RetryAfter)
				}
				if r, _ := l.Allow(ctx, "k"); !r.Allowed {
					t.Fatalf("round %d: denied after waiting RetryAfter %v", round, res.RetryAfter)
				}
			}
		})
	}
}

// countingCounters counts store calls.
type countingCounters struct {
	*storetest.Flaky
	mu    sync.Mutex
	calls int
}

func (c *countingCounters) Incr(ctx context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (store.Counter, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Flaky.Incr(ctx, key, delta, now, ttl, extend)
}

func (c *countingCounters) Reserve(ctx context.Context, key string, limit int64, now time.Time, ttl time.Duration) (store.Counter, bool, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Flaky.Reserve(ctx, key, limit, now, ttl)
}

func (c *countingCounters) GetCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Flaky.GetCounter(ctx, key, now)
}

func TestStoreRemembersDenials(t *testing.T) {
	clk := newClock()
	c := &countingCounters{Flaky: newFake()}
	l := NewStore(c, MustParseRate("2/m"), StoreOptions{Now: clk.Now})
	l.Allow(ctx, "k")
	l.Allow(ctx, "k")
	first, _ := l.Allow(ctx, "k")
	if first.Allowed {
		t.Fatal("third event allowed")
	}
	c.calls = 0
	for range 1000 {
		clk.Advance(time.Millisecond)
		r, err := l.Allow(ctx, "k")
		if err != nil || r.Allowed {
			t.Fatalf("%+v %v", r, err)
		}
	}
	if c.calls != 0 {
		t.Fatalf("%d store calls for remembered denials, want 0", c.calls)
	}
	if r, _ := l.Allow(ctx, "other"); !r.Allowed || c.calls == 0 {
		t.Fatal("another key was affected")
	}
	clk.Advance(first.RetryAfter - time.Second)
	if r, _ := l.Allow(ctx, "k"); !r.Allowed {
		t.Fatalf("still denied after the remembered wait: %+v", r)
	}
}

func TestStoreSharedAcrossInstances(t *testing.T) {
	clk := newClock()
	c := newFake()
	a := NewStore(c, MustParseRate("5/m"), StoreOptions{Now: clk.Now})
	b := NewStore(c, MustParseRate("5/m"), StoreOptions{Now: clk.Now})
	other := NewStore(c, MustParseRate("5/m"), StoreOptions{Now: clk.Now, Name: "comments"})
	allowed := 0
	for i := range 20 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if r, _ := l.Allow(ctx, "ip:192.0.2.1"); r.Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("two instances allowed %d, want 5 in total", allowed)
	}
	if r, _ := other.Allow(ctx, "ip:192.0.2.1"); !r.Allowed {
		t.Fatal("a differently named limiter shares the count")
	}
}

func TestStoreOutage(t *testing.T) {
	c := newFake()
	l := NewStore(c, MustParseRate("5/m"), StoreOptions{})
	c.Down()
	if r, err := l.Allow(ctx, "k"); err == nil || r.Allowed {
		t.Fatalf("outage: %+v %v", r, err)
	}
}

func req(addr string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/accounts/login", nil)
	r.RemoteAddr = addr
	return r
}

func TestMiddleware(t *testing.T) {
	clk := newClock()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	l := NewMemory(MustParseRate("2/m"), MemoryOptions{Now: clk.Now})
	h := Middleware(l, ByIP, Options{Headers: true})(ok)

	codes := []int{}
	var last *httptest.ResponseRecorder
	for range 3 {
		last = httptest.NewRecorder()
		h.ServeHTTP(last, req("192.0.2.1:1234"))
		codes = append(codes, last.Code)
	}
	if fmt.Sprint(codes) != "[204 204 429]" {
		t.Fatalf("codes %v", codes)
	}
	hd := last.Header()
	if hd.Get("Retry-After") != "30" || hd.Get("RateLimit-Policy") != `"default";q=2;w=60` ||
		hd.Get("RateLimit") != `"default";r=0;t=60` || hd.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", hd)
	}
	// Another address, and another address in the same IPv6 /64.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req("192.0.2.2:1234"))
	if w.Code != 204 {
		t.Fatalf("other IP: %d", w.Code)
	}
	for i, want := range []int{204, 204, 429} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req(fmt.Sprintf("[2001:db8::%x]:1", i+1)))
		if w.Code != want {
			t.Fatalf("IPv6 #%d: %d, want %d", i, w.Code, want)
		}
	}
}

func TestMiddlewareFailClosed(t *testing.T) {
	c := newFake()
	c.Down()
	l := NewStore(c, MustParseRate("5/m"), StoreOptions{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	var logged error
	closed := Middleware(l, ByIP, Options{OnError: func(_ *http.Request, err error) { logged = err }})(next)
	w := httptest.NewRecorder()
	closed.ServeHTTP(w, req("192.0.2.1:1"))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !errors.Is(logged, storetest.ErrOutage) {
		t.Fatalf("fail closed: %d %v %v", w.Code, w.Header(), logged)
	}
	open := Middleware(l, ByIP, Options{InsecureFailOpen: true})(next)
	w = httptest.NewRecorder()
	open.ServeHTTP(w, req("192.0.2.1:1"))
	if w.Code != 204 {
		t.Fatalf("InsecureFailOpen: %d", w.Code)
	}
}

func TestKeyFuncs(t *testing.T) {
	r := req("192.0.2.7:99")
	r.Pattern = "POST /accounts/login"
	user := ""
	byUser := ByUser(func(*http.Request) string { return user })
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"ByIP v4", ByIP(r), "ip:192.0.2.7"},
		{"ByIP v6", ByIP(req("[2001:db8:1:2:3:4:5:6]:1")), "ip:2001:db8:1:2::/64"},
		{"ByIP mapped", ByIP(req("[::ffff:192.0.2.7]:1")), "ip:192.0.2.7"},
		{"ByIP unusable", ByIP(req("garbage")), "ip:unknown"},
		{"ByRouteIP named", ByRouteIP("login")(r), "route:login|ip:192.0.2.7"},
		{"ByRouteIP pattern", ByRouteIP("")(r), "route:POST /accounts/login|ip:192.0.2.7"},
		{"ByUser anonymous", byUser(r), ""},
	}
	user = "42"
	tests = append(tests, struct{ name, got, want string }{"ByUser", byUser(r), "user:42"})
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	// Anonymous requests pass a ByUser limiter untouched.
	l := NewMemory(MustParseRate("0/s"), MemoryOptions{})
	w := httptest.NewRecorder()
	Middleware(l, ByUser(func(*http.Request) string { return "" }), Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })).ServeHTTP(w, r)
	if w.Code != 204 {
		t.Fatalf("anonymous through ByUser: %d", w.Code)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	l := NewMemory(MustParseRate("1000000/s"), MemoryOptions{})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("ip:10.0.", i/256, ".", i%256)
		l.Allow(ctx, keys[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(ctx, keys[i&1023])
		i++
	}
}

func BenchmarkMemoryAllowDenied(b *testing.B) {
	l := NewMemory(MustParseRate("1/h"), MemoryOptions{})
	l.Allow(ctx, "ip:192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := l.Allow(ctx, "ip:192.0.2.1"); r.Allowed {
			b.Fatal("allowed")
		}
	}
}

func BenchmarkMemoryAllowParallel(b *testing.B) {
	l := NewMemory(MustParseRate("1000000/s"), MemoryOptions{})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("ip:10.0.", i/256, ".", i%256)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(ctx, keys[i&1023])
			i++
		}
	})
}

func BenchmarkStoreAllow(b *testing.B) {
	l := NewStore(newFake(), MustParseRate("1000000/s"), StoreOptions{})
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(ctx, "ip:192.0.2.1")
	}
}

func BenchmarkMiddleware(b *testing.B) {
	l := NewMemory(MustParseRate("1000000000/s"), MemoryOptions{})
	h := Middleware(l, ByIP, Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := req("192.0.2.1:1")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// Result.Reset (the RateLimit header's t=) is how long until the key's quota is whole again.
// For Memory (GCRA) that is the key's arrival time, after this event when it is allowed: one
// interval per event still counted. For Store it is the end of the current fixed window, on
// allowed and denied events alike.
func TestResetValues(t *testing.T) {
	clk := newClock()
	m := NewMemory(MustParseRate("5/m"), MemoryOptions{Now: clk.Now})
	for i := 1; i <= 5; i++ {
		r, _ := m.Allow(ctx, "k")
		if !r.Allowed || r.Reset != time.Duration(i)*12*time.Second {
			t.Fatalf("Memory event %d: %+v, want allowed with Reset %v", i, r, time.Duration(i)*12*time.Second)
		}
	}
	if r, _ := m.Allow(ctx, "k"); r.Allowed || r.Reset != time.Minute || r.RetryAfter != 12*time.Second {
		t.Fatalf("Memory denied: %+v, want Reset 1m, RetryAfter 12s", r)
	}
	clk.Advance(30 * time.Second)
	if r, _ := m.Allow(ctx, "k"); !r.Allowed || r.Reset != 42*time.Second || r.Remaining != 1 {
		t.Fatalf("Memory after 30s: %+v, want Reset 42s, 1 remaining", r)
	}
	if r, _ := m.Allow(ctx, "k"); !r.Allowed || r.Reset != 54*time.Second {
		t.Fatalf("Memory, next event: %+v, want Reset 54s", r)
	}
	if r, _ := m.Allow(ctx, "k"); r.Allowed || r.Reset != 54*time.Second {
		t.Fatalf("Memory denied later on: %+v, want Reset 54s", r)
	}

	clk = newClock()
	clk.Advance(10 * time.Second) // 10 s into a one-minute window
	s := NewStore(newFake(), MustParseRate("2/m"), StoreOptions{Now: clk.Now})
	for i, allowed := range []bool{true, true, false} {
		r, err := s.Allow(ctx, "k")
		if err != nil || r.Allowed != allowed || r.Reset != 50*time.Second || r.Limit != 2 {
			t.Fatalf("Store event %d: %+v, %v; want allowed=%v, Reset 50s", i, r, err, allowed)
		}
	}
	clk.Advance(20 * time.Second)
	if r, _ := s.Allow(ctx, "other"); !r.Allowed || r.Reset != 30*time.Second {
		t.Fatalf("Store later in the window: %+v, want Reset 30s", r)
	}
	// A zero rate refuses for a whole period.
	z := NewStore(newFake(), MustParseRate("0/m"), StoreOptions{Now: clk.Now})
	if r, _ := z.Allow(ctx, "k"); r.Allowed || r.Reset != time.Minute {
		t.Fatalf("zero rate: %+v", r)
	}
}

// A Store counter lives exactly until the end of the window after its own, where it is the
// "previous" count of the sliding estimate: not shorter (the estimate would forget a burst
// made just before a boundary) and not longer (a store shared by many keys must not keep
// dead counters).
func TestStoreCounterLifetime(t *testing.T) {
	clk := newClock()
	clk.Advance(45 * time.Second)
	c := newFake()
	l := NewStore(c, MustParseRate("10/m"), StoreOptions{Now: clk.Now})
	for range 10 {
		if r, _ := l.Allow(ctx, "k"); !r.Allowed {
			t.Fatal("burst denied")
		}
	}
	w := floorDiv(clk.Now().UnixNano(), int64(time.Minute))
	windowEnd := time.Unix(0, (w+1)*int64(time.Minute))
	ctr, err := c.GetCounter(ctx, l.counterKey("k", w), clk.Now())
	if err != nil || ctr.N != 10 {
		t.Fatalf("current counter: %+v, %v", ctr, err)
	}
	if want := windowEnd.Add(time.Minute); !ctr.ExpiresAt.Equal(want) {
		t.Errorf("counter expires at %v, want the end of the next window %v", ctr.ExpiresAt, want)
	}
	// A denied event is taken back out and does not move the expiry.
	if r, _ := l.Allow(ctx, "k"); r.Allowed {
		t.Fatal("11th event allowed")
	}
	if ctr, _ := c.GetCounter(ctx, l.counterKey("k", w), clk.Now()); ctr.N != 10 || !ctr.ExpiresAt.Equal(windowEnd.Add(time.Minute)) {
		t.Errorf("after a denial: %+v", ctr)
	}
	// Just before the next window ends the burst still weighs on the estimate (10×(1−59/60)
	// ≈ 0.17, so 9 more fit, not 10); once it has ended the counter is gone.
	clk.Advance(windowEnd.Sub(clk.Now()) + 59*time.Second)
	fresh := NewStore(c, MustParseRate("10/m"), StoreOptions{Now: clk.Now})
	allowed := 0
	for range 20 {
		if r, _ := fresh.Allow(ctx, "k"); r.Allowed {
			allowed++
		}
	}
	if allowed != 9 {
		t.Errorf("59 s into the next window: %d allowed, want 9 (the old burst still counts)", allowed)
	}
	clk.Advance(time.Second)
	if ctr, _ := c.GetCounter(ctx, l.counterKey("k", w), clk.Now()); ctr.N != 0 {
		t.Errorf("counter still alive after the next window: %+v", ctr)
	}
}

// Store keys are namespaced: Prefix (default "rl:") then Name (default the rate, "5/m"), so
// limiters with different rates never share a count unless given one Name, and no limiter's
// counters collide with other users of a shared store (lockout's "lockout:" keys, say).
func TestStoreKeyNamespaces(t *testing.T) {
	clk := newClock()
	c := newFake()
	five := NewStore(c, MustParseRate("5/m"), StoreOptions{Now: clk.Now})
	ten := NewStore(c, MustParseRate("10/m"), StoreOptions{Now: clk.Now})
	for range 5 {
		five.Allow(ctx, "k")
	}
	if r, _ := five.Allow(ctx, "k"); r.Allowed {
		t.Fatal("6th event of 5/m allowed")
	}
	if r, _ := ten.Allow(ctx, "k"); !r.Allowed || r.Remaining != 9 {
		t.Errorf("a limiter with another rate shares the count: %+v", r)
	}
	named := NewStore(c, MustParseRate("10/m"), StoreOptions{Now: clk.Now, Name: "login", Prefix: "app:"})
	named.Allow(ctx, "k")
	for _, p := range []struct {
		prefix string
		n      int
	}{{"rl:5/m:", 1}, {"rl:10/m:", 1}, {"app:login:", 1}, {"rl:login:", 0}, {"app:10/m:", 0}} {
		got, err := c.ListCounters(ctx, p.prefix, 1, clk.Now(), 0)
		if err != nil || len(got) != p.n {
			t.Errorf("counters under %q: %d (%v), want %d", p.prefix, len(got), err, p.n)
		}
	}
}

// The in-process memory of denials holds at most maxDenied keys, so a flood of distinct keys
// cannot grow it without bound; entries whose denial has ended make room first.
func TestStoreDenialMemoryBounded(t *testing.T) {
	clk := newClock()
	l := NewStore(newFake(), MustParseRate("1/m"), StoreOptions{Now: clk.Now})
	now := clk.Now()
	for i := range maxDenied + 10 {
		l.rememberDenial(fmt.Sprint("k", i), now.Add(time.Minute), now)
	}
	if len(l.denied) != maxDenied {
		t.Fatalf("%d denials remembered, want the bound %d", len(l.denied), maxDenied)
	}
	later := now.Add(2 * time.Minute)
	l.rememberDenial("fresh", later.Add(time.Minute), later)
	if _, ok := l.denied["fresh"]; !ok || len(l.denied) != 1 {
		t.Fatalf("after the denials ended: %d remembered, fresh kept %v", len(l.denied), ok)
	}
}

// MaxKeys zero means the default (2^20 keys), not "no room": thousands of distinct keys are
// tracked without ErrFull.
func TestMemoryDefaultMaxKeys(t *testing.T) {
	clk := newClock()
	l := NewMemory(MustParseRate("1/m"), MemoryOptions{Now: clk.Now})
	for i := range 20 * shardCount {
		if r, err := l.Allow(ctx, fmt.Sprint("key", i)); err != nil || !r.Allowed {
			t.Fatalf("key %d: %+v, %v", i, r, err)
		}
	}
	if l.Len() != 20*shardCount {
		t.Fatalf("tracking %d keys, want %d", l.Len(), 20*shardCount)
	}
}

// Store windows are aligned by floor division for any clock, before 1970 too: 30 s before the
// epoch a one-minute window has 30 s left, not 90.
func TestStoreWindowsBeforeEpoch(t *testing.T) {
	clk := testclock.New(time.Unix(-30, 0))
	l := NewStore(newFake(), MustParseRate("2/m"), StoreOptions{Now: clk.Now})
	if r, err := l.Allow(ctx, "k"); err != nil || !r.Allowed || r.Reset != 30*time.Second {
		t.Fatalf("30 s before the epoch: %+v, %v; want Reset 30s", r, err)
	}
	// Exactly on a window boundary before the epoch: a whole window ahead.
	if r, _ := NewStore(newFake(), MustParseRate("2/m"), StoreOptions{Now: testclock.New(time.Unix(-60, 0)).Now}).Allow(ctx, "k"); r.Reset != time.Minute {
		t.Fatalf("on the boundary 60 s before the epoch: Reset %v, want 1m", r.Reset)
	}
	l.Allow(ctx, "k")
	clk.Advance(30 * time.Second) // the epoch: a new window, the previous one weighs fully
	if r, _ := l.Allow(ctx, "k"); r.Allowed {
		t.Fatalf("at the window boundary: %+v, want denied (2 events in the previous window)", r)
	}
}

// limiterFunc is a Limiter that does not report its rate.
type limiterFunc func(context.Context, string) (Result, error)

func (f limiterFunc) Allow(ctx context.Context, key string) (Result, error) { return f(ctx, key) }

// With Headers on, a limiter that reports its rate gets a RateLimit-Policy header; one that
// does not (a custom Limiter) gets only RateLimit, and serving it never fails. Without Headers
// neither is sent.
func TestMiddlewareHeadersPerLimiterKind(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	custom := limiterFunc(func(context.Context, string) (Result, error) {
		return Result{Allowed: true, Remaining: 3, Limit: 4, Reset: 2 * time.Second}, nil
	})
	clk := newClock()
	memory := NewMemory(MustParseRate("2/m"), MemoryOptions{Now: clk.Now})
	for _, c := range []struct {
		name    string
		l       Limiter
		headers bool
		policy  string
		rl      string
	}{
		{"custom with headers", custom, true, "", `"default";r=3;t=2`},
		{"custom without headers", custom, false, "", ""},
		{"memory with headers", memory, true, `"default";q=2;w=60`, `"default";r=1;t=30`},
		{"memory without headers", memory, false, "", ""},
	} {
		w := httptest.NewRecorder()
		Middleware(c.l, ByIP, Options{Headers: c.headers})(ok).ServeHTTP(w, req("192.0.2.1:1"))
		if w.Code != http.StatusNoContent || w.Header().Get("RateLimit-Policy") != c.policy || w.Header().Get("RateLimit") != c.rl {
			t.Errorf("%s: %d, policy %q, RateLimit %q; want %q and %q", c.name, w.Code,
				w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"), c.policy, c.rl)
		}
	}
}

// Rates are accepted up to MaxRateN events per period and refused beyond.
func TestParseRateMaxN(t *testing.T) {
	if _, err := ParseRate(fmt.Sprintf("%d/s", MaxRateN)); err != nil {
		t.Errorf("MaxRateN/s: %v", err)
	}
	if _, err := ParseRate(fmt.Sprintf("%d/s", MaxRateN+1)); err == nil {
		t.Error("MaxRateN+1/s accepted")
	}
}

// A period written as a bare number is seconds, whatever its last digit.
func TestParseRateBareSeconds(t *testing.T) {
	for s, per := range map[string]time.Duration{"5/9": 9 * time.Second, "5/10": 10 * time.Second, "1/19": 19 * time.Second, "1/0s": 0} {
		r, err := ParseRate(s)
		if per == 0 {
			if err == nil {
				t.Errorf("ParseRate(%q) accepted a zero period", s)
			}
			continue
		}
		if err != nil || r.Per != per {
			t.Errorf("ParseRate(%q) = %+v, %v; want per %v", s, r, err, per)
		}
	}
}

// A Rate built by hand is checked like a parsed one: the constructors refuse a negative count,
// a count over MaxRateN, a period that is not positive or is over MaxRatePer, and accept
// the limits themselves.
func TestRateValidAtTheLimits(t *testing.T) {
	for _, c := range []struct {
		r  Rate
		ok bool
	}{
		{Rate{N: 0, Per: time.Second}, true},
		{Rate{N: MaxRateN, Per: MaxRatePer}, true},
		{Rate{N: 1, Per: 1}, true},
		{Rate{N: -1, Per: time.Second}, false},
		{Rate{N: MaxRateN + 1, Per: time.Second}, false},
		{Rate{N: 1, Per: 0}, false},
		{Rate{N: 1, Per: -time.Second}, false},
		{Rate{N: 1, Per: MaxRatePer + 1}, false},
	} {
		if err := c.r.valid(); (err == nil) != c.ok {
			t.Errorf("%+v.valid() = %v, want ok=%v", c.r, err, c.ok)
		}
		func() {
			defer func() {
				if r := recover(); (r == nil) != c.ok {
					t.Errorf("NewMemory(%+v): panic %v, want ok=%v", c.r, r, c.ok)
				}
			}()
			NewMemory(c.r, MemoryOptions{})
		}()
	}
}
