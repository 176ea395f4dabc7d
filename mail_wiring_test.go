package rampart_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/internal/smtptest"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/memory"
)

// TestMailWiring: which mailer rampart.New picks from the settings, and what it logs.
func TestMailWiring(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	prod := map[string]string{"RAMPART_SECRET_KEY": "rampart-test-key-0123456789abcdefghijklmnopqrstuvwxyz", "RAMPART_ALLOWED_HOSTS": "example.com"}
	dev := map[string]string{"RAMPART_INSECURE_DEV": "1"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name      string
		env       map[string]string
		smtp      bool   // the message reaches the SMTP server
		outbox    bool   // Stack.Outbox holds it
		logHas    string // in the log
		logHasNot string
	}{
		{"production without URL", prod, false, true, "RAMPART_EMAIL_URL is not set", "link="},
		{"development without URL", dev, false, true, "link=https://example.com/accounts/reset/", "is not set"},
		{"production with URL", with(prod, "RAMPART_EMAIL_URL", "smtp://"+srv.Addr), true, false, "", "link="},
		{"development with URL", with(dev, "RAMPART_EMAIL_URL", "smtp://"+srv.Addr), true, false, "", "link="},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }, "")
			if err != nil {
				t.Fatal(err)
			}
			var logBuf bytes.Buffer
			st, err := rampart.New(context.Background(), s, rampart.Options{Store: memory.New(), Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Accounts.CreateUser(context.Background(), "ann", "ann@example.org", "a long unusual passphrase 42", false); err != nil {
				t.Fatal(err)
			}
			if err := st.Accounts.SendPasswordReset(context.Background(), "ann@example.org", func(tok string) string { return "https://example.com/accounts/reset/" + tok }); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil { // sends what is queued
				t.Fatal(err)
			}
			if c.smtp {
				if m := srv.Message(t); m.To[0] != "ann@example.org" || m.From != "webmaster@localhost" {
					t.Errorf("delivered from %q to %v", m.From, m.To)
				}
			}
			if (st.Outbox != nil) != c.outbox || (c.outbox && len(st.Outbox.Messages()) != 1) {
				t.Errorf("Outbox %v, want one message: %v", st.Outbox, c.outbox)
			}
			log := logBuf.String()
			if c.logHas != "" && !strings.Contains(log, c.logHas) {
				t.Errorf("log lacks %q:\n%s", c.logHas, log)
			}
			if c.logHasNot != "" && strings.Contains(log, c.logHasNot) {
				t.Errorf("log has %q:\n%s", c.logHasNot, log)
			}
		})
	}
	t.Run("bad sender", func(t *testing.T) {
		env := with(prod, "RAMPART_EMAIL_URL", "smtp://"+srv.Addr)
		s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
		if err != nil {
			t.Fatal(err)
		}
		s.EmailFrom = ""
		if _, err := rampart.New(context.Background(), s, rampart.Options{Store: memory.New()}); err == nil || !strings.Contains(err.Error(), "RAMPART_EMAIL_FROM") {
			t.Errorf("New with an EMAIL_URL and no sender: %v", err)
		}
	})
}
