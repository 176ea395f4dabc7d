package csrf_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rampart-go/rampart/csrf"
)

// A browser's Fetch Metadata decides most requests without a token: a cross-site POST is
// refused, a same-origin one goes through, a safe method is never checked.
func ExampleNew() {
	p, err := csrf.New(csrf.Options{})
	if err != nil {
		panic(err) // an invalid trusted origin or exempt path, found at start-up
	}
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "done")
	}))
	send := func(method, site string) int {
		r := httptest.NewRequest(method, "https://example.com/transfer", nil)
		r.Header.Set("Sec-Fetch-Site", site)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	fmt.Println("cross-site POST:", send(http.MethodPost, "cross-site"))
	fmt.Println("same-origin POST:", send(http.MethodPost, "same-origin"))
	fmt.Println("cross-site GET:", send(http.MethodGet, "cross-site"))
	// Output:
	// cross-site POST: 403
	// same-origin POST: 200
	// cross-site GET: 200
}
