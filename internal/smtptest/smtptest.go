// Package smtptest starts a real SMTP server process for tests (the smtpd program beside it,
// built with the go command) and reads what it received: commands, authentications and
// messages, each with whether TLS was on. Certificates are self-signed, made per server.
package smtptest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Safety bounds every wait for the server: a hung server fails the test instead of hanging it.
// It is far longer than anything should take, never a threshold.
const Safety = 30 * time.Second

// TLSMode is what the server offers.
type TLSMode int

// TLS modes.
const (
	NoTLS    TLSMode = iota // plain SMTP only
	StartTLS                // STARTTLS offered
	Implicit                // TLS from the first byte (smtps)
)

// Config describes the server to start.
type Config struct {
	// Listen is the address to listen on; "" means 127.0.0.1:0.
	Listen string
	TLS    TLSMode
	// User and Pass are the credentials AUTH accepts; empty User: no AUTH offered.
	User, Pass string
	// AuthInClear offers AUTH before STARTTLS too, as a badly configured server would.
	AuthInClear bool
	// Mechs are the AUTH mechanisms offered (default "PLAIN LOGIN").
	Mechs string
}

// Event is one thing the server saw (see smtpd's Event).
type Event struct {
	Event string   `json:"event"`
	Conn  int64    `json:"conn"`
	Addr  string   `json:"addr"`
	TLS   bool     `json:"tls"`
	Verb  string   `json:"verb"`
	Arg   string   `json:"arg"`
	Mech  string   `json:"mech"`
	User  string   `json:"user"`
	OK    bool     `json:"ok"`
	From  string   `json:"from"`
	To    []string `json:"to"`
	Data  string   `json:"data"`
}

// Server is a running smtpd process.
type Server struct {
	// Addr is host:port.
	Addr string
	// Roots trust the server's certificate; CertFile is that certificate in PEM (a CA file for
	// SSL_CERT_FILE).
	Roots    *x509.CertPool
	CertFile string

	events chan Event
	seen   map[int64][]Event // per connection, for Conversation
}

// Start builds smtpd, runs it with c and waits until it listens; it is killed when the test
// ends.
func Start(t testing.TB, c Config) *Server {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "smtpd")
	if err := os.WriteFile(bin, program(t), 0o700); err != nil {
		t.Fatal(err)
	}
	listen := c.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	s := &Server{events: make(chan Event, 256), seen: map[int64][]Event{}}
	args := []string{"-listen", listen}
	if c.TLS != NoTLS {
		host, _, _ := net.SplitHostPort(listen)
		s.CertFile, s.Roots = selfSigned(t, dir, host)
		args = append(args, "-cert", s.CertFile, "-key", filepath.Join(dir, "key.pem"))
		if c.TLS == Implicit {
			args = append(args, "-implicit")
		}
	}
	if c.User != "" {
		args = append(args, "-user", c.User, "-pass", c.Pass)
	}
	if c.AuthInClear {
		args = append(args, "-auth-in-clear")
	}
	if c.Mechs != "" {
		args = append(args, "-mechs", c.Mechs)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	for try := 0; ; try++ {
		err = cmd.Start()
		// A fork elsewhere in the process may briefly hold the binary open for writing.
		if !errors.Is(err, syscall.ETXTBSY) || try == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond)
		cmd = exec.Command(bin, args...)
		cmd.Stderr = os.Stderr
		if stdout, err = cmd.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				s.events <- e
			}
		}
	}()
	s.Addr = s.next(t, "listening").Addr
	return s
}

var (
	buildOnce sync.Once
	binary    []byte
	buildErr  error
)

// program returns the smtpd executable, built once per test process (the build directory is
// removed at once; each server runs its own copy from its test's directory).
func program(t testing.TB) []byte {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smtptest-")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "smtpd")
		build := exec.Command("go", "build", "-o", bin, "./internal/smtptest/smtpd")
		build.Dir = moduleRoot()
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building smtpd: %v\n%s", err, out)
			return
		}
		binary, buildErr = os.ReadFile(bin)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// moduleRoot is the directory of go.mod, found from this file (tests may have changed
// directory).
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// next returns the next event of kind, recording every event on the way.
func (s *Server) next(t testing.TB, kind string) Event {
	t.Helper()
	timeout := time.After(Safety)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatalf("smtpd exited while the test waited for %q", kind)
			}
			if e.Conn != 0 {
				s.seen[e.Conn] = append(s.seen[e.Conn], e)
			}
			if e.Event == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("smtpd: no %q event within %v", kind, Safety)
		}
	}
}

// Message waits for the next message the server accepted.
func (s *Server) Message(t testing.TB) Event {
	t.Helper()
	return s.next(t, "message")
}

// Conversation waits until the next connection to close and returns everything the server saw
// on it, in order. Use it after a client gave up, to see what the client sent.
func (s *Server) Conversation(t testing.TB) []Event {
	t.Helper()
	e := s.next(t, "close")
	return s.seen[e.Conn]
}

// NonLoopbackIP returns an address of this machine that is not loopback (for a server that
// must count as another machine), or skips the test when there is none.
func NonLoopbackIP(t testing.TB) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine: cannot test a server on another address")
	return ""
}

// selfSigned writes a self-signed certificate for host (plus localhost and the loopback
// addresses) and its key into dir, and returns the certificate's file and a pool trusting it.
func selfSigned(t testing.TB, dir, host string) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && !ip.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if host != "" && ip == nil {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, pool
}
