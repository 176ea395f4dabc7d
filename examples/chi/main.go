// Command chi is a rampart application routed by chi: the accounts pages, a notes page only
// logged-in users see, and a form that posts with the CSRF token. chi's middleware is
// net/http's, so rampart's guards plug in with r.Use and need no adapter.
// Run it with RAMPART_INSECURE_DEV=1 go run .
package main

import (
	"context"
	"embed"
	"html/template"
	"log"
	"net/http"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/settings"
	_ "github.com/rampart-go/rampart/store/sqlite" // RAMPART_DATABASE_URL: a SQLite file (store/all: any backend)
)

//go:embed notes.html
var files embed.FS

var page = template.Must(template.ParseFS(files, "notes.html"))

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

	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(acc.RequireLogin)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			u := accounts.User(r)
			err := page.Execute(w, map[string]any{"User": u.Username, "Notes": store.list(u.ID), "CSRF": csrf.TemplateField(r)})
			if err != nil {
				log.Print(err)
			}
		})
		r.Post("/notes", func(w http.ResponseWriter, r *http.Request) {
			if text := strings.TrimSpace(r.PostFormValue("text")); text != "" {
				store.add(accounts.User(r).ID, text)
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
		})
	})
	// The stack (sessions, CSRF, CSP, ...) wraps accounts, which wraps the router.
	if err := stack.Serve(context.Background(), acc.Handler(r)); err != nil {
		log.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
