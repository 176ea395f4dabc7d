package scan

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// Handler grades h as [Scan] grades a live site, in process: for an application's own tests
// ("the login page still earns an A+"), with no deployment, proxy or certificate. h is served
// on one loopback port that speaks both plain HTTP and TLS (with a certificate made for the
// occasion and trusted for this scan only), so the HTTP-to-HTTPS redirect, HSTS, cookies,
// CSP and the active probes are judged as on a real site. h sees the Host "127.0.0.1:PORT";
// an allowed-hosts layer in h must accept 127.0.0.1. opts.RootCAs, HTTPURL and HTTPSURL are
// set by Handler; NoTLSProbe is forced, since the test certificate and Go's TLS stack say
// nothing about the site's real TLS.
func Handler(ctx context.Context, h http.Handler, opts Options) (Report, error) {
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = false
	srv.StartTLS() // makes the certificate and srv.TLS; its own listener is replaced below
	cert := srv.Certificate()
	cfg := srv.TLS.Clone()
	srv.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Report{}, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: firstByteWait}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(&sniffListener{Listener: ln, tls: cfg})
	}()
	defer func() {
		_ = hs.Close()
		<-done
	}()

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	addr := ln.Addr().String()
	opts.RootCAs = pool
	opts.HTTPURL = "http://" + addr + "/"
	opts.HTTPSURL = "https://" + addr + "/"
	opts.NoTLSProbe = true
	return Scan(ctx, "https://"+addr+"/", opts)
}

// sniffListener serves TLS and plain HTTP on one port: a connection whose first byte is a TLS
// handshake record (0x16) is wrapped in tls.Server, any other is served as plain HTTP.
// net/http sets Request.TLS only for a *tls.Conn, so the choice is made in Accept, with a
// bounded wait for the first byte: the server is private to one scan, whose client always
// writes first. Hand-written because the standard library serves one protocol per listener,
// and "redirect http://host:port to https://host:port" is what the scan must see work.
type sniffListener struct {
	net.Listener
	tls *tls.Config
}

// firstByteWait bounds how long Accept waits for a connection's first byte.
const firstByteWait = 5 * time.Second

func (l *sniffListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		r := bufio.NewReader(c)
		_ = c.SetReadDeadline(time.Now().Add(firstByteWait))
		b, err := r.Peek(1)
		_ = c.SetReadDeadline(time.Time{})
		if err != nil {
			_ = c.Close() // nothing sent: not a request of this scan
			continue
		}
		pc := &peekedConn{Conn: c, r: r}
		if b[0] == 0x16 {
			return tls.Server(pc, l.tls), nil
		}
		return pc, nil
	}
}

// peekedConn replays what the sniffer buffered.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
