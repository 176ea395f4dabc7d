package csp

import (
	"bytes"
	"context"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDefaultPolicyString(t *testing.T) {
	want := "default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic'; style-src 'self' 'nonce-{nonce}'; " +
		"img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; object-src 'none'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	if got := DefaultPolicy().String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyBuilder(t *testing.T) {
	p := NewPolicy().Set("Default-Src", Self).Set("script-src", Self, NonceSource, Self).Add("script-src", "https://cdn.example", Self).
		Set("upgrade-insecure-requests")
	if got := p.String(); got != "default-src 'self'; script-src 'self' 'nonce-{nonce}' https://cdn.example; upgrade-insecure-requests" {
		t.Fatalf("got %s", got)
	}
	q := p.Clone().Set("default-src", None).Remove("upgrade-insecure-requests").Add("img-src", "data:")
	if p.String() == q.String() || !strings.HasPrefix(q.String(), "default-src 'none'") || strings.Contains(q.String(), "upgrade") {
		t.Fatalf("clone not independent: %s / %s", p, q)
	}
	if s, ok := q.Get("img-src"); !ok || len(s) != 1 || s[0] != "data:" {
		t.Fatalf("Get: %v %v", s, ok)
	}
	if _, ok := q.Get("frame-src"); ok {
		t.Fatal("Get of absent directive")
	}
	if !p.UsesNonce() || NewPolicy().Set("default-src", Self).UsesNonce() {
		t.Fatal("UsesNonce")
	}
}

func TestValidate(t *testing.T) {
	bad := []*Policy{
		NewPolicy(),
		NewPolicy().Set("script-src", StrictDynamic),
		NewPolicy().Set("script-src", StrictDynamic, Self),
		NewPolicy().Set("default-src", "'self'; script-src *"),
		NewPolicy().Set("default-src", "a,b"),
		NewPolicy().Set("default-src", "a\r\nb"),
		NewPolicy().Set("default src", Self),
		NewPolicy().Set("img-src", "https://ex\u00e4mple.com"),
		NewPolicy().Set("img-src", ""),
	}
	for _, p := range bad {
		if p.Validate() == nil {
			t.Errorf("accepted %q", p.String())
		}
	}
	if err := NewPolicy().Set("script-src", "'sha256-abc='", StrictDynamic).Validate(); err != nil {
		t.Errorf("hash + strict-dynamic refused: %v", err)
	}
	if _, err := New(Options{Policy: NewPolicy().Set("script-src", StrictDynamic)}); err == nil {
		t.Error("New accepted an invalid policy")
	}
}

var nonceRe = regexp.MustCompile(`'nonce-([A-Za-z0-9_-]{22})'`)

func run(t testing.TB, opts Options, preset http.Header, h http.HandlerFunc) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	for k, v := range preset {
		rec.Header()[k] = v
	}
	if h == nil {
		h = func(http.ResponseWriter, *http.Request) {}
	}
	middleware(opts)(h).ServeHTTP(rec, httptest.NewRequest("GET", "https://t/", nil))
	return rec
}

func TestMiddlewareNonce(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		var fromReq string
		rec := run(t, Options{}, nil, func(w http.ResponseWriter, r *http.Request) { fromReq = Nonce(r) })
		hdr := rec.Header().Get("Content-Security-Policy")
		m := nonceRe.FindAllStringSubmatch(hdr, -1)
		if len(m) != 2 || m[0][1] != m[1][1] || m[0][1] != fromReq {
			t.Fatalf("header %q, Nonce(r)=%q", hdr, fromReq)
		}
		raw, err := base64.RawURLEncoding.DecodeString(fromReq)
		if err != nil || len(raw) != 16 {
			t.Fatalf("nonce %q: %v", fromReq, err)
		}
		if seen[fromReq] {
			t.Fatalf("nonce repeated: %q", fromReq)
		}
		seen[fromReq] = true
		if strings.ReplaceAll(hdr, fromReq, "{nonce}") != DefaultPolicy().String() {
			t.Fatalf("header differs from policy: %q", hdr)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("nonce response without Cache-Control: no-store")
		}
		if _, ok := rec.Header()["Content-Security-Policy-Report-Only"]; ok {
			t.Fatal("report-only header sent in enforce mode")
		}
	}
}

