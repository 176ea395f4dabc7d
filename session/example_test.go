package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store/memory"
)

// Sessions live server-side; the cookie holds only a random key (__Host- prefixed, Secure, HttpOnly,
// SameSite=Lax). A value set while handling one request is there on the next.
func ExampleNewManager() {
	m := session.NewManager(memory.New(), session.Options{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		n, _ := s.GetInt64("visits")
		s.SetInt64("visits", n+1)
		fmt.Fprint(w, n+1)
	}))

	var cookies []*http.Cookie
	for range 3 {
		r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Result().Cookies(); len(got) > 0 {
			cookies = got
			c := got[0]
			fmt.Printf("cookie %s: Secure=%v HttpOnly=%v SameSite=%v\n", c.Name, c.Secure, c.HttpOnly, c.SameSite == http.SameSiteLaxMode)
		}
		fmt.Println("visits:", w.Body.String())
	}
	// Output:
	// cookie __Host-session: Secure=true HttpOnly=true SameSite=true
	// visits: 1
	// visits: 2
	// visits: 3
}
