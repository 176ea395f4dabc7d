// Package commentstest checks the comments table (internal/comments) of a store backend: the
// reference app's content, kept out of the store conformance suite (store/storetest) because
// it is no part of the store API.
package commentstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/store"
)

// Run checks the comments table of fresh stores from newStore (as for storetest.Run). Every
// backend of this module has one, so a store without it fails.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Comments", testComments},
		{"CommentDeleter", testCommentDeleter},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// RunRetention checks that a store opened to keep maxComments comments (below 6) keeps exactly
// the newest of six once Sweep has run, and that a second Sweep changes nothing. Comments may
// be trimmed at Sweep only.
func RunRetention(t *testing.T, s store.Store, maxComments int) {
	t.Helper()
	ctx := context.Background()
	cs := table(t, s)
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 6 {
		if _, err := cs.AddComment(ctx, comments.Comment{UserID: "u", Username: "u", Body: fmt.Sprint("c", i), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := 5; i > 5-maxComments; i-- {
		want = append(want, fmt.Sprint("c", i))
	}
	for round := range 2 {
		must(t, s.Sweep(ctx, now))
		cm, err := cs.RecentComments(ctx, 100)
		must(t, err)
		var bodies []string
		for _, c := range cm {
			bodies = append(bodies, c.Body)
		}
		if !slices.Equal(bodies, want) {
			t.Fatalf("after sweep %d: comments %v; want %v", round+1, bodies, want)
		}
	}
}

// table finds the comments table of s, failing the test when there is none.
func table(t *testing.T, s store.Store) comments.Store {
	t.Helper()
	cs, ok := comments.For(s)
	if !ok {
		t.Fatalf("%T has no comments table", s)
	}
	return cs
}

// base is the clock origin, as in storetest: near the wall clock, to the second.
func base() time.Time { return time.Now().UTC().Truncate(time.Second) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testComments checks IDs, order, limits and that bodies are kept raw.
func testComments(t *testing.T, s store.Store) {
	cs := table(t, s)
	ctx := context.Background()
	now := base()
	list, err := cs.RecentComments(ctx, 10)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("fresh store has comments: %+v", list)
	}
	in := []comments.Comment{
		{UserID: "1", Username: "alice", Body: `<script>alert(1)</script><b>kept raw</b>`, CreatedAt: now},
		{UserID: "2", Username: "bob", Body: "second\nline", CreatedAt: now.Add(time.Second)},
		{Body: "anonymous", CreatedAt: now.Add(2 * time.Second)},
	}
	var ids []int64
	for _, c := range in {
		c.ID = 999 // ignored
		got, err := cs.AddComment(ctx, c)
		must(t, err)
		if got.ID == 999 || got.ID == 0 || (len(ids) > 0 && got.ID <= ids[len(ids)-1]) {
			t.Fatalf("AddComment ID = %d after %v", got.ID, ids)
		}
		ids = append(ids, got.ID)
	}
	list, err = cs.RecentComments(ctx, 2)
	must(t, err)
	if len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[1] {
		t.Fatalf("RecentComments(2) = %+v", list)
	}
	list, err = cs.RecentComments(ctx, 10)
	must(t, err)
	for i, c := range list {
		want := in[len(in)-1-i]
		if c.UserID != want.UserID || c.Username != want.Username || c.Body != want.Body || !c.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("comment %d = %+v, want %+v", i, c, want)
		}
	}
	list, err = cs.RecentComments(ctx, 0)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("RecentComments(0) = %d comments", len(list))
	}
}

// testCommentDeleter checks moderation: a comment is found by ID and deleted once, and the
// newest comment's ID is not handed out again after its deletion.
func testCommentDeleter(t *testing.T, s store.Store) {
	cs := table(t, s)
	cd, ok := cs.(comments.Deleter)
	if !ok {
		t.Fatalf("%T: its comments table cannot delete", s)
	}
	ctx := context.Background()
	now := base()
	if _, err := cd.CommentByID(ctx, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CommentByID on a fresh store = %v, want ErrNotFound", err)
	}
	var ids []int64
	for i := range 3 {
		c, err := cs.AddComment(ctx, comments.Comment{UserID: fmt.Sprint(i + 1), Username: fmt.Sprint("u", i), Body: fmt.Sprint("body ", i), CreatedAt: now})
		must(t, err)
		ids = append(ids, c.ID)
	}
	got, err := cd.CommentByID(ctx, ids[1])
	must(t, err)
	if got.ID != ids[1] || got.UserID != "2" || got.Username != "u1" || got.Body != "body 1" || !got.CreatedAt.Equal(now) {
		t.Fatalf("CommentByID = %+v", got)
	}
	for _, id := range []int64{ids[1], ids[2]} {
		if ok, err := cd.DeleteComment(ctx, id); err != nil || !ok {
			t.Fatalf("DeleteComment(%d) = %v, %v; want true", id, ok, err)
		}
		if ok, err := cd.DeleteComment(ctx, id); err != nil || ok {
			t.Fatalf("DeleteComment(%d) again = %v, %v; want false", id, ok, err)
		}
		if _, err := cd.CommentByID(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("CommentByID(deleted) = %v", err)
		}
	}
	list, err := cs.RecentComments(ctx, 10)
	must(t, err)
	if len(list) != 1 || list[0].ID != ids[0] {
		t.Fatalf("RecentComments after deletes = %+v", list)
	}
	c, err := cs.AddComment(ctx, comments.Comment{Body: "new", CreatedAt: now})
	must(t, err)
	if c.ID <= ids[2] {
		t.Fatalf("new comment ID %d reuses a deleted one (last was %d)", c.ID, ids[2])
	}
	if ok, err := cd.DeleteComment(ctx, -5); err != nil || ok {
		t.Fatalf("DeleteComment(-5) = %v, %v", ok, err)
	}
}
