package csp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rampart-go/rampart/clientip"
)

// Report is one CSP violation, from either report format, normalised to the Reporting API
// field names. String fields are valid UTF-8 and at most MaxField bytes.
type Report struct {
	DocumentURL        string
	Referrer           string
	BlockedURL         string
	EffectiveDirective string
	OriginalPolicy     string
	Disposition        string // "enforce" or "report"
	SourceFile         string
	Sample             string
	StatusCode         int
	LineNumber         int
	ColumnNumber       int
	UserAgent          string // reports+json only
	ClientIP           netip.Addr
}

// Limits of the report endpoint.
const (
	DefaultMaxBody = 16 << 10 // bytes; real reports are well under 4 KiB
	MaxField       = 2048     // longer strings are truncated (policies, URLs)
	MaxBatch       = 100      // reports in one application/reports+json body
)

// Limiter decides whether a client may send another report. Allow must be safe for
// concurrent use. A shared-store limiter (ratelimit package) can be plugged in here.
type Limiter interface {
	Allow(ip netip.Addr) bool
}

// ReportHandler receives CSP violation reports (mount it at Options.ReportURI, outside CSRF
// checks: browsers send reports without tokens). Its zero value is ready: 16 KiB bodies,
// 20 report bodies (of up to MaxBatch reports each) per client per minute, reports logged
// with slog, at most 20 a minute (the rest are counted in one line).
//
// To keep reports, count them with an Aggregator (OnReports) rather than storing each one:
// a client may send 2,000 reports a minute, and a botnet many times that.
//
// Use it by pointer and do not copy it after first use (it holds the limiter state).
//
// Answers: 204 accepted, 400 malformed JSON, 405 not POST, 413 body too large, 415 wrong
// Content-Type, 429 rate limited.
type ReportHandler struct {
	// OnReports receives the reports of one request body together (one to MaxBatch), so a
	// batch can be counted at once (Aggregator.Add). When it is set, OnReport is not called.
	OnReports func(ctx context.Context, reps []Report)
	// OnReport receives each parsed report; nil (and a nil OnReports) logs reports with
	// slog.Default at Warn, at most 20 a minute.
	OnReport func(ctx context.Context, rep Report)
	// MaxBody caps the body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// Limiter replaces the built-in per-client token bucket.
	Limiter Limiter
	// Now is the clock of the built-in limiter; nil means time.Now.
	Now func() time.Time

	once    sync.Once
	lim     Limiter
	sampled logSampler
}

// Errors of ParseReports.
var (
	ErrBadReport   = errors.New("csp: malformed report")
	ErrContentType = errors.New("csp: unsupported report content type")
)

// ServeHTTP checks method, rate, type and size before parsing, so a flood costs little.
func (h *ReportHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(func() {
		h.lim = h.Limiter
		if h.lim == nil {
			h.lim = &bucketLimiter{now: h.Now, rate: 20, per: time.Minute, burst: 20, max: 10000}
		}
	})
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		status(w, http.StatusMethodNotAllowed)
		return
	}
	ip := clientip.FromRequest(r).IP
	if !h.lim.Allow(ip) {
		// The built-in limiter refills within a minute; a plugged-in one only says yes or no,
		// so the hint is the same conservative minute.
		w.Header().Set("Retry-After", "60")
		status(w, http.StatusTooManyRequests)
		return
	}
	ct := r.Header.Get("Content-Type")
	if _, err := reportKind(ct); err != nil {
		status(w, http.StatusUnsupportedMediaType)
		return
	}
	max := h.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status(w, http.StatusRequestEntityTooLarge)
		} else {
			status(w, http.StatusBadRequest)
		}
		return
	}
	reps, err := ParseReports(ct, body)
	if err != nil {
		status(w, http.StatusBadRequest)
		return
	}
	for i := range reps {
		reps[i].ClientIP = ip
	}
	switch {
	case h.OnReports != nil:
		if len(reps) > 0 {
			h.OnReports(r.Context(), reps)
		}
	case h.OnReport != nil:
		for _, rep := range reps {
			h.OnReport(r.Context(), rep)
		}
	default:
		for _, rep := range reps {
			h.sampled.log(r.Context(), h.clock(), rep)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *ReportHandler) clock() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func status(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, http.StatusText(code)+"\n")
}

