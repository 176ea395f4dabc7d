// Command minimal is a complete application on rampart: registration, login with lockout and
// two-factor, password reset by mail, the user's sessions, logout, a page only
// logged-in users see and an action that needs a recent password. Run it with
// RAMPART_INSECURE_DEV=1 go run . (reset links go to the log in development).
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/settings"
	_ "github.com/rampart-go/rampart/store/sqlite" // RAMPART_DATABASE_URL: a SQLite file (store/all: any backend)
)

func main() {
	s := must(settings.Load())
	stack := must(rampart.New(context.Background(), s, rampart.Options{}))
	acc := must(accounts.New(stack, accounts.Options{}))
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", acc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s", accounts.User(r).Username)
	})))
	vault := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "The vault is open.") }
	mux.Handle("GET /vault", acc.RequireRecentAuth(http.HandlerFunc(vault))) // asks for the password again
	// Timeouts and slow-client limits from the settings; on SIGTERM the requests in flight
	// finish and the stack closes (SQLite's deferred writes, queued mail).
	if err := stack.Serve(context.Background(), acc.Handler(mux)); err != nil {
		log.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
