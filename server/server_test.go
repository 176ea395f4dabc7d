package server_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/server"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/open"
)

// safety bounds every wait: a hung server fails the test instead of hanging it. It is far
// longer than anything should take, never a threshold.
const safety = 20 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func load(t *testing.T, env map[string]string) settings.Settings {
	t.Helper()
	base := map[string]string{"RAMPART_INSECURE_DEV": "1", "RAMPART_ADDR": "127.0.0.1:0", "RAMPART_DATABASE_URL": "sqlite::memory:"}
	for k, v := range env {
		base[k] = v
	}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := base[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNewUsesSettings: every limit comes from the settings; a zero one (a Settings not made by
// Load) falls back to the settings' default, never to net/http's "none".
func TestNewUsesSettings(t *testing.T) {
	s := load(t, map[string]string{"RAMPART_READ_HEADER_TIMEOUT": "3s", "RAMPART_READ_TIMEOUT": "7s",
		"RAMPART_WRITE_TIMEOUT": "11s", "RAMPART_IDLE_TIMEOUT": "13s"})
	srv := server.New(s, http.NotFoundHandler(), server.Options{Logger: quiet})
	if srv.Addr != "127.0.0.1:0" || srv.ReadHeaderTimeout != 3*time.Second || srv.ReadTimeout != 7*time.Second ||
		srv.WriteTimeout != 11*time.Second || srv.IdleTimeout != 13*time.Second || srv.MaxHeaderBytes != server.DefaultMaxHeaderBytes || srv.ErrorLog == nil {
		t.Errorf("server %+v does not carry the settings", srv.Server)
	}
	zero := server.New(settings.Settings{}, http.NotFoundHandler(), server.Options{})
	if zero.ReadHeaderTimeout <= 0 || zero.ReadTimeout <= 0 || zero.WriteTimeout <= 0 || zero.IdleTimeout <= 0 {
		t.Errorf("zero settings left a timeout off: %+v", zero.Server)
	}
}

// serve runs srv.Run on a fresh listener and returns its address and Run's result.
func serve(t *testing.T, ctx context.Context, srv *server.Server, stack io.Closer) (string, <-chan error) {
	t.Helper()
	ln, err := srv.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, stack, ln) }()
	return ln.Addr().String(), done
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, safety)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(safety))
	return c
}

// closedByServer reports whether the server ended the connection (rather than the test's
// safety deadline passing).
func closedByServer(c net.Conn, r *bufio.Reader) error {
	_, err := r.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("the server kept the connection open")
	}
	if err == nil {
		return errors.New("the server sent more")
	}
	return nil
}

// TestTimeoutsApplied: the settings' limits act on a real listener.
func TestTimeoutsApplied(t *testing.T) {
	s := load(t, map[string]string{"RAMPART_READ_HEADER_TIMEOUT": "200ms", "RAMPART_IDLE_TIMEOUT": "200ms"})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := serve(t, ctx, server.New(s, ok, server.Options{Logger: quiet}), nil)
	t.Cleanup(func() { cancel(); <-done })

	t.Run("header timeout", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n") // never finished
		if err := closedByServer(c, bufio.NewReader(c)); err != nil {
			t.Error(err)
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		if err := closedByServer(c, r); err != nil { // kept alive, then idle
			t.Error(err)
		}
	})
	t.Run("header size", func(t *testing.T) {
		c := dial(t, addr)
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", server.DefaultMaxHeaderBytes+8192))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("oversized header: %v %v, want 431", resp, err)
		}
	})
	t.Run("body deadline", func(t *testing.T) {
		s := load(t, map[string]string{"RAMPART_BODY_TIMEOUT": "200ms"})
		ctx, cancel := context.WithCancel(context.Background())
		addr, done := serve(t, ctx, server.New(s, ok, server.Options{Logger: quiet}), nil)
		defer func() { cancel(); <-done }()
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nab")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("trickled body: %v %v, want 408", resp, err)
		}
	})
}

// TestConnCapShared: the per-address cap of the settings holds across the server's listeners.
func TestConnCapShared(t *testing.T) {
	s := load(t, map[string]string{"RAMPART_MAX_CONNS_PER_IP": "1"})
	srv := server.New(s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), server.Options{Logger: quiet})
	ln1, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, nil, ln1, ln2) }()
	defer func() { cancel(); <-done }()
	c := dial(t, ln1.Addr().String())
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	c2 := dial(t, ln2.Addr().String())
	io.WriteString(c2, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if err := closedByServer(c2, bufio.NewReader(c2)); err != nil {
		t.Errorf("a second connection from 127.0.0.1 on the other listener: %v", err)
	}
}

