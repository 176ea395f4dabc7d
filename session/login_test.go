package session

import (
	"net/http"
	"testing"
	"time"
)

func TestFixation(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	// The attacker obtains an anonymous session and plants its cookie in the victim's browser.
	planted := e.token(e.do("", setFoo))
	e.clk.advance(time.Minute)
	rec := e.do(planted, func(w http.ResponseWriter, r *http.Request) {
		if err := e.m.Login(r, "42", "hash1"); err != nil {
			t.Fatal(err)
		}
		s := FromRequest(r)
		if s.UserID() != "42" || s.AuthHash() != "hash1" {
			t.Errorf("after Login: user %q hash %q", s.UserID(), s.AuthHash())
		}
	})
	fresh := e.token(rec)
	if fresh == planted {
		t.Fatal("Login kept the token")
	}
	if _, ok := e.st.rows[storeKey(planted)]; ok {
		t.Fatal("pre-login row still in store")
	}
	if got := e.userOf(planted); got != "" {
		t.Fatalf("planted token sees user %q", got)
	}
	var foo string
	e.do(fresh, func(w http.ResponseWriter, r *http.Request) {
		foo, _ = FromRequest(r).GetString("foo")
		if FromRequest(r).UserID() != "42" {
			t.Error("new token not logged in")
		}
	})
	if foo != "bar" {
		t.Errorf("anonymous data lost on login: foo = %q", foo)
	}
	// Absolute lifetime restarts at login.
	if row := e.st.rows[storeKey(fresh)]; !row.CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("CreatedAt = %v", row.CreatedAt)
	}
}

func TestLoginOtherUserFlushes(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.login("1", "h1")
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).SetString("secret", "of user 1")
		e.m.SetCSRFSecret(w, r, "csrf1")
	})
	var left bool
	var csrf string
	rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		if err := e.m.Login(r, "2", "h2"); err != nil {
			t.Fatal(err)
		}
		_, left = FromRequest(r).GetString("secret")
		csrf, _ = e.m.CSRFSecret(r)
	})
	if left || csrf != "" {
		t.Errorf("user 1's data visible to user 2: value %v csrf %q", left, csrf)
	}
	if got := e.userOf(e.token(rec)); got != "2" {
		t.Errorf("user = %q", got)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.login("1", "h")
	rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		if err := e.m.Logout(r); err != nil {
			t.Fatal(err)
		}
		if FromRequest(r).UserID() != "" {
			t.Error("still logged in after Logout")
		}
	})
	if c := e.sessionCookie(rec); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("cookie not expired: %v", c)
	}
	if e.st.len() != 0 || e.userOf(tok) != "" {
		t.Error("session survives logout")
	}
	// A flash after logout starts a new anonymous session with a new token.
	rec = e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		e.m.Logout(r)
		FromRequest(r).Flash("bye")
	})
	if nt := e.token(rec); nt == tok {
		t.Error("token reused after logout")
	}
}

func TestRenewIDKeepsDataAndLifetime(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.login("1", "h")
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).SetInt64("n", 3)
		e.m.SetCSRFSecret(w, r, "csrf")
	})
	e.clk.advance(5 * time.Minute)
	rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		if err := e.m.RenewID(r); err != nil {
			t.Fatal(err)
		}
	})
	nt := e.token(rec)
	if nt == tok || e.userOf(tok) != "" {
		t.Fatal("old token still usable after RenewID")
	}
	e.do(nt, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, _ := s.GetInt64("n")
		csrf, ok := e.m.CSRFSecret(r)
		if s.UserID() != "1" || s.AuthHash() != "h" || n != 3 || !ok || csrf != "csrf" {
			t.Errorf("data lost: user %q n %d csrf %q", s.UserID(), n, csrf)
		}
	})
	if row := e.st.rows[storeKey(nt)]; !row.CreatedAt.Equal(t0) {
		t.Errorf("RenewID moved CreatedAt to %v", row.CreatedAt)
	}
	// Cookie Max-Age counts the remaining absolute lifetime.
	if c := e.sessionCookie(rec); c.MaxAge != int((DefaultLifetime-5*time.Minute)/time.Second) {
		t.Errorf("Max-Age = %d", c.MaxAge)
	}
}
