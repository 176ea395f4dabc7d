package browsertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/perms"
)

// TestAdminDeactivatesUser: in Chromium, a superuser whose login is no longer recent opens a
// user's admin page, is asked for the password first (sudo mode), confirms it, and
// deactivates the user; the user's open browser then gets the login page.
func TestAdminDeactivatesUser(t *testing.T) {
	browser(t)
	env := apptest.New(t, apptest.Options{})
	base := env.URL
	ck, err := perms.New(env.Stack, perms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := env.CreateUser(t, "root", alicePassword, true)
	if _, err := ck.SetSuperuser(context.Background(), perms.Actor{Name: "test"}, root.ID, true); err != nil {
		t.Fatal(err)
	}
	bob := env.CreateUser(t, "bob", alicePassword, false)

	user := newTab(t)
	if p := user.login(base, "bob", alicePassword); p != "/" {
		t.Fatalf("bob's login ended on %s", p)
	}
	if st := user.open(base + "/accounts/sessions"); st != 200 {
		t.Fatalf("bob's sessions page: %d", st)
	}

	admin := newTab(t)
	if p := admin.login(base, "root", alicePassword); p != "/" {
		t.Fatalf("root's login ended on %s", p)
	}
	env.Clock.Advance(accounts.DefaultRecentAuth + time.Minute)
	admin.open(base + "/admin/users/" + bob.ID)
	if p := path(t, get(admin, "location", chromedpLocation())); p != "/accounts/confirm" {
		t.Fatalf("stale admin opened the user page at %s, want the confirm page", p)
	}
	admin.fill(map[string]string{"password": alicePassword})
	if st, u := admin.submit(`main form button[type=submit]`); st != 200 || path(t, u) != "/admin/users/"+bob.ID {
		t.Fatalf("confirm: %d %s", st, u)
	}
	if h := admin.text("h1"); h != "User bob" {
		t.Fatalf("user page h1 = %q", h)
	}
	if st, u := admin.submit(`#deactivate`); st != 200 || path(t, u) != "/admin/users/"+bob.ID {
		t.Fatalf("deactivate: %d %s", st, u)
	}
	if f := admin.text("main .flash"); !strings.Contains(f, "bob is now inactive") {
		t.Fatalf("flash after deactivating: %q", f)
	}

	if st := user.open(base + "/accounts/sessions"); st != 200 {
		t.Fatalf("bob's next page: %d", st)
	}
	if p := path(t, get(user, "location", chromedpLocation())); p != "/accounts/login" {
		t.Fatalf("bob's open session after deactivation ended on %s, want the login page", p)
	}
	if u, _ := env.Stack.Store.UserByID(context.Background(), bob.ID); u.IsActive {
		t.Fatal("bob is still active")
	}
}
