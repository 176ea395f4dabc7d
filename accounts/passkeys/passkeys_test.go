package passkeys_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/accounts/passkeys"
	"github.com/rampart-go/rampart/passkey"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/memory"
)

const testKey = "passkeys-test-5a1e9c3b7d2f4086-rampart-secret-key-for-tests-xyz"

func newStack(t testing.TB) *rampart.Stack {
	env := map[string]string{"RAMPART_SECRET_KEY": testKey, "RAMPART_INSECURE_DEV": "1", "RAMPART_ALLOWED_HOSTS": "example.test"}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	stack, err := rampart.New(context.Background(), s, rampart.Options{Store: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	return stack
}

// Without Options.Passkeys no passkey route is served and no page offers one; with it, the
// passwordless login page, its script and its ceremony are there.
func TestOptIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		on   bool
	}{{"off", false}, {"on", true}} {
		t.Run(tc.name, func(t *testing.T) {
			stack := newStack(t)
			opts := accounts.Options{}
			if tc.on {
				opts.Passkeys = passkeys.New(stack, passkey.Options{})
			}
			acc, err := accounts.New(stack, opts)
			if err != nil {
				t.Fatal(err)
			}
			h := stack.Handler(acc.Handler(http.NotFoundHandler()))
			get := func(path string) (int, string) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://example.test"+path, nil))
				b, _ := io.ReadAll(rec.Body)
				return rec.Code, string(b)
			}
			want := http.StatusNotFound
			if tc.on {
				want = http.StatusOK
			}
			for _, path := range []string{"/accounts/login/passkey", "/accounts/static/passkeys.js"} {
				if code, _ := get(path); code != want {
					t.Errorf("GET %s = %d, want %d", path, code, want)
				}
			}
			code, body := get("/accounts/login")
			if code != http.StatusOK {
				t.Fatalf("GET /accounts/login = %d", code)
			}
			if got := strings.Contains(body, "/accounts/login/passkey"); got != tc.on {
				t.Errorf("login page links the passkey login: %v, want %v", got, tc.on)
			}
		})
	}
}

// Passkeys turned on in the account system, kept in the stack's store.
func ExampleNew() {
	env := map[string]string{"RAMPART_SECRET_KEY": testKey, "RAMPART_INSECURE_DEV": "1", "RAMPART_ALLOWED_HOSTS": "example.test"}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		panic(err)
	}
	stack, err := rampart.New(context.Background(), s, rampart.Options{Store: memory.New()})
	if err != nil {
		panic(err)
	}
	defer stack.Close()
	acc, err := accounts.New(stack, accounts.Options{Passkeys: passkeys.New(stack, passkey.Options{})})
	if err != nil {
		panic(err)
	}
	_ = stack.Handler(acc.Handler(http.NotFoundHandler())) // serve it with stack.Serve
}
