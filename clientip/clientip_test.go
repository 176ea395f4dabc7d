package clientip

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func mustPrefixes(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type hdr = [][2]string

func newReq(remote, host string, tlsOn bool, h hdr) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	r.Host = host
	r.TLS = nil
	if tlsOn {
		r.TLS = &tls.ConnectionState{}
	}
	for _, kv := range h {
		r.Header.Add(kv[0], kv[1])
	}
	return r
}

func TestResolveXForwarded(t *testing.T) {
	res := &Resolver{TrustedProxies: mustPrefixes(t, "10.0.0.0/8, 2001:db8:ffff::/48 192.168.1.1")}
	cases := []struct {
		name    string
		remote  string
		host    string
		tls     bool
		h       hdr
		ip      string
		scheme  string
		wantHst string
		proxied bool
	}{
		{"no proxy headers", "203.0.113.5:1234", "Example.COM", false, nil, "203.0.113.5", "http", "example.com", false},
		{"direct TLS", "203.0.113.5:1234", "example.com", true, nil, "203.0.113.5", "https", "example.com", false},
		{"untrusted peer spoofs XFF", "203.0.113.5:1234", "example.com", false,
			hdr{{"X-Forwarded-For", "1.2.3.4"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "evil.com"}},
			"203.0.113.5", "http", "example.com", false},
		{"untrusted peer cannot downgrade TLS", "203.0.113.5:1234", "example.com", true,
			hdr{{"X-Forwarded-Proto", "http"}}, "203.0.113.5", "https", "example.com", false},
		{"trusted peer single hop", "10.0.0.1:80", "internal:8080", false,
			hdr{{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "WWW.Example.com"}},
			"198.51.100.7", "https", "www.example.com", true},
		{"rightmost untrusted wins over client-written left", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.0.0.9"}},
			"198.51.100.7", "http", "h", true},
		{"client prepends trusted-looking address", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "10.1.1.1, 198.51.100.7"}}, "198.51.100.7", "http", "h", true},
		{"all hops trusted picks leftmost", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "10.3.3.3, 10.2.2.2"}}, "10.3.3.3", "http", "h", true},
		{"multiple header lines are one list", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-For", "198.51.100.7, 10.0.0.2"}},
			"198.51.100.7", "http", "h", true},
		{"multiple lines walk into earlier line", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "6.6.6.6, 198.51.100.8"}, {"X-Forwarded-For", "10.0.0.3"}, {"X-Forwarded-For", "10.0.0.2"}},
			"198.51.100.8", "http", "h", true},
		{"garbage left of client is ignored", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "not-an-ip, <script>, 198.51.100.7"}}, "198.51.100.7", "http", "h", true},
		{"malformed hop reached keeps peer and ignores proto", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "198.51.100.7, bogus"}, {"X-Forwarded-Proto", "https"}}, "10.0.0.1", "http", "h", false},
		{"empty element is malformed", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "198.51.100.7,"}}, "10.0.0.1", "http", "h", false},
		{"IPv4 with port", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "198.51.100.7:5555"}}, "198.51.100.7", "http", "h", true},
		{"IPv6 bare", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "2001:db8::1"}}, "2001:db8::1", "http", "h", true},
		{"IPv6 bracketed", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "[2001:db8::1]"}}, "2001:db8::1", "http", "h", true},
		{"IPv6 bracketed with port, quoted", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", `"[2001:db8::1]:443"`}}, "2001:db8::1", "http", "h", true},
		{"IPv4-mapped IPv6 unmapped", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "::ffff:198.51.100.7"}}, "198.51.100.7", "http", "h", true},
		{"zoned hop rejected", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "fe80::1%eth0"}}, "10.0.0.1", "http", "h", false},
		{"bracketed IPv4 rejected", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "[198.51.100.7]"}}, "10.0.0.1", "http", "h", false},
		{"half bracket rejected", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-For", "[2001:db8::1"}}, "10.0.0.1", "http", "h", false},
		{"trusted IPv6 peer", "[2001:db8:ffff::2]:443", "h", false,
			hdr{{"X-Forwarded-For", "2001:db8::7, 2001:db8:ffff::3"}}, "2001:db8::7", "http", "h", true},
		{"trusted single-address proxy", "192.168.1.1:1", "h", false,
			hdr{{"X-Forwarded-For", "198.51.100.7"}}, "198.51.100.7", "http", "h", true},
		{"neighbour of single-address proxy untrusted", "192.168.1.2:1", "h", false,
			hdr{{"X-Forwarded-For", "198.51.100.7"}}, "192.168.1.2", "http", "h", false},
		{"proto last value wins", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-Proto", "http, HTTPS"}}, "10.0.0.1", "https", "h", true},
		{"proto from last header line", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Proto", "http"}}, "10.0.0.1", "http", "h", true},
		{"unknown proto ignored", "10.0.0.1:80", "h", true,
			hdr{{"X-Forwarded-Proto", "gopher"}}, "10.0.0.1", "https", "h", false},
		{"proxy can say plain http over TLS hop", "10.0.0.1:80", "h", true,
			hdr{{"X-Forwarded-Proto", "http"}}, "10.0.0.1", "http", "h", true},
		{"forwarded host with port and IPv6", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-Host", "[2001:DB8::1]:8443"}}, "10.0.0.1", "http", "[2001:db8::1]:8443", true},
		{"forwarded host last value", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-Host", "evil.com, good.example"}}, "10.0.0.1", "http", "good.example", true},
		{"forwarded host with CRLF-ish junk ignored", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-Host", "good.example/evil"}}, "10.0.0.1", "http", "h", false},
		{"forwarded host userinfo ignored", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-Host", "user@evil.com"}}, "10.0.0.1", "http", "h", false},
		{"forwarded host too long ignored", "10.0.0.1:80", "h", false,
			hdr{{"X-Forwarded-Host", strings.Repeat("a", 256)}}, "10.0.0.1", "http", "h", false},
		{"Forwarded header ignored in XForwarded mode", "10.0.0.1:80", "h", false,
			hdr{{"Forwarded", "for=198.51.100.7;proto=https"}}, "10.0.0.1", "http", "h", false},
		{"unparseable RemoteAddr", "garbage", "h", false,
			hdr{{"X-Forwarded-For", "198.51.100.7"}}, "invalid IP", "http", "h", false},
		{"RemoteAddr without port", "10.0.0.1", "h", false,
			hdr{{"X-Forwarded-For", "198.51.100.7"}}, "198.51.100.7", "http", "h", true},
		{"zoned RemoteAddr loses zone", "[fe80::1%eth0]:80", "h", false, nil, "fe80::1", "http", "h", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := res.Resolve(newReq(c.remote, c.host, c.tls, c.h))
			if got.IP.String() != c.ip || got.Scheme != c.scheme || got.Host != c.wantHst || got.Proxied != c.proxied {
				t.Fatalf("got %+v (ip %s), want ip=%s scheme=%s host=%s proxied=%v", got, got.IP, c.ip, c.scheme, c.wantHst, c.proxied)
			}
			if got.Secure() != (c.scheme == "https") {
				t.Fatalf("Secure()=%v for scheme %s", got.Secure(), got.Scheme)
			}
		})
	}
}

func TestResolveForwarded(t *testing.T) {
	res := &Resolver{TrustedProxies: mustPrefixes(t, "10.0.0.0/8 2001:db8:ffff::/48"), Header: Forwarded}
	cases := []struct {
		name    string
		remote  string
		h       hdr
		ip      string
		scheme  string
		host    string
		proxied bool
	}{
		{"untrusted peer ignored", "203.0.113.5:1", hdr{{"Forwarded", "for=1.2.3.4;proto=https;host=evil.com"}}, "203.0.113.5", "http", "h", false},
		{"simple", "10.0.0.1:1", hdr{{"Forwarded", "for=198.51.100.7;proto=https;host=Example.com"}}, "198.51.100.7", "https", "example.com", true},
		{"case-insensitive params", "10.0.0.1:1", hdr{{"Forwarded", "For=198.51.100.7;PROTO=HTTPS"}}, "198.51.100.7", "https", "h", true},
		{"quoted IPv6 with port", "10.0.0.1:1", hdr{{"Forwarded", `for="[2001:db8::7]:4711"`}}, "2001:db8::7", "http", "h", true},
		{"rightmost untrusted", "10.0.0.1:1", hdr{{"Forwarded", "for=6.6.6.6, for=198.51.100.7, for=10.0.0.5;proto=https"}}, "198.51.100.7", "https", "h", true},
		{"proto and host only from rightmost element", "10.0.0.1:1", hdr{{"Forwarded", "for=198.51.100.7;proto=https;host=evil.com, for=10.0.0.5"}}, "198.51.100.7", "http", "h", true},
		{"multiple lines", "10.0.0.1:1", hdr{{"Forwarded", "for=6.6.6.6"}, {"Forwarded", "for=198.51.100.7"}}, "198.51.100.7", "http", "h", true},
		{"unknown for keeps peer but proto believed", "10.0.0.1:1", hdr{{"Forwarded", "for=unknown;proto=https"}}, "10.0.0.1", "https", "h", true},
		{"obfuscated hop stops the walk", "10.0.0.1:1", hdr{{"Forwarded", "for=198.51.100.7, for=_hidden, for=10.0.0.3"}}, "10.0.0.3", "http", "h", true},
		{"duplicate parameter is malformed", "10.0.0.1:1", hdr{{"Forwarded", "for=198.51.100.7;for=1.1.1.1;proto=https"}}, "10.0.0.1", "http", "h", false},
		{"comma inside quoted host", "10.0.0.1:1", hdr{{"Forwarded", `for=198.51.100.7;host="a,b"`}}, "198.51.100.7", "http", "h", true},
		{"unbalanced quote", "10.0.0.1:1", hdr{{"Forwarded", `for="198.51.100.7`}}, "10.0.0.1", "http", "h", false},
		{"unbalanced quote left of client is harmless", "10.0.0.1:1", hdr{{"Forwarded", `for="6.6.6.6`}, {"Forwarded", "for=198.51.100.7"}}, "198.51.100.7", "http", "h", true},
		{"backslash escapes rejected", "10.0.0.1:1", hdr{{"Forwarded", `for="1.2.3.4\"";proto=https`}}, "10.0.0.1", "http", "h", false},
		{"pair without equals", "10.0.0.1:1", hdr{{"Forwarded", "for"}}, "10.0.0.1", "http", "h", false},
		{"by parameter ignored", "10.0.0.1:1", hdr{{"Forwarded", "by=10.0.0.1;for=198.51.100.7"}}, "198.51.100.7", "http", "h", true},
		{"XFF ignored in Forwarded mode", "10.0.0.1:1", hdr{{"X-Forwarded-For", "198.51.100.7"}}, "10.0.0.1", "http", "h", false},
		{"bad host ignored", "10.0.0.1:1", hdr{{"Forwarded", `for=198.51.100.7;host="a b"`}}, "198.51.100.7", "http", "h", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := res.Resolve(newReq(c.remote, "h", false, c.h))
			if got.IP.String() != c.ip || got.Scheme != c.scheme || got.Host != c.host || got.Proxied != c.proxied {
				t.Fatalf("got %+v (ip %s), want ip=%s scheme=%s host=%s proxied=%v", got, got.IP, c.ip, c.scheme, c.host, c.proxied)
			}
		})
	}
}

func TestZeroResolverTrustsNothing(t *testing.T) {
	for _, mode := range []HeaderMode{XForwarded, Forwarded} {
		res := &Resolver{Header: mode}
		r := newReq("10.0.0.1:1", "h", false, hdr{{"X-Forwarded-For", "1.2.3.4"}, {"Forwarded", "for=1.2.3.4;proto=https"}, {"X-Forwarded-Proto", "https"}})
		got := res.Resolve(r)
		if got.IP.String() != "10.0.0.1" || got.Scheme != "http" || got.Proxied {
			t.Fatalf("mode %d: zero resolver believed headers: %+v", mode, got)
		}
	}
}

func TestMiddlewareAndFromRequest(t *testing.T) {
	res := &Resolver{TrustedProxies: mustPrefixes(t, "10.0.0.0/8")}
	var got Info
	h := res.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r) }))
	h.ServeHTTP(httptest.NewRecorder(), newReq("10.0.0.1:1", "h", false, hdr{{"X-Forwarded-For", "198.51.100.7"}}))
	if got.IP.String() != "198.51.100.7" || !got.Proxied {
		t.Fatalf("middleware info not stored: %+v", got)
	}
	// Without the middleware FromRequest falls back to a zero resolver: headers are not trusted.
	fallback := FromRequest(newReq("10.0.0.1:1", "h", false, hdr{{"X-Forwarded-For", "198.51.100.7"}}))
	if fallback.IP.String() != "10.0.0.1" || fallback.Proxied {
		t.Fatalf("fallback trusted headers: %+v", fallback)
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.0.0.1/8,::1\t2001:db8::/32\n192.0.2.1 ::ffff:192.0.2.2")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "::1/128", "2001:db8::/32", "192.0.2.1/32", "192.0.2.2/32"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("prefix %d: got %s want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "1.2.3", "::1/200", strings.Repeat("x", 100)} {
		if _, err := ParsePrefixes(bad); err == nil {
			t.Errorf("ParsePrefixes(%q) accepted", bad)
		} else if len(err.Error()) > 200 {
			t.Errorf("error message not truncated: %d bytes", len(err.Error()))
		}
	}
	if p, err := ParsePrefixes(""); err != nil || len(p) != 0 {
		t.Fatalf("empty: %v %v", p, err)
	}
}

