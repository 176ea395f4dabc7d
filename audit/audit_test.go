package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

var ctx = context.Background()

// syncBuffer is a bytes.Buffer safe for the background writer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func jsonLogger() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func TestRecordLogsAndStores(t *testing.T) {
	log, buf := jsonLogger()
	st := memory.New()
	fixed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	l := New(st, Options{Log: log, Now: func() time.Time { return fixed }})
	events := []store.Event{
		{Kind: KindLoginFailure, Username: "alice", IP: "192.0.2.1"},
		{Kind: KindLoginSuccess, Username: "alice", UserID: "7", IP: "192.0.2.1"},
		{Kind: KindLockout, Username: "bob", Detail: "username"},
	}
	for _, e := range events {
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Recent(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Kind != KindLockout || got[1].Kind != KindLoginSuccess || got[1].UserID != "7" {
		t.Fatalf("Recent = %+v", got)
	}
	if !got[0].Time.Equal(fixed) || got[0].Time.Location() != time.UTC {
		t.Fatalf("time %v, want %v in UTC", got[0].Time, fixed)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("log lines: %q", lines)
	}
	var rec struct {
		Level string
		Msg   string
		Audit map[string]any
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Level != "WARN" || rec.Audit["kind"] != KindLoginFailure || rec.Audit["username"] != "alice" || rec.Audit["ip"] != "192.0.2.1" {
		t.Fatalf("log record %+v", rec)
	}
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil || rec.Level != "INFO" {
		t.Fatalf("success logged at %q (%v)", rec.Level, err)
	}
}

func TestHostileFieldsAreNeutralised(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	st := memory.New()
	l := New(st, Options{Log: log})
	long := strings.Repeat("é", 5000)
	e := store.Event{
		Kind:     KindLoginFailure,
		Username: "mallory\nlevel=INFO msg=\"security event\" audit.kind=login.success\r\u2028",
		Detail:   long,
		IP:       "\xff\xfe\x00",
	}
	if err := l.Record(ctx, e); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("one event produced %d log lines:\n%s", n, buf.String())
	}
	got, _ := l.Recent(ctx, 1)
	s := got[0]
	if strings.ContainsAny(s.Username, "\r\n\u2028") || !strings.Contains(s.Username, `\u000a`) {
		t.Fatalf("stored username %q", s.Username)
	}
	if s.IP != `\xff\xfe\u0000` {
		t.Fatalf("stored IP %q", s.IP)
	}
	if len(s.Detail) > maxDetail || !utf8.ValidString(s.Detail) || !strings.HasSuffix(s.Detail, "…") {
		t.Fatalf("detail: %d bytes, valid %v", len(s.Detail), utf8.ValidString(s.Detail))
	}
	if (store.Event{}) == (l.clean(store.Event{})) || l.clean(store.Event{}).Kind != "unknown" {
		t.Fatal("empty kind not named")
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"plain", "a\nb", "\xff", "é\u2028", strings.Repeat("ü", 100), "\uFFFD"} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 4 || max > 4096 {
			return
		}
		out := clean(s, max)
		if len(out) > max || !utf8.ValidString(out) {
			t.Fatalf("clean(%q, %d) = %q (%d bytes)", s, max, out, len(out))
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("clean(%q) kept control %U", s, r)
			}
		}
		if utf8.ValidString(s) && len(s) <= max && !strings.ContainsFunc(s, func(r rune) bool {
			return r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || (r >= 0x80 && r < 0xa0)
		}) && out != s {
			t.Fatalf("clean changed harmless %q to %q", s, out)
		}
	})
}

// slowEvents blocks AppendEvent until release is closed.
type slowEvents struct {
	store.Events
	release chan struct{}
	mu      sync.Mutex
	stored  []store.Event
}

func (s *slowEvents) AppendEvent(ctx context.Context, e store.Event) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.stored = append(s.stored, e)
	s.mu.Unlock()
	return nil
}

func TestSlowStoreDoesNotBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, buf := jsonLogger()
		slow := &slowEvents{release: make(chan struct{})}
		l := New(slow, Options{Log: log, Timeout: 50 * time.Millisecond, MaxPending: 2})
		start := time.Now()
		reqCtx, cancel := context.WithCancel(ctx)
		if err := l.Record(reqCtx, store.Event{Kind: KindCSRFReject}); !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if waited := time.Since(start); waited != 50*time.Millisecond {
			t.Fatalf("Record waited %v, want the 50ms timeout", waited)
		}
		cancel() // the client went away: the pending write must still complete
		if err := l.Record(ctx, store.Event{Kind: KindCSPReport}); !errors.Is(err, ErrTimeout) {
			t.Fatalf("second: %v", err)
		}
		// Two writes pending = MaxPending: the third goes to the log only, at once.
		start = time.Now()
		if err := l.Record(ctx, store.Event{Kind: KindLockout}); !errors.Is(err, ErrBusy) || time.Since(start) != 0 {
			t.Fatalf("third: %v after %v", err, time.Since(start))
		}
		if c := strings.Count(buf.String(), `"msg":"security event"`); c != 3 {
			t.Fatalf("%d events logged, want all 3", c)
		}
		close(slow.release)
		synctest.Wait()
		if len(slow.stored) != 2 {
			t.Fatalf("stored %d late writes, want 2", len(slow.stored))
		}
		// Slots are free again.
		if err := l.Record(ctx, store.Event{Kind: KindLogout}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestHungStoreWriteIsAbandoned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, buf := jsonLogger()
		slow := &slowEvents{release: make(chan struct{})}
		l := New(slow, Options{Log: log, Timeout: 10 * time.Millisecond, WriteTimeout: time.Second, MaxPending: 1})
		if err := l.Record(ctx, store.Event{Kind: KindLockout}); !errors.Is(err, ErrTimeout) {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // fake time inside the bubble
		synctest.Wait()
		if !strings.Contains(buf.String(), "audit: storing event failed") {
			t.Fatalf("abandoned write not reported:\n%s", buf.String())
		}
		if err := l.Record(ctx, store.Event{Kind: KindLockout}); !errors.Is(err, ErrTimeout) {
			t.Fatalf("slot not released: %v", err)
		}
		close(slow.release)
	})
}

