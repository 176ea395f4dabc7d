package audit

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sum is what the admin page adds up: each event's Count, per kind.
func sum(evs []store.Event) map[string]int64 {
	m := map[string]int64{}
	for _, e := range evs {
		m[e.Kind] += Count(e)
	}
	return m
}

func stored(t *testing.T, st store.Events) []store.Event {
	t.Helper()
	ev, err := st.RecentEvents(ctx, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestRefusalsAreCounted(t *testing.T) {
	log, buf := jsonLogger()
	st := memory.New()
	c := &clock{t: time.Date(2026, 12, 6, 10, 0, 30, 0, time.UTC)}
	var observed atomic.Int64
	l := New(st, Options{Log: log, Now: c.now, Observe: func(store.Event) { observed.Add(1) }})
	rec := func(n int, kind, ip, detail string) {
		for range n {
			if err := l.Record(ctx, store.Event{Kind: kind, IP: ip, Detail: detail}); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec(1000, KindCSRFReject, "203.0.113.7", "origin mismatch")
	rec(5, KindCSRFReject, "203.0.113.8", "origin mismatch")
	rec(4, KindCSRFReject, "203.0.113.7", "token missing") // another detail is another key
	for i := range 10 {                                    // one /64, ten addresses: one key
		rec(1, KindRateLimited, fmt.Sprintf("2001:db8:1:2::%x", i+1), "/accounts/login")
	}
	if got := observed.Load(); got != 1019 {
		t.Fatalf("observed %d events, want every one of 1019", got)
	}
	// The first 3 of each of the four keys are stored and logged in full, nothing else yet.
	if n := len(stored(t, st)); n != 12 {
		t.Fatalf("%d rows stored during the window, want 12", n)
	}
	if n := strings.Count(buf.String(), `"msg":"security event"`); n != 12 {
		t.Fatalf("%d log lines during the window, want 12", n)
	}
	// Recent shows the window's counts before they are stored.
	live, err := l.Recent(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum(live); got[KindCSRFReject] != 1009 || got[KindRateLimited] != 10 {
		t.Fatalf("Recent adds up to %v, want 1009 csrf.reject and 10 ratelimit", got)
	}
	if live[0].ID != 0 || !strings.HasPrefix(live[0].Detail, SummaryMark) {
		t.Fatalf("Recent starts with %+v, want the live summaries", live[0])
	}

	// The next window's first refusal ends this one: its summaries are stored and logged.
	c.add(time.Minute)
	rec(1, KindCSRFReject, "203.0.113.7", "origin mismatch")
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ev := stored(t, st)
	if got := sum(ev); got[KindCSRFReject] != 1010 || got[KindRateLimited] != 10 {
		t.Fatalf("stored events add up to %v, want 1010 and 10", got)
	}
	var summaries []string
	for _, e := range ev {
		if strings.HasPrefix(e.Detail, SummaryMark) {
			summaries = append(summaries, e.IP+" "+e.Detail)
			if !e.Time.Equal(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("summary time %v, want the window's start", e.Time)
			}
		}
	}
	want := []string{ // newest first, written sorted by kind, client, detail
		"2001:db8:1:2::/64 ×7 more 10:00:00–10:01:00 UTC: /accounts/login",
		"203.0.113.8 ×2 more 10:00:00–10:01:00 UTC: origin mismatch",
		"203.0.113.7 ×1 more 10:00:00–10:01:00 UTC: token missing",
		"203.0.113.7 ×997 more 10:00:00–10:01:00 UTC: origin mismatch",
	}
	if strings.Join(summaries, "\n") != strings.Join(want, "\n") {
		t.Fatalf("summaries:\n%s\nwant:\n%s", strings.Join(summaries, "\n"), strings.Join(want, "\n"))
	}
	if n := strings.Count(buf.String(), `"count":997`); n != 1 {
		t.Fatalf("summary logged %d times with its count:\n%s", n, buf.String())
	}
}

func TestRefusalKeysAreCapped(t *testing.T) {
	log, buf := jsonLogger()
	st := memory.New()
	c := &clock{t: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	l := New(st, Options{Log: log, Now: c.now, Refusals: RefusalOptions{MaxKeys: 4, Detailed: 1}})
	for ip := range 10 {
		for range 5 {
			l.Record(ctx, store.Event{Kind: KindHostReject, IP: "192.0.2." + string(rune('0'+ip)), Detail: "not allowed"})
		}
	}
	// The cap is per kind: another kind from a client not seen yet is still counted apiece.
	for range 5 {
		l.Record(ctx, store.Event{Kind: KindLoginLocked, IP: "198.51.100.1", Detail: "username"})
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ev := stored(t, st)
	// 4 keys: one row each and a summary of 4 more each; 6 clients × 5 as other clients.
	if got := sum(ev); len(ev) != 4+4+1+2 || got[KindHostReject] != 50 || got[KindLoginLocked] != 5 {
		t.Fatalf("%d rows adding up to %v, want 11 rows, 50 and 5", len(ev), got)
	}
	if ev[0].Kind != KindLoginLocked || ev[0].IP != "198.51.100.1" || Count(ev[0]) != 4 {
		t.Fatalf("newest is %+v, want the login.locked summary of its client", ev[0])
	}
	var other int
	for _, e := range ev {
		if strings.Contains(e.Detail, "×30 more 10:00:00–10:01:00 UTC from other clients") && e.IP == "" {
			other++
		}
	}
	if other != 1 {
		t.Fatalf("want one summary of the 30 from other clients: %+v", ev)
	}
	if n := strings.Count(buf.String(), "counting the rest together"); n != 1 {
		t.Fatalf("cap warning logged %d times, want once a window", n)
	}
}

// Without another refusal, the window's end writes its summaries by itself.
func TestRefusalWindowEndsOnItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, _ := jsonLogger()
		st := memory.New()
		l := New(st, Options{Log: log})
		for range 10 {
			l.Record(ctx, store.Event{Kind: KindLoginLocked, IP: "192.0.2.1", Detail: "username"})
		}
		if got := sum(stored(t, st))[KindLoginLocked]; got != 3 {
			t.Fatalf("stored %d before the window's end, want the first 3", got)
		}
		time.Sleep(DefaultRefusalWindow)
		synctest.Wait()
		if got := sum(stored(t, st))[KindLoginLocked]; got != 10 {
			t.Fatalf("stored %d after the window's end, want 10", got)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// Close writes what is counted; refusals after it are stored one by one.
func TestRefusalsFlushedAtClose(t *testing.T) {
	log, _ := jsonLogger()
	st := memory.New()
	l := New(st, Options{Log: log})
	for range 100 {
		l.Record(ctx, store.Event{Kind: KindCSRFReject, IP: "192.0.2.1"})
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := stored(t, st); len(ev) != 4 || sum(ev)[KindCSRFReject] != 100 {
		t.Fatalf("after Close: %d rows adding up to %v, want 4 and 100", len(ev), sum(ev))
	}
	l.Record(ctx, store.Event{Kind: KindCSRFReject, IP: "192.0.2.1"})
	if ev := stored(t, st); len(ev) != 5 {
		t.Fatalf("a refusal after Close gave %d rows, want 5", len(ev))
	}
	var nl *Logger
	if nl.Close(ctx) != nil || nl.Flush(ctx) != nil {
		t.Fatal("nil Logger")
	}
}

// Events that are not refusals stay one row and one log line each, however many.
func TestOtherEventsAreNotAggregated(t *testing.T) {
	for _, kind := range []string{KindLoginSuccess, KindLoginFailure, KindLockout, KindUnlock, KindPasswordChange, Kind2FAEnable} {
		log, buf := jsonLogger()
		st := memory.New()
		l := New(st, Options{Log: log})
		for range 50 {
			l.Record(ctx, store.Event{Kind: kind, IP: "192.0.2.1", Username: "alice"})
		}
		if n := len(stored(t, st)); n != 50 {
			t.Errorf("%s: %d rows, want 50", kind, n)
		}
		if n := strings.Count(buf.String(), `"msg":"security event"`); n != 50 {
			t.Errorf("%s: %d log lines, want 50", kind, n)
		}
	}
}

func TestPerRefusalOption(t *testing.T) {
	log, _ := jsonLogger()
	st := memory.New()
	l := New(st, Options{Log: log, Refusals: RefusalOptions{InsecurePerRefusal: true}})
	for range 20 {
		l.Record(ctx, store.Event{Kind: KindCSRFReject, IP: "192.0.2.1"})
	}
	if n := len(stored(t, st)); n != 20 {
		t.Fatalf("%d rows, want 20", n)
	}
	// Kinds chooses what is a refusal.
	l = New(st, Options{Log: log, Refusals: RefusalOptions{Kinds: []string{"app.denied"}, Detailed: -1}})
	for range 20 {
		l.Record(ctx, store.Event{Kind: "app.denied"})
		l.Record(ctx, store.Event{Kind: KindCSRFReject})
	}
	l.Close(ctx)
	if ev := stored(t, st); len(ev) != 20+20+1 || sum(ev)["app.denied"] != 20 {
		t.Fatalf("%d rows, %v", len(ev), sum(ev))
	}
}

func TestSummaryCountCannotBeForged(t *testing.T) {
	log, _ := jsonLogger()
	st := memory.New()
	l := New(st, Options{Log: log})
	l.Record(ctx, store.Event{Kind: KindLoginFailure, Detail: "×99999 more"})
	ev := stored(t, st)
	if ev[0].Detail != "x99999 more" || Count(ev[0]) != 1 {
		t.Fatalf("stored %q counting %d", ev[0].Detail, Count(ev[0]))
	}
	for detail, want := range map[string]int64{
		"×12 more 10:00:00–10:01:00 UTC": 12, "×": 1, "×0 more": 1, "×-3": 1, "x12": 1, "": 1,
		"×99999999999999999999 more": 1,
	} {
		if got := Count(store.Event{Detail: detail}); got != want {
			t.Errorf("Count(%q) = %d, want %d", detail, got, want)
		}
	}
}

func TestIPClass(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1", "2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "::ffff:192.0.2.1": "::ffff:192.0.2.1",
		"fe80::1%eth0": "fe80::/64", "": "", "junk": "junk",
	} {
		if got := ipClass(in); got != want {
			t.Errorf("ipClass(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkRecordRefusal is the cost of a refusal beyond the first few: a map update.
func BenchmarkRecordRefusal(b *testing.B) {
	l := New(nopEvents{}, Options{Log: slog.New(slog.DiscardHandler)})
	e := store.Event{Kind: KindCSRFReject, IP: "192.0.2.1", Detail: "origin mismatch"}
	b.ReportAllocs()
	for b.Loop() {
		l.Record(ctx, e)
	}
}

// With a clock that stands still the window never ends: the timer waits (at least a second
// at a time, never spinning) and Close still stores the counts.
func TestRefusalWindowWithStoppedClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, _ := jsonLogger()
		st := memory.New()
		fixed := time.Date(2026, 12, 6, 10, 0, 59, 999e6, time.UTC)
		var ticks atomic.Int64
		l := New(st, Options{Log: log, Now: func() time.Time { ticks.Add(1); return fixed }})
		for range 10 {
			l.Record(ctx, store.Event{Kind: KindCSRFReject, IP: "192.0.2.1"})
		}
		before := ticks.Load()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := sum(stored(t, st))[KindCSRFReject]; got != 3 {
			t.Fatalf("stored %d while the clock stands in the window, want 3", got)
		}
		if n := ticks.Load() - before; n > 10*60+1 {
			t.Fatalf("the timer read the clock %d times in 10 minutes, want at most once a second", n)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := sum(stored(t, st))[KindCSRFReject]; got != 10 {
			t.Fatalf("stored %d after Close, want 10", got)
		}
	})
}
