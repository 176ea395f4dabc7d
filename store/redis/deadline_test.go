package redis_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/redis"
)

// blackHole accepts TCP connections and never answers: what a frozen server (SIGSTOP, a
// paused VM) looks like to a client, whose connects the kernel still completes.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// Every kind of operation (a command, a script, a MULTI/EXEC pipeline) on a server that does
// not answer fails with a deadline after Options.Timeout, retries included, and a caller's
// earlier deadline wins. Open sets ContextTimeoutEnabled, without which go-redis would wait
// out its own ReadTimeout on each try instead.
func TestTimeoutOnAServerThatDoesNotAnswer(t *testing.T) {
	addr := blackHole(t)
	ctx := context.Background()
	// Open's first PING is bounded too.
	start := time.Now()
	if _, err := redis.Open(ctx, "redis://"+addr+"/0", redis.Options{Timeout: 200 * time.Millisecond}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open on a server that does not answer: %v (after %v), want a deadline error", err, time.Since(start))
	}
	// A client given to New must enable context deadlines itself (see Options.Timeout).
	s := redis.New(goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true}), redis.Options{Timeout: 200 * time.Millisecond})
	t.Cleanup(func() { s.Close() })
	now := time.Now().UTC()
	x := store.Session{Key: "k", UserID: "u", Data: []byte("d"), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	for name, op := range map[string]func() error{
		"LoadSession (HMGET)":  func() error { _, err := s.LoadSession(ctx, "k", now); return err },
		"SaveSession (script)": func() error { return s.SaveSession(ctx, x) },
		"Incr (script)": func() error {
			_, err := s.Incr(ctx, "c", 1, now, time.Minute, false)
			return err
		},
		"ReplaceBackupCodes (MULTI/EXEC)": func() error { return s.ReplaceBackupCodes(ctx, "u", []string{"h"}) },
		"Ping":                            func() error { return s.Ping(ctx) },
	} {
		if err := op(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a server that does not answer: %v, want a deadline error", name, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.LoadSession(short, "k", now); !errors.Is(err, context.DeadlineExceeded) || short.Err() == nil {
		t.Errorf("LoadSession with the caller's shorter deadline: %v (caller's context: %v)", err, short.Err())
	}
}
