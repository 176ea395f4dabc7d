package hosts

import (
	"bufio"
	"bytes"
	"errors"
	"github.com/rampart-go/rampart/internal/corpora"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/clientip"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// ALLOWED_HOSTS of Django's tests/requests_tests (test_http_get_host).
var djangoAllowed = []string{
	"forward.com", "example.com", "internal.com", "12.34.56.78",
	"[2001:19f0:feee::dead:beef:cafe]", "xn--4ca9at.com", ".multitenant.com",
	"INSENSITIVE.com", "[::ffff:169.254.169.254]",
}

func TestDjangoHosts(t *testing.T) {
	c, err := New(Options{Allowed: djangoAllowed})
	if err != nil {
		t.Fatal(err)
	}
	legit := []string{
		"example.com", "example.com:80", "12.34.56.78", "12.34.56.78:443",
		"[2001:19f0:feee::dead:beef:cafe]", "[2001:19f0:feee::dead:beef:cafe]:8080",
		"xn--4ca9at.com", "anything.multitenant.com", "multitenant.com", "insensitive.com",
		"example.com.", "example.com.:80", "[::ffff:169.254.169.254]", "EXAMPLE.com",
		"a.b.multitenant.com:8443",
	}
	for _, h := range legit {
		if err := c.Check(h); err != nil {
			t.Errorf("Check(%q) = %v, want allowed", h, err)
		}
	}
	poisoned := map[string]error{
		"example.com@evil.tld":                    ErrMalformed,
		"example.com:dr.frankenstein@evil.tld":    ErrMalformed,
		"example.com:dr.frankenstein@evil.tld:80": ErrMalformed,
		"example.com:80/badpath":                  ErrMalformed,
		"example.com: recovermypassword.com":      ErrMalformed,
		"other.com":                               ErrNotAllowed,
		"evilmultitenant.com":                     ErrNotAllowed,
		"multitenant.com.evil.com":                ErrNotAllowed,
		"example.com.evil":                        ErrNotAllowed,
		"[2001:19f0:feee::dead:beef:caff]":        ErrNotAllowed,
	}
	for h, want := range poisoned {
		if err := c.Check(h); !errors.Is(err, want) {
			t.Errorf("Check(%q) = %v, want %v", h, err, want)
		}
	}
}

func TestSplit(t *testing.T) {
	cases := []struct {
		in, domain, port string
		ok               bool
	}{
		{"Example.COM", "example.com", "", true},
		{"example.com:8080", "example.com", "8080", true},
		{"example.com.", "example.com", "", true},
		{"example.com.:443", "example.com", "443", true},
		{"[::1]", "[::1]", "", true},
		{"[::1]:8443", "[::1]", "8443", true},
		{"[2001:DB8::1]", "[2001:db8::1]", "", true},
		{"127.0.0.1:65535", "127.0.0.1", "65535", true},
		{"localhost", "localhost", "", true},
		{strings.Repeat("a", 63) + ".com", strings.Repeat("a", 63) + ".com", "", true},
		// Malformed.
		{"", "", "", false},
		{"example.com:", "", "", false},
		{"example.com:65536", "", "", false},
		{"example.com:+80", "", "", false},
		{"example.com:080", "", "", false}, // no browser sends a leading zero; csrf's origins agree
		{"example.com:0", "", "", false},
		{"example.com:123456", "", "", false},
		{"example.com:80:80", "", "", false},
		{"under_score.com", "", "", false},
		{"user@example.com", "", "", false},
		{"example.com\r\nX-Injected: 1", "", "", false},
		{"example.com\n", "", "", false},
		{"exa mple.com", "", "", false},
		{" example.com", "", "", false},
		{"example.com/", "", "", false},
		{"example.com\\evil.com", "", "", false},
		{"example.com..", "", "", false},
		{".example.com", "", "", false},
		{"a..b", "", "", false},
		{".", "", "", false},
		{strings.Repeat("a", 64) + ".com", "", "", false},
		{strings.Repeat("a.", 127) + "ab", "", "", false}, // 256 characters
		{strings.Repeat("a", 300), "", "", false},
		{"[::1", "", "", false},
		{"::1", "", "", false},
		{"[::1]x", "", "", false},
		{"[::1]:", "", "", false},
		{"[1.2.3.4]", "", "", false},
		{"[fe80::1%25eth0]", "", "", false},
		{"[gggg::1]", "", "", false},
		{"[::1]]", "", "", false},
		{"ex\u00e4mple.com", "", "", false},
		{"example.com\x00", "", "", false},
		{"%65xample.com", "", "", false},
	}
	for _, c := range cases {
		d, p, err := Split(c.in)
		if (err == nil) != c.ok || d != c.domain || p != c.port {
			t.Errorf("Split(%q) = %q, %q, %v; want %q, %q, ok=%v", c.in, d, p, err, c.domain, c.port, c.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("Split(%q) error %v is not ErrMalformed", c.in, err)
		}
	}
}

func TestPatterns(t *testing.T) {
	for _, bad := range []string{"", "example.com:80", ".", "..example.com", "*.example.com", "exa mple.com", ".[::1]", "[::1]:80", "a@b"} {
		if _, err := New(Options{Allowed: []string{bad}}); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
	if _, err := New(Options{Allowed: []string{"bad pattern"}}); err == nil {
		t.Error("New accepted a bad pattern")
	}
}

func TestWildcard(t *testing.T) {
	c, err := New(Options{Allowed: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check("anything.example:1"); err != nil {
		t.Error(err)
	}
	if err := c.Check("bad host"); !errors.Is(err, ErrMalformed) {
		t.Errorf("* must not admit malformed hosts: %v", err)
	}
}

func TestZeroOptionsRejectsAll(t *testing.T) {
	h := middleware(Options{Logger: quiet})(okHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.com/", nil))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("zero Options answered %d", rec.Code)
	}
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
}

func TestMiddleware(t *testing.T) {
	h := middleware(Options{Allowed: []string{"example.com", ".example.org"}, Logger: quiet})(okHandler())
	cases := []struct {
		host string
		code int
	}{
		{"example.com", 200},
		{"example.com:8000", 200},
		{"www.example.org", 200},
		{"evil.com", 400},
		{"example.com@evil.com", 400},
		{"example.com\r\nSet-Cookie: x=1", 400},
		{"", 400},
		{strings.Repeat("a", 1000), 400},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = c.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != c.code {
			t.Errorf("host %q: status %d want %d", c.host, rec.Code, c.code)
		}
		if c.code == 400 {
			body := rec.Body.String()
			if body != "Bad Request\n" || rec.Header().Get("Cache-Control") != "no-store" ||
				rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("host %q: reject page %q %v", c.host, body, rec.Header())
			}
		}
	}
}

func TestOnRejectGetsReason(t *testing.T) {
	var got []error
	onReject := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, Reason(r))
		w.WriteHeader(http.StatusTeapot)
	})
	h := middleware(Options{Allowed: []string{"example.com"}, OnReject: onReject, Logger: quiet})(okHandler())
	for _, host := range []string{"bad host", "other.com"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusTeapot {
			t.Fatalf("OnReject not used: %d", rec.Code)
		}
	}
	if len(got) != 2 || got[0] != ErrMalformed || got[1] != ErrNotAllowed {
		t.Fatalf("reasons %v", got)
	}
	if Reason(httptest.NewRequest("GET", "/", nil)) != nil {
		t.Fatal("Reason on a normal request")
	}
}

// X-Forwarded-Host counts only through a trusted proxy (clientip decides).
func TestForwardedHostThroughClientIP(t *testing.T) {
	res := &clientip.Resolver{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	h := res.Middleware(middleware(Options{Allowed: []string{"public.example"}, Logger: quiet})(okHandler()))
	cases := []struct {
		remote, host, xfh string
		code              int
	}{
		{"10.0.0.1:1", "internal:8080", "public.example", 200},
		{"10.0.0.1:1", "public.example", "evil.example", 400},
		{"203.0.113.9:1", "internal:8080", "public.example", 400},
		{"203.0.113.9:1", "public.example", "evil.example", 200},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr, r.Host = c.remote, c.host
		r.Header.Set("X-Forwarded-Host", c.xfh)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != c.code {
			t.Errorf("%+v: got %d", c, rec.Code)
		}
	}
}

// No header other than X-Forwarded-Host from a trusted proxy may change the host that is
// checked: every name of the param-miner list (host-override headers included) is sent with
// an evil value.
func TestHostOverrideHeadersCorpus(t *testing.T) {
	f, err := os.Open(corpora.File(t, "headers/patt-param_miner_lowercase_headers.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := &clientip.Resolver{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	h := res.Middleware(middleware(Options{Allowed: []string{"good.example"}, Logger: quiet})(okHandler()))
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			continue
		}
		n++
		for _, peer := range []string{"203.0.113.9:1", "10.0.0.1:1"} {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr, r.Host = peer, "good.example"
			r.Header.Set(name, "evil.example")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			want := 200
			if peer == "10.0.0.1:1" && http.CanonicalHeaderKey(name) == "X-Forwarded-Host" {
				want = 400 // a trusted proxy said the client asked for evil.example
			}
			if rec.Code != want {
				t.Errorf("header %q from %s: status %d want %d", name, peer, rec.Code, want)
			}
		}
	}
	if n < 1000 {
		t.Fatalf("corpus has only %d names", n)
	}
}

// Raw requests through a real server: Go's own parser and this layer together must answer
// 400 for every malformed or foreign host, including the absolute-form request target.
func TestRawRequests(t *testing.T) {
	srv := httptest.NewServer(middleware(Options{Allowed: []string{"good.example"}, Logger: quiet})(okHandler()))
	defer srv.Close()
	cases := []struct {
		raw  string
		code int
	}{
		{"GET / HTTP/1.1\r\nHost: good.example\r\n\r\n", 200},
		{"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", 400},
		{"GET http://evil.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: good.example@evil.example\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: good.example evil\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: good_example\r\n\r\n", 400},
		{"GET / HTTP/1.0\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\n\r\n", 400},
	}
	for _, c := range cases {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, c.raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: %v", c.raw, err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%q: status %d want %d", c.raw, resp.StatusCode, c.code)
		}
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"example.com", "example.com:80", "[::1]:8080", "a@b", "[::1", "x.", "a..b", "[::ffff:1.2.3.4]"} {
		f.Add(s)
	}
	c, _ := New(Options{Allowed: []string{".example.com", "[::1]", "*"}})
	f.Fuzz(func(t *testing.T, s string) {
		d, p, err := Split(s)
		if err != nil {
			if c.Check(s) == nil {
				t.Fatalf("Check accepted malformed %q", s)
			}
			return
		}
		if d == "" || strings.ContainsAny(d, "@/\\ \r\n\t_%") || d != strings.ToLower(d) {
			t.Fatalf("Split(%q) domain %q", s, d)
		}
		if p != "" && !validPort(p) {
			t.Fatalf("Split(%q) port %q", s, p)
		}
		// What Split accepts must survive as an URL authority unchanged.
		rebuilt := d
		if p != "" {
			rebuilt += ":" + p
		}
		r, perr := http.NewRequest("GET", "http://"+rebuilt+"/", nil)
		if perr != nil || r.URL.Hostname() == "" {
			t.Fatalf("Split(%q) = %q not a valid authority: %v", s, rebuilt, perr)
		}
	})
}

