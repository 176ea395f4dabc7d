package perms_test

import (
	"context"
	"testing"

	"github.com/rampart-go/rampart/store/memory"
)

// BenchmarkHasPermCached measures a permission check on a logged-in user whose permissions
// are cached (the common case: they change rarely). The budget is 200 ns (docs/BENCHMARKS.md).
//
//	go test -run '^$' -bench BenchmarkHasPermCached -benchmem -count 6 ./perms
func BenchmarkHasPermCached(b *testing.B) {
	ctx := context.Background()
	s := newSite(b, memory.New())
	u := s.user(b, "ann")
	must(b, s.ck.GrantUser(ctx, cli(), u, "comments.delete"))
	u, _ = s.stack.Store.UserByID(ctx, u.ID)
	if ok, err := s.ck.HasPerm(ctx, &u, "comments.delete"); !ok || err != nil {
		b.Fatal(ok, err)
	}
	b.Run("HasPerm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, _ := s.ck.HasPerm(ctx, &u, "comments.delete"); !ok {
				b.Fatal("denied")
			}
		}
	})
}
