package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The limits themselves are tested in package server; this file checks that `rampart serve`
// applies them from its settings.

// safety bounds every wait on the test's side of a socket: a hung server fails the test
// instead of hanging it. It is far longer than any deadline the tests set, never a threshold.
const safety = 20 * time.Second

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

// TestServeLimitsSlowClients: `rampart serve` applies both limits from its settings.
func TestServeLimitsSlowClients(t *testing.T) {
	newUserDir(t)
	t.Setenv("RAMPART_INSECURE_DEV", "1")
	t.Setenv("RAMPART_ADDR", "127.0.0.1:0")
	t.Setenv("RAMPART_BODY_TIMEOUT", "300ms")
	t.Setenv("RAMPART_MAX_CONNS_PER_IP", "2")
	base := startServe(t)
	addr := strings.TrimPrefix(base, "http://localhost")
	addr = "127.0.0.1" + addr

	// A login form trickled in from one address...
	slow := rawRequest(t, addr, &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, 40)
	io.WriteString(slow, "username=a")
	if resp, body := readResponse(t, slow); resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow login body: %d %q, want 408", resp.StatusCode, body)
	}
	// ...and from another, two connections fill the cap (each answered, then kept alive);
	// a third is closed at once.
	for range 2 {
		readResponse(t, rawRequest(t, addr, nil, 0))
	}
	c := rawRequest(t, addr, nil, 0)
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		t.Error("a 3rd connection was served with RAMPART_MAX_CONNS_PER_IP=2")
	}
}
