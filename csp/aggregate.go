package csp

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-go/rampart/internal/ascii"
	"github.com/rampart-go/rampart/store"
)

// Defaults of AggregatorOptions.
const (
	DefaultWindow     = time.Hour
	DefaultKeep       = 24
	DefaultMaxKeys    = 200
	DefaultAggTimeout = 2 * time.Second
	DefaultAggPrefix  = "csp:"
)

// Caps of the normalised parts of an aggregate key (bytes).
const (
	maxHost   = 100
	maxPath   = 100
	maxScheme = 32
)

// Values of normalised key parts that are not taken from the report.
const (
	keyEmpty   = "(empty)"
	keyInvalid = "(invalid)"
	keyUnknown = "(unknown)"
)

// AggregatorOptions configure NewAggregator. The zero value counts per hour, keeps a day and
// at most 200 distinct aggregates an hour.
type AggregatorOptions struct {
	// Window is the length of one counting window, in whole seconds. Zero means an hour.
	Window time.Duration
	// Keep is how many windows (the current one included) are kept. Zero means 24.
	Keep int
	// MaxKeys caps the distinct aggregates of one window, across every instance sharing the
	// store; reports that would add one more are counted in the window's Other. Zero means 200.
	MaxKeys int
	// Prefix starts every counter key. Zero means "csp:".
	Prefix string
	// Timeout bounds the store calls of one Add (up to two round trips per distinct aggregate
	// of the batch, four for a new one). Zero means two seconds.
	Timeout time.Duration
	// Log receives one line per aggregate the first time it is seen in a window, one line per
	// window when the cap is first reached, and store errors at most once a minute. Nil means
	// slog.Default().
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Aggregator counts CSP violation reports per window by effective directive, blocked origin
// (or scheme, or keyword such as "inline") and document path, in store.Counters, so that a
// flood of reports costs a bounded number of counters and log lines and never touches the
// audit trail of security events. Several instances sharing a store share the counts and
// the cap. Use it through ReportHandler.OnReports:
//
//	agg := csp.NewAggregator(st, csp.AggregatorOptions{})
//	h := &csp.ReportHandler{OnReports: func(ctx context.Context, reps []csp.Report) { _ = agg.Add(ctx, reps) }}
//
// Per window it keeps at most MaxKeys aggregates plus two counters (the number of aggregates
// and Other), and it keeps Keep windows, so the store holds at most Keep×(MaxKeys+2) of its
// counters whatever clients send.
type Aggregator struct {
	c       store.Counters
	window  int64 // seconds
	keep    int64
	max     int64
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	lastErr atomic.Int64 // Unix second of the last logged store error
	full    atomic.Int64 // start of the latest window seen full
}

// NewAggregator returns an Aggregator keeping its counters in c, which must not be nil.
func NewAggregator(c store.Counters, o AggregatorOptions) *Aggregator {
	a := &Aggregator{c: c, window: int64(o.Window / time.Second), keep: int64(o.Keep), max: int64(o.MaxKeys),
		prefix: o.Prefix, timeout: o.Timeout, log: o.Log, now: o.Now}
	if o.Window <= 0 {
		a.window = int64(DefaultWindow / time.Second)
	}
	a.window = max(a.window, 1)
	if a.keep <= 0 {
		a.keep = DefaultKeep
	}
	if a.max <= 0 {
		a.max = DefaultMaxKeys
	}
	if a.prefix == "" {
		a.prefix = DefaultAggPrefix
	}
	if a.timeout <= 0 {
		a.timeout = DefaultAggTimeout
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.lastErr.Store(-1 << 62)
	a.full.Store(math.MinInt64)
	return a
}

// ReportCount is the number of reports of one aggregate in one window.
type ReportCount struct {
	// Directive is the effective directive, or "(unknown)" for a name no browser sends.
	Directive string
	// Blocked is the blocked resource reduced to its origin (https://cdn.example), its scheme
	// (data:) or the browser's keyword (inline, eval…); "(empty)" or "(invalid)" otherwise.
	// Hosts longer than 100 bytes keep their last labels after "*.".
	Blocked string
	// Document is the path of the page that reported, percent-encoded, at most 100 bytes
	// (longer ones are cut and end in "…"); no query or fragment.
	Document string
	N        int64
}

// ReportWindow is one counting window.
type ReportWindow struct {
	Start, End time.Time
	// Counts are the window's aggregates, most reported first (ties in key order), at most
	// the number asked of Recent.
	Counts []ReportCount
	// Distinct is the number of aggregates stored for the window (at most MaxKeys).
	Distinct int
	// Other counts the reports that arrived once the window had MaxKeys aggregates and would
	// have added another.
	Other int64
	// Total counts every report of the window: the aggregates' and Other.
	Total int64
}

// Add counts reps in the current window. Reports of one call that share an aggregate cost
// one store write together. It returns the first store error (also logged, at most once a
// minute); the reports not yet counted then are lost, which suits diagnostics.
func (a *Aggregator) Add(ctx context.Context, reps []Report) error {
	if len(reps) == 0 {
		return nil
	}
	now := a.now()
	start := windowStart(now.Unix(), a.window)
	// Every counter of a window expires together, Keep windows after the window began.
	expires := time.Unix(start+a.keep*a.window, 0)
	ttl := expires.Sub(now)
	type group struct {
		n     int64
		first Report
	}
	groups := map[string]*group{}
	for _, r := range reps {
		k := aggregateKey(r)
		if g := groups[k]; g != nil {
			g.n++
		} else {
			groups[k] = &group{n: 1, first: r}
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	// A client hanging up must not leave a slot reserved and not undone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	wp := a.windowPrefix(start)
	var other int64
	for _, k := range keys {
		g := groups[k]
		counted, err := a.add(ctx, wp, k, g.n, g.first, start, now, ttl)
		if err != nil {
			a.logErr(ctx, now, err)
			return fmt.Errorf("csp: counting reports: %w", err)
		}
		if !counted {
			other += g.n
		}
	}
	if other == 0 {
		return nil
	}
	o, err := a.c.Incr(ctx, wp+"o", other, now, ttl, false)
	if err != nil {
		a.logErr(ctx, now, err)
		return fmt.Errorf("csp: counting reports: %w", err)
	}
	if o.N == other { // this call started Other: say so once per window
		a.log.LogAttrs(ctx, slog.LevelWarn, "csp violation reports over the per-window cap; counted as other",
			slog.String("category", "security.csp"), slog.Time("window", time.Unix(start, 0).UTC()),
			slog.Int64("max_keys", a.max))
	}
	return nil
}

// add counts n reports of key in its aggregate and reports true, or reports false when the
// aggregate does not exist and the window has no slot left for it (the caller counts them
// in Other).
func (a *Aggregator) add(ctx context.Context, wp, key string, n int64, first Report, start int64, now time.Time, ttl time.Duration) (bool, error) {
	ck := wp + "a:" + key
	c, err := a.c.GetCounter(ctx, ck, now)
	if err != nil {
		return false, err
	}
	if c.N > 0 {
		_, err = a.c.Incr(ctx, ck, n, now, ttl, false)
		return err == nil, err
	}
	// Once a window is full it stays full (slots are only given back by racing reservations),
	// so a flood of new keys costs one read each, not three round trips.
	if a.full.Load() == start {
		return false, nil
	}
	ok, err := a.reserve(ctx, wp+"n", now, ttl)
	if err != nil || !ok {
		if err == nil {
			a.full.Store(start)
		}
		return false, err
	}
	if _, err := a.c.Incr(ctx, ck, n, now, ttl, false); err != nil {
		return false, err
	}
	// First sight of this aggregate in the window (or, rarely, a second instance racing for
	// it): at most MaxKeys such lines per window, whatever is sent.
	dir, blocked, doc, _ := splitKey(key)
	a.log.LogAttrs(ctx, slog.LevelWarn, "csp violation",
		slog.String("category", "security.csp"), slog.Time("window", time.Unix(start, 0).UTC()),
		slog.String("directive", dir), slog.String("blocked", blocked), slog.String("document", doc),
		slog.String("blocked_url", truncate(first.BlockedURL, 256)),
		slog.String("disposition", first.Disposition),
		slog.String("source", truncate(first.SourceFile, 256)), slog.Int("line", first.LineNumber),
		slog.String("sample", truncate(first.Sample, 256)), slog.String("client", first.ClientIP.String()))
	return true, nil
}

// reserve takes one of the window's MaxKeys slots, atomically in the store: however many
// instances race for the last slot, exactly one gets it. The counter's expiry is the window's
// fixed end (ttl is measured from now to it), so taking a slot does not prolong it.
func (a *Aggregator) reserve(ctx context.Context, key string, now time.Time, ttl time.Duration) (bool, error) {
	_, ok, err := a.c.Reserve(ctx, key, a.max, now, ttl)
	return ok, err
}

func (a *Aggregator) logErr(ctx context.Context, now time.Time, err error) {
	s := now.Unix()
	last := a.lastErr.Load()
	if s-last < 60 || !a.lastErr.CompareAndSwap(last, s) {
		return
	}
	a.log.LogAttrs(ctx, slog.LevelError, "csp: counting violation reports failed (logged at most once a minute)",
		slog.String("error", err.Error()))
}

// Recent returns up to windows of the kept windows that have reports, newest first, each
// with its top aggregates (top <= 0 means all).
func (a *Aggregator) Recent(ctx context.Context, windows, top int) ([]ReportWindow, error) {
	now := a.now()
	cur := windowStart(now.Unix(), a.window)
	var out []ReportWindow
	for i := int64(0); i < a.keep && len(out) < windows; i++ {
		start := cur - i*a.window
		wp := a.windowPrefix(start)
		cs, err := a.c.ListCounters(ctx, wp, 1, now, int(a.max)+2)
		if err != nil {
			return nil, fmt.Errorf("csp: listing report counts: %w", err)
		}
		w := ReportWindow{Start: time.Unix(start, 0).UTC(), End: time.Unix(start+a.window, 0).UTC()}
		for _, c := range cs {
			rest := strings.TrimPrefix(c.Key, wp)
			switch {
			case rest == "o":
				w.Other += c.N
				w.Total += c.N
			case strings.HasPrefix(rest, "a:"):
				dir, blocked, doc, ok := splitKey(rest[2:])
				if !ok {
					continue
				}
				w.Counts = append(w.Counts, ReportCount{Directive: dir, Blocked: blocked, Document: doc, N: c.N})
				w.Total += c.N
			}
		}
		if w.Total == 0 {
			continue
		}
		w.Distinct = len(w.Counts)
		slices.SortFunc(w.Counts, func(x, y ReportCount) int {
			return cmp.Or(cmp.Compare(y.N, x.N), cmp.Compare(x.Directive, y.Directive),
				cmp.Compare(x.Blocked, y.Blocked), cmp.Compare(x.Document, y.Document))
		})
		if top > 0 && len(w.Counts) > top {
			w.Counts = w.Counts[:top]
		}
		out = append(out, w)
	}
	return out, nil
}

// windowPrefix is the key prefix of the window starting at start; fixed width, so windows
// sort by time.
func (a *Aggregator) windowPrefix(start int64) string {
	return a.prefix + fmt.Sprintf("%012d", max(start, 0)) + ":"
}

func windowStart(unix, window int64) int64 {
	s := unix - unix%window
	if unix < 0 && unix%window != 0 {
		s -= window
	}
	return s
}

// aggregateKey is the counter key of r within a window: its normalised directive, blocked
// resource and document path, which never contain a space, joined by spaces.
func aggregateKey(r Report) string {
	return normDirective(r.EffectiveDirective) + " " + normBlocked(r.BlockedURL) + " " + normDocument(r.DocumentURL)
}

func splitKey(k string) (dir, blocked, doc string, ok bool) {
	parts := strings.SplitN(k, " ", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// directives are the directive names browsers report (CSP Level 3, Trusted Types, Fenced
// Frames, and a few older ones); any other name is reported as "(unknown)", so a client
// cannot mint aggregates with invented names.
var directives = map[string]bool{
	"base-uri": true, "block-all-mixed-content": true, "child-src": true, "connect-src": true,
	"default-src": true, "fenced-frame-src": true, "font-src": true, "form-action": true,
	"frame-ancestors": true, "frame-src": true, "img-src": true, "manifest-src": true,
	"media-src": true, "navigate-to": true, "object-src": true, "plugin-types": true,
	"prefetch-src": true, "report-to": true, "report-uri": true, "require-trusted-types-for": true,
	"sandbox": true, "script-src": true, "script-src-attr": true, "script-src-elem": true,
	"style-src": true, "style-src-attr": true, "style-src-elem": true, "trusted-types": true,
	"upgrade-insecure-requests": true, "webrtc": true, "worker-src": true,
}

// blockedKeywords are the non-URL values of a blocked URL (CSP3 §5.3 and older browsers).
var blockedKeywords = map[string]string{
	"inline": "inline", "eval": "eval", "wasm-eval": "wasm-eval", "self": "self",
	"trusted-types-policy": "trusted-types-policy", "trusted-types-sink": "trusted-types-sink",
	"data": "data:", "blob": "blob:", "filesystem": "filesystem:", "mediastream": "mediastream:",
}

// normDirective reduces a reported directive to a known directive name: the first word
// (legacy violated-directive carries the sources too), lower-cased; "(unknown)" for anything
// else.
func normDirective(s string) string {
	s = strings.Trim(s, asciiSpace)
	if i := strings.IndexAny(s, asciiSpace); i >= 0 {
		s = s[:i]
	}
	if len(s) > 32 {
		return keyUnknown
	}
	s = ascii.Lower(s)
	if directives[s] {
		return s
	}
	return keyUnknown
}

// normBlocked reduces a reported blocked URL to what identifies the source without
// letting a client mint unbounded keys: the origin of an http(s) or ws(s) URL (lower-cased
// host, default port dropped, credentials, path and query dropped), the scheme alone for
// other URLs (data:, blob:, chrome-extension:), or a browser keyword (inline, eval…).
// Anything else is "(invalid)"; an empty value is "(empty)". The result is printable ASCII
// without spaces, at most about 120 bytes.
func normBlocked(s string) string {
	s = strings.Trim(s, asciiSpace)
	if s == "" {
		return keyEmpty
	}
	if len(s) <= 24 {
		if k, ok := blockedKeywords[ascii.Lower(s)]; ok {
			return k
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return keyInvalid
	}
	scheme, ok := normScheme(u.Scheme)
	if !ok {
		return keyInvalid
	}
	if !webScheme(scheme) {
		return scheme + ":"
	}
	if u.Opaque != "" {
		return keyInvalid
	}
	host, ok := normHost(u.Hostname())
	if !ok {
		return keyInvalid
	}
	port, ok := normPort(scheme, u.Port())
	if !ok {
		return keyInvalid
	}
	return scheme + "://" + host + port
}

// normDocument reduces a reported document URL to its path: percent-encoded in one
// canonical form, without query or fragment, cut to 100 bytes (ending in "…" when cut).
// Documents that are not http(s) give their scheme ("about:"); "(invalid)" and "(empty)"
// as for normBlocked. The result is valid UTF-8 without spaces or control characters.
func normDocument(s string) string {
	s = strings.Trim(s, asciiSpace)
	if s == "" {
		return keyEmpty
	}
	u, err := url.Parse(s)
	if err != nil {
		return keyInvalid
	}
	scheme, ok := normScheme(u.Scheme)
	if !ok {
		return keyInvalid
	}
	if scheme != "http" && scheme != "https" {
		return scheme + ":"
	}
	if u.Opaque != "" {
		return keyInvalid
	}
	p := (&url.URL{Path: u.Path}).EscapedPath()
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if len(p) > maxPath {
		cut := maxPath
		// Do not split a %XX escape.
		if p[cut-1] == '%' {
			cut--
		} else if p[cut-2] == '%' {
			cut -= 2
		}
		p = p[:cut] + "…"
	}
	return p
}

const asciiSpace = " \t\n\f\r"

func webScheme(s string) bool { return s == "http" || s == "https" || s == "ws" || s == "wss" }

// normScheme checks an RFC 3986 scheme (url.Parse has lower-cased it) of a sane length.
func normScheme(s string) (string, bool) {
	if s == "" || len(s) > maxScheme {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return "", false
		}
	}
	return s, true
}

// normHost lower-cases a DNS name or IPv4 address, or canonicalises an IPv6 literal; names
// longer than maxHost keep their last labels after "*.". Other characters are refused.
func normHost(h string) (string, bool) {
	if h == "" {
		return "", false
	}
	if strings.Contains(h, ":") {
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", false
		}
		return "[" + ip.String() + "]", true
	}
	if len(h) > 253 { // the longest DNS name
		return "", false
	}
	h = ascii.Lower(h)
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", false
		}
	}
	if len(h) <= maxHost {
		return h, true
	}
	// Keep whole labels from the right: the registrable domain says most about the source.
	tail := h[len(h)-(maxHost-2):]
	i := strings.IndexByte(tail, '.')
	if i < 0 || i == len(tail)-1 {
		return "", false
	}
	return "*." + tail[i+1:], true
}

// normPort drops the scheme's default port and writes others in canonical decimal.
func normPort(scheme, p string) (string, bool) {
	if p == "" {
		return "", true
	}
	if len(p) > 10 {
		return "", false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", false
	}
	if (n == 80 && (scheme == "http" || scheme == "ws")) || (n == 443 && (scheme == "https" || scheme == "wss")) {
		return "", true
	}
	return ":" + strconv.Itoa(n), true
}

// DirectiveName reduces a reported directive (a Report's EffectiveDirective) to a known
// directive name, or "(unknown)": a bounded set, safe as a metric label.
func DirectiveName(s string) string { return normDirective(s) }