// TestGracefulShutdown: told to stop (context or SIGTERM), Run stops accepting, lets the
// request in flight finish, then closes the stack, which commits the SQLite store's deferred
// writes: the event the request recorded is in the file afterwards.
func TestGracefulShutdown(t *testing.T) {
	for _, how := range []string{"context", "SIGTERM", "Stack.Serve"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.db")
			dbURL := "sqlite://" + path + "?session_write_delay=1h" // nothing is committed before Close
			s := load(t, map[string]string{"RAMPART_DATABASE_URL": dbURL})
			if how == "Stack.Serve" {
				s.Addr = freeAddr(t)
			}
			stack, err := rampart.New(context.Background(), s, rampart.Options{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			started, release := make(chan struct{}), make(chan struct{})
			mux := http.NewServeMux()
			mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-release
				if err := stack.Audit.Record(r.Context(), store.Event{Kind: "test.inflight", Detail: how}); err != nil {
					t.Error(err)
				}
				io.WriteString(w, "done")
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var addr string
			done := make(chan error, 1)
			if how == "Stack.Serve" {
				addr = s.Addr
				go func() { done <- stack.Serve(ctx, mux) }()
			} else {
				var d <-chan error
				addr, d = serve(t, ctx, server.New(s, stack.Handler(mux), server.Options{Logger: quiet}), stack)
				go func() { done <- <-d }()
			}

			resp := make(chan string, 1)
			go func() {
				c := &http.Client{Timeout: safety}
				deadline := time.Now().Add(safety)
				for {
					r, err := c.Get("http://" + addr + "/slow")
					if err != nil && time.Now().Before(deadline) {
						time.Sleep(10 * time.Millisecond) // Stack.Serve: not listening yet
						continue
					}
					if err != nil {
						resp <- err.Error()
						return
					}
					b, _ := io.ReadAll(r.Body)
					r.Body.Close()
					resp <- fmt.Sprint(r.StatusCode, " ", string(b))
					return
				}
			}()
			select {
			case <-started:
			case <-time.After(safety):
				t.Fatal("the request never reached the handler")
			}
			if how == "SIGTERM" {
				if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			} else {
				cancel()
			}
			// The listener closes at once...
			deadline := time.Now().Add(safety)
			for {
				c, err := net.DialTimeout("tcp", addr, safety)
				if err != nil {
					break
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatal("still accepting connections after the stop")
				}
			}
			// ...but Run waits for the request in flight.
			select {
			case err := <-done:
				t.Fatalf("Run returned (%v) while a request was in flight", err)
			default:
			}
			close(release)
			if got := <-resp; got != "200 done" {
				t.Errorf("the request in flight got %q, want 200 done", got)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(safety):
				t.Fatal("Run did not return after the last request")
			}

			st, err := open.OpenWith(context.Background(), "sqlite://"+path, "", open.Options{ServesNoSessions: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			events, err := st.RecentEvents(context.Background(), 100)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range events {
				found = found || (e.Kind == "test.inflight" && e.Detail == how)
			}
			if !found {
				t.Errorf("the deferred event of the request in flight is not in the file after Run: %+v", events)
			}
		})
	}
}

// freeAddr is a loopback address with a port free a moment ago (for Stack.Serve, which listens
// on Settings.Addr itself).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type closer struct{ n int }

func (c *closer) Close() error { c.n++; return nil }

// TestRunFailures: a listener that fails, or requests that outlast the shutdown timeout, are
// reported, and the stack is closed all the same.
func TestRunFailures(t *testing.T) {
	s := load(t, nil)
	t.Run("listener fails", func(t *testing.T) {
		srv := server.New(s, http.NotFoundHandler(), server.Options{Logger: quiet})
		ln, err := srv.Listen("")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		var c closer
		if err := srv.Run(context.Background(), &c, ln); err == nil || c.n != 1 {
			t.Errorf("Run on a closed listener: %v, stack closed %d times; want an error and 1", err, c.n)
		}
	})
	t.Run("address in use", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		s := s
		s.Addr = busy.Addr().String()
		var c closer
		if err := server.New(s, http.NotFoundHandler(), server.Options{Logger: quiet}).Run(context.Background(), &c); err == nil || c.n != 1 {
			t.Errorf("Run on a busy address: %v, stack closed %d times", err, c.n)
		}
	})
	t.Run("shutdown timeout", func(t *testing.T) {
		started, release := make(chan struct{}), make(chan struct{})
		defer close(release)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { close(started); <-release })
		srv := server.New(s, h, server.Options{Logger: quiet, ShutdownTimeout: 50 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		var c closer
		addr, done := serve(t, ctx, srv, &c)
		go func() {
			if r, err := (&http.Client{Timeout: safety}).Get("http://" + addr + "/"); err == nil {
				r.Body.Close()
			}
		}()
		<-started
		cancel()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "still running") || c.n != 1 {
				t.Errorf("Run with a request outlasting the shutdown: %v, stack closed %d times", err, c.n)
			}
		case <-time.After(safety):
			t.Fatal("Run waited past its shutdown timeout")
		}
	})
}

// TestListenTLS: HTTPS with HTTP/2 from a certificate file, under the connection cap.
func TestListenTLS(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	srv := server.New(load(t, nil), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }), server.Options{Logger: quiet})
	ln, err := srv.ListenTLS("127.0.0.1:0", certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, nil, ln) }()
	defer func() { cancel(); <-done }()
	c := &http.Client{Timeout: safety, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	resp, err := c.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "HTTP/2.0" {
		t.Errorf("served %q, want HTTP/2.0", b)
	}
	if _, err := srv.ListenTLS("127.0.0.1:0", keyFile, certFile); err == nil {
		t.Error("ListenTLS accepted swapped certificate and key files")
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}
