package audit

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store"
)

// Refused requests are the events an attacker can cause at the rate the server answers: a
// cross-site POST, a request for a foreign host, a client over its rate limit, a login for a
// locked account. One stored row and one log line each made a flood of them a way to fill
// the disk (38,000 refusals a second grew the SQLite file by hundreds of megabytes). So Record
// counts them instead: per window, per kind, client (an IPv4 address or an IPv6 /64) and
// detail, it stores and logs the first few of each in full and the rest as one summary event
// at the window's end. Options.Observe still sees every one, so metrics stay exact.

// DefaultRefusalKinds are the kinds Record aggregates unless RefusalOptions.Kinds says
// otherwise. Events that are not refusals (a login, a password change, a lockout being
// tripped, an unlock) are never aggregated: each stays one row.
var DefaultRefusalKinds = []string{KindCSRFReject, KindHostReject, KindRateLimited, KindAccessDenied, KindLoginLocked}

// Defaults of RefusalOptions.
const (
	DefaultRefusalWindow = time.Minute
	DefaultDetailed      = 3
	DefaultMaxKeys       = 100
)

// SummaryMark starts the Detail of a summary event: "×1234 more 10:00:00–10:01:00 UTC: "
// and then the detail the counted refusals shared. Count reads it back. Record writes a
// leading × of any other event's Detail as "x", so no request can forge a count.
const SummaryMark = "×"

// RefusalOptions configure how Record aggregates refusals. The zero value aggregates
// DefaultRefusalKinds per minute, keeping the first 3 of each client and detail in full and
// counting at most 100 distinct clients and details per kind a minute; in the worst case
// (every refusal from a new client) a minute then costs about 100×4 stored rows and log
// lines per kind (2,000 for the five default kinds, about 300 KB in SQLite), whatever the
// request rate.
type RefusalOptions struct {
	// Kinds lists the event kinds aggregated. Nil means DefaultRefusalKinds.
	Kinds []string
	// Window is the counting window. Zero means a minute.
	Window time.Duration
	// Detailed is how many refusals of one kind, client and detail are stored and logged in
	// full per window before the rest are only counted. Zero means 3; negative means none.
	Detailed int
	// MaxKeys caps the distinct clients × details counted per kind and window; refusals
	// that would add one more are counted as from "other clients" and not stored apiece. The
	// cap is per kind so that a flood of one kind from many clients does not hide which
	// client floods another. Zero means 100.
	MaxKeys int
	// InsecurePerRefusal stores and logs every refusal, as its own row and line: a flood of
	// refused requests then grows the event store and the log at the rate it is sent.
	InsecurePerRefusal bool
}

// aggKey is what refusals are counted by. ip is an IPv4 address, an IPv6 /64 prefix, or
// empty; detail is the event's cleaned Detail.
type aggKey struct{ kind, ip, detail string }

// refusals is the counting state of one Logger.
type refusals struct {
	kinds    map[string]bool
	window   time.Duration
	detailed int64
	maxKeys  int

	mu      sync.Mutex
	start   time.Time        // the current window; zero before the first refusal
	counts  map[aggKey]int64 // refusals seen this window per key
	keys    map[string]int   // distinct keys per kind this window
	other   map[string]int64 // refusals per kind beyond MaxKeys this window
	timer   *time.Timer      // flushes the window at its end; armed at its first suppressed refusal
	armed   bool             // timer is set for this window
	closed  bool             // after Close, refusals are recorded one by one
	writing int              // summary writes in flight (Flush and Close wait for them)
	written *sync.Cond       // on mu: signalled when writing drops to 0
}

