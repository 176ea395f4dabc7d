// Command gin is a rampart application routed by Gin: the accounts pages, a notes page only
// logged-in users see, and a form that posts with the CSRF token. Gin's middleware is a
// gin.HandlerFunc, not func(http.Handler) http.Handler, so the example carries the smallest
// adapter (middleware below) instead of rampart depending on Gin.
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

	"github.com/gin-gonic/gin"
	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/settings"
	_ "github.com/rampart-go/rampart/store/sqlite" // RAMPART_DATABASE_URL: a SQLite file (store/all: any backend)
)

//go:embed notes.html
var files embed.FS

var page = template.Must(template.ParseFS(files, "notes.html"))

// middleware adapts a net/http middleware (rampart's guards) to Gin. The wrapped handler
// continues the chain with the request the middleware passed on, which carries what it
// added (the user); when the middleware answers itself (a redirect, a 401), the chain stops.
func middleware(m func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		passed := false
		m(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}

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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New() // no gin.Default: the stack already logs security events and recovers panics
	r.SetHTMLTemplate(page)
	g := r.Group("/", middleware(acc.RequireLogin))
	g.GET("/", func(c *gin.Context) {
		u := accounts.User(c.Request)
		c.HTML(http.StatusOK, "notes.html", gin.H{"User": u.Username, "Notes": store.list(u.ID), "CSRF": csrf.TemplateField(c.Request)})
	})
	g.POST("/notes", func(c *gin.Context) {
		if text := strings.TrimSpace(c.PostForm("text")); text != "" {
			store.add(accounts.User(c.Request).ID, text)
		}
		c.Redirect(http.StatusSeeOther, "/")
	})
	// The stack (sessions, CSRF, CSP, ...) wraps accounts, which wraps Gin.
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