// A long client-written prefix must not change the answer nor cost per-element work beyond
// the hops actually walked.
func TestManyValues(t *testing.T) {
	res := &Resolver{TrustedProxies: mustPrefixes(t, "10.0.0.0/8")}
	long := strings.Repeat("6.6.6.6, junk, ", 20000) + "198.51.100.7, 10.0.0.2"
	r := newReq("10.0.0.1:1", "h", false, hdr{{"X-Forwarded-For", long}})
	for i := 0; i < 50; i++ {
		r.Header.Add("X-Forwarded-For", "10.0.0.3")
	}
	if got := res.Resolve(r); got.IP.String() != "198.51.100.7" {
		t.Fatalf("got %s", got.IP)
	}
	allocs := testing.AllocsPerRun(20, func() { res.Resolve(r) })
	if allocs > 2 {
		t.Fatalf("Resolve allocates %.0f times on a long chain", allocs)
	}
	resF := &Resolver{TrustedProxies: res.TrustedProxies, Header: Forwarded}
	rf := newReq("10.0.0.1:1", "h", false, hdr{{"Forwarded", strings.Repeat(`for="6.6.6.6";x=";,", `, 20000) + "for=198.51.100.7"}})
	if got := resF.Resolve(rf); got.IP.String() != "198.51.100.7" {
		t.Fatalf("forwarded got %s", got.IP)
	}
}

