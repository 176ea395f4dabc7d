package rampart_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/memory"
)

// stuckMailer holds every delivery until release is closed.
type stuckMailer struct {
	release chan struct{}
	mu      sync.Mutex
	sent    []auth.Message
}

func (m *stuckMailer) Send(ctx context.Context, msg auth.Message) error {
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