func BenchmarkMiddleware(b *testing.B) {
	h := middleware(Options{Allowed: []string{"www.example.com", ".example.org", "api.example.com"}})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "shop.example.org:443"
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// Size limits at their edges: a domain name of 253 characters (DNS's limit) is valid, alone
// or with a trailing dot and the longest port; one character more is not.
func TestSplitLengthLimits(t *testing.T) {
	label := strings.Repeat("a", 63) + "."
	name253 := strings.Repeat(label, 3) + strings.Repeat("b", 61) // 3×64 + 61 = 253
	if len(name253) != 253 {
		t.Fatalf("test setup: %d", len(name253))
	}
	for _, c := range []struct {
		host string
		ok   bool
	}{
		{name253, true},
		{name253 + ".", true},
		{name253 + ".:65535", true}, // 260 bytes: the longest valid host
		{name253 + ":65535", true},
		{name253 + "b", false},
		{name253 + "b.:65535", false},
		{name253 + ".:655350", false},
		{"example.com:9999", true},
		{"example.com:9", true},
	} {
		d, _, err := Split(c.host)
		if (err == nil) != c.ok {
			t.Errorf("Split(%.20q… %d bytes) = %v, want ok=%v", c.host, len(c.host), err, c.ok)
		}
		if err == nil && strings.TrimSuffix(d, ".") != d {
			t.Errorf("Split(%.20q…) kept the trailing dot", c.host)
		}
	}
}

// A refused host is logged (category security.DisallowedHost, as Django) to the configured
// logger or, without one, to slog's default; a long host is cut at 100 bytes and marked.
func TestRejectionLogged(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, c := range []struct {
		host, want string
	}{
		{long, `host="\"` + long + `\""`},
		{long + "y", `host="\"` + long + `...\""`},
	} {
		var buf bytes.Buffer
		h := middleware(Options{Allowed: []string{"example.com"}, Logger: slog.New(slog.NewTextHandler(&buf, nil))})(okHandler())
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = c.host
		h.ServeHTTP(httptest.NewRecorder(), r)
		if !strings.Contains(buf.String(), "security.DisallowedHost") || !strings.Contains(buf.String(), c.want) {
			t.Errorf("host of %d bytes: log %q, want it to contain %q", len(c.host), buf.String(), c.want)
		}
	}
	var def bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&def, nil)))
	defer slog.SetDefault(old)
	h := middleware(Options{Allowed: []string{"example.com"}})(okHandler())
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "evil.example"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusBadRequest || !strings.Contains(def.String(), "evil.example") {
		t.Errorf("without a logger: %d, default log %q", rec.Code, def.String())
	}
}

