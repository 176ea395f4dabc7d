package lockout

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/internal/testclock"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/storetest"
)

var ctx = context.Background()

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// v4 returns a distinct IPv4 address for each i.
func v4(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func newGuard(t testing.TB, c store.Counters, clk *testclock.Clock, opts Options) *Guard {
	t.Helper()
	opts.Now = clk.Now
	return New(c, opts)
}

// loginHandler is the shape an app's login view takes: Begin before any hash, then Fail or
// Succeed. Every password is wrong except "right".
func loginHandler(g *Guard, checked *int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass := r.FormValue("username"), r.FormValue("password")
		addr := clientip.FromRequest(r).IP
		a, d, err := g.Begin(r.Context(), user, addr)
		if d.Locked {
			_ = err // would be logged
			WriteLocked(w, d)
			return
		}
		*checked++ // the password hash would run here
		if pass != "right" {
			if _, err := a.Fail(r.Context()); err != nil {
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			http.Error(w, "Invalid username or password.", http.StatusOK)
			return
		}
		_ = a.Succeed(r.Context())
		w.WriteHeader(http.StatusSeeOther)
	})
}

func post(h http.Handler, user, pass string, addr netip.Addr) *httptest.ResponseRecorder {
	body := "username=" + user + "&password=" + pass
	r := httptest.NewRequest(http.MethodPost, "/accounts/login", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = netip.AddrPortFrom(addr, 40000).String()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRotatingIPsLockAccount(t *testing.T) {
	clk := newClock()
	g := newGuard(t, newFake(), clk, Options{})
	checked := 0
	h := loginHandler(g, &checked)
	var rejected int
	for i := range 1000 {
		w := post(h, "alice", fmt.Sprintf("guess%d", i), v4(i))
		switch w.Code {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			rejected++
			if got := w.Header().Get("Retry-After"); got != "900" {
				t.Fatalf("attempt %d: Retry-After = %q, want 900", i, got)
			}
		default:
			t.Fatalf("attempt %d: status %d", i, w.Code)
		}
	}
	// The default account limit is 4×5 = 20: exactly 20 passwords were ever hashed.
	if checked != 20 || rejected != 980 {
		t.Fatalf("hashed %d, rejected %d; want 20 and 980", checked, rejected)
	}
	// Even the right password from a fresh address is refused while the account is locked.
	if w := post(h, "alice", "right", v4(5000)); w.Code != http.StatusTooManyRequests {
		t.Fatalf("right password during lock: %d", w.Code)
	}
	d, err := g.Check(ctx, "ALICE", v4(6000))
	if err != nil || !d.Locked || d.Reason != "username" {
		t.Fatalf("Check = %+v, %v; want locked by username", d, err)
	}
	// Other accounts are untouched.
	if w := post(h, "bob", "right", v4(7000)); w.Code != http.StatusSeeOther {
		t.Fatalf("bob: %d", w.Code)
	}
	// After the cool-off the owner gets in.
	clk.Advance(DefaultCoolOff)
	if w := post(h, "alice", "right", v4(5000)); w.Code != http.StatusSeeOther {
		t.Fatalf("after cool-off: %d", w.Code)
	}
}

func TestSprayFromOneIP(t *testing.T) {
	clk := newClock()
	g := newGuard(t, newFake(), clk, Options{})
	checked := 0
	h := loginHandler(g, &checked)
	attacker := ip("203.0.113.9")
	for i := range 1000 {
		post(h, fmt.Sprintf("user%d", i), "Password1", attacker)
	}
	if checked != 20 {
		t.Fatalf("hashed %d passwords, want 20 (IP limit)", checked)
	}
	d, _ := g.Check(ctx, "someone-else", attacker)
	if !d.Locked || d.Reason != "ip" {
		t.Fatalf("spraying IP: %+v", d)
	}
	// The sprayed accounts are not locked for their owners.
	if d, _ := g.Check(ctx, "user3", ip("198.51.100.1")); d.Locked {
		t.Fatalf("victim account locked: %+v", d)
	}
}

func TestIPv6GroupedByPrefix(t *testing.T) {
	clk := newClock()
	g := newGuard(t, newFake(), clk, Options{})
	base := ip("2001:db8:1:2::").As16()
	for i := range 20 {
		a := base
		a[15], a[14] = byte(i), byte(i*7)
		if _, err := fail(g, fmt.Sprintf("u%d", i), netip.AddrFrom16(a)); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := g.Check(ctx, "x", ip("2001:db8:1:2:ffff::1")); !d.Locked || d.Reason != "ip" {
		t.Fatalf("same /64: %+v", d)
	}
	if d, _ := g.Check(ctx, "x", ip("2001:db8:1:3::1")); d.Locked {
		t.Fatalf("other /64 locked: %+v", d)
	}
	// IPv4-mapped IPv6 counts as the IPv4 address.
	for range 5 {
		fail(g, "carol", ip("::ffff:192.0.2.1"))
	}
	if d, _ := g.Check(ctx, "carol", ip("192.0.2.1")); !d.Locked || d.Reason != "username+ip" {
		t.Fatalf("mapped address: %+v", d)
	}
}

func TestScopesAndLimits(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		fails   func(g *Guard)
		user    string
		addr    netip.Addr
		locked  bool
		reason  string
		tripped int
	}{
		{
			name: "pair locks after 5",
			fails: func(g *Guard) {
				for range 5 {
					fail(g, "bob", ip("192.0.2.1"))
				}
			},
			user: "bob", addr: ip("192.0.2.1"), locked: true, reason: "username+ip",
		},
		{
			name: "pair lock does not follow the user elsewhere",
			fails: func(g *Guard) {
				for range 5 {
					fail(g, "bob", ip("192.0.2.1"))
				}
			},
			user: "bob", addr: ip("192.0.2.2"), locked: false,
		},
		{
			name: "4 failures do not lock",
			fails: func(g *Guard) {
				for range 4 {
					fail(g, "bob", ip("192.0.2.1"))
				}
			},
			user: "bob", addr: ip("192.0.2.1"), locked: false,
		},
		{
			name: "custom limits",
			opts: Options{FailureLimit: 2, UserFailureLimit: 3, IPFailureLimit: 100},
			fails: func(g *Guard) {
				fail(g, "bob", ip("192.0.2.1"))
				fail(g, "bob", ip("192.0.2.2"))
				fail(g, "bob", ip("192.0.2.3"))
			},
			user: "bob", addr: ip("192.0.2.4"), locked: true, reason: "username",
		},
		{
			name: "LockBy IP only ignores the account",
			opts: Options{LockBy: ScopeIP},
			fails: func(g *Guard) {
				for i := range 50 {
					fail(g, "bob", v4(i))
				}
			},
			user: "bob", addr: v4(99), locked: false,
		},
		{
			name: "case and width variants share a counter",
			fails: func(g *Guard) {
				for _, u := range []string{"Bob", "BOB", " bob ", "ｂｏｂ", "bob"} {
					fail(g, u, ip("192.0.2.1"))
				}
			},
			user: "bOb", addr: ip("192.0.2.1"), locked: true, reason: "username+ip",
		},
		{
			name: "empty username never builds a global account key",
			fails: func(g *Guard) {
				for i := range 50 {
					fail(g, "", v4(i))
				}
			},
			user: "", addr: v4(1000), locked: false,
		},
		{
			name: "invalid IP still counts the account",
			fails: func(g *Guard) {
				for range 20 {
					fail(g, "dave", netip.Addr{})
				}
			},
			user: "dave", addr: ip("192.0.2.1"), locked: true, reason: "username",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuard(t, newFake(), newClock(), tt.opts)
			tt.fails(g)
			d, err := g.Check(ctx, tt.user, tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			if d.Locked != tt.locked || d.Reason != tt.reason {
				t.Fatalf("Check = %+v; want locked=%v reason=%q", d, tt.locked, tt.reason)
			}
		})
	}
}

func TestHostileUsernamesDoNotCollide(t *testing.T) {
	g := newGuard(t, newFake(), newClock(), Options{})
	long := strings.Repeat("x", 5000)
	names := []string{"a|b", "a", "b", "e", "p|ea|1.2.3.4", "u|eYQ", "a|192.0.2.1", long, long + "y", "\x00", "\xff\xfe"}
	seen := map[string]string{}
	for _, n := range names {
		k := g.keysFor(n, ip("192.0.2.1"))
		for _, key := range []string{k.user, k.pair} {
			if prev, ok := seen[key]; ok {
				t.Fatalf("%q and %q share key %q", prev, n, key)
			}
			seen[key] = n
			if len(key) > 200 {
				t.Fatalf("key for %d-byte name is %d bytes", len(n), len(key))
			}
		}
	}
	// Locking "a|b" must not lock "a" at IP "b"-anything, nor the other way.
	for range 5 {
		fail(g, "a|b", ip("192.0.2.1"))
	}
	if d, _ := g.Check(ctx, "a", ip("192.0.2.1")); d.Locked {
		t.Fatalf("collision: %+v", d)
	}
}

func TestCoolOffExpiry(t *testing.T) {
	clk := newClock()
	g := newGuard(t, newFake(), clk, Options{CoolOff: 10 * time.Minute})
	for range 4 {
		fail(g, "erin", ip("192.0.2.1"))
		clk.Advance(time.Minute) // failures keep adding up: each restarts the window
	}
	d, err := fail(g, "erin", ip("192.0.2.1"))
	if err != nil || !d.Locked || !d.Tripped || d.RetryAfter != 10*time.Minute {
		t.Fatalf("5th failure = %+v, %v", d, err)
	}
	clk.Advance(10*time.Minute - time.Second)
	d, _ = g.Check(ctx, "erin", ip("192.0.2.1"))
	if !d.Locked || d.RetryAfter != time.Second {
		t.Fatalf("1s before expiry: %+v", d)
	}
	clk.Advance(time.Second)
	if d, _ = g.Check(ctx, "erin", ip("192.0.2.1")); d.Locked {
		t.Fatalf("after expiry: %+v", d)
	}
	// The counter expired as a whole: one more failure does not lock again.
	if d, _ = fail(g, "erin", ip("192.0.2.1")); d.Locked {
		t.Fatalf("fresh failure after expiry locked: %+v", d)
	}
}

func TestEscalation(t *testing.T) {
	clk := newClock()
	c := newFake()
	g := newGuard(t, c, clk, Options{Escalate: true, CoolOff: time.Minute, MaxCoolOff: 5 * time.Minute})
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for round, w := range want {
		var d Decision
		for range 5 {
			d, _ = fail(g, "frank", ip("192.0.2.1"))
		}
		if !d.Locked || !d.Tripped || d.RetryAfter != w {
			t.Fatalf("round %d: %+v, want lock of %v", round, d, w)
		}
		// An attempt during the lock is refused and neither shortens nor prolongs it.
		clk.Advance(10 * time.Second)
		d, _ = fail(g, "frank", ip("192.0.2.1"))
		if !d.Locked || d.Tripped || d.RetryAfter != w-10*time.Second {
			t.Fatalf("round %d: attempt during the lock gave %+v, want %v left", round, d, w-10*time.Second)
		}
		clk.Advance(w - 10*time.Second - time.Second)
		if d, _ := g.Check(ctx, "frank", ip("192.0.2.1")); !d.Locked {
			t.Fatalf("round %d: lock ended early", round)
		}
		clk.Advance(time.Second)
		if d, _ := g.Check(ctx, "frank", ip("192.0.2.1")); d.Locked {
			t.Fatalf("round %d: still locked after %v: %+v", round, w, d)
		}
	}
	// Unlock forgets the escalation too.
	if err := g.Unlock(ctx, "frank"); err != nil {
		t.Fatal(err)
	}
	var d Decision
	for range 5 {
		d, _ = fail(g, "frank", ip("192.0.2.1"))
	}
	if d.RetryAfter != time.Minute {
		t.Fatalf("after Unlock: %+v, want a 1m lock", d)
	}
	// Without Escalate every lock is CoolOff.
	g2 := newGuard(t, newFake(), clk, Options{CoolOff: time.Minute})
	for round := range 3 {
		for range 5 {
			d, _ = fail(g2, "gina", ip("192.0.2.1"))
		}
		if d.RetryAfter != time.Minute {
			t.Fatalf("round %d without escalation: %+v", round, d)
		}
		clk.Advance(time.Minute)
	}
}

func TestSucceedResets(t *testing.T) {
	tests := []struct {
		name              string
		opts              Options
		pairN, userN, ipN int64
	}{
		{"default clears pair only", Options{}, 0, 4, 4},
		{"ResetUserOnSuccess", Options{ResetUserOnSuccess: true}, 0, 0, 4},
		{"InsecureResetIPOnSuccess", Options{InsecureResetIPOnSuccess: true}, 0, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c := newFake()
			g := newGuard(t, c, clk, tt.opts)
			for range 4 {
				fail(g, "hank", ip("192.0.2.1"))
			}
			if err := g.Succeed(ctx, "hank", ip("192.0.2.1")); err != nil {
				t.Fatal(err)
			}
			k := g.keysFor("hank", ip("192.0.2.1"))
			for _, x := range []struct {
				key  string
				want int64
			}{{k.pair, tt.pairN}, {k.user, tt.userN}, {k.ip, tt.ipN}} {
				got, _ := c.GetCounter(ctx, x.key, clk.Now())
				if got.N != x.want {
					t.Errorf("%s = %d, want %d", x.key, got.N, x.want)
				}
			}
		})
	}
}

func TestUnlockAndList(t *testing.T) {
	clk := newClock()
	g := newGuard(t, newFake(), clk, Options{})
	for range 5 {
		fail(g, "Ivy", ip("192.0.2.1"))
		fail(g, "ivy", ip("192.0.2.2"))
	}
	for i := range 10 {
		fail(g, "ivy", v4(i))
	}
	for i := range 20 {
		fail(g, fmt.Sprintf("spray%d", i), ip("198.51.100.7"))
	}
	entries, err := g.Locked(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s %s %s %d", e.Scope, e.Username, e.IP, e.Failures))
		if !e.Until.After(clk.Now()) {
			t.Errorf("entry %+v not in the future", e)
		}
	}
	want := []string{
		"username+ip ivy 192.0.2.1 5",
		"username+ip ivy 192.0.2.2 5",
		"username ivy  20",
		"ip  198.51.100.7 20",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Locked =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e, _ := g.Locked(ctx, 2); len(e) != 2 {
		t.Fatalf("Locked(2) returned %d", len(e))
	}

	if err := g.Unlock(ctx, "IVY"); err != nil {
		t.Fatal(err)
	}
	if d, _ := g.Check(ctx, "ivy", ip("192.0.2.1")); d.Locked {
		t.Fatalf("after Unlock: %+v", d)
	}
	if d, _ := g.Check(ctx, "victim", ip("198.51.100.7")); !d.Locked {
		t.Fatal("Unlock of a user cleared an IP lock")
	}
	if err := g.UnlockIP(ctx, ip("198.51.100.7")); err != nil {
		t.Fatal(err)
	}
	if d, _ := g.Check(ctx, "victim", ip("198.51.100.7")); d.Locked {
		t.Fatalf("after UnlockIP: %+v", d)
	}
	if e, _ := g.Locked(ctx, 0); len(e) != 0 {
		t.Fatalf("still locked: %+v", e)
	}
	// UnlockIP clears pairs on that IP only.
	for range 5 {
		fail(g, "jay", ip("192.0.2.9"))
		fail(g, "kim", ip("192.0.2.10"))
	}
	g.UnlockIP(ctx, ip("192.0.2.9"))
	if d, _ := g.Check(ctx, "jay", ip("192.0.2.9")); d.Locked {
		t.Fatal("UnlockIP left the pair locked")
	}
	if d, _ := g.Check(ctx, "kim", ip("192.0.2.10")); !d.Locked {
		t.Fatal("UnlockIP cleared another IP's pair")
	}
	e, _ := g.Locked(ctx, 0)
	if len(e) != 1 || g.UnlockKey(ctx, e[0].Key) != nil {
		t.Fatalf("UnlockKey setup: %+v", e)
	}
	if d, _ := g.Check(ctx, "kim", ip("192.0.2.10")); d.Locked {
		t.Fatal("UnlockKey left the pair locked")
	}
	if g.UnlockKey(ctx, "session:abc") == nil || g.Unlock(ctx, "  ") == nil || g.UnlockIP(ctx, netip.Addr{}) == nil {
		t.Fatal("bad unlock arguments accepted")
	}
}

func TestStoreOutageFailsClosed(t *testing.T) {
	c := newFake()
	g := newGuard(t, c, newClock(), Options{})
	c.Down()
	d, err := g.Check(ctx, "lee", ip("192.0.2.1"))
	if err == nil || !d.Locked || d.Reason != ReasonUnavailable {
		t.Fatalf("Check during outage = %+v, %v", d, err)
	}
	if d, err := fail(g, "lee", ip("192.0.2.1")); err == nil || !d.Locked {
		t.Fatalf("Fail during outage = %+v, %v", d, err)
	}
	if g.Succeed(ctx, "lee", ip("192.0.2.1")) == nil || g.Unlock(ctx, "lee") == nil {
		t.Fatal("Succeed/Unlock hid the outage")
	}
	if _, err := g.Locked(ctx, 10); err == nil {
		t.Fatal("Locked hid the outage")
	}
	checked := 0
	w := post(loginHandler(g, &checked), "lee", "right", ip("192.0.2.1"))
	if w.Code != http.StatusServiceUnavailable || checked != 0 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("login during outage: %d, hashed %d", w.Code, checked)
	}
}

func TestConcurrentFailuresAllCount(t *testing.T) {
	c := newFake()
	clk := newClock()
	g := newGuard(t, c, clk, Options{FailureLimit: 1000, UserFailureLimit: 1000, IPFailureLimit: 1000})
	var wg sync.WaitGroup
	var mu sync.Mutex
	tripped := 0
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, _ := fail(g, "max", v4(i%3))
			if d.Tripped {
				mu.Lock()
				tripped++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got, _ := c.GetCounter(ctx, g.keysFor("max", v4(0)).user, clk.Now())
	if got.N != 200 || tripped != 0 {
		t.Fatalf("user counter = %d (tripped %d), want 200", got.N, tripped)
	}
}

func TestWriteLocked(t *testing.T) {
	tests := []struct {
		d      Decision
		status int
		retry  string
	}{
		{Decision{Locked: true, RetryAfter: 15 * time.Minute, Reason: "username"}, 429, "900"},
		{Decision{Locked: true, RetryAfter: 1200 * time.Millisecond}, 429, "2"},
		{Decision{Locked: true, RetryAfter: time.Nanosecond}, 429, "1"},
		{Decision{Locked: true}, 429, "1"},
		{Decision{Locked: true, Reason: ReasonUnavailable}, 503, "30"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		WriteLocked(w, tt.d)
		if w.Code != tt.status || w.Header().Get("Retry-After") != tt.retry {
			t.Errorf("%+v: %d Retry-After %q; want %d %q", tt.d, w.Code, w.Header().Get("Retry-After"), tt.status, tt.retry)
		}
		if w.Header().Get("Cache-Control") != "no-store" || strings.Contains(w.Body.String(), "username") {
			t.Errorf("%+v: headers %v body %q", tt.d, w.Header(), w.Body.String())
		}
	}
}

func FuzzUsernameKeys(f *testing.F) {
	for _, s := range []string{"alice", "A|B", "", " ", "ｂｏｂ", "\xff", strings.Repeat("z", 200), "e|p|u"} {
		f.Add(s, "bob")
	}
	g := New(newFake(), Options{})
	addr := ip("192.0.2.1")
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := g.keysFor(a, addr), g.keysFor(b, addr)
		na, nb := g.normalize(a), g.normalize(b)
		if (na == nb) != (ka == kb) {
			t.Fatalf("%q/%q: normalised equal %v but keys equal %v", a, b, na == nb, ka == kb)
		}
		if na == "" {
			if ka.user != "" || ka.pair != "" {
				t.Fatalf("empty name %q got account keys", a)
			}
			return
		}
		enc, ok := strings.CutPrefix(ka.user, DefaultPrefix+"u|")
		if !ok || strings.ContainsAny(enc, "|") {
			t.Fatalf("%q: malformed key %q", a, ka.user)
		}
		if name, ok := decodeUser(enc); ok && name != na {
			t.Fatalf("%q: key decodes to %q, want %q", a, name, na)
		}
		if ka.pair != DefaultPrefix+"p|"+enc+"|192.0.2.1" {
			t.Fatalf("%q: pair key %q", a, ka.pair)
		}
	})
}

func BenchmarkCheckLocked(b *testing.B) {
	clk := newClock()
	g := newGuard(b, newFake(), clk, Options{})
	for i := range 20 {
		fail(g, "victim", v4(i))
	}
	addr := ip("203.0.113.50")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d, _ := g.Check(ctx, "victim", addr)
		if !d.Locked {
			b.Fatal("not locked")
		}
	}
}

