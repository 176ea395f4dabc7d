package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

func TestSessionsOfUser(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	type device struct{ ip, ua, tok string }
	devs := []*device{{ip: "198.51.100.1", ua: "Firefox"}, {ip: "2001:db8::2", ua: "Safari " + strings.Repeat("é", 300)}, {ip: "203.0.113.3", ua: "curl"}}
	for _, d := range devs {
		req := httptest.NewRequest("POST", "https://example.com/login", nil)
		req.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(d.ip), 4000).String()
		req.Header.Set("User-Agent", d.ua)
		d.tok = e.token(e.doReq(req, "", func(w http.ResponseWriter, r *http.Request) {
			if err := e.m.Login(r, "u", "h"); err != nil {
				t.Fatal(err)
			}
		}))
		e.clk.advance(time.Minute)
	}
	other := e.login("v", "h")

	var list []Info
	e.do(devs[0].tok, func(w http.ResponseWriter, r *http.Request) {
		var err error
		if list, err = e.m.List(r.Context(), "u"); err != nil {
			t.Fatal(err)
		}
	})
	if len(list) != 3 {
		t.Fatalf("List = %d sessions", len(list))
	}
	byIP := map[string]Info{}
	for _, in := range list {
		byIP[in.IP.String()] = in
		if !validPublicID(in.PublicID) || strings.Contains(devs[0].tok+devs[1].tok+devs[2].tok, in.PublicID) {
			t.Errorf("public ID %q", in.PublicID)
		}
	}
	for i, d := range devs {
		in, ok := byIP[netip.MustParseAddr(d.ip).String()]
		if !ok {
			t.Fatalf("device %d missing", i)
		}
		if in.Current != (i == 0) {
			t.Errorf("device %d Current = %v", i, in.Current)
		}
		if len(in.UserAgent) > userAgentMax || !strings.HasPrefix(d.ua, in.UserAgent) || !utf8Valid(in.UserAgent) {
			t.Errorf("device %d UA %q", i, in.UserAgent)
		}
		if !in.CreatedAt.Equal(t0.Add(time.Duration(i) * time.Minute)) {
			t.Errorf("device %d CreatedAt %v", i, in.CreatedAt)
		}
	}
	ctx := context.Background()
	pid1 := byIP[netip.MustParseAddr(devs[1].ip).String()].PublicID

	// Another user cannot end u's session, malformed IDs are rejected, then u ends it.
	for _, tc := range []struct{ user, id string }{{"v", pid1}, {"u", "zz"}, {"u", strings.Repeat("0", 16)}, {"u", storeKey(devs[1].tok)}} {
		if err := e.m.End(ctx, tc.user, tc.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("End(%q, %q) = %v", tc.user, tc.id, err)
		}
	}
	if e.userOf(devs[1].tok) != "u" {
		t.Fatal("session ended by a failed End")
	}
	if err := e.m.End(ctx, "u", pid1); err != nil {
		t.Fatal(err)
	}
	if e.userOf(devs[1].tok) != "" {
		t.Fatal("ended session still logged in")
	}

	// EndOthers from device 0 ends device 2 and keeps device 0 (and user v).
	var n int
	e.do(devs[0].tok, func(w http.ResponseWriter, r *http.Request) {
		var err error
		if n, err = e.m.EndOthers(r); err != nil {
			t.Fatal(err)
		}
	})
	if n != 1 || e.userOf(devs[2].tok) != "" || e.userOf(devs[0].tok) != "u" || e.userOf(other) != "v" {
		t.Fatalf("EndOthers: n=%d", n)
	}
	e.do("", func(w http.ResponseWriter, r *http.Request) {
		if _, err := e.m.EndOthers(r); !errors.Is(err, ErrNotLoggedIn) {
			t.Errorf("EndOthers anonymous: %v", err)
		}
	})

	// EndAll from the user's own request (password change) ends the current one too.
	d4 := e.login("u", "h")
	rec := e.do(devs[0].tok, func(w http.ResponseWriter, r *http.Request) {
		if n, err := e.m.EndAll(r.Context(), "u"); err != nil || n != 2 {
			t.Errorf("EndAll = %d, %v", n, err)
		}
		if FromRequest(r).UserID() != "" {
			t.Error("current request still logged in")
		}
		FromRequest(r).SetString("x", "y") // must not resurrect the ended session
	})
	if e.userOf(devs[0].tok) != "" || e.userOf(d4) != "" || e.userOf(other) != "v" {
		t.Fatal("EndAll left sessions")
	}
	if c := e.sessionCookie(rec); c == nil || c.Value == devs[0].tok {
		t.Errorf("cookie after EndAll: %v", c)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestEndCurrentSessionFromList(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.login("u", "h")
	rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		pid := FromRequest(r).PublicID()
		if err := e.m.End(r.Context(), "u", pid); err != nil {
			t.Fatal(err)
		}
		FromRequest(r).SetString("k", "v")
	})
	if e.userOf(tok) != "" {
		t.Fatal("ended current session usable")
	}
	if c := e.sessionCookie(rec); c == nil || c.Value == tok {
		t.Errorf("cookie %v", c)
	}
}

// EndOthers on an anonymous session, even one stored in an earlier request (it holds data, a
// cart or a CSRF secret), is refused with ErrNotLoggedIn and never reaches the store: an empty
// user ID names no user, and "every other session of nobody" must never mean every other
// anonymous session.
func TestEndOthersAnonymousStoredSession(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	var anon [3]string
	for i := range anon {
		anon[i] = e.token(e.do("", setFoo))
	}
	user := e.login("u", "h")
	before := e.st.len()
	e.do(anon[0], func(w http.ResponseWriter, r *http.Request) {
		if FromRequest(r).UserID() != "" {
			t.Fatal("anonymous session has a user")
		}
		if v, _ := FromRequest(r).GetString("foo"); v != "bar" {
			t.Fatal("the anonymous session was not stored")
		}
		n, err := e.m.EndOthers(r)
		if !errors.Is(err, ErrNotLoggedIn) || n != 0 {
			t.Errorf("EndOthers on a stored anonymous session = %d, %v; want 0, ErrNotLoggedIn", n, err)
		}
	})
	if got := e.st.len(); got != before {
		t.Errorf("EndOthers from an anonymous session changed the store: %d sessions, want %d", got, before)
	}
	for i, tok := range anon {
		var v string
		e.do(tok, func(w http.ResponseWriter, r *http.Request) { v, _ = FromRequest(r).GetString("foo") })
		if v != "bar" {
			t.Errorf("anonymous session %d lost its data", i)
		}
	}
	if e.userOf(user) != "u" {
		t.Error("a logged-in session ended")
	}
}