func FuzzResolve(f *testing.F) {
	f.Add("10.0.0.1:1", "1.2.3.4, 10.0.0.2", "https", "example.com", `for="[2001:db8::1]:80";proto=https;host=x`, false)
	f.Add("[2001:db8:ffff::1]:1", "[::1]:1,,", "http, https", "[::1]:80", "for=unknown, for=_x", true)
	f.Add("garbage", `"`, "", "a@b", `for="`, false)
	trusted := mustPrefixes(f, "10.0.0.0/8 2001:db8:ffff::/48")
	f.Fuzz(func(t *testing.T, remote, xff, proto, xhost, fwd string, forwardedMode bool) {
		res := &Resolver{TrustedProxies: trusted}
		if forwardedMode {
			res.Header = Forwarded
		}
		r := newReq(remote, "host.example", false, nil)
		r.Header["X-Forwarded-For"] = strings.Split(xff, "\n")
		r.Header["X-Forwarded-Proto"] = []string{proto}
		r.Header["X-Forwarded-Host"] = []string{xhost}
		r.Header["Forwarded"] = strings.Split(fwd, "\n")
		got := res.Resolve(r)
		if got.Scheme != "http" && got.Scheme != "https" {
			t.Fatalf("scheme %q", got.Scheme)
		}
		if got.Host != "host.example" && (!validHost(got.Host) || got.Host != strings.ToLower(got.Host)) {
			t.Fatalf("invalid host %q believed", got.Host)
		}
		if got.IP.Zone() != "" || got.IP.Is4In6() {
			t.Fatalf("IP not normalised: %v", got.IP)
		}
		peer := parseRemote(remote)
		if !res.trusted(peer) {
			if got.IP != peer || got.Proxied || got.Scheme != "http" || got.Host != "host.example" {
				t.Fatalf("untrusted peer %v: headers believed: %+v", peer, got)
			}
		}
		if got.IP.IsValid() && got.IP != peer {
			// The chosen client address must appear in a header the trusted peer sent.
			if !strings.Contains(xff+fwd, got.IP.String()) && !containsAddr(xff+" "+fwd, got.IP) {
				t.Fatalf("address %v invented", got.IP)
			}
		}
	})
}