func BenchmarkCheckLockedParallel(b *testing.B) {
	clk := newClock()
	g := newGuard(b, newFake(), clk, Options{})
	for i := range 20 {
		fail(g, "victim", v4(i))
	}
	addr := ip("203.0.113.50")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d, _ := g.Check(ctx, "victim", addr); !d.Locked {
				b.Fatal("not locked")
			}
		}
	})
}

// countingCounters counts store reads.
type countingCounters struct {
	*storetest.Flaky
	mu   sync.Mutex
	gets int
}

func (c *countingCounters) GetCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Flaky.GetCounter(ctx, key, now)
}

func TestLockCache(t *testing.T) {
	clk := newClock()
	c := &countingCounters{Flaky: newFake()}
	g := newGuard(t, c, clk, Options{CoolOff: 10 * time.Second})
	for i := range 20 {
		fail(g, "nina", v4(i))
	}
	c.gets = 0
	for range 100 {
		d, err := g.Check(ctx, "nina", ip("203.0.113.1"))
		if err != nil || !d.Locked || d.Reason != "username" || d.RetryAfter != 10*time.Second {
			t.Fatalf("cached Check = %+v, %v", d, err)
		}
	}
	if c.gets != 0 {
		t.Fatalf("%d store reads for a remembered lock, want 0", c.gets)
	}
	// The memory is trusted for LockCacheTTL, then the store is asked again.
	clk.Advance(DefaultLockCacheTTL)
	if d, _ := g.Check(ctx, "nina", ip("203.0.113.1")); !d.Locked || d.RetryAfter != 9*time.Second || c.gets == 0 {
		t.Fatalf("after cache TTL: %+v, %d reads", d, c.gets)
	}
	// Never past the lock's own end.
	clk.Advance(9 * time.Second)
	if d, _ := g.Check(ctx, "nina", ip("203.0.113.1")); d.Locked {
		t.Fatalf("cache outlived the lock: %+v", d)
	}
	// Unlock on this Guard is seen at once.
	for i := range 20 {
		fail(g, "nina", v4(i))
	}
	g.Unlock(ctx, "nina")
	if d, _ := g.Check(ctx, "nina", ip("203.0.113.1")); d.Locked {
		t.Fatalf("after local Unlock: %+v", d)
	}
	// Disabled cache: every Check reads the store.
	g2 := newGuard(t, c, clk, Options{LockCacheTTL: -1})
	for i := range 20 {
		fail(g2, "omar", v4(i))
	}
	c.gets = 0
	g2.Check(ctx, "omar", ip("203.0.113.1"))
	g2.Check(ctx, "omar", ip("203.0.113.1"))
	if c.gets != 6 {
		t.Fatalf("uncached: %d reads, want 6", c.gets)
	}
}

