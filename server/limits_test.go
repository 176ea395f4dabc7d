package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// safety bounds every wait on the test's side of a socket: a hung server fails the test
// instead of hanging it. It is far longer than any deadline the tests set, never a threshold.
const safety = 20 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// echoServer serves h (wrapped by the guard under test) on a real 127.0.0.1 listener.
func echoServer(t *testing.T, h http.Handler, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: safety, ReadTimeout: safety, ErrorLog: slog.NewLogLogger(quiet.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawRequest opens a connection from local (nil: any) and sends a POST's headers.
func rawRequest(t *testing.T, addr string, local net.Addr, length int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: safety}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(safety))
	fmt.Fprintf(c, "POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", length)
	return c
}

func readResponse(t *testing.T, c net.Conn) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// bodyHandler answers with what it could read of the body: its length, or the read error.
type bodyHandler struct{ calls atomic.Int32 }

func (h *bodyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	b, err := io.ReadAll(r.Body)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		http.Error(w, "deadline", http.StatusRequestTimeout)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		fmt.Fprintf(w, "read %d", len(b))
	}
}

func TestSlowBodyGuard(t *testing.T) {
	const grace = 300 * time.Millisecond
	cases := []struct {
		name   string
		length int
		send   func(c net.Conn) // after the headers
		status int
		body   string
		called bool // whether the handler ran
	}{
		{"small body at once", 11, func(c net.Conn) { io.WriteString(c, "a=1&b=2&c=3") }, 200, "read 11", true},
		// A form trickled in: 408 from the guard, the handler never runs.
		{"small body stalls", 11, func(c net.Conn) { io.WriteString(c, "a=1") }, 408, "too slowly", false},
		{"small body never starts", 11, func(net.Conn) {}, 408, "too slowly", false},
		{"short body then close", 11, func(c net.Conn) { io.WriteString(c, "a=1"); c.(*net.TCPConn).CloseWrite() }, 400, "could not be read", false},
		// Larger bodies stream to the handler, whose read fails at the deadline.
		{"large body at once", preReadMax + 1, func(c net.Conn) { io.WriteString(c, strings.Repeat("x", preReadMax+1)) }, 200, fmt.Sprintf("read %d", preReadMax+1), true},
		{"large body stalls", preReadMax + 1, func(c net.Conn) { io.WriteString(c, "x") }, 408, "deadline", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &bodyHandler{}
			addr := echoServer(t, BodyGuard(BodyLimits{Timeout: grace, Ceiling: safety, MaxBody: 1 << 20, Logger: quiet})(h), nil)
			conn := rawRequest(t, addr, nil, c.length)
			c.send(conn)
			resp, body := readResponse(t, conn)
			if resp.StatusCode != c.status || !strings.Contains(body, c.body) {
				t.Errorf("status %d body %q, want %d with %q", resp.StatusCode, body, c.status, c.body)
			}
			if got := h.calls.Load() > 0; got != c.called {
				t.Errorf("handler called: %v, want %v", got, c.called)
			}
		})
	}
}

// TestSlowBodyMinRate: a body that keeps up the minimum rate may take longer than the grace
// period; one that falls below it is cut off. The sender keeps a second's margin either way,
// so scheduling delays on a loaded machine cannot change the outcome.
func TestSlowBodyMinRate(t *testing.T) {
	const grace, rate = time.Second, 100 // deadline = start + 1s + received/100 s
	cases := []struct {
		name   string
		every  time.Duration // 10 bytes every ...
		status int
	}{
		{"twice the minimum rate", 50 * time.Millisecond, 200}, // 200 B/s: ahead of the deadline by ≥ 1s
		{"half the minimum rate", 200 * time.Millisecond, 408}, // 50 B/s: deadline at 2s, the body would need 6s
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const length = 300 // 1.5 s at 200 B/s
			addr := echoServer(t, BodyGuard(BodyLimits{Timeout: grace, MinRate: rate, Ceiling: safety, MaxBody: 1 << 20, Logger: quiet})(&bodyHandler{}), nil)
			conn := rawRequest(t, addr, nil, length)
			go func() {
				tick := time.NewTicker(c.every)
				defer tick.Stop()
				for sent := 0; sent < length; sent += 10 {
					if _, err := io.WriteString(conn, strings.Repeat("x", 10)); err != nil {
						return // cut off
					}
					<-tick.C
				}
			}()
			if resp, body := readResponse(t, conn); resp.StatusCode != c.status {
				t.Errorf("status %d (%q), want %d", resp.StatusCode, body, c.status)
			}
		})
	}
}

