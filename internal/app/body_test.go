package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
)

// A body over RAMPART_MAX_BODY_BYTES is refused before any layer acts on it, even on the
// token path where csrf itself parses the form (no Origin, no Sec-Fetch-Site).
func TestBodyCapBeforeCSRF(t *testing.T) {
	env := apptest.New(t, apptest.Options{Env: map[string]string{"RAMPART_MAX_BODY_BYTES": "4096"}})
	c := env.Client(t)
	c.Origin, c.Site = "", ""
	big := url.Values{"username": {strings.Repeat("a", 8000)}, "password": {"x"}}
	r := c.Post("/accounts/login", "/accounts/login", big)
	if r.StatusCode == http.StatusOK || r.StatusCode == http.StatusSeeOther {
		t.Fatalf("oversized body accepted: %d", r.StatusCode)
	}
	small := url.Values{"username": {"nobody"}, "password": {"x"}}
	if r := c.Post("/accounts/login", "/accounts/login", small); r.StatusCode != http.StatusOK {
		t.Fatalf("normal body on the token path: %d", r.StatusCode)
	}
}
