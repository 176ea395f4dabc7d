package accounts_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/memory"
)

// The whole account system in an application: the stack, the account routes under
// /accounts, and a page only logged-in users see.
func Example() {
	env := map[string]string{"RAMPART_SECRET_KEY": testKey, "RAMPART_INSECURE_DEV": "1", "RAMPART_ALLOWED_HOSTS": "127.0.0.1"}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		panic(err)
	}
	stack, err := rampart.New(context.Background(), s, rampart.Options{Store: memory.New()})
	if err != nil {
		panic(err)
	}
	defer stack.Close()
	acc, err := accounts.New(stack, accounts.Options{})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", acc.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s", accounts.User(r).Username)
	})))
	handler := stack.Handler(acc.Handler(mux)) // serve it with http.ListenAndServe(s.Addr, handler)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 303 /accounts/login?next=%2F
}
