package comments_test

import (
	"context"
	"testing"

	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/open"
)

// own is an application's own comments table: For returns it as it is.
type own struct{ comments.Store }

// TestFor: For finds a backend's table through its finder (and behind a SplitStore, in the
// durable store), takes a Store as it is, and finds nothing in a value no finder knows.
func TestFor(t *testing.T) {
	ctx := context.Background()
	durable := memory.New()
	split := open.Split(memory.New(), durable)
	for _, tc := range []struct {
		name string
		st   any
		ok   bool
	}{
		{"backend", durable, true},
		{"split", split, true},
		{"own", own{}, true},
		{"unknown", struct{}{}, false},
		{"nil backend", (*memory.Store)(nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := comments.For(tc.st); ok != tc.ok {
				t.Fatalf("For(%T) ok = %v, want %v", tc.st, ok, tc.ok)
			}
		})
	}
	// The split store's table is the durable store's.
	cs, _ := comments.For(split)
	if _, err := cs.AddComment(ctx, comments.Comment{Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	dc, _ := comments.For(durable)
	if list, err := dc.RecentComments(ctx, 10); err != nil || len(list) != 1 || list[0].Body != "hi" {
		t.Fatalf("durable store's comments = %+v, %v", list, err)
	}
}