// containsAddr reports whether any token of s parses to a.
func containsAddr(s string, a netip.Addr) bool {
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(",;= \t\n\"", r) }) {
		if b, err := parseHop(tok); err == nil && b == a {
			return true
		}
		if b, err := parseHop(strings.TrimPrefix(strings.ToLower(tok), "for")); err == nil && b == a {
			return true
		}
	}
	return false
}

func BenchmarkResolve(b *testing.B) {
	trusted, _ := ParsePrefixes("10.0.0.0/8 2001:db8:ffff::/48")
	bench := func(name string, res *Resolver, r *http.Request) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = res.Resolve(r)
			}
		})
	}
	bench("direct", &Resolver{}, newReq("203.0.113.5:1234", "example.com", true, nil))
	bench("xff-untrusted-peer", &Resolver{TrustedProxies: trusted}, newReq("203.0.113.5:1234", "example.com", false, hdr{{"X-Forwarded-For", "1.2.3.4"}}))
	bench("xff-2hops", &Resolver{TrustedProxies: trusted}, newReq("10.0.0.1:1234", "example.com", false,
		hdr{{"X-Forwarded-For", "198.51.100.7, 10.0.0.2"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "Example.com"}}))
	bench("forwarded-2hops", &Resolver{TrustedProxies: trusted, Header: Forwarded}, newReq("10.0.0.1:1234", "example.com", false,
		hdr{{"Forwarded", `for=198.51.100.7, for="[2001:db8:ffff::2]";proto=https;host=example.com`}}))
}

