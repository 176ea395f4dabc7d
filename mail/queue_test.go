package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

// gateMailer blocks every delivery until release is closed, then records it.
type gateMailer struct {
	release chan struct{}
	fail    error
	mu      sync.Mutex
	got     []Message
}

func (g *gateMailer) Send(ctx context.Context, m Message) error {
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.got = append(g.got, m)
	return g.fail
}

func (g *gateMailer) sent() []Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Message(nil), g.got...)
}

// Send returns while the mailer is stuck; Close delivers what was queued.
func TestQueueSendDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gateMailer{release: make(chan struct{})}
		q := NewQueue(g, QueueOptions{})
		for _, to := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			// Were Send to wait for the stuck mailer, every goroutine of the bubble would
			// be blocked and synctest would fail the test.
			if err := q.Send(t.Context(), Message{To: to, Subject: "s"}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if n := len(g.sent()); n != 0 {
			t.Fatalf("%d delivered before release", n)
		}
		close(g.release)
		if err := q.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := len(g.sent()); n != 3 {
			t.Fatalf("delivered %d, want 3", n)
		}
	})
}

// A full queue, a closed queue and a failed delivery are logged (without the body) and never
// reported to the caller.
func TestQueueDropsAndFailuresAreLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		g := &gateMailer{release: make(chan struct{}), fail: errors.New("smtp: 451 try later")}
		q := NewQueue(g, QueueOptions{Size: 1, Workers: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		msg := Message{To: "victim@example.com", Subject: "Password reset", Body: "secret-link"}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(q.Send(t.Context(), msg)) // taken by the worker, which blocks
		synctest.Wait()
		must(q.Send(t.Context(), msg)) // waits in the queue
		must(q.Send(t.Context(), msg)) // dropped
		if !strings.Contains(logs.String(), "mail queue full") {
			t.Fatalf("no drop logged: %s", logs.String())
		}
		close(g.release)
		must(q.Close(t.Context()))
		must(q.Send(t.Context(), msg)) // after Close
		out := logs.String()
		for _, want := range []string{"mail delivery failed", "451 try later", "mail queue closed", "to_domain=example.com"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "secret-link") || strings.Contains(out, "victim@") {
			t.Errorf("log leaks the body or the address:\n%s", out)
		}
		if n := len(g.sent()); n != 2 {
			t.Errorf("delivered %d, want 2", n)
		}
	})
}

// Close gives up when its context ends while a delivery is stuck.
func TestQueueCloseHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gateMailer{release: make(chan struct{})}
		q := NewQueue(g, QueueOptions{})
		_ = q.Send(t.Context(), Message{To: "a@example.com"})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := q.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close = %v, want context.Canceled", err)
		}
		close(g.release)
	})
}
