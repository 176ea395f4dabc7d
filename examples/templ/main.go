// Command templ is a rampart application whose pages are templ components driven by htmx:
// the accounts pages, a notes page only logged-in users see, and a form that htmx posts with
// the CSRF token in a header (hx-headers) and whose answer is a fragment. The one script tag
// carries the CSP nonce. Run it with RAMPART_INSECURE_DEV=1 go run .
// After editing notes.templ, regenerate notes_templ.go with go generate.
package main

//go:generate go tool templ generate

import (
	"context"
	"embed"
	"log"
	"net/http"
	"strings"
	"sync"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/settings"
	_ "github.com/rampart-go/rampart/store/sqlite" // RAMPART_DATABASE_URL: a SQLite file (store/all: any backend)
)

// static holds htmx 2.0.11 (htmx.org on npm, BSD Zero Clause licence), served from this
// origin: the policy's script-src allows only nonced scripts, no other site.
//
//go:embed static
var static embed.FS

// notes keeps each user's notes in memory: the example's application data.
type notes struct {
	mu     sync.Mutex
	byUser map[string][]string
}

func (n *notes) add(user, text string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.byUser[user] = append(n.byUser[user], text)
}

func (n *notes) list(user string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.byUser[user]...)
}

func main() {
	stack := must(rampart.New(context.Background(), must(settings.Load()), rampart.Options{}))
	acc := must(accounts.New(stack, accounts.Options{}))
	store := &notes{byUser: map[string][]string{}}

	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.FileServerFS(static))
	mux.Handle("GET /{$}", acc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := accounts.User(r)
		token := csrf.Token(r) // before the first write: a new secret sets a cookie
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page(u.Username, store.list(u.ID), token, csp.Nonce(r)).Render(r.Context(), w); err != nil {
			log.Print(err)
		}
	})))
	mux.Handle("POST /notes", acc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		text := strings.TrimSpace(r.PostFormValue("text"))
		if text == "" {
			http.Error(w, "A note needs text.", http.StatusUnprocessableEntity)
			return
		}
		store.add(accounts.User(r).ID, text)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := note(text).Render(r.Context(), w); err != nil {
			log.Print(err)
		}
	})))
	// The stack (sessions, CSRF, CSP, ...) wraps accounts, which wraps the mux.
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
