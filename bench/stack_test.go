package bench

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/store/sqlite"
)

const clientAddr = "192.0.2.10:41234"

type stackMaker struct {
	name string
	make func(tb testing.TB, cfg Config) *Stack
}

func mustStack(tb testing.TB, s *Stack, err error) *Stack {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

var stackMakers = []stackMaker{
	{"rampart", func(tb testing.TB, cfg Config) *Stack { s, err := Rampart(cfg); return mustStack(tb, s, err) }},
	{"rampart-sqlite", sqliteStack("rampart-sqlite", sqlite.Options{})},
	// The same with every session update committed before the response (SyncSessionWrites):
	// the cost of the default's deferred, batched session updates made visible.
	{"rampart-sqlite-sync", sqliteStack("rampart-sqlite-sync", sqlite.Options{SyncSessionWrites: true})},
	{"anchor", func(tb testing.TB, cfg Config) *Stack { s, err := Anchor(cfg); return mustStack(tb, s, err) }},
}

// sqliteStack makes rampart's default stack on a temporary SQLite file opened with opts.
func sqliteStack(name string, opts sqlite.Options) func(tb testing.TB, cfg Config) *Stack {
	return func(tb testing.TB, cfg Config) *Stack {
		st, err := sqlite.OpenWith(filepath.Join(tb.TempDir(), "bench.db"), opts)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		cfg.Store = st
		s, err := Rampart(cfg)
		s = mustStack(tb, s, err)
		s.Name = name
		return s
	}
}

// ownBrowser reports whether stack m needs a browser of its own: the SQLite stacks share
// rampart's cookie names and token format.
func ownBrowser(name string) bool { return strings.HasPrefix(name, "rampart-sqlite") }

// stackCases builds every full-stack scenario for every stack. One logged-in browser holds
// the cookies of every stack and a form carrying each stack's token, so every stack gets
// byte-for-byte the same request.
func stackCases(tb testing.TB) []benchCase {
	tb.Helper()
	stacks := make([]*Stack, len(stackMakers))
	limited := make([]*Stack, len(stackMakers))
	var cookies []*http.Cookie
	var rampartTok, gorillaTok string
	for i, m := range stackMakers {
		stacks[i] = m.make(tb, Config{})
		c, err := Prime(stacks[i].Handler, clientAddr, false)
		if err != nil {
			tb.Fatalf("%s: %v", m.name, err)
		}
		for _, ck := range c.Cookies {
			if ownBrowser(m.name) {
				// Same cookie names as "rampart": the sqlite stacks get their own browsers below.
				continue
			}
			cookies = append(cookies, ck)
		}
		switch m.name {
		case "rampart":
			rampartTok = c.Token
		case "anchor":
			gorillaTok = c.Token
		}
		limited[i] = m.make(tb, Config{Rate: "1/h"})
	}
	body := FormBody(rampartTok, gorillaTok)
	// The sqlite stacks share rampart's cookie names and token format: give each the same
	// request shape with its own session.
	ownBrowserFor := func(i int) ([]*http.Cookie, string) {
		c, err := Prime(stacks[i].Handler, clientAddr, false)
		if err != nil {
			tb.Fatal(err)
		}
		own := map[string]bool{}
		for _, x := range c.Cookies {
			own[x.Name] = true
		}
		var ck []*http.Cookie
		for _, x := range cookies {
			if !own[x.Name] {
				ck = append(ck, x)
			}
		}
		return append(ck, c.Cookies...), FormBody(c.Token, gorillaTok)
	}
	ownCookies := make([][]*http.Cookie, len(stackMakers))
	ownBody := make([]string, len(stackMakers))
	for i, m := range stackMakers {
		if ownBrowser(m.name) {
			ownCookies[i], ownBody[i] = ownBrowserFor(i)
		}
	}

	type scenario struct {
		name    string
		method  string
		path    string
		hdr     map[string]string
		cookies bool
		body    bool
		limited bool
		want    int
	}
	sameOrigin := map[string]string{"Origin": Origin, "Referer": Origin + "/form", "Sec-Fetch-Site": "same-origin"}
	scenarios := []scenario{
		{name: "GET-new-visitor-issues-token", method: "GET", path: "/form",
			hdr: map[string]string{"Sec-Fetch-Site": "none"}, want: 200},
		{name: "POST-valid", method: "POST", path: "/form", hdr: sameOrigin, cookies: true, body: true, want: 200},
		{name: "POST-valid-token-no-fetch-metadata", method: "POST", path: "/form",
			hdr: map[string]string{"Referer": Origin + "/form"}, cookies: true, body: true, want: 200},
		{name: "POST-cross-origin-rejected", method: "POST", path: "/form",
			hdr:     map[string]string{"Origin": "https://evil.example", "Referer": "https://evil.example/", "Sec-Fetch-Site": "cross-site"},
			cookies: true, body: true, want: 403},
		{name: "GET-logged-in-page", method: "GET", path: "/account",
			hdr: map[string]string{"Sec-Fetch-Site": "same-origin", "Referer": Origin + "/form"}, cookies: true, want: 200},
		// The limited stacks are separate instances (limit 1/h) where this client has spent its
		// budget; the limiter answers before the session layer, so no cookies are sent.
		{name: "GET-rate-limited", method: "GET", path: "/form",
			hdr: map[string]string{"Sec-Fetch-Site": "none"}, limited: true, want: 429},
	}
	var cases []benchCase
	for _, sc := range scenarios {
		for i, m := range stackMakers {
			var ck []*http.Cookie
			b := ""
			if sc.cookies {
				ck = cookies
				if ownBrowser(m.name) {
					ck = ownCookies[i]
				}
			}
			if sc.body {
				b = body
				if ownBrowser(m.name) {
					b = ownBody[i]
				}
			}
			h := stacks[i].Handler
			if sc.limited {
				h = limited[i].Handler
				// Spend the client's one request of the hour.
				first := benchCase{name: sc.name, h: h, req: newReq(sc.method, Origin+sc.path, sc.hdr, ck, b), body: b}
				if rec := first.once(); rec.Code != 200 {
					tb.Fatalf("%s/%s: first request %d, want 200: %s", sc.name, m.name, rec.Code, rec.Body)
				}
			}
			cases = append(cases, benchCase{
				name: sc.name + "/" + m.name,
				h:    h,
				req:  newReq(sc.method, Origin+sc.path, sc.hdr, ck, b),
				body: b,
				want: sc.want,
			})
		}
	}
	return cases
}

// BenchmarkStack runs rampart's default stack (memory and SQLite session store) and the
// anchor chain on the same requests.
func BenchmarkStack(b *testing.B) { runCases(b, stackCases(b)) }

func TestStack(t *testing.T) { checkCases(t, stackCases(t)) }