// fail runs one wrong password through Begin and Attempt.Fail, as a login view does; a
// refused Begin returns its decision and counts nothing.
func fail(g *Guard, user string, addr netip.Addr) (Decision, error) {
	a, d, err := g.Begin(ctx, user, addr)
	if err != nil || d.Locked {
		return d, err
	}
	return a.Fail(ctx)
}

// TestOnRefused: every refused attempt is reported once with its reason (Begin from the
// store, Remembered and Begin from the lock cache, Check, an outage); allowed ones are not.
func TestOnRefused(t *testing.T) {
	c := newFake()
	var got []string
	g := newGuard(t, c, newClock(), Options{FailureLimit: 2, OnRefused: func(r string) { got = append(got, r) }})
	for range 2 {
		if _, err := fail(g, "lee", ip("192.0.2.1")); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 0 {
		t.Fatalf("reported before any refusal: %q", got)
	}
	if _, d, _ := g.Begin(ctx, "lee", ip("192.0.2.1")); !d.Locked {
		t.Fatal("not locked")
	}
	if _, ok := g.Remembered("lee", ip("192.0.2.1")); !ok {
		t.Fatal("not remembered")
	}
	if _, ok := g.Remembered("kim", ip("192.0.2.9")); ok {
		t.Fatal("kim remembered")
	}
	if d, _ := g.Check(ctx, "lee", ip("192.0.2.1")); !d.Locked {
		t.Fatal("Check: not locked")
	}
	c.Down()
	_, _, _ = g.Begin(ctx, "kim", ip("192.0.2.9"))
	want := []string{"username+ip", "username+ip", "username+ip", ReasonUnavailable}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("reported %q, want %q", got, want)
	}
}

