package attacktest

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/apptest"
)

// rawRequest writes raw bytes to the server (so the Host header and request line can be
// anything, which Go's client refuses to send) and reads one response.
func rawRequest(t *testing.T, env *apptest.Env, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", env.Server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a guard against a hung server, not a timing assertion
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", raw, err)
	}
	return resp, drain(resp)
}

// TestHostHeaderAttacks sends foreign and malformed Host headers: each must get 400 (never a
// page built with the attacker's host), while the site's own names still work.
func TestHostHeaderAttacks(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	port := env.Server.Listener.Addr().(*net.TCPAddr).Port
	own := "127.0.0.1:" + itoa(port)
	cases := []struct {
		name, requestLine, host string
		extra                   string // more raw header lines
		want                    int
	}{
		{"own host and port", "GET / HTTP/1.1", own, "", 200},
		{"allowed name, any port (ports are not compared, as in Django)", "GET / HTTP/1.1", "localhost:1", "", 200},
		{"allowed name in upper case", "GET / HTTP/1.1", "LOCALHOST", "", 200},
		{"allowed name with a trailing dot (Django strips it)", "GET / HTTP/1.1", "localhost.", "", 200},
		{"foreign host", "GET / HTTP/1.1", "evil.example", "", 400},
		{"foreign host with the site's port", "GET / HTTP/1.1", "evil.example:" + itoa(port), "", 400},
		{"allowed name as a prefix of a foreign one", "GET / HTTP/1.1", "127.0.0.1.evil.example", "", 400},
		{"allowed name as a suffix label", "GET / HTTP/1.1", "evil127.0.0.1", "", 400},
		{"user-info trick: own@evil", "GET / HTTP/1.1", "127.0.0.1@evil.example", "", 400},
		{"user-info trick: evil@own", "GET / HTTP/1.1", "evil.example@127.0.0.1", "", 400},
		{"port trick: non-numeric port", "GET / HTTP/1.1", "127.0.0.1:evil.example", "", 400},
		{"port trick: two ports", "GET / HTTP/1.1", own + ":80", "", 400},
		{"port trick: empty port", "GET / HTTP/1.1", "127.0.0.1:", "", 400},
		{"percent-encoded CRLF in Host", "GET / HTTP/1.1", "127.0.0.1%0d%0aSet-Cookie:%20crlf=injection", "", 400},
		{"encoded slash in Host", "GET / HTTP/1.1", "evil.example%2f127.0.0.1", "", 400},
		{"path in Host", "GET / HTTP/1.1", "127.0.0.1/evil.example", "", 400},
		{"backslash in Host", "GET / HTTP/1.1", `evil.example\127.0.0.1`, "", 400},
		{"space in Host", "GET / HTTP/1.1", "127.0.0.1 evil.example", "", 400},
		{"obsolete line folding continues Host", "GET / HTTP/1.1", "127.0.0.1", "\r\n evil.example", 400},
		{"two Host headers", "GET / HTTP/1.1", own, "\r\nHost: evil.example", 400},
		{"empty Host on HTTP/1.1", "GET / HTTP/1.1", "", "", 400},
		{"absolute-form request line names a foreign host", "GET http://evil.example/ HTTP/1.1", own, "", 400},
		{"IPv6-mapped metadata address", "GET / HTTP/1.1", "[::ffff:169.254.169.254]", "", 400},
		{"foreign host on the reset form (link poisoning)", "GET /accounts/reset HTTP/1.1", "evil.example", "", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name+" must answer "+itoa(tc.want), func(t *testing.T) {
			raw := tc.requestLine + "\r\nHost: " + tc.host + tc.extra + "\r\nConnection: close\r\n\r\n"
			if tc.host == "" {
				raw = tc.requestLine + "\r\nHost:\r\nConnection: close\r\n\r\n"
			}
			resp, body := rawRequest(t, env, raw)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if why := crlfInjected(resp); why != "" {
				t.Fatalf("injected %s", why)
			}
			if tc.want != 200 && strings.Contains(body, "evil.example") {
				t.Fatalf("the refusal reflects the attacker's host: %q", body)
			}
		})
	}
	count("host header attacks", len(cases))
}

