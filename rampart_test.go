package rampart_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/memory"
)

// stuckMailer holds every delivery until release is closed.
type stuckMailer struct {
	release chan struct{}
	mu      sync.Mutex
	sent    []mail.Message
}

func (m *stuckMailer) Send(ctx context.Context, msg mail.Message) error {
	<-m.release
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

// With an application's Mailer, a reset request for an existing account returns without
// waiting for the mail (as one for an unknown address does), and Close delivers it.
func TestMailerIsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := map[string]string{"RAMPART_SECRET_KEY": "rampart-test-key-0123456789abcdefghijklmnopqrstuvwxyz", "RAMPART_ALLOWED_HOSTS": "example.com"}
		s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
		if err != nil {
			t.Fatal(err)
		}
		mailer := &stuckMailer{release: make(chan struct{})}
		st, err := rampart.New(t.Context(), s, rampart.Options{Store: memory.New(), Mailer: mailer})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Accounts.CreateUser(t.Context(), "ann", "ann@example.com", "a long unusual passphrase 42", false); err != nil {
			t.Fatal(err)
		}
		link := func(tok string) string { return "https://example.com/accounts/reset/" + tok }
		for _, addr := range []string{"ann@example.com", "nobody@example.com"} {
			// A synchronous send would block on the stuck mailer, and synctest would report
			// every goroutine blocked.
			if err := st.Accounts.SendPasswordReset(t.Context(), addr, link); err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
		}
		close(mailer.release)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if len(mailer.sent) != 1 || mailer.sent[0].To != "ann@example.com" {
			t.Fatalf("sent %+v, want one message to ann", mailer.sent)
		}
	})
}

// TestAppMiddlewareKeepsItsRequest: application middleware inside Stack.Handler that keeps its
// request and reads its context after calling the next handler sees it unchanged, even when
// rampart layers run inside it (here a second session manager for an admin area and a CSRF
// layer, which add their own values to the context). net/http's rule: middleware must not modify the
// request it was given.
func TestAppMiddlewareKeepsItsRequest(t *testing.T) {
	env := map[string]string{"RAMPART_SECRET_KEY": "rampart-test-key-5a1f0c9e7d3b2468-for-the-root-package-tests", "RAMPART_INSECURE_DEV": "1", "RAMPART_ALLOWED_HOSTS": "127.0.0.1"}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := rampart.New(t.Context(), s, rampart.Options{Store: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	admin := session.NewManager(memory.New(), session.Options{CookieName: "admin_session", InsecureNoSecureCookie: true})
	var before, after context.Context
	keeper := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			before = r.Context()
			next.ServeHTTP(w, r)
			after = r.Context()
		})
	}
	protect, err := csrf.New(csrf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	app := keeper(admin.Middleware(protect.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).SetString("x", "y")
		_ = csrf.Token(r)
	}))))
	rec := httptest.NewRecorder()
	st.Handler(app).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/admin", nil))
	if before == nil || after != before {
		t.Fatalf("the middleware's request changed under it (status %d)", rec.Code)
	}
}
