package memory

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/rampart-go/rampart/internal/comments"
)

// Comments are bounded like the audit trail: the newest maxEvents are kept and listed, and
// IDs keep growing after a trim.
func TestCommentsBounded(t *testing.T) {
	m := New()
	m.maxEvents = 3
	ctx := context.Background()
	var last comments.Comment
	for i := range 7 {
		c, err := commentTable{m}.AddComment(ctx, comments.Comment{Body: fmt.Sprint("c", i)})
		if err != nil {
			t.Fatal(err)
		}
		last = c
	}
	got, err := commentTable{m}.RecentComments(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, c := range got {
		bodies = append(bodies, c.Body)
	}
	if !slices.Equal(bodies, []string{"c6", "c5", "c4"}) || last.ID != 7 || len(m.comments) >= 6 {
		t.Fatalf("comments %v, last ID %d, kept %d", bodies, last.ID, len(m.comments))
	}
}