// TestForwardedHeadersFromUntrustedPeer: without trusted proxies, X-Forwarded-Host, Forwarded
// and X-Forwarded-Proto are the client's own words and must be ignored: the reset link
// (the classic Host-poisoning target) names the real host. Every header name of the
// param-miner list is tried as a host override.
func TestForwardedHeadersFromUntrustedPeer(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.CreateUser(t, "alice", alicePW, false)
	own, _ := url.Parse(env.URL)
	names := corpusLines(t, "headers/patt-param_miner_lowercase_headers.txt")
	// Framing, cookie and CSRF headers change what the request is rather than where links
	// point; they are covered by their own tests.
	skip := map[string]bool{"host": true, "content-length": true, "transfer-encoding": true, "connection": true,
		"te": true, "trailer": true, "upgrade": true, "expect": true, "keep-alive": true, "proxy-connection": true,
		"content-type": true, "cookie": true, "origin": true, "sec-fetch-site": true, "referer": true, "content-encoding": true}
	c := env.Client(t)
	c.Get("/accounts/reset")
	tok := c.Token()
	var usable []string
	for _, name := range names {
		if !skip[name] && validHeaderName(name) {
			usable = append(usable, name)
		}
	}
	// check sends one reset request with every header of names set to value and reports
	// what went wrong, if anything.
	check := func(names []string, value string) string {
		hdr := map[string]string{"Origin": env.URL, "Sec-Fetch-Site": "same-origin"}
		for _, n := range names {
			hdr[n] = value
		}
		env.Stack.Outbox.Reset()
		r := postRaw(t, c, env.URL, "/accounts/reset", url.Values{"email": {"alice@example.test"}, "csrf_token": {tok}}, hdr)
		if r.StatusCode != http.StatusSeeOther {
			return "status " + itoa(r.StatusCode) + ", want 303 (the headers must be ignored)"
		}
		msgs := env.Stack.Outbox.Messages()
		if len(msgs) != 1 {
			return itoa(len(msgs)) + " mails, want 1"
		}
		link := resetLinkRE.FindString(msgs[0].Body)
		if lu, err := url.Parse(link); err != nil || lu.Host != own.Host || lu.Scheme != own.Scheme {
			return "reset link " + link + " does not name " + env.URL
		}
		return ""
	}
	// Headers go in batches (one reset request costs several store writes); a failing batch
	// is retried header by header to name the culprit.
	const batch = 40
	for _, value := range []string{"evil.example", "https://evil.example", "for=1.2.3.4;host=evil.example;proto=https"} {
		for i := 0; i < len(usable); i += batch {
			group := usable[i:min(i+batch, len(usable))]
			if why := check(group, value); why != "" {
				for _, n := range group {
					if why := check([]string{n}, value); why != "" {
						t.Errorf("header %s: %s: %s", n, value, why)
					}
				}
			}
		}
	}
	tried := len(usable)
	count("host-override header names (x3 values)", tried)
}

// TestForwardedHostFromTrustedProxy: behind a trusted proxy the forwarded host is the
// request's host, so it passes the same allowed-hosts check: a foreign one is refused.
func TestForwardedHostFromTrustedProxy(t *testing.T) {
	env := apptest.New(t, apptest.Options{Env: map[string]string{"RAMPART_TRUSTED_PROXIES": "127.0.0.1/32"}})
	env.CreateUser(t, "alice", alicePW, false)
	cases := []struct {
		name, header, value string
		want                int
		linkHost            string
	}{
		{"foreign X-Forwarded-Host is refused", "X-Forwarded-Host", "evil.example", 400, ""},
		{"foreign X-Forwarded-Host with an allowed port trick is refused", "X-Forwarded-Host", "evil.example:80", 400, ""},
		{"allowed X-Forwarded-Host is used for links", "X-Forwarded-Host", "localhost:8443", 303, "localhost:8443"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := env.Client(t)
			c.Get("/accounts/reset")
			env.Stack.Outbox.Reset()
			r := postRaw(t, c, env.URL, "/accounts/reset", url.Values{"email": {"alice@example.test"}, "csrf_token": {c.Token()}},
				map[string]string{tc.header: tc.value})
			if r.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.want)
			}
			msgs := env.Stack.Outbox.Messages()
			if tc.want != 303 {
				if len(msgs) != 0 {
					t.Fatalf("a refused request sent %d mails", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("%d mails", len(msgs))
			}
			lu, _ := url.Parse(resetLinkRE.FindString(msgs[0].Body))
			if lu == nil || lu.Host != tc.linkHost {
				t.Fatalf("reset link %q, want host %s", resetLinkRE.FindString(msgs[0].Body), tc.linkHost)
			}
		})
	}
	count("trusted-proxy forwarded host", len(cases))
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