// The IPv6Prefix option sets how much of an IPv6 address is one client: addresses inside the
// configured prefix share one IP counter, addresses outside it do not. Zero, negative or
// impossible lengths fall back to /64 (one subscriber's allocation), never to "every address
// apart" or "the whole Internet together". A zone never makes a new client.
func TestIPv6PrefixOption(t *testing.T) {
	cases := []struct {
		name   string
		prefix int
		same   string // inside the prefix of 2001:db8:1:2::1 (a different address)
		other  string // outside it
	}{
		{"default", 0, "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"},
		{"negative means 64", -1, "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"},
		{"over 128 means 64", 129, "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"},
		{"/48", 48, "2001:db8:1:ffff::9", "2001:db8:2::1"},
		{"/56", 56, "2001:db8:1:ff::9", "2001:db8:1:100::1"},
		{"/127", 127, "2001:db8:1:2::", "2001:db8:1:2::2"},
		{"/128: one address", 128, "2001:db8:1:2::1%eth0", "2001:db8:1:2::2"},
		{"/1", 1, "7fff::1", "8000::1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			g := newGuard(t, newFake(), clk, Options{IPv6Prefix: c.prefix})
			attacker := ip("2001:db8:1:2::1")
			if c.prefix == 1 {
				attacker = ip("::1")
			}
			for i := range DefaultFailureLimit * 4 {
				if _, err := fail(g, fmt.Sprintf("u%d", i), attacker); err != nil {
					t.Fatal(err)
				}
			}
			if d, _ := g.Check(ctx, "x", attacker); !d.Locked || d.Reason != "ip" {
				t.Fatalf("the spraying address itself: %+v", d)
			}
			if d, _ := g.Check(ctx, "x", ip(c.same)); !d.Locked || d.Reason != "ip" {
				t.Errorf("%s is inside the prefix but not locked: %+v", c.same, d)
			}
			if d, _ := g.Check(ctx, "x", ip(c.other)); d.Locked {
				t.Errorf("%s is outside the prefix but locked: %+v", c.other, d)
			}
		})
	}
	// IPv4 is never grouped, whatever the IPv6 prefix.
	clk := newClock()
	g := newGuard(t, newFake(), clk, Options{IPv6Prefix: 8})
	for i := range DefaultFailureLimit * 4 {
		fail(g, fmt.Sprintf("u%d", i), ip("192.0.2.1"))
	}
	if d, _ := g.Check(ctx, "x", ip("192.0.2.2")); d.Locked {
		t.Errorf("a neighbouring IPv4 address is locked: %+v", d)
	}
	if d, _ := g.Check(ctx, "x", ip("::ffff:192.0.2.1")); !d.Locked {
		t.Errorf("the IPv4-mapped form of a locked IPv4 address is not locked: %+v", d)
	}
}