// SecureFromRequest must agree with FromRequest(r).Secure() with and without a resolver,
// including proxied requests whose scheme comes from a trusted proxy's header.
func TestSecureFromRequest(t *testing.T) {
	res := &Resolver{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tc := range []struct {
		target, remote, proto string
	}{
		{"https://example.com/", "192.0.2.1:1234", ""},
		{"http://example.com/", "192.0.2.1:1234", ""},
		{"http://example.com/", "192.0.2.1:1234", "https"},
		{"http://example.com/", "10.0.0.1:1234", "https"},
		{"https://example.com/", "10.0.0.1:1234", "http"},
		{"http://example.com/", "garbage", ""},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		r.RemoteAddr = tc.remote
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		if got, want := SecureFromRequest(r), FromRequest(r).Secure(); got != want {
			t.Errorf("no resolver %+v: %v, want %v", tc, got, want)
		}
		var seen *http.Request
		res.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r })).ServeHTTP(httptest.NewRecorder(), r)
		if got, want := SecureFromRequest(seen), FromRequest(seen).Secure(); got != want {
			t.Errorf("resolver %+v: %v, want %v", tc, got, want)
		}
	}
}

// A Forwarded header may arrive as several header lines (RFC 7230 §3.2.2: one list split
// across fields). The walk from the right crosses line boundaries exactly as it crosses commas:
// trusted hops on the last line lead to the client on an earlier one; proto and host still
// come only from the rightmost element; an untrusted or malformed hop on any line ends it.
func TestForwardedAcrossHeaderLines(t *testing.T) {
	res := &Resolver{TrustedProxies: mustPrefixes(t, "10.0.0.0/8"), Header: Forwarded}
	cases := []struct {
		name    string
		h       hdr
		ip      string
		scheme  string
		host    string
		proxied bool
	}{
		{"client on an earlier line",
			hdr{{"Forwarded", "for=198.51.100.7"}, {"Forwarded", "for=10.0.0.5;proto=https;host=www.example"}},
			"198.51.100.7", "https", "www.example", true},
		{"several elements on several lines",
			hdr{{"Forwarded", "for=6.6.6.6, for=198.51.100.7"}, {"Forwarded", "for=10.0.0.4, for=10.0.0.5"}},
			"198.51.100.7", "http", "h", true},
		{"three lines",
			hdr{{"Forwarded", "for=198.51.100.9"}, {"Forwarded", "for=10.0.0.3"}, {"Forwarded", "for=10.0.0.2;proto=https"}},
			"198.51.100.9", "https", "h", true},
		{"proto and host on an earlier line are the client's",
			hdr{{"Forwarded", "for=198.51.100.7;proto=https;host=evil.example"}, {"Forwarded", "for=10.0.0.5"}},
			"198.51.100.7", "http", "h", true},
		{"all trusted: the leftmost hop",
			hdr{{"Forwarded", "for=10.0.0.9"}, {"Forwarded", "for=10.0.0.8"}},
			"10.0.0.9", "http", "h", true},
		{"malformed earlier line stops the walk at the last trusted hop",
			hdr{{"Forwarded", "for=198.51.100.7;for=1.1.1.1"}, {"Forwarded", "for=10.0.0.5"}},
			"10.0.0.5", "http", "h", true},
		{"unknown on an earlier line stops the walk",
			hdr{{"Forwarded", "for=6.6.6.6, for=unknown"}, {"Forwarded", "for=10.0.0.5"}},
			"10.0.0.5", "http", "h", true},
		{"untrusted on the last line: earlier lines are the client's own",
			hdr{{"Forwarded", "for=6.6.6.6;proto=https"}, {"Forwarded", "for=198.51.100.7"}},
			"198.51.100.7", "http", "h", true},
		{"empty last line",
			hdr{{"Forwarded", "for=198.51.100.7"}, {"Forwarded", ""}},
			"10.0.0.1", "http", "h", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := res.Resolve(newReq("10.0.0.1:1", "h", false, c.h))
			if got.IP.String() != c.ip || got.Scheme != c.scheme || got.Host != c.host || got.Proxied != c.proxied {
				t.Fatalf("got %+v (ip %s), want ip=%s scheme=%s host=%s proxied=%v", got, got.IP, c.ip, c.scheme, c.host, c.proxied)
			}
		})
	}
}

