package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/app"
	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/perms"
)

var deleteFormRE = regexp.MustCompile(`action="/comments/(\d+)/delete"`)

// TestCommentModeration: a comment can be deleted by its author (the object-level rule) or by
// a user holding comments.delete, by nobody else; the page offers the button to exactly them.
func TestCommentModeration(t *testing.T) {
	ctx := context.Background()
	env := apptest.New(t, apptest.Options{})
	ck, err := perms.New(env.Stack, perms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env.CreateUser(t, "ann", pw, false)
	env.CreateUser(t, "bob", pw, false)
	mod := env.CreateUser(t, "mod", pw, false)
	ann, bob, m := env.Client(t), env.Client(t), env.Client(t)
	ann.Login("ann", pw)
	bob.Login("bob", pw)
	m.Login("mod", pw)
	post := func(c *apptest.Client, body string) string {
		t.Helper()
		if r := c.Post("/comments", "/comments", url.Values{"body": {body}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("post: %d", r.StatusCode)
		}
		ids := deleteFormRE.FindAllStringSubmatch(c.Get("/comments").Body, -1)
		if len(ids) == 0 {
			t.Fatal("the author is offered no delete button")
		}
		return ids[0][1] // newest first
	}
	first := post(ann, "first by ann")
	second := post(ann, "second by ann")
	if got := deleteFormRE.FindAllString(bob.Get("/comments").Body, -1); len(got) != 0 {
		t.Fatalf("bob is offered delete buttons: %q", got)
	}
	del := func(c *apptest.Client, id string) int {
		t.Helper()
		return c.Post("/comments", "/comments/"+id+"/delete", nil).StatusCode
	}
	cases := []struct {
		name   string
		c      *apptest.Client
		id     string
		before func()
		want   int
	}{
		{"another user", bob, first, nil, http.StatusForbidden},
		{"the author", ann, first, nil, http.StatusSeeOther},
		{"already gone", ann, first, nil, http.StatusNotFound},
		{"not a number", ann, "x1", nil, http.StatusNotFound},
		{"a moderator without the permission", m, second, nil, http.StatusForbidden},
		{"a moderator with it", m, second, func() {
			if err := ck.GrantUser(ctx, perms.Actor{Name: "test"}, mod, app.PermCommentsDelete); err != nil {
				t.Fatal(err)
			}
		}, http.StatusSeeOther},
	}
	for _, tc := range cases {
		if tc.before != nil {
			tc.before()
		}
		if got := del(tc.c, tc.id); got != tc.want {
			t.Fatalf("%s deletes %s: %d, want %d", tc.name, tc.id, got, tc.want)
		}
	}
	if body := ann.Get("/comments").Body; strings.Contains(body, "by ann") {
		t.Fatalf("deleted comments still listed:\n%s", body)
	}
	// Anonymous: the login redirect.
	if r := env.Client(t).Post("", "/comments/"+second+"/delete", nil); r.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(apptest.Path(r.Header.Get("Location")), "/accounts/login") {
		t.Fatalf("anonymous delete: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	events, _ := env.Stack.Audit.Recent(ctx, 50)
	var got []string
	for _, e := range events {
		if e.Kind == app.KindCommentDelete {
			got = append(got, e.Username+": "+e.Detail)
		}
	}
	if want := fmt.Sprintf("mod: comment %s by ann|ann: comment %s by ann", second, first); strings.Join(got, "|") != want {
		t.Fatalf("audited %q, want %q", strings.Join(got, "|"), want)
	}
}