// Locked names what is locked the way an operator reads it: an IPv6 client by its counting
// prefix (the bare address when the prefix is /128), a username in clear up to
// maxEncodedName bytes and only as a hash beyond.
func TestLockedEntryNames(t *testing.T) {
	clk := newClock()
	for _, c := range []struct {
		prefix int
		want   string
	}{{0, "2001:db8:1:2::/64"}, {48, "2001:db8:1::/48"}, {128, "2001:db8:1:2::1"}} {
		g := newGuard(t, newFake(), clk, Options{IPv6Prefix: c.prefix})
		for i := range DefaultFailureLimit * 4 {
			fail(g, fmt.Sprintf("u%d", i), ip("2001:db8:1:2::1"))
		}
		entries, err := g.Locked(ctx, 0)
		if err != nil || len(entries) != 1 || entries[0].Scope != ScopeIP || entries[0].IP != c.want {
			t.Errorf("IPv6Prefix %d: Locked = %+v, %v; want one IP entry %q", c.prefix, entries, err, c.want)
		}
	}
	g := newGuard(t, newFake(), clk, Options{})
	atBound := strings.Repeat("a", maxEncodedName)
	overBound := strings.Repeat("b", maxEncodedName+1)
	for i := range DefaultFailureLimit * 4 {
		fail(g, atBound, v4(i))
		fail(g, overBound, v4(i))
	}
	entries, err := g.Locked(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if e.Scope == ScopeUser {
			names[e.Username] = true
		}
	}
	if len(names) != 2 || !names[atBound] || !names[""] {
		t.Errorf("usernames listed: %v; want the %d-byte name in clear and the longer one hashed (empty)", names, maxEncodedName)
	}
	for _, name := range []string{atBound, overBound} {
		if err := g.Unlock(ctx, name); err != nil {
			t.Fatal(err)
		}
		if d, _ := g.Check(ctx, name, ip("192.0.2.77")); d.Locked {
			t.Errorf("Unlock of a %d-byte name left it locked", len(name))
		}
	}
}

