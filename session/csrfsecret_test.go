package session

import (
	"net/http"
	"testing"
)

func TestCSRFSecret(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	tok := e.token(e.do("", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := e.m.CSRFSecret(r); ok {
			t.Error("secret in new session")
		}
		if err := e.m.SetCSRFSecret(w, r, "s1"); err != nil {
			t.Fatal(err)
		}
		FromRequest(r).Clear() // application Clear keeps the secret
		FromRequest(r).SetString("", "app value under empty key")
	}))
	var got string
	rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		got, _ = e.m.CSRFSecret(r)
		if err := e.m.Login(r, "1", "h"); err != nil {
			t.Fatal(err)
		}
	})
	if got != "s1" {
		t.Fatalf("secret = %q", got)
	}
	tok = e.token(rec)
	e.do(tok, func(w http.ResponseWriter, r *http.Request) {
		if s, _ := e.m.CSRFSecret(r); s != "s1" {
			t.Errorf("secret lost at login: %q", s)
		}
		e.m.Logout(r)
		if _, ok := e.m.CSRFSecret(r); ok {
			t.Error("secret survives Logout")
		}
	})
}

// The csrf package keeps its secret through exactly this interface (csrf.SecretStore); it is
// restated here so this package's tests do not depend on csrf.
var _ interface {
	CSRFSecret(r *http.Request) (string, bool)
	SetCSRFSecret(w http.ResponseWriter, r *http.Request, secret string) error
} = (*Manager)(nil)