// logSampler logs the first logPerMinute reports of each minute and counts the rest, which
// it reports in one line when the next minute's first report arrives: a flood cannot fill
// the log, and the log still says that it happened.
type logSampler struct {
	mu         sync.Mutex
	minute     int64
	logged     int
	suppressed int64
}

const logPerMinute = 20

func (s *logSampler) log(ctx context.Context, now time.Time, r Report) {
	m := windowStart(now.Unix(), 60)
	s.mu.Lock()
	var dropped int64
	var droppedIn int64
	if m != s.minute {
		dropped, droppedIn = s.suppressed, s.minute
		s.minute, s.logged, s.suppressed = m, 0, 0
	}
	ok := s.logged < logPerMinute
	if ok {
		s.logged++
	} else {
		s.suppressed++
	}
	s.mu.Unlock()
	if dropped > 0 {
		slog.Default().LogAttrs(ctx, slog.LevelWarn, "csp violation reports not logged (over 20 a minute)",
			slog.String("category", "security.csp"), slog.Time("minute", time.Unix(droppedIn, 0).UTC()),
			slog.Int64("count", dropped))
	}
	if ok {
		logReport(ctx, r)
	}
}

func logReport(ctx context.Context, r Report) {
	slog.Default().LogAttrs(ctx, slog.LevelWarn, "csp violation",
		slog.String("category", "security.csp"),
		slog.String("document", r.DocumentURL), slog.String("blocked", r.BlockedURL),
		slog.String("directive", r.EffectiveDirective), slog.String("disposition", r.Disposition),
		slog.String("source", r.SourceFile), slog.Int("line", r.LineNumber),
		slog.String("sample", r.Sample), slog.String("client", r.ClientIP.String()))
}

const (
	kindLegacy  = iota + 1 // application/csp-report (report-uri)
	kindReports            // application/reports+json (report-to)
)

func reportKind(ct string) (int, error) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, ErrContentType
	}
	switch mt {
	case "application/csp-report":
		return kindLegacy, nil
	case "application/reports+json":
		return kindReports, nil
	}
	return 0, ErrContentType
}

// legacyBody is the report-uri format (CSP Level 2/3 §5.3).
type legacyBody struct {
	Report *struct {
		DocumentURI        string `json:"document-uri"`
		Referrer           string `json:"referrer"`
		BlockedURI         string `json:"blocked-uri"`
		EffectiveDirective string `json:"effective-directive"`
		ViolatedDirective  string `json:"violated-directive"`
		OriginalPolicy     string `json:"original-policy"`
		Disposition        string `json:"disposition"`
		SourceFile         string `json:"source-file"`
		ScriptSample       string `json:"script-sample"`
		StatusCode         int    `json:"status-code"`
		LineNumber         int    `json:"line-number"`
		ColumnNumber       int    `json:"column-number"`
	} `json:"csp-report"`
}

// reportingItem is one entry of the Reporting API format.
type reportingItem struct {
	Type      string          `json:"type"`
	Age       int64           `json:"age"`
	URL       string          `json:"url"`
	UserAgent string          `json:"user_agent"`
	Body      json.RawMessage `json:"body"`
}

type reportingBody struct {
	DocumentURL        string `json:"documentURL"`
	Referrer           string `json:"referrer"`
	BlockedURL         string `json:"blockedURL"`
	EffectiveDirective string `json:"effectiveDirective"`
	OriginalPolicy     string `json:"originalPolicy"`
	SourceFile         string `json:"sourceFile"`
	Sample             string `json:"sample"`
	Disposition        string `json:"disposition"`
	StatusCode         int    `json:"statusCode"`
	LineNumber         int    `json:"lineNumber"`
	ColumnNumber       int    `json:"columnNumber"`
}