// MaxCoolOff zero means DefaultMaxCoolOff (24 h), like every other zero option: escalation is
// not silently capped at the first cool-off.
func TestMaxCoolOffZeroMeansDefault(t *testing.T) {
	clk := newClock()
	g := newGuard(t, newFake(), clk, Options{Escalate: true, CoolOff: time.Hour})
	want := []time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, DefaultMaxCoolOff}
	for round, w := range want {
		var d Decision
		for range DefaultFailureLimit {
			d, _ = fail(g, "pat", ip("192.0.2.1"))
		}
		if !d.Locked || d.RetryAfter != w {
			t.Fatalf("round %d: %+v, want a lock of %v", round, d, w)
		}
		clk.Advance(w)
	}
	// A MaxCoolOff below CoolOff is raised to it: a lock is never shorter than CoolOff.
	g2 := newGuard(t, newFake(), clk, Options{Escalate: true, CoolOff: time.Hour, MaxCoolOff: time.Minute})
	for round := range 3 {
		var d Decision
		for range DefaultFailureLimit {
			d, _ = fail(g2, "quin", ip("192.0.2.1"))
		}
		if d.RetryAfter != time.Hour {
			t.Fatalf("round %d: %+v, want exactly CoolOff", round, d)
		}
		clk.Advance(time.Hour)
	}
}