func newRefusals(o RefusalOptions) *refusals {
	if o.InsecurePerRefusal {
		return nil
	}
	a := &refusals{kinds: map[string]bool{}, window: cmp.Or(o.Window, DefaultRefusalWindow),
		detailed: int64(cmp.Or(o.Detailed, DefaultDetailed)), maxKeys: cmp.Or(o.MaxKeys, DefaultMaxKeys),
		counts: map[aggKey]int64{}, keys: map[string]int{}, other: map[string]int64{}}
	a.written = sync.NewCond(&a.mu)
	if a.window < 0 {
		a.window = DefaultRefusalWindow
	}
	a.detailed = max(a.detailed, 0)
	a.maxKeys = max(a.maxKeys, 1)
	kinds := o.Kinds
	if kinds == nil {
		kinds = DefaultRefusalKinds
	}
	for _, k := range kinds {
		a.kinds[k] = true
	}
	return a
}

// ipClass is the client part of a key: IPv6 clients are counted per /64, because one host
// commonly holds a whole /64 and could otherwise make a new key with every request.
func ipClass(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// admit counts e (cleaned, a refusal kind) at now and reports whether it is to be stored
// and logged in full. It also returns the summaries of a window that ended, for the caller
// to write.
func (l *Logger) admit(e store.Event, now time.Time) (keep bool, ended []store.Event) {
	a := l.refusals
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return true, nil
	}
	if ws := now.Truncate(a.window); !ws.Equal(a.start) {
		ended = a.takeLocked()
		a.start = ws
		if len(ended) > 0 {
			a.writing++ // the caller writes them, then calls done
		}
	}
	k := aggKey{kind: e.Kind, ip: ipClass(e.IP), detail: e.Detail}
	n, ok := a.counts[k]
	if !ok && a.keys[e.Kind] >= a.maxKeys {
		a.other[e.Kind]++
		if a.other[e.Kind] == 1 { // once per kind and window
			l.log.LogAttrs(context.Background(), slog.LevelWarn, "audit: refusals from more distinct clients than counted apiece; counting the rest together",
				slog.String("kind", e.Kind), slog.Time("window", a.start), slog.Int("max_keys", a.maxKeys))
		}
		l.armLocked(now)
		return false, ended
	}
	if !ok {
		a.keys[e.Kind]++
	}
	n++
	a.counts[k] = n
	if n <= a.detailed {
		return true, ended
	}
	l.armLocked(now)
	return false, ended
}

// armLocked sets the timer to flush the current window when it ends; the caller holds mu.
func (l *Logger) armLocked(now time.Time) {
	a := l.refusals
	if a.armed {
		return
	}
	a.armed = true
	d := a.start.Add(a.window).Sub(now)
	if a.timer == nil {
		a.timer = time.AfterFunc(d, l.tick)
	} else {
		a.timer.Reset(d)
	}
}

// tick flushes the window once the clock says it ended. With a clock that has not reached
// the end (a test's fixed clock, or a tick that fired as a new window began) it waits for the
// end again, at least a second.
func (l *Logger) tick() {
	a := l.refusals
	now := l.now()
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	var ended []store.Event
	switch end := a.start.Add(a.window); {
	case !now.Before(end):
		ended = a.takeLocked()
	case a.pendingLocked():
		a.armed = true
		a.timer.Reset(max(end.Sub(now), time.Second))
	default:
		a.armed = false
	}
	if len(ended) > 0 {
		a.writing++
	}
	a.mu.Unlock()
	if len(ended) > 0 {
		l.writeSummaries(context.Background(), ended)
		a.done()
	}
}

// done ends one summary write counted in writing.
func (a *refusals) done() {
	a.mu.Lock()
	a.writing--
	if a.writing == 0 {
		a.written.Broadcast()
	}
	a.mu.Unlock()
}

// wait returns once no summary write is in flight.
func (a *refusals) wait() {
	a.mu.Lock()
	for a.writing > 0 {
		a.written.Wait()
	}
	a.mu.Unlock()
}

func (a *refusals) pendingLocked() bool {
	if len(a.other) > 0 {
		return true
	}
	for _, n := range a.counts {
		if n > a.detailed {
			return true
		}
	}
	return false
}

// takeLocked ends the current window: it returns its summary events and clears the counts.
// The caller holds mu.
func (a *refusals) takeLocked() []store.Event {
	out := a.summariesLocked()
	clear(a.counts)
	clear(a.keys)
	clear(a.other)
	if a.armed && a.timer != nil {
		a.timer.Stop()
	}
	a.armed = false
	return out
}

