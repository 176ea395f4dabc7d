package mail

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// QueueOptions tune NewQueue. The zero value is what rampart uses.
type QueueOptions struct {
	// Size is how many messages may wait (default 1000). When the queue is full a message is
	// dropped and logged rather than making the request wait.
	Size int
	// Workers is how many messages are sent at once (default 2).
	Workers int
	// SendTimeout bounds each delivery (default 30 s).
	SendTimeout time.Duration
	// Logger receives failed and dropped deliveries (default slog.Default()). Bodies are never
	// logged: they hold live reset links.
	Logger *slog.Logger
}

// Queue is a Mailer that returns at once and delivers in the background.
//
// Why: SendPasswordReset sends only when the address belongs to an account, so with a
// synchronous mailer (SMTP takes 100 ms to seconds) the response time, and an SMTP outage
// answered with an error, would tell an attacker which addresses have accounts. Through a
// Queue both cases cost one store look-up and answer alike; failures are logged instead.
type Queue struct {
	next Mailer
	opts QueueOptions
	ch   chan Message
	wg   sync.WaitGroup

	mu     sync.RWMutex // Send holds it shared while it may write to ch; Close exclusively
	closed bool
}

// NewQueue starts the workers of a Queue in front of next. Close it to deliver what is
// queued before the process exits.
func NewQueue(next Mailer, opts QueueOptions) *Queue {
	if opts.Size <= 0 {
		opts.Size = 1000
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	q := &Queue{next: next, opts: opts, ch: make(chan Message, opts.Size)}
	for range opts.Workers {
		q.wg.Go(q.work)
	}
	return q
}

// Send queues m and returns nil, also when m had to be dropped (a full or closed queue,
// logged): its result must not depend on whether there was anything to send.
func (q *Queue) Send(ctx context.Context, m Message) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.log(ctx, slog.LevelError, "mail queue closed; message dropped", m, nil)
		return nil
	}
	select {
	case q.ch <- m:
	default:
		q.log(ctx, slog.LevelError, "mail queue full; message dropped", m, nil)
	}
	return nil
}

func (q *Queue) work() {
	for m := range q.ch {
		ctx, cancel := context.WithTimeout(context.Background(), q.opts.SendTimeout)
		if err := q.next.Send(ctx, m); err != nil {
			q.log(ctx, slog.LevelError, "mail delivery failed", m, err)
		}
		cancel()
	}
}

// log records a delivery problem with the recipient's domain only (the address is personal
// data, the body a credential).
func (q *Queue) log(ctx context.Context, level slog.Level, msg string, m Message, err error) {
	attrs := []slog.Attr{slog.String("event", "mail.undelivered"), slog.String("subject", m.Subject)}
	if _, domain, ok := strings.Cut(m.To, "@"); ok {
		attrs = append(attrs, slog.String("to_domain", domain))
	}
	if err != nil {
		attrs = append(attrs, slog.Any("err", err))
	}
	q.opts.Logger.LogAttrs(ctx, level, msg, attrs...)
}

// Close stops accepting messages and waits until the queued ones are delivered or ctx ends.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
