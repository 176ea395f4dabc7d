// Command minimal is a complete application on rampart: registration, login with lockout and
// two-factor, passkeys, password reset by mail, the user's sessions, logout, a page only
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
)

func main() {
	s := must(settings.Load())
	stack := must(rampart.New(context.Background(), s, rampart.Options{}))
	defer stack.Close()
	acc := must(accounts.New(stack, accounts.Options{}))
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", acc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s", accounts.User(r).Username)
	})))
	mux.Handle("GET /vault", acc.RequireRecentAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "The vault is open.")
	})))
	log.Print(http.ListenAndServe(s.Addr, stack.Handler(acc.Handler(mux))))
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
