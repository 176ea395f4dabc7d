package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
)

func TestSmokeRegisterLoginComment(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	c := env.Client(t)
	r := c.Post("/accounts/register", "/accounts/register", url.Values{
		"username": {"alice"}, "email": {"alice@example.test"},
		"password1": {"correct horse battery staple 9"}, "password2": {"correct horse battery staple 9"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("register: %d %s", r.StatusCode, r.Body)
	}
	r = c.Get("/")
	if !strings.Contains(r.Body, "Welcome, alice") {
		t.Fatalf("home after register: %s", r.Body)
	}
	r = c.Post("/comments", "/comments", url.Values{"body": {`<b>hi</b><script>alert(1)</script>`}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("comment: %d", r.StatusCode)
	}
	r = c.Get("/comments")
	if !strings.Contains(r.Body, "<b>hi</b>") || strings.Contains(r.Body, "<script>alert") {
		t.Fatalf("comment not sanitised as expected: %s", r.Body)
	}
	r = c.Post("/", "/accounts/logout", nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	c.Login("alice", "correct horse battery staple 9")
	bad := env.Client(t)
	r = bad.Post("/accounts/login", "/accounts/login", url.Values{"username": {"alice"}, "password": {"wrong"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "Please enter a correct username and password") {
		t.Fatalf("bad login: %d", r.StatusCode)
	}
}
