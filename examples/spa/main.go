// Command spa is a rampart application with a JSON API and a small single-page front end in
// plain JavaScript: the browser keeps the session cookie, logs in through the accounts
// routes' JSON answers, and sends the CSRF token in a header. The notes API is for
// logged-in users only (401 otherwise). Run it with RAMPART_INSECURE_DEV=1 go run .
package main

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
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

//go:embed index.html static
var files embed.FS

// index is a template only for the CSP nonce on its script tag.
var index = template.Must(template.ParseFS(files, "index.html"))

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
	return append([]string{}, n.byUser[user]...)
}

func main() {
	stack := must(rampart.New(context.Background(), must(settings.Load()), rampart.Options{}))
	acc := must(accounts.New(stack, accounts.Options{}))
	store := &notes{byUser: map[string][]string{}}

	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.FileServerFS(files))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := index.Execute(w, csp.Nonce(r)); err != nil {
			log.Print(err)
		}
	})
	// The session's user and a CSRF token for the X-CSRF-Token header (new after each login).
	mux.HandleFunc("GET /api/session", func(w http.ResponseWriter, r *http.Request) {
		name := ""
		if u := accounts.User(r); u != nil {
			name = u.Username
		}
		writeJSON(w, http.StatusOK, map[string]string{"user": name, "csrfToken": csrf.Token(r)})
	})
	mux.Handle("GET /api/notes", acc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, store.list(accounts.User(r).ID))
	})))
	mux.Handle("POST /api/notes", acc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || strings.TrimSpace(in.Text) == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Send {\"text\": \"...\"}."})
			return
		}
		store.add(accounts.User(r).ID, strings.TrimSpace(in.Text))
		writeJSON(w, http.StatusCreated, map[string]string{"text": strings.TrimSpace(in.Text)})
	})))
	// The stack (sessions, CSRF, CSP, ...) wraps accounts, which wraps the mux.
	if err := stack.Serve(context.Background(), acc.Handler(mux)); err != nil {
		log.Fatal(err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