// ParseReports parses a report body of the given Content-Type. It is strict about shape:
// exactly one JSON value, no trailing data, the expected object/array structure, typed
// fields (a number where a string belongs is an error), valid UTF-8, at most MaxBatch
// entries; entries of other Reporting API types (deprecation, intervention…) are skipped.
// Unknown fields are tolerated because browsers add new ones.
func ParseReports(contentType string, body []byte) ([]Report, error) {
	kind, err := reportKind(contentType)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(body) {
		return nil, ErrBadReport
	}
	switch kind {
	case kindLegacy:
		var lb legacyBody
		if err := decodeStrict(body, &lb); err != nil || lb.Report == nil {
			return nil, ErrBadReport
		}
		c := lb.Report
		dir := c.EffectiveDirective
		if dir == "" {
			dir = c.ViolatedDirective
		}
		rep := Report{DocumentURL: c.DocumentURI, Referrer: c.Referrer, BlockedURL: c.BlockedURI,
			EffectiveDirective: dir, OriginalPolicy: c.OriginalPolicy, Disposition: c.Disposition,
			SourceFile: c.SourceFile, Sample: c.ScriptSample, StatusCode: c.StatusCode,
			LineNumber: c.LineNumber, ColumnNumber: c.ColumnNumber}
		if !rep.ok() {
			return nil, ErrBadReport
		}
		return []Report{rep.trim()}, nil
	default:
		var items []reportingItem
		if err := decodeStrict(body, &items); err != nil || items == nil || len(items) > MaxBatch {
			return nil, ErrBadReport
		}
		out := make([]Report, 0, len(items))
		for _, it := range items {
			if it.Type != "csp-violation" {
				continue
			}
			var b reportingBody
			if err := decodeStrict(it.Body, &b); err != nil {
				return nil, ErrBadReport
			}
			doc := b.DocumentURL
			if doc == "" {
				doc = it.URL
			}
			rep := Report{DocumentURL: doc, Referrer: b.Referrer, BlockedURL: b.BlockedURL,
				EffectiveDirective: b.EffectiveDirective, OriginalPolicy: b.OriginalPolicy,
				Disposition: b.Disposition, SourceFile: b.SourceFile, Sample: b.Sample,
				StatusCode: b.StatusCode, LineNumber: b.LineNumber, ColumnNumber: b.ColumnNumber,
				UserAgent: it.UserAgent}
			if !rep.ok() {
				return nil, ErrBadReport
			}
			out = append(out, rep.trim())
		}
		return out, nil
	}
}

// decodeStrict decodes exactly one JSON value into v; "null" for an object is refused.
func decodeStrict(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] == 'n' {
		return ErrBadReport
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrBadReport
	}
	return nil
}

// ok refuses values no browser sends: negative numbers and an unknown disposition.
func (r Report) ok() bool {
	if r.StatusCode < 0 || r.StatusCode > 999 || r.LineNumber < 0 || r.ColumnNumber < 0 {
		return false
	}
	switch r.Disposition {
	case "", "enforce", "report":
		return true
	}
	return false
}

func (r Report) trim() Report {
	for _, p := range []*string{&r.DocumentURL, &r.Referrer, &r.BlockedURL, &r.EffectiveDirective,
		&r.OriginalPolicy, &r.Disposition, &r.SourceFile, &r.Sample, &r.UserAgent} {
		*p = truncate(*p, MaxField)
	}
	return r
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// bucketLimiter is a per-client token bucket kept in memory. It is hand-written because the
// stdlib has none keyed by client and x/time/rate is not a dependency; it is small and only
// guards the report endpoint. IPv6 clients are keyed by their /64, which one host controls.
// When the table is full and no idle bucket can be dropped, new clients are refused
// (fail closed: reports are diagnostics, not service).
type bucketLimiter struct {
	now   func() time.Time
	rate  float64 // tokens per `per`
	per   time.Duration
	burst float64
	max   int

	mu sync.Mutex
	m  map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *bucketLimiter) Allow(ip netip.Addr) bool {
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	key := ip
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		key = p.Addr()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[netip.Addr]*bucket{}
	}
	b := l.m[key]
	if b == nil {
		if len(l.m) >= l.max {
			l.sweep(now)
			if len(l.m) >= l.max {
				return false
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.m[key] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens += el.Seconds() * l.rate / l.per.Seconds()
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops buckets that have refilled completely: forgetting them changes nothing.
func (l *bucketLimiter) sweep(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(l.per))
	for k, b := range l.m {
		if now.Sub(b.last) >= full {
			delete(l.m, k)
		}
	}
}