// summariesLocked returns the current window's summary events, sorted so that the trail
// reads alike run after run. The caller holds mu.
func (a *refusals) summariesLocked() []store.Event {
	type sum struct {
		k     aggKey
		n     int64
		other bool // counted beyond MaxKeys; sorts after the clients of its kind
	}
	var sums []sum
	for k, n := range a.counts {
		if more := n - a.detailed; more > 0 {
			sums = append(sums, sum{k: k, n: more})
		}
	}
	for kind, n := range a.other {
		sums = append(sums, sum{k: aggKey{kind: kind}, n: n, other: true})
	}
	slices.SortFunc(sums, func(x, y sum) int {
		return cmp.Or(strings.Compare(x.k.kind, y.k.kind), cmp.Compare(b2i(x.other), b2i(y.other)),
			strings.Compare(x.k.ip, y.k.ip), strings.Compare(x.k.detail, y.k.detail))
	})
	span := a.start.UTC().Format("15:04:05") + "–" + a.start.Add(a.window).UTC().Format("15:04:05") + " UTC"
	out := make([]store.Event, 0, len(sums))
	for _, s := range sums {
		e := store.Event{Time: a.start.UTC(), Kind: s.k.kind, IP: s.k.ip,
			Detail: SummaryMark + strconv.FormatInt(s.n, 10) + " more " + span}
		switch {
		case s.other:
			e.Detail += " from other clients (over " + strconv.Itoa(a.maxKeys) + " distinct a window)"
		case s.k.detail != "":
			e.Detail += ": " + s.k.detail
		}
		out = append(out, e)
	}
	return out
}

// pending returns the summaries of the current window as they stand, without ending it.
func (a *refusals) pending() []store.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.summariesLocked()
}

// writeSummaries logs and stores summary events, one after another: they are few (at most
// MaxKeys and one per kind a window) and written off the request path.
func (l *Logger) writeSummaries(ctx context.Context, evs []store.Event) error {
	var first error
	for _, e := range evs {
		l.logEvent(ctx, e, slog.Int64("count", Count(e)))
		if l.events == nil {
			continue
		}
		if q, ok := l.events.(store.EventQueue); ok && q.TryAppendEvent(e) {
			continue
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.writeTO)
		err := l.events.AppendEvent(wctx, e)
		cancel()
		if err != nil {
			l.log.LogAttrs(ctx, slog.LevelError, "audit: storing event failed",
				slog.String("kind", e.Kind), slog.String("error", err.Error()))
			if first == nil {
				first = fmt.Errorf("audit: store: %w", err)
			}
		}
	}
	return first
}

// Count is the number of events e stands for: the count of a summary of aggregated refusals
// (its Detail starts with SummaryMark and a number), and 1 for any other event.
func Count(e store.Event) int64 {
	rest, ok := strings.CutPrefix(e.Detail, SummaryMark)
	if !ok {
		return 1
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(rest[:i], 10, 64)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// Flush writes the summaries of the refusals counted so far and starts a new window. Close
// calls it; a test or a tool may call it to read exact counts from the store.
func (l *Logger) Flush(ctx context.Context) error {
	if l == nil || l.refusals == nil {
		return nil
	}
	a := l.refusals
	a.mu.Lock()
	ended := a.takeLocked()
	a.mu.Unlock()
	err := l.writeSummaries(ctx, ended)
	a.wait()
	return err
}

// Close writes what is still counted (Flush) and waits for summary writes in flight; later
// refusals are recorded one by one. The stack calls it before closing the store, so a clean
// shutdown loses no count.
func (l *Logger) Close(ctx context.Context) error {
	if l == nil || l.refusals == nil {
		return nil
	}
	a := l.refusals
	a.mu.Lock()
	ended := a.takeLocked()
	a.closed = true
	a.mu.Unlock()
	err := l.writeSummaries(ctx, ended)
	a.wait()
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
