package mail

import (
	"context"
	"sync"
)

// Mailer delivers messages: password reset (auth.Service), e-mail confirmation (accounts) and
// any other mail an application sends. In production use SMTP (RAMPART_EMAIL_URL; rampart.New
// builds it, behind a Queue) or an implementation over a provider's API; Log and Outbox are the
// development and test stand-ins.
type Mailer interface {
	Send(ctx context.Context, m Message) error
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
