package rampart_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/memory"
)

// The whole stack around an application's mux: allowed hosts, security headers and CSP,
// sessions, CSRF, rate limits and error pages, configured by RAMPART_* variables (here a map;
// settings.Load reads the environment). The store is passed in, so only what is imported is
// linked; without it, RAMPART_DATABASE_URL names one (import its backend, e.g. store/sqlite).
func ExampleNew() {
	env := map[string]string{
		"RAMPART_SECRET_KEY":    "an-example-secret-key-that-is-long-and-random-0123456789",
		"RAMPART_ALLOWED_HOSTS": "example.com",
	}
	s, err := settings.Parse(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		panic(err)
	}
	stack, err := rampart.New(context.Background(), s, rampart.Options{Store: memory.New()})
	if err != nil {
		panic(err)
	}
	defer stack.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	h := stack.Handler(mux)

	send := func(method, host, site string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://"+host+"/", nil)
		r.Header.Set("Sec-Fetch-Site", site)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := send(http.MethodGet, "example.com", "none")
	fmt.Println(w.Code, w.Body.String(), w.Header().Get("X-Content-Type-Options"), w.Header().Get("Content-Security-Policy") != "")
	fmt.Println("other host:", send(http.MethodGet, "evil.example", "none").Code)
	fmt.Println("cross-site POST:", send(http.MethodPost, "example.com", "cross-site").Code)
	// Output:
	// 200 hello nosniff true
	// other host: 400
	// cross-site POST: 403
}
