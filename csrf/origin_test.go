package csrf

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// readTSV returns the data rows of a testdata TSV (comments and the header row dropped).
func readTSV(t testing.TB, name string) [][]string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if header {
			header = false
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// Every row of go-trusted-origin-syntax.tsv (Go's AddTrustedOrigin accept/reject list).
func TestTrustedOriginSyntaxGoCorpus(t *testing.T) {
	rows := readTSV(t, "go-trusted-origin-syntax.tsv")
	if len(rows) != 12 {
		t.Fatalf("read %d rows, want 12", len(rows))
	}
	for _, row := range rows {
		in := row[0]
		if in == "(empty string)" {
			in = ""
		}
		wantOK := row[1] == "yes"
		_, err := parseTrustedOrigin(in)
		if (err == nil) != wantOK {
			t.Errorf("parseTrustedOrigin(%q): err=%v, want accepted=%v (%s)", in, err, wantOK, row[1])
		}
	}
}

func TestTrustedOriginStricterThanDjango(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"https://*.example.com", true},
		{"https://*.example.com:8443", true},
		{"HTTPS://*.Example.COM", true},
		{"http://[::1]:8000", true},
		{"http://localhost:8000", true},
		{"http://*.localhost:8000", true}, // unlisted single label: development
		{"https://*", false},
		{"https://*.", false},
		{"https://*.com", false},       // public suffix
		{"https://*.co.uk", false},     // public suffix
		{"https://*.github.io", false}, // private public suffix
		{"https://*.*.example.com", false},
		{"https://foo.*.example.com", false},
		{"https://*example.com", false},
		{"https://*.1.2.3.4", false},
		{"https://user@example.com", false},
		{"https://example.com:", false},
		{"https://example.com:0", false},
		{"https://example.com:65536", false},
		{"https://example.com:080", false},
		{"//example.com", false},
		{"://example.com", false},
		{"1https://example.com", false},
		{"https://exa\x00mple.com", false},
		{"https://[::1%25eth0]", false},
		{"https://[1.2.3.4]", false},
	}
	for _, tt := range tests {
		_, err := parseTrustedOrigin(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseTrustedOrigin(%q) err=%v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

// Django's is_same_domain semantics for wildcard entries, scheme and port included.
func TestTrustedOriginMatching(t *testing.T) {
	tests := []struct {
		entry, origin string
		want          bool
	}{
		{"https://*.example.com", "https://foo.example.com", true},
		{"https://*.example.com", "https://a.b.example.com", true},
		{"https://*.example.com", "https://example.com", true},
		{"https://*.example.com", "https://example.com:443", true},
		{"https://*.example.com", "http://foo.example.com", false}, // scheme
		{"https://*.example.com", "https://foo.example.com:8443", false},
		{"https://*.example.com", "https://fooexample.com", false},
		{"https://*.example.com", "https://example.com.evil.org", false},
		{"https://*.example.com:8443", "https://foo.example.com:8443", true},
		{"https://*.example.com:8443", "https://foo.example.com", false},
		{"https://example.com", "https://example.com", true},
		{"https://example.com", "https://EXAMPLE.com", true},
		{"https://example.com:443", "https://example.com", true},
		{"https://example.com", "https://foo.example.com", false},
		{"https://example.com", "http://example.com", false},
		{"http://example.com", "https://example.com", false},
		{"http://example.com", "http://example.com:80", true},
		{"http://example.com", "http://example.com:8080", false},
		{"http://[::1]:8000", "http://[::1]:8000", true},
	}
	for _, tt := range tests {
		tr, err := parseTrustedOrigin(tt.entry)
		if err != nil {
			t.Fatalf("parseTrustedOrigin(%q): %v", tt.entry, err)
		}
		o, ok := parseOrigin(tt.origin)
		if !ok {
			t.Fatalf("parseOrigin(%q) failed", tt.origin)
		}
		if got := tr.matches(&o); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.entry, tt.origin, got, tt.want)
		}
	}
}

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		in   string
		want origin
		ok   bool
	}{
		{"https://example.com", origin{"https", "example.com", ""}, true},
		{"https://example.com:443", origin{"https", "example.com", ""}, true},
		{"https://example.com:8443", origin{"https", "example.com", "8443"}, true},
		{"http://EXAMPLE.com:80", origin{"http", "example.com", ""}, true},
		{"http://[::1]:8080", origin{"http", "[::1]", "8080"}, true},
		{"http://127.0.0.1", origin{"http", "127.0.0.1", ""}, true},
		{"chrome-extension://abcdef", origin{"chrome-extension", "abcdef", ""}, true},
		{"null", origin{}, false},
		{"", origin{}, false},
		{"https://", origin{}, false},
		{"https://example.com/", origin{}, false},
		{"https://evil.com@example.com", origin{}, false},
		{"https://example.com?x", origin{}, false},
		{"https://example.com#x", origin{}, false},
		{"https://[", origin{}, false},
		{"https://[::1", origin{}, false},
		{"https://[::1]x", origin{}, false},
		{"https://ex ample.com", origin{}, false},
		{"https://exämple.com", origin{}, false},
		{"https://example.com:", origin{}, false},
		{"https://example.com:99999", origin{}, false},
		{"https://*.example.com", origin{}, false},
		{" https://example.com", origin{}, false},
		{"example.com", origin{}, false},
		// The Host header's rules (hosts.Split): a trailing dot names the same host, an
		// underscore or a port with a leading zero is not a host.
		{"https://Example.COM.", origin{"https", "example.com", ""}, true},
		{"https://example.com.:8443", origin{"https", "example.com", "8443"}, true},
		{"https://a_b.example.com", origin{}, false},
		{"https://example.com:0443", origin{}, false},
	}
	for _, tt := range tests {
		got, ok := parseOrigin(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseOrigin(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// A "*." trusted origin covers the base domain and names with at least one whole label in
// front of it, nothing else: not an empty label (".example.com"), not a name that merely ends
// with the same characters, and not the base with a different port or scheme. Checked through
// the middleware, where a forged Origin arrives.
func TestWildcardTrustedOriginBoundary(t *testing.T) {
	opts := Options{TrustedOrigins: []string{"https://*.example.com"}}
	cases := []struct {
		origin string
		want   int
	}{
		{"https://a.b.example.com", 200},
		{"https://example.com", 200},
		{"https://.example.com", 403},
		{"https://aexample.com", 403},
		{"https://xample.com", 403},
		{"https://a.example.com.evil.org", 403},
		{"https://a.example.co", 403},
		{"http://a.example.com", 403},
		{"https://a.example.com:444", 403},
	}
	for _, c := range cases {
		r := newReq("POST", "https://www.site.org/", map[string]string{"Origin": c.origin, "X-CSRF-Token": maskedTestSecret1}, nil)
		withCookie(r, SecureCookieName, testSecret)
		if res := run(t, opts, nil, r); res.status != c.want {
			t.Errorf("Origin %q: status %d (%v), want %d", c.origin, res.status, res.reason, c.want)
		}
	}
}

// Origin and trusted-origin syntax limits, at their edges: a scheme of at most 32 characters,
// a host name of at most 253 (DNS), and every ASCII letter, upper or lower case, in a name.
func TestOriginSyntaxLimits(t *testing.T) {
	label := strings.Repeat("a", 63) + "."
	name253 := strings.Repeat(label, 3) + strings.Repeat("b", 253-3*64) // 253 characters
	if len(name253) != 253 {
		t.Fatalf("test setup: %d", len(name253))
	}
	cases := []struct {
		entry string
		ok    bool
	}{
		{"https://" + name253, true},
		{"https://" + name253 + "b", false},
		{"https://*." + name253, true},
		{strings.Repeat("s", 32) + "://example.com", true},
		{strings.Repeat("s", 33) + "://example.com", false},
		{"https://AZaz09-.example.com", true},
		// One host syntax with the Host header (hosts.Split, Django's rule): no underscore.
		{"https://a_b.example.com", false},
		{"https://example.com.", false},
		{"https://example.com.:8443", false},
		{"https://Zz.example.com", true},
	}
	for _, c := range cases {
		_, err := parseTrustedOrigin(c.entry)
		if (err == nil) != c.ok {
			t.Errorf("parseTrustedOrigin(%.50q…) = %v, want ok=%v", c.entry, err, c.ok)
		}
		if _, err := New(Options{TrustedOrigins: []string{c.entry}}); (err == nil) != c.ok {
			t.Errorf("New with trusted origin %.50q…: %v, want ok=%v", c.entry, err, c.ok)
		}
	}
	// The same limits on a request's Origin: a trusted name at the limit is honoured.
	for _, c := range []struct {
		trusted, origin string
		want            int
	}{
		{"https://" + name253, "https://" + strings.ToUpper(name253), 200},
		{"https://zz.example.com", "https://ZZ.example.com", 200},
		{"https://az.example.com", "https://aZ.example.com", 200},
	} {
		r := newReq("POST", "https://www.site.org/", map[string]string{"Origin": c.origin, "X-CSRF-Token": maskedTestSecret1}, nil)
		withCookie(r, SecureCookieName, testSecret)
		if res := run(t, Options{TrustedOrigins: []string{c.trusted}}, nil, r); res.status != c.want {
			t.Errorf("Origin %.40q…: %d (%v), want %d", c.origin, res.status, res.reason, c.want)
		}
	}
}

// Ports are 1 to 65535 in decimal without leading zeros, and "*." wildcards cover a plain
// domain: no empty labels, no trailing dot.
func TestOriginPortsAndWildcardForms(t *testing.T) {
	cases := []struct {
		entry string
		ok    bool
	}{
		{"https://example.com:1", true},
		{"https://example.com:8080", true},
		{"https://example.com:10000", true},
		{"https://example.com:65535", true},
		{"https://example.com:9999", true},
		{"https://example.com:65536", false},
		{"https://example.com:99999", false},
		{"https://example.com:100000", false},
		{"https://example.com:0", false},
		{"https://example.com:0443", false},
		{"https://example.com:8a", false},
		{"https://example.com:a8", false},
		{"https://example.com:-1", false},
		{"https://example.com:", false},
		{"https://*..example.com", false},
		{"https://*.example.com.", false},
	}
	for _, c := range cases {
		if _, err := parseTrustedOrigin(c.entry); (err == nil) != c.ok {
			t.Errorf("parseTrustedOrigin(%q) = %v, want ok=%v", c.entry, err, c.ok)
		}
	}
	for _, c := range []struct {
		origin string
		ok     bool
	}{
		{"https://example.com:65535", true},
		{"https://example.com:65536", false},
		{"https://example.com:8a", false},
		{"https://example.com:10", true},
	} {
		if _, ok := parseOrigin(c.origin); ok != c.ok {
			t.Errorf("parseOrigin(%q) ok = %v, want %v", c.origin, ok, c.ok)
		}
	}
}

// Attacker-controlled text in reasons and logs is capped at 200 bytes, marked when cut.
func TestPrintableCap(t *testing.T) {
	if got := printable(strings.Repeat("a", 200)); got != strings.Repeat("a", 200) {
		t.Errorf("200 bytes: %q", got)
	}
	if got := printable(strings.Repeat("a", 201)); got != strings.Repeat("a", 200)+"..." {
		t.Errorf("201 bytes: %q", got)
	}
	if got := printable("a\nb\x00"); got != `a\nb\x00` {
		t.Errorf("controls: %q", got)
	}
}
