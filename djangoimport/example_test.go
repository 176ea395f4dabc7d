package djangoimport_test

import (
	"context"
	"log"
	"os"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/djangoimport"
	"github.com/rampart-go/rampart/settings"
	_ "github.com/rampart-go/rampart/store/all" // the backend RAMPART_DATABASE_URL names
)

// An application that builds its own stack imports a Django site's accounts with it: the
// stack's store receives them and its TwoFactor manager seals the TOTP secrets under the
// application's keys. (Compiled, not run: it needs a Django database.)
func ExampleImport() {
	ctx := context.Background()
	s, err := settings.Load() // RAMPART_SECRET_KEY, RAMPART_DATABASE_URL, ...
	if err != nil {
		log.Fatal(err)
	}
	stack, err := rampart.New(ctx, s, rampart.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer stack.Close()
	src, err := djangoimport.Open(ctx, "postgres://django@db.internal/site")
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	rep, err := djangoimport.Import(ctx, src, stack.Store, stack.TwoFactor, djangoimport.Options{DryRun: true})
	if err != nil {
		log.Fatal(err) // nothing was written
	}
	rep.WriteText(os.Stdout)
}
