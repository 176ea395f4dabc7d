package lockout_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/rampart-go/rampart/lockout"
	"github.com/rampart-go/rampart/store/memory"
)

// A password check reserves its slot with Begin before hashing, then ends it with Fail or
// Succeed. The fifth failure of a (username, IP) pair locks it; the next attempt is refused
// without a password being checked.
func ExampleGuard_Begin() {
	ctx := context.Background()
	g := lockout.New(memory.New(), lockout.Options{})
	ip := netip.MustParseAddr("203.0.113.7")
	check := func(password string) bool { return password == "correct horse" }

	for i := 1; i <= 6; i++ {
		att, d, err := g.Begin(ctx, "alice", ip)
		if err != nil || d.Locked {
			fmt.Printf("attempt %d refused: %s\n", i, d.Reason)
			continue
		}
		if check("guess") {
			_ = att.Succeed(ctx)
			continue
		}
		d, _ = att.Fail(ctx)
		fmt.Printf("attempt %d wrong, locked=%v\n", i, d.Locked)
	}
	// Output:
	// attempt 1 wrong, locked=false
	// attempt 2 wrong, locked=false
	// attempt 3 wrong, locked=false
	// attempt 4 wrong, locked=false
	// attempt 5 wrong, locked=true
	// attempt 6 refused: username+ip
}
