package auth

import (
	"context"
	"log/slog"
	"sync"

	"github.com/rampart-go/rampart/mail"
)

// Message is one e-mail: mail.Message, so that mail's senders are Mailers.
type Message = mail.Message

// Mailer delivers messages (password reset). In production use mail.SMTP (RAMPART_EMAIL_URL;
// rampart.New builds it) or an implementation over a provider's API.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// LogMailer writes messages to a slog.Logger instead of sending them, like Django's console
// e-mail backend: for development and the reference app. The log then holds live reset links,
// so do not use it where logs are shared.
type LogMailer struct {
	// Logger receives one Info record per message; nil means slog.Default().
	Logger *slog.Logger
}

// Send implements Mailer.
func (l LogMailer) Send(ctx context.Context, m Message) error {
	lg := l.Logger
	if lg == nil {
		lg = slog.Default()
	}
	lg.InfoContext(ctx, "mail", "to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}

// Outbox keeps sent messages in memory, for tests and the reference app. Safe for concurrent use.
type Outbox struct {
	mu   sync.Mutex
	msgs []Message
}

// Send implements Mailer.
func (o *Outbox) Send(_ context.Context, m Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return nil
}

// Messages returns a copy of the messages sent so far, oldest first.
func (o *Outbox) Messages() []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Message(nil), o.msgs...)
}

// Reset forgets every message.
func (o *Outbox) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = nil
}