// An empty member of X-Forwarded-For that the walk reaches (at the start of a line, or a whole
// empty line, behind trusted hops) makes the chain malformed: it is not believed and the peer
// stays the client; left of the client it is the client's own text and changes nothing. For
// X-Forwarded-Proto the last member counts even after an empty one; X-Forwarded-Host may be
// 255 bytes long.
func TestXForwardedEdges(t *testing.T) {
	res := &Resolver{TrustedProxies: mustPrefixes(t, "10.0.0.0/8")}
	host255 := strings.Repeat("a", 251) + ".com"
	cases := []struct {
		name    string
		h       hdr
		ip      string
		scheme  string
		host    string
		proxied bool
	}{
		{"empty first member", hdr{{"X-Forwarded-For", ",10.0.0.5"}}, "10.0.0.1", "http", "h", false},
		{"empty member left of the client is the client's own", hdr{{"X-Forwarded-For", ", 198.51.100.7, 10.0.0.5"}}, "198.51.100.7", "http", "h", true},
		{"empty earlier line", hdr{{"X-Forwarded-For", ""}, {"X-Forwarded-For", "10.0.0.5"}}, "10.0.0.1", "http", "h", false},
		{"proto after an empty member", hdr{{"X-Forwarded-Proto", ",https"}}, "10.0.0.1", "https", "h", true},
		{"host of 255 bytes", hdr{{"X-Forwarded-Host", host255}}, "10.0.0.1", "http", host255, true},
		{"host of 256 bytes", hdr{{"X-Forwarded-Host", host255 + "m"}}, "10.0.0.1", "http", "h", false},
	}
	for _, c := range cases {
		got := res.Resolve(newReq("10.0.0.1:1", "h", false, c.h))
		if got.IP.String() != c.ip || got.Scheme != c.scheme || got.Host != c.host || got.Proxied != c.proxied {
			t.Errorf("%s: got %+v (ip %s), want ip=%s scheme=%s host=%.20s proxied=%v", c.name, got, got.IP, c.ip, c.scheme, c.host, c.proxied)
		}
	}
}