// With Record set, a refusal is handed to it (host cut as for the log) and not logged.
func TestRecordReplacesLog(t *testing.T) {
	var buf bytes.Buffer
	type call struct {
		host string
		err  error
	}
	var got []call
	h := middleware(Options{Allowed: []string{"example.com"}, Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		Record: func(_ *http.Request, host string, err error) { got = append(got, call{host, err}) }})(okHandler())
	for _, host := range []string{"evil.example", "bad host", strings.Repeat("x", 101), "example.com"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	want := []call{{"evil.example", ErrNotAllowed}, {"bad host", ErrMalformed}, {strings.Repeat("x", 100) + "...", ErrMalformed}} // a label over 63 bytes
	if len(got) != len(want) {
		t.Fatalf("Record got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: %v, want %v", i, got[i], want[i])
		}
	}
	if buf.Len() != 0 {
		t.Errorf("logged with Record set: %q", buf.String())
	}
}

// middleware is New for options a test knows to be valid.
func middleware(opts Options) func(http.Handler) http.Handler {
	c, err := New(opts)
	if err != nil {
		panic(err)
	}
	return c.Middleware
}

// FuzzCheckFastPath: Check's verbatim comparison with the few exact names gives the same
// verdict as the full path (Split, then the map and the suffixes) for every host.
func FuzzCheckFastPath(f *testing.F) {
	for _, s := range []string{"example.com", "EXAMPLE.com", "example.com.", "example.com:443", "[::1]", "[::1]:8080",
		"12.34.56.78", "012.34.56.78", "sub.example.org", "example.org", "evil.com", "", "example.com:0", "example.com:"} {
		f.Add(s)
	}
	for _, allowed := range [][]string{
		{"example.com"},
		{"example.com", "[::1]", "12.34.56.78", ".example.org"},
		{"Example.COM.", "*"},
	} {
		fast, err := New(Options{Allowed: allowed})
		if err != nil {
			f.Fatal(err)
		}
		if len(fast.few) == 0 {
			f.Fatalf("%v: no fast path", allowed)
		}
	}
	f.Fuzz(func(t *testing.T, host string) {
		for _, allowed := range [][]string{
			{"example.com"},
			{"example.com", "[::1]", "12.34.56.78", ".example.org"},
			{"Example.COM.", "*"},
		} {
			fast, _ := New(Options{Allowed: allowed})
			slow := *fast
			slow.few = nil
			if got, want := fast.Check(host), slow.Check(host); got != want {
				t.Fatalf("allowed %v, host %q: fast path %v, full path %v", allowed, host, got, want)
			}
		}
	})
}
