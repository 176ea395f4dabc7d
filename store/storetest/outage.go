package storetest

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

// Proxy is a TCP relay between a store and its server that a test can cut and restore, to
// simulate an outage of a networked backend without stopping the shared server.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

// NewProxy listens on a free loopback port and relays every connection to target (host:port).
// It is closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Down()
	})
	return p
}

// Addr is the host:port clients connect to instead of the server's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Down cuts every open connection and refuses new ones (they are accepted and closed at once,
// as a crashed server behind a load balancer would look).
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Up lets new connections through again.
func (p *Proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.relay(c)
	}
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) relay(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil || !p.track(s) {
		c.Close()
		if s != nil {
			s.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(s, c)
	go pipe(c, s)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// RunOutage checks that s fails closed while its backend is unreachable and recovers after:
// with down() in effect every method returns an error that is not ErrNotFound or ErrConflict,
// and never a false success (a claimed step, a used code, a zero counter without error); after
// up() the same calls succeed again. s must be a store reaching its server through down/up
// (for example through a Proxy).
func RunOutage(t *testing.T, s store.Store, down, up func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	now := base()
	must(t, s.SaveSession(ctx, session("before", "u", now, time.Hour)))
	must(t, s.ReplaceBackupCodes(ctx, "u", []string{"h"}))
	u, err := s.CreateUser(ctx, user("outage", "outage@example.com", now))
	must(t, err)

	down()
	calls := []struct {
		name string
		fn   func() (falseSuccess bool, err error)
	}{
		{"Ping", func() (bool, error) { return false, s.Ping(ctx) }},
		{"LoadSession", func() (bool, error) { _, err := s.LoadSession(ctx, "before", now); return false, err }},
		{"SaveSession", func() (bool, error) { return false, s.SaveSession(ctx, session("during", "u", now, time.Hour)) }},
		{"DeleteSession", func() (bool, error) { return false, s.DeleteSession(ctx, "before") }},
		{"UserSessions", func() (bool, error) { _, err := s.UserSessions(ctx, "u", now); return false, err }},
		{"DeleteUserSessions", func() (bool, error) { _, err := s.DeleteUserSessions(ctx, "u", ""); return false, err }},
		{"Incr", func() (bool, error) { c, err := s.Incr(ctx, "k", 1, now, time.Minute, true); return c.N > 0, err }},
		{"GetCounter", func() (bool, error) { _, err := s.GetCounter(ctx, "k", now); return false, err }},
		{"DeleteCounter", func() (bool, error) { return false, s.DeleteCounter(ctx, "k") }},
		{"ListCounters", func() (bool, error) { _, err := s.ListCounters(ctx, "", 0, now, 0); return false, err }},
		{"ClaimStep", func() (bool, error) { return s.ClaimStep(ctx, "dev", 5) }},
		{"ResetSteps", func() (bool, error) { return false, s.ResetSteps(ctx, "dev") }},
		{"CreateUser", func() (bool, error) { _, err := s.CreateUser(ctx, user("x", "", now)); return false, err }},
		{"UserByID", func() (bool, error) { _, err := s.UserByID(ctx, u.ID); return false, err }},
		{"UserByUsername", func() (bool, error) { _, err := s.UserByUsername(ctx, "outage"); return false, err }},
		{"UserByEmail", func() (bool, error) { _, err := s.UserByEmail(ctx, "outage@example.com"); return false, err }},
		{"UpdateUser", func() (bool, error) { return false, s.UpdateUser(ctx, u) }},
		{"ListUsers", func() (bool, error) { _, err := s.ListUsers(ctx, "", 10); return false, err }},
		{"ReplaceBackupCodes", func() (bool, error) { return false, s.ReplaceBackupCodes(ctx, "u", []string{"h"}) }},
		{"UseBackupCode", func() (bool, error) { return s.UseBackupCode(ctx, "u", "h") }},
		{"CountBackupCodes", func() (bool, error) { _, err := s.CountBackupCodes(ctx, "u"); return false, err }},
		{"AppendEvent", func() (bool, error) { return false, s.AppendEvent(ctx, store.Event{Time: now, Kind: "k"}) }},
		{"RecentEvents", func() (bool, error) { _, err := s.RecentEvents(ctx, 5); return false, err }},
		{"Sweep", nil}, // Redis may legitimately do nothing; checked only after recovery
	}
	if u, ok := s.(Updater); ok {
		calls = append(calls, struct {
			name string
			fn   func() (bool, error)
		}{"UpdateSession", func() (bool, error) { return false, u.UpdateSession(ctx, session("before", "u", now, time.Hour)) }})
	}
	for _, c := range calls {
		if c.fn == nil {
			continue
		}
		falseSuccess, err := c.fn()
		switch {
		case err == nil:
			t.Errorf("during outage %s succeeded", c.name)
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
			t.Errorf("during outage %s returned %v: an outage must not look like an answer", c.name, err)
		}
		if falseSuccess {
			t.Errorf("during outage %s reported success alongside %v", c.name, err)
		}
	}

	up()
	must(t, s.Ping(ctx))
	got, err := s.LoadSession(ctx, "before", now)
	must(t, err)
	sameSession(t, got, session("before", "u", now, time.Hour))
	ok, err := s.UseBackupCode(ctx, "u", "h")
	must(t, err)
	if !ok {
		t.Fatal("backup code consumed during the outage")
	}
	ok, err = s.ClaimStep(ctx, "dev", 5)
	must(t, err)
	if !ok {
		t.Fatal("step claimed during the outage")
	}
	c, err := s.Incr(ctx, "k", 1, now, time.Minute, true)
	must(t, err)
	if c.N != 1 {
		t.Fatalf("counter after outage = %d, want 1", c.N)
	}
	if _, err := s.UserByUsername(ctx, "outage"); err != nil {
		t.Fatal(err)
	}
	must(t, s.Sweep(ctx, now))
}
