// Command echo is a rampart application routed by Echo (v4): the accounts pages, a notes page
// only logged-in users see, and a form that posts with the CSRF token. Echo's own
// echo.WrapMiddleware turns rampart's net/http guards into Echo middleware, and it hands the
// guard's request (which carries the user) on to the handler, so no adapter is needed.
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

	"github.com/labstack/echo/v4"
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

	e := echo.New()
	e.HideBanner, e.HidePort = true, true // the stack's server listens, not e.Start
	g := e.Group("", echo.WrapMiddleware(acc.RequireLogin))
	g.GET("/", func(c echo.Context) error {
		u := accounts.User(c.Request())
		var b strings.Builder
		err := page.Execute(&b, map[string]any{"User": u.Username, "Notes": store.list(u.ID), "CSRF": csrf.TemplateField(c.Request())})
		if err != nil {
			return err
		}
		return c.HTML(http.StatusOK, b.String())
	})
	g.POST("/notes", func(c echo.Context) error {
		if text := strings.TrimSpace(c.FormValue("text")); text != "" {
			store.add(accounts.User(c.Request()).ID, text)
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	// The stack (sessions, CSRF, CSP, ...) wraps accounts, which wraps Echo.
	if err := stack.Serve(context.Background(), acc.Handler(e)); err != nil {
		log.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
