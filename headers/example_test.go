package headers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/headers"
)

// The security headers and a nonce-based CSP around an application; the page's inline
// script carries the request's nonce (csp.Nonce, or the cspNonce template function).
func ExampleNew() {
	sec, err := headers.New(headers.Options{})
	if err != nil {
		panic(err)
	}
	policy, err := csp.New(csp.Options{})
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<script nonce="%s">start()</script>`, csp.Nonce(r))
	})
	h := sec.Middleware(policy.Middleware(app))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://example.com/", nil))
	for _, name := range []string{"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Cross-Origin-Opener-Policy"} {
		fmt.Printf("%s: %s\n", name, w.Header().Get(name))
	}
	fmt.Println(w.Header().Get("Content-Security-Policy") != "")
	// Output:
	// Strict-Transport-Security: max-age=63072000; includeSubDomains
	// X-Content-Type-Options: nosniff
	// X-Frame-Options: DENY
	// Cross-Origin-Opener-Policy: same-origin
	// true
}
