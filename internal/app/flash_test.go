package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/store"
)

// A logged-in user who keeps posting invalid comments without ever loading a page queues a
// flash per post. The session must stay bounded in the shared store however long that goes
// on (it used to grow by one flash per request), and the next page shows the newest flashes.
func TestRepeatedPostsKeepSessionBounded(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	u := env.CreateUser(t, "poster", "correct horse battery staple 9", false)
	c := env.Client(t)
	c.Login("poster", "correct horse battery staple 9")
	c.Get("/comments")
	tok := c.Token()
	if tok == "" {
		t.Fatal("no CSRF token on /comments")
	}
	sessions := env.Stack.Store.(store.Sessions)
	stored := func() int {
		t.Helper()
		recs, err := sessions.UserSessions(context.Background(), u.ID, env.Clock.Now())
		if err != nil || len(recs) != 1 {
			t.Fatalf("UserSessions = %d sessions, %v", len(recs), err)
		}
		return len(recs[0].Data)
	}
	base := stored()
	const posts = 300
	// Ten flashes of this message and the session's own fields: well under 2 KiB. Before the
	// fix the session held about 55 bytes more per post (16 KiB after 300 posts).
	const bound = 2 << 10
	for i := range posts {
		r := c.Post("", "/comments", url.Values{"body": {"   "}, "csrf_token": {tok}})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("post %d: status %d", i, r.StatusCode)
		}
		if i%50 == 49 {
			if n := stored(); n > bound {
				t.Fatalf("after %d posts the stored session holds %d bytes (started at %d), want at most %d", i+1, n, base, bound)
			}
		}
	}
	body := c.Get("/comments").Body
	if n := strings.Count(body, `<p class="flash">A comment must have between 1 and 10000 characters.</p>`); n != 10 {
		t.Errorf("the page shows %d flashes, want the newest 10", n)
	}
	if n := stored(); n > base+64 {
		t.Errorf("after the flashes were shown the session holds %d bytes, started at %d", n, base)
	}
}