// A bad trusted-proxy entry is named in the error, cut at 64 bytes, with the parser's own
// message only while the entry is short enough for it to be readable.
func TestBadProxyMessages(t *testing.T) {
	for _, c := range []struct {
		entry  string
		quoted string
		parser bool // the parser's message (which repeats the entry) is included
	}{
		{strings.Repeat("z", 64), `"` + strings.Repeat("z", 64) + `"`, true},
		{strings.Repeat("z", 65), `"` + strings.Repeat("z", 64) + `..."`, false},
	} {
		_, err := ParsePrefixes(c.entry)
		if err == nil {
			t.Fatalf("%d-byte entry accepted", len(c.entry))
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "clientip: bad trusted proxy "+c.quoted+": ") {
			t.Errorf("%d-byte entry: %q does not quote it as %q", len(c.entry), msg, c.quoted)
		}
		if got := !strings.HasSuffix(msg, "not an IP address or CIDR prefix"); got != c.parser {
			t.Errorf("%d-byte entry: parser message included = %v, want %v (%q)", len(c.entry), got, c.parser, msg)
		}
	}
}

// RFC 7239 quoting at its edges: a value is quoted only when it both starts and ends with a
// quote (any other quote makes the element malformed, so nothing in it is believed), an empty
// quoted value is a value, a backslash anywhere is refused, and an empty list member is
// skipped (RFC 7230 §7).
func TestForwardedQuotingEdges(t *testing.T) {
	res := &Resolver{TrustedProxies: mustPrefixes(t, "10.0.0.0/8"), Header: Forwarded}
	cases := []struct {
		name    string
		h       hdr
		ip      string
		scheme  string
		proxied bool
	}{
		{"leading empty member", hdr{{"Forwarded", ", for=198.51.100.7"}}, "198.51.100.7", "http", true},
		{"backslash at the start", hdr{{"Forwarded", `\x=1;for=198.51.100.7;proto=https`}}, "10.0.0.1", "http", false},
		{"empty quoted for", hdr{{"Forwarded", `for="";proto=https`}}, "10.0.0.1", "https", true},
		{"closing quote only", hdr{{"Forwarded", `for=198.51.100.7"";proto=https`}}, "10.0.0.1", "http", false},
		{"quotes inside a value", hdr{{"Forwarded", `for=198.51.100.7;by=""x;proto=https`}}, "10.0.0.1", "http", false},
		{"opening quotes only", hdr{{"Forwarded", `for=""198.51.100.7;proto=https`}}, "10.0.0.1", "http", false},
		{"empty value", hdr{{"Forwarded", `for=;proto=https`}}, "10.0.0.1", "https", true},
	}
	for _, c := range cases {
		got := res.Resolve(newReq("10.0.0.1:1", "h", false, c.h))
		if got.IP.String() != c.ip || got.Scheme != c.scheme || got.Proxied != c.proxied {
			t.Errorf("%s: got %+v (ip %s), want ip=%s scheme=%s proxied=%v", c.name, got, got.IP, c.ip, c.scheme, c.proxied)
		}
	}
}

// FuzzParseIPv4Port: the fast path answers only for what netip.ParseAddrPort accepts, with
// the same address, and does answer for plain "a.b.c.d:port".
func FuzzParseIPv4Port(f *testing.F) {
	for _, s := range []string{"192.0.2.10:41234", "1.2.3.4:0", "1.2.3.4:65535", "1.2.3.4:65536", "01.2.3.4:1",
		"1.2.3.4:080", "256.1.1.1:1", "1.2.3:4", "1.2.3.4", "1.2.3.4:", "1.2.3.4:1:2", "[::1]:80", "::ffff:1.2.3.4:80",
		"1.2.3.4%eth0:80", "1.2.3.4 :80", "+1.2.3.4:80", "1.2.3.4:+80", "1.2.3.4.5:80", "0.0.0.0:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseIPv4Port(s)
		ap, err := netip.ParseAddrPort(s)
		if ok && (err != nil || ap.Addr().Unmap().WithZone("") != a) {
			t.Fatalf("parseIPv4Port(%q) = %v, ParseAddrPort: %v, %v", s, a, ap, err)
		}
		if !ok && err == nil && ap.Addr().Is4() && !strings.ContainsAny(s, "[]") && len(ap.String()) == len(s) {
			t.Fatalf("parseIPv4Port(%q) declined a plain IPv4 address and port", s)
		}
	})
}