type brokenEvents struct{ store.Events }

var errDown = errors.New("connection refused")

func (brokenEvents) AppendEvent(context.Context, store.Event) error           { return errDown }
func (brokenEvents) RecentEvents(context.Context, int) ([]store.Event, error) { return nil, errDown }

func TestStoreErrors(t *testing.T) {
	log, buf := jsonLogger()
	l := New(brokenEvents{}, Options{Log: log})
	if err := l.Record(ctx, store.Event{Kind: KindLoginFailure}); !errors.Is(err, errDown) {
		t.Fatalf("Record: %v", err)
	}
	if !strings.Contains(buf.String(), `"msg":"security event"`) || !strings.Contains(buf.String(), "storing event failed") {
		t.Fatalf("log:\n%s", buf.String())
	}
	if _, err := l.Recent(ctx, 10); !errors.Is(err, errDown) {
		t.Fatalf("Recent: %v", err)
	}
}

func TestRecentBoundsAndNil(t *testing.T) {
	st := memory.New()
	log, _ := jsonLogger()
	l := New(st, Options{Log: log})
	for range 60 {
		l.Record(ctx, store.Event{Kind: KindLoginFailure})
	}
	if ev, _ := l.Recent(ctx, 0); len(ev) != DefaultRecent {
		t.Fatalf("Recent(0) = %d events", len(ev))
	}
	var nl *Logger
	if nl.Record(ctx, store.Event{Kind: KindLockout}) != nil {
		t.Fatal("nil Logger errored")
	}
	if _, err := nl.Recent(ctx, 1); err == nil {
		t.Fatal("nil Logger Recent gave no error")
	}
	if err := New(nil, Options{Log: log}).Record(ctx, store.Event{Kind: KindLockout}); err != nil {
		t.Fatal(err)
	}
}

func TestNewEvent(t *testing.T) {
	r := httptest.NewRequest("POST", "/accounts/login", nil)
	r.RemoteAddr = "[2001:db8::1]:443"
	if e := NewEvent(r, KindLoginFailure); e.IP != "2001:db8::1" || e.Kind != KindLoginFailure {
		t.Fatalf("%+v", e)
	}
}

func BenchmarkRecord(b *testing.B) {
	l := New(memory.New(), Options{Log: slog.New(slog.DiscardHandler)})
	e := store.Event{Kind: KindLoginFailure, Username: "alice", IP: "192.0.2.1"}
	b.ReportAllocs()
	for b.Loop() {
		l.Record(ctx, e)
	}
}

type nopEvents struct{ store.Events }

func (nopEvents) AppendEvent(context.Context, store.Event) error { return nil }

// BenchmarkRecordOverhead measures the logger itself (slog, goroutine, timer) without a store.
func BenchmarkRecordOverhead(b *testing.B) {
	l := New(nopEvents{}, Options{Log: slog.New(slog.DiscardHandler)})
	e := store.Event{Kind: KindLoginFailure, Username: "alice", IP: "192.0.2.1"}
	b.ReportAllocs()
	for b.Loop() {
		l.Record(ctx, e)
	}
}

// queueEvents is slowEvents that also offers store.EventQueue, taking events or not.
type queueEvents struct {
	*slowEvents
	take   bool
	queued []store.Event
}

func (q *queueEvents) TryAppendEvent(e store.Event) bool {
	if q.take {
		q.queued = append(q.queued, e)
	}
	return q.take
}

// A store that takes an event without waiting gets it directly (the slow AppendEvent is never
// called); one that declines falls back to AppendEvent with its timeout.
func TestEventQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, take := range []bool{true, false} {
			log, _ := jsonLogger()
			q := &queueEvents{slowEvents: &slowEvents{release: make(chan struct{})}, take: take}
			l := New(q, Options{Log: log, Timeout: 50 * time.Millisecond})
			e := store.Event{Kind: KindCSRFReject, Detail: "x\x00y"}
			err := l.Record(ctx, e)
			if take {
				if want := l.clean(e).Detail; err != nil || len(q.queued) != 1 || q.queued[0].Detail != want || want == e.Detail || q.queued[0].Time.IsZero() {
					t.Fatalf("taken: err %v, queued %+v (want one cleaned, timed event)", err, q.queued)
				}
			} else if !errors.Is(err, ErrTimeout) || len(q.queued) != 0 {
				t.Fatalf("declined: err %v, queued %d; want the AppendEvent path's ErrTimeout", err, len(q.queued))
			}
			close(q.release)
			synctest.Wait()
		}
	})
}

// TestObserve: the observer sees every event, cleaned, even when the store fails, and a
// nil Logger calls nothing.
func TestObserve(t *testing.T) {
	var got []store.Event
	log, _ := jsonLogger()
	l := New(brokenEvents{}, Options{Log: log, Observe: func(e store.Event) { got = append(got, e) }})
	_ = l.Record(ctx, store.Event{Kind: KindCSRFReject, Username: "a\nb"})
	_ = l.Record(ctx, store.Event{})
	if len(got) != 2 || got[0].Kind != KindCSRFReject || got[0].Username != `a\u000ab` || got[1].Kind != "unknown" || got[1].Time.IsZero() {
		t.Fatalf("observed %+v", got)
	}
	var nl *Logger
	_ = nl.Record(ctx, store.Event{Kind: KindLockout})
}