func TestMiddlewareModes(t *testing.T) {
	// Report-only.
	rec := run(t, Options{ReportOnly: true}, nil, nil)
	if rec.Header().Get("Content-Security-Policy") != "" || !nonceRe.MatchString(rec.Header().Get("Content-Security-Policy-Report-Only")) {
		t.Fatalf("report-only: %v", rec.Header())
	}
	// Report URI: both report-uri and report-to, plus Reporting-Endpoints.
	rec = run(t, Options{ReportURI: "/csp-report"}, nil, nil)
	hdr := rec.Header().Get("Content-Security-Policy")
	if !strings.HasSuffix(hdr, "; report-uri /csp-report; report-to csp-endpoint") ||
		rec.Header().Get("Reporting-Endpoints") != `csp-endpoint="/csp-report"` {
		t.Fatalf("reporting: %q %q", hdr, rec.Header().Get("Reporting-Endpoints"))
	}
	// A policy without a nonce: fixed header, no no-store, no nonce.
	var n string
	rec = run(t, Options{Policy: NewPolicy().Set("default-src", Self)}, nil, func(w http.ResponseWriter, r *http.Request) { n = Nonce(r) })
	if rec.Header().Get("Content-Security-Policy") != "default-src 'self'" || rec.Header().Get("Cache-Control") != "" || n != "" {
		t.Fatalf("fixed policy: %v nonce %q", rec.Header(), n)
	}
	// Handler's own Cache-Control wins.
	rec = run(t, Options{}, nil, func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Cache-Control", "private, max-age=0") })
	if rec.Header().Get("Cache-Control") != "private, max-age=0" {
		t.Fatal("handler Cache-Control overwritten")
	}
	// An outer layer's CSP is kept and no nonce is claimed.
	rec = run(t, Options{}, http.Header{"Content-Security-Policy": {"default-src 'self'"}}, func(w http.ResponseWriter, r *http.Request) { n = Nonce(r) })
	if got := rec.Header().Values("Content-Security-Policy"); len(got) != 1 || got[0] != "default-src 'self'" || n != "" {
		t.Fatalf("outer CSP: %q nonce %q", got, n)
	}
	for _, bad := range []string{"/a b", "/a;b", `/a"`, "/a,b"} {
		if _, err := New(Options{ReportURI: bad}); err == nil {
			t.Errorf("ReportURI %q accepted", bad)
		}
	}
	// The caller's policy is copied: changing it later has no effect.
	p := NewPolicy().Set("default-src", Self)
	m := middleware(Options{Policy: p})
	p.Set("default-src", "*")
	rec = httptest.NewRecorder()
	m(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Header().Get("Content-Security-Policy") != "default-src 'self'" {
		t.Fatal("policy not copied")
	}
}

func TestTemplate(t *testing.T) {
	tpl := template.Must(template.New("p").Funcs(FuncMap()).Parse(
		`<script nonce="{{cspNonce .Request}}"></script><style nonce="{{cspNonce .Ctx}}"></style>{{cspNonce .Nil}}`))
	var out bytes.Buffer
	var nonce string
	rec := run(t, Options{}, nil, func(w http.ResponseWriter, r *http.Request) {
		nonce = Nonce(r)
		if err := tpl.Execute(&out, map[string]any{"Request": r, "Ctx": r.Context(), "Nil": nil}); err != nil {
			t.Fatal(err)
		}
	})
	want := `<script nonce="` + nonce + `"></script><style nonce="` + nonce + `"></style>`
	if nonce == "" || out.String() != want || !strings.Contains(rec.Header().Get("Content-Security-Policy"), nonce) {
		t.Fatalf("template output %q want %q", out.String(), want)
	}
	if NonceFromContext(context.Background()) != "" || templateNonce((*http.Request)(nil)) != "" || templateNonce(42) != "" {
		t.Fatal("nonce without middleware")
	}
}

func BenchmarkMiddleware(b *testing.B) {
	h := middleware(Options{ReportURI: "/csp-report"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = Nonce(r) }))
	r := httptest.NewRequest("GET", "https://example.com/", nil)
	w := &hdrWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

type hdrWriter struct{ h http.Header }

func (w *hdrWriter) Header() http.Header         { return w.h }
func (w *hdrWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *hdrWriter) WriteHeader(int)             {}

// ---- report endpoint ----

const legacyReport = `{"csp-report":{"document-uri":"https://t/page","referrer":"","violated-directive":"script-src-elem",
"effective-directive":"script-src-elem","original-policy":"default-src 'none'","disposition":"enforce",
"blocked-uri":"inline","line-number":12,"column-number":3,"source-file":"https://t/page","status-code":200,"script-sample":"alert(1)"}}`

const reportsJSON = `[{"type":"csp-violation","age":10,"url":"https://t/page","user_agent":"UA/1",
"body":{"documentURL":"https://t/page","blockedURL":"https://evil.example/x.js","effectiveDirective":"script-src-elem",
"originalPolicy":"default-src 'none'","disposition":"report","statusCode":200,"lineNumber":1,"columnNumber":2,"sample":""}},
{"type":"deprecation","age":1,"url":"https://t/","user_agent":"UA/1","body":{"id":"x"}}]`

func TestParseReports(t *testing.T) {
	reps, err := ParseReports("application/csp-report", []byte(legacyReport))
	if err != nil || len(reps) != 1 {
		t.Fatalf("%v %v", reps, err)
	}
	r := reps[0]
	if r.DocumentURL != "https://t/page" || r.EffectiveDirective != "script-src-elem" || r.BlockedURL != "inline" ||
		r.LineNumber != 12 || r.ColumnNumber != 3 || r.StatusCode != 200 || r.Sample != "alert(1)" || r.Disposition != "enforce" {
		t.Fatalf("legacy: %+v", r)
	}
	reps, err = ParseReports("application/reports+json; charset=utf-8", []byte(reportsJSON))
	if err != nil || len(reps) != 1 {
		t.Fatalf("%v %v", reps, err)
	}
	r = reps[0]
	if r.BlockedURL != "https://evil.example/x.js" || r.UserAgent != "UA/1" || r.Disposition != "report" || r.LineNumber != 1 {
		t.Fatalf("reports+json: %+v", r)
	}
	// Only violated-directive (CSP2 browsers).
	reps, err = ParseReports("application/csp-report", []byte(`{"csp-report":{"violated-directive":"img-src"}}`))
	if err != nil || reps[0].EffectiveDirective != "img-src" {
		t.Fatalf("violated-directive fallback: %v %v", reps, err)
	}
	long := strings.Repeat("é", MaxField)
	reps, err = ParseReports("application/csp-report", []byte(`{"csp-report":{"blocked-uri":"`+long+`"}}`))
	if err != nil || len(reps[0].BlockedURL) > MaxField || !strings.HasPrefix(long, reps[0].BlockedURL) {
		t.Fatalf("truncation: %d %v", len(reps[0].BlockedURL), err)
	}

	bad := []struct{ ct, body string }{
		{"application/csp-report", ``},
		{"application/csp-report", `null`},
		{"application/csp-report", `{}`},
		{"application/csp-report", `{"csp-report":null}`},
		{"application/csp-report", `{"csp-report":"x"}`},
		{"application/csp-report", `{"csp-report":{"line-number":"12"}}`},
		{"application/csp-report", `{"csp-report":{"line-number":-1}}`},
		{"application/csp-report", `{"csp-report":{"status-code":1e9}}`},
		{"application/csp-report", `{"csp-report":{"disposition":"evil"}}`},
		{"application/csp-report", `{"csp-report":{}} {"csp-report":{}}`},
		{"application/csp-report", `{"csp-report":{}}x`},
		{"application/csp-report", `{"csp-report":{"blocked-uri":"` + "\xff" + `"}}`},
		{"application/csp-report", `[` + legacyReport + `]`},
		{"application/reports+json", `{}`},
		{"application/reports+json", `null`},
		{"application/reports+json", `[{"type":"csp-violation","body":null}]`},
		{"application/reports+json", `[{"type":"csp-violation"}]`},
		{"application/reports+json", `[{"type":"csp-violation","body":{"lineNumber":"x"}}]`},
		{"application/reports+json", `[{"type":"csp-violation","body":[]}]`},
		{"application/reports+json", `[1]`},
		{"application/reports+json", `[` + strings.Repeat(`{"type":"x","body":{}},`, MaxBatch) + `{"type":"x","body":{}}]`},
		{"application/json", legacyReport},
		{"text/plain", legacyReport},
		{"", legacyReport},
		{"application/csp-report; charset=\"", legacyReport},
	}
	for _, c := range bad {
		if reps, err := ParseReports(c.ct, []byte(c.body)); err == nil {
			t.Errorf("ParseReports(%q, %.60q) = %v, want error", c.ct, c.body, reps)
		}
	}
	if reps, err := ParseReports("application/reports+json", []byte(`[]`)); err != nil || len(reps) != 0 {
		t.Errorf("empty batch: %v %v", reps, err)
	}
}

func post(h http.Handler, remote, ct, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/csp-report", strings.NewReader(body))
	r.RemoteAddr = remote
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestReportHandler(t *testing.T) {
	var mu sync.Mutex
	var got []Report
	h := &ReportHandler{OnReport: func(ctx context.Context, r Report) { mu.Lock(); got = append(got, r); mu.Unlock() }}
	cases := []struct {
		ct, body string
		code     int
	}{
		{"application/csp-report", legacyReport, 204},
		{"application/reports+json", reportsJSON, 204},
		{"application/csp-report", `{"csp-report":`, 400},
		{"application/json", legacyReport, 415},
		{"", legacyReport, 415},
		{"application/csp-report", `{"csp-report":{"blocked-uri":"` + strings.Repeat("a", DefaultMaxBody) + `"}}`, 413},
	}
	for i, c := range cases {
		rec := post(h, "192.0.2.1:1", c.ct, c.body)
		if rec.Code != c.code {
			t.Errorf("case %d: status %d want %d", i, rec.Code, c.code)
		}
	}
	if len(got) != 2 || got[0].ClientIP.String() != "192.0.2.1" || got[1].BlockedURL != "https://evil.example/x.js" {
		t.Fatalf("reports delivered: %+v", got)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/csp-report", nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: %d", rec.Code)
	}
	small := &ReportHandler{MaxBody: 10, OnReport: func(context.Context, Report) {}}
	if c := post(small, "192.0.2.1:1", "application/csp-report", legacyReport).Code; c != 413 {
		t.Fatalf("MaxBody: %d", c)
	}
}

func TestReportRateLimit(t *testing.T) {
	now := time.Unix(1e9, 0)
	h := &ReportHandler{OnReport: func(context.Context, Report) {}, Now: func() time.Time { return now }}
	for i := 0; i < 20; i++ {
		if c := post(h, "192.0.2.1:1", "application/csp-report", legacyReport).Code; c != 204 {
			t.Fatalf("report %d: %d", i, c)
		}
	}
	if c := post(h, "192.0.2.1:1", "application/csp-report", legacyReport).Code; c != 429 {
		t.Fatalf("flood not limited: %d", c)
	}
	// Rejected requests are counted too, so bad bodies cannot flood either.
	if c := post(h, "192.0.2.1:1", "text/plain", "x").Code; c != 429 {
		t.Fatalf("limit checked after type: %d", c)
	}
	if c := post(h, "192.0.2.2:1", "application/csp-report", legacyReport).Code; c != 204 {
		t.Fatalf("other client limited: %d", c)
	}
	now = now.Add(3 * time.Second) // 20 per minute: one token back
	if c := post(h, "192.0.2.1:1", "application/csp-report", legacyReport).Code; c != 204 {
		t.Fatalf("no refill: %d", c)
	}
	if c := post(h, "192.0.2.1:1", "application/csp-report", legacyReport).Code; c != 429 {
		t.Fatalf("refilled too much: %d", c)
	}
	// IPv6 clients share a bucket per /64.
	for i := 0; i < 20; i++ {
		post(h, "[2001:db8:1:2::"+string(rune('a'+i%6))+"]:1", "application/csp-report", legacyReport)
	}
	if c := post(h, "[2001:db8:1:2:ffff::1]:1", "application/csp-report", legacyReport).Code; c != 429 {
		t.Fatalf("IPv6 /64 not shared: %d", c)
	}
}

func TestBucketLimiterTableFull(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := &bucketLimiter{now: func() time.Time { return now }, rate: 20, per: time.Minute, burst: 20, max: 2}
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	if !l.Allow(a) || !l.Allow(b) {
		t.Fatal("first clients refused")
	}
	if l.Allow(c) {
		t.Fatal("table full but new client admitted (must fail closed)")
	}
	now = now.Add(time.Minute) // a and b refilled: they can be forgotten
	if !l.Allow(c) {
		t.Fatal("idle buckets not swept")
	}
}

type denyAll struct{}

func (denyAll) Allow(netip.Addr) bool { return false }

func TestCustomLimiter(t *testing.T) {
	h := &ReportHandler{Limiter: denyAll{}, OnReport: func(context.Context, Report) { t.Error("delivered") }}
	if c := post(h, "192.0.2.1:1", "application/csp-report", legacyReport).Code; c != 429 {
		t.Fatalf("custom limiter ignored: %d", c)
	}
}

func FuzzParseReports(f *testing.F) {
	f.Add(true, []byte(legacyReport))
	f.Add(false, []byte(reportsJSON))
	f.Add(false, []byte(`[{"type":"csp-violation","body":{}}]`))
	f.Add(true, []byte(`{"csp-report":{"line-number":1e400}}`))
	f.Fuzz(func(t *testing.T, legacy bool, body []byte) {
		ct := "application/reports+json"
		if legacy {
			ct = "application/csp-report"
		}
		reps, err := ParseReports(ct, body)
		if err != nil {
			if reps != nil {
				t.Fatal("reports returned with an error")
			}
			return
		}
		if len(reps) > MaxBatch || (legacy && len(reps) != 1) {
			t.Fatalf("%d reports", len(reps))
		}
		for _, r := range reps {
			for _, s := range []string{r.DocumentURL, r.BlockedURL, r.OriginalPolicy, r.Sample, r.SourceFile, r.UserAgent, r.Referrer, r.EffectiveDirective} {
				if len(s) > MaxField || !utf8Valid(s) {
					t.Fatalf("field %q", s)
				}
			}
			if r.LineNumber < 0 || r.ColumnNumber < 0 || r.StatusCode < 0 {
				t.Fatalf("negative numbers: %+v", r)
			}
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func BenchmarkReportHandler(b *testing.B) {
	h := &ReportHandler{OnReport: func(context.Context, Report) {}, Limiter: allowAll{}}
	b.ReportAllocs()
	for b.Loop() {
		post(h, "192.0.2.1:1", "application/csp-report", legacyReport)
	}
}

type allowAll struct{}

func (allowAll) Allow(netip.Addr) bool { return true }

// ReportURI goes into two headers (the policy's report-uri and Reporting-Endpoints' quoted
// string), so anything that could end a directive (";"), start another header list member
// (","), end the quoted string ('"'), or is not a visible ASCII character is refused at start-up
// with an error that names ReportURI; every visible ASCII character else is accepted as is.
func TestReportURICharacters(t *testing.T) {
	for _, bad := range []string{"/a b", "/a\tb", "/a\nb", "/a;b", "/a; script-src *", "/a,b", `/a"b`, "/a\x7fb", "/a\x00", "/é", "/\u00a0"} {
		_, err := New(Options{ReportURI: bad})
		if err == nil {
			t.Errorf("ReportURI %q accepted", bad)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "bad ReportURI") {
			t.Errorf("ReportURI %q: error %q does not name ReportURI", bad, msg)
		}
	}
	for _, good := range []string{"/csp-report", "/~csp", "https://r.example/c?x=1&y=~2", "/!$&'()*+=:@[]"} {
		rec := run(t, Options{ReportURI: good}, nil, nil)
		if hdr := rec.Header().Get("Content-Security-Policy"); !strings.Contains(hdr, "; report-uri "+good+"; report-to csp-endpoint") {
			t.Errorf("ReportURI %q: policy %q", good, hdr)
		}
		if got := rec.Header().Get("Reporting-Endpoints"); got != `csp-endpoint="`+good+`"` {
			t.Errorf("ReportURI %q: Reporting-Endpoints %q", good, got)
		}
	}
}

// Reports with values no browser sends are refused: a status code outside 0..999, a negative
// line or column, an unknown disposition. Fields are cut to MaxField bytes at a character
// boundary; a field of exactly MaxField bytes is kept whole.
func TestReportValidationEdges(t *testing.T) {
	for _, c := range []struct {
		r  Report
		ok bool
	}{
		{Report{StatusCode: 0}, true},
		{Report{StatusCode: 999, LineNumber: 0, ColumnNumber: 0, Disposition: "enforce"}, true},
		{Report{StatusCode: 1000}, false},
		{Report{StatusCode: -1}, false},
		{Report{LineNumber: -1}, false},
		{Report{ColumnNumber: -1}, false},
		{Report{LineNumber: 1, ColumnNumber: 1, Disposition: "report"}, true},
		{Report{Disposition: "block"}, false},
	} {
		if got := c.r.ok(); got != c.ok {
			t.Errorf("%+v.ok() = %v, want %v", c.r, got, c.ok)
		}
	}
	exact := strings.Repeat("a", MaxField)
	if got := truncate(exact, MaxField); got != exact {
		t.Errorf("a field of MaxField bytes was cut to %d", len(got))
	}
	if got := truncate(exact+"b", MaxField); got != exact {
		t.Errorf("a longer ASCII field was cut to %d bytes, want %d", len(got), MaxField)
	}
	if got := truncate(strings.Repeat("a", MaxField-1)+"é", MaxField); got != strings.Repeat("a", MaxField-1) {
		t.Errorf("cut inside a character: %d bytes", len(got))
	}
}

// In a Reporting API report the body's documentURL names the page; the report's url stands in
// only when the body has none.
func TestReportingDocumentURL(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`[{"type":"csp-violation","url":"https://t/outer","body":{"documentURL":"https://t/inner","effectiveDirective":"img-src"}}]`, "https://t/inner"},
		{`[{"type":"csp-violation","url":"https://t/outer","body":{"effectiveDirective":"img-src"}}]`, "https://t/outer"},
	} {
		reps, err := ParseReports("application/reports+json", []byte(c.body))
		if err != nil || len(reps) != 1 || reps[0].DocumentURL != c.want {
			t.Errorf("%s: %+v, %v; want document %q", c.body, reps, err, c.want)
		}
	}
	// A source holding a space would be two sources: refused, like any white space.
	if err := NewPolicy().Set("img-src", "https://a.example https://b.example").Validate(); err == nil {
		t.Error("a source with a space accepted")
	}
}

// middleware is New for options a test knows to be valid.
func middleware(opts Options) func(http.Handler) http.Handler {
	h, err := New(opts)
	if err != nil {
		panic(err)
	}
	return h.Middleware
}