// TestConnLimit: real connections from 127.0.0.1 and 127.0.0.2 (both loopback on Linux).
func TestConnLimit(t *testing.T) {
	from := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip)} }
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	// served reports whether a request on a new connection from local gets an answer; the
	// connection stays open (keep-alive) until the test ends unless closed.
	served := func(t *testing.T, addr string, local net.Addr) (net.Conn, bool) {
		t.Helper()
		c := rawRequest(t, addr, local, 0)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return c, false // closed at accept: EOF or reset
		}
		resp.Body.Close()
		return c, resp.StatusCode == 200
	}

	t.Run("cap per address", func(t *testing.T) {
		lim := NewConnLimit(3, nil, quiet)
		addr := echoServer(t, ok, lim.Wrap)
		var held []net.Conn
		for i := range 3 {
			c, ok := served(t, addr, from("127.0.0.1"))
			if !ok {
				t.Fatalf("connection %d under the cap refused", i+1)
			}
			held = append(held, c)
		}
		if _, ok := served(t, addr, from("127.0.0.1")); ok {
			t.Fatal("a 4th connection from 127.0.0.1 was served with a cap of 3")
		}
		if _, ok := served(t, addr, from("127.0.0.2")); !ok {
			t.Fatal("another address was refused because of 127.0.0.1's connections")
		}
		// Closing one gives its slot back once the server has seen the close.
		held[0].Close()
		deadline := time.Now().Add(safety)
		for {
			c, ok := served(t, addr, from("127.0.0.1"))
			c.Close()
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the slot of a closed connection was never given back")
			}
		}
	})

	t.Run("trusted proxy exempt", func(t *testing.T) {
		lim := NewConnLimit(1, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, quiet)
		addr := echoServer(t, ok, lim.Wrap)
		for i := range 4 {
			if _, ok := served(t, addr, from("127.0.0.1")); !ok {
				t.Fatalf("connection %d from the trusted proxy refused", i+1)
			}
		}
		if _, ok := served(t, addr, from("127.0.0.2")); !ok {
			t.Fatal("first connection from 127.0.0.2 refused")
		}
		if _, ok := served(t, addr, from("127.0.0.2")); ok {
			t.Fatal("second connection from 127.0.0.2 served with a cap of 1")
		}
	})

	t.Run("no cap", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if NewConnLimit(0, nil, quiet).Wrap(ln) != ln {
			t.Fatal("RAMPART_MAX_CONNS_PER_IP=0 still wraps the listener")
		}
	})
}

func TestConnKey(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	cases := []struct {
		addr    string
		key     string
		counted bool
	}{
		{"192.0.2.1:5000", "192.0.2.1", true},
		{"[::ffff:192.0.2.1]:5000", "192.0.2.1", true}, // v4-mapped counts as the v4 address
		{"[2001:db8:1:2:aaaa::1]:5000", "2001:db8:1:2::", true},
		{"[2001:db8:1:2:bbbb::9]:5000", "2001:db8:1:2::", true}, // same /64, same slot
		{"[2001:db8:1:3::1]:5000", "2001:db8:1:3::", true},
		{"[fe80::1%eth0]:5000", "fe80::", true},
		{"10.1.2.3:5000", "", false}, // a trusted proxy
		{"[2001:db8:ffff:1::1]:5000", "", false},
	}
	for _, c := range cases {
		a := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(c.addr))
		key, counted := connKey(a, proxies)
		if counted != c.counted || (counted && key.String() != c.key) {
			t.Errorf("connKey(%s) = %v, %v; want %s, %v", c.addr, key, counted, c.key, c.counted)
		}
	}
	if _, counted := connKey(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}, nil); counted {
		t.Error("a Unix socket peer was counted")
	}
}