// The in-process lock cache holds at most maxCached entries however many keys are locked,
// so a flood over many addresses cannot grow it without bound; entries past their trust
// are dropped first to make room.
func TestLockCacheBounded(t *testing.T) {
	clk := newClock()
	g := newGuard(t, newFake(), clk, Options{})
	now := clk.Now()
	for i := range maxCached + 10 {
		g.remember(fmt.Sprintf("k%d", i), ScopeIP, now.Add(time.Hour), now)
	}
	if n := len(g.cache.m); n != maxCached {
		t.Fatalf("cache holds %d entries, want exactly the bound %d", n, maxCached)
	}
	// Once they are no longer trusted, a new lock evicts them.
	later := now.Add(2 * DefaultLockCacheTTL)
	g.remember("fresh", ScopeIP, later.Add(time.Hour), later)
	if _, ok := g.cached("fresh", later); !ok || len(g.cache.m) != 1 {
		t.Fatalf("after expiry: %d entries, fresh cached %v", len(g.cache.m), ok)
	}
}

// Attempt.Succeed (the path a login view takes) clears the pair, and the username or the IP
// only when the options say so; every other scope gets its slot back and keeps its failures.
// Above all, a success never clears the IP scope unless InsecureResetIPOnSuccess is set: an
// attacker who owns one account must not be able to reset a spraying address by logging in.
func TestAttemptSucceedResets(t *testing.T) {
	tests := []struct {
		name              string
		opts              Options
		pairN, userN, ipN int64 // slots left taken (failures) after the success
	}{
		{"default clears pair only", Options{}, 0, 4, 4},
		{"ResetUserOnSuccess", Options{ResetUserOnSuccess: true}, 0, 0, 4},
		{"InsecureResetIPOnSuccess", Options{InsecureResetIPOnSuccess: true}, 0, 4, 0},
		{"both", Options{ResetUserOnSuccess: true, InsecureResetIPOnSuccess: true}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c := newFake()
			g := newGuard(t, c, clk, tt.opts)
			for range 4 {
				fail(g, "hank", ip("192.0.2.1"))
			}
			a, d, err := g.Begin(ctx, "hank", ip("192.0.2.1"))
			if err != nil || d.Locked {
				t.Fatalf("Begin: %+v, %v", d, err)
			}
			if err := a.Succeed(ctx); err != nil {
				t.Fatal(err)
			}
			k := g.keysFor("hank", ip("192.0.2.1"))
			for _, x := range []struct {
				name, key string
				want      int64
			}{{"pair", k.pair, tt.pairN}, {"user", k.user, tt.userN}, {"ip", k.ip, tt.ipN}} {
				slots, _ := c.GetCounter(ctx, x.key, clk.Now())
				failures, _ := c.GetCounter(ctx, g.failKey(x.key), clk.Now())
				if slots.N != x.want || failures.N != x.want {
					t.Errorf("%s: %d slots taken, %d failures; want %d of each", x.name, slots.N, failures.N, x.want)
				}
			}
		})
	}
}

// With Escalate, the first lockout of a key is exactly a CoolOff lock from the reservation
// that tripped it, as without Escalate: escalation lengthens only later lockouts.
func TestFirstEscalatedLockIsCoolOff(t *testing.T) {
	for _, escalate := range []bool{false, true} {
		clk := newClock()
		g := newGuard(t, newFake(), clk, Options{Escalate: escalate, CoolOff: time.Minute, MaxCoolOff: time.Hour})
		for range DefaultFailureLimit - 1 {
			fail(g, "lee", ip("192.0.2.1"))
		}
		a, d, err := g.Begin(ctx, "lee", ip("192.0.2.1"))
		if err != nil || d.Locked {
			t.Fatalf("Begin: %+v, %v", d, err)
		}
		clk.Advance(20 * time.Second) // a slow password check
		d, err = a.Fail(ctx)
		if err != nil || !d.Locked || !d.Tripped || d.RetryAfter != 40*time.Second {
			t.Errorf("escalate=%v: tripping Fail = %+v, %v; want a lock ending one CoolOff after the reservation (40s left)", escalate, d, err)
		}
		clk.Advance(40*time.Second - time.Nanosecond)
		if d, _ := g.Check(ctx, "lee", ip("192.0.2.1")); !d.Locked {
			t.Errorf("escalate=%v: lock ended early", escalate)
		}
		clk.Advance(time.Nanosecond)
		if d, _ := g.Check(ctx, "lee", ip("192.0.2.1")); d.Locked {
			t.Errorf("escalate=%v: still locked after CoolOff: %+v", escalate, d)
		}
	}
}
