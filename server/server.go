// Package server runs an http.Handler the way rampart's settings describe: an http.Server with
// the header, read, write and idle timeouts and a header size cap, the slow-client limits (a
// deadline on request bodies, a cap on connections per client address), and a graceful
// shutdown that lets in-flight requests finish and then closes the stack, which commits
// SQLite's deferred writes and sends the queued mail.
//
//	srv := server.New(s, stack.Handler(mux), server.Options{})
//	err := srv.Run(ctx, stack) // until ctx ends, SIGINT or SIGTERM
//
// rampart.Stack.Serve is those two lines; `rampart serve` uses the same code. Calling
// http.ListenAndServe instead leaves every timeout off (a client can hold a connection
// forever) and, stopped by a signal, loses what the stack had not yet written.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rampart-go/rampart/settings"
)

// DefaultMaxHeaderBytes caps a request's header block. net/http's own default is 1 MiB; real
// browsers send a few KiB, and cookies are capped at 4 KiB each.
const DefaultMaxHeaderBytes = 64 << 10

// DefaultShutdownTimeout is Options.ShutdownTimeout when zero: below the 30 s that systemd and
// Kubernetes wait between SIGTERM and SIGKILL, leaving time to close the stack.
const DefaultShutdownTimeout = 10 * time.Second

// The timeouts used when a field of the settings is zero (a Settings not made by
// settings.Load): the same as the settings' defaults, so that no timeout is ever off.
const (
	defaultReadHeaderTimeout = 5 * time.Second
	defaultReadTimeout       = 30 * time.Second
	defaultWriteTimeout      = 60 * time.Second
	defaultIdleTimeout       = 120 * time.Second
)

// Options are what the settings do not say. The zero value is what rampart uses.
type Options struct {
	// Logger receives the server's errors (as http.Server.ErrorLog, at warning level), the
	// slow-client refusals and the shutdown. Nil means slog.Default().
	Logger *slog.Logger
	// ShutdownTimeout is how long Run waits for in-flight requests once told to stop; then
	// their connections are closed. Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// Server is an http.Server built from the settings, with the slow-client limits. Change the
// embedded http.Server (TLSConfig, BaseContext...) before Run if needed.
type Server struct {
	*http.Server
	conns           *ConnLimit
	logger          *slog.Logger
	shutdownTimeout time.Duration
}

// New returns a server for h on s.Addr with s's timeouts (ReadHeaderTimeout, ReadTimeout,
// WriteTimeout, IdleTimeout; any zero one takes the settings' default), headers capped at
// DefaultMaxHeaderBytes, request bodies under BodyGuard (BodyTimeout, BodyMinRate, never past
// ReadTimeout) and, for the listeners from Listen, ListenTLS and Run, at most s.MaxConnsPerIP
// connections per client address (TrustedProxies exempt).
func New(s settings.Settings, h http.Handler, opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	read := cmp.Or(s.ReadTimeout, defaultReadTimeout)
	return &Server{
		Server: &http.Server{
			Addr: s.Addr,
			Handler: BodyGuard(BodyLimits{Timeout: s.BodyTimeout, MinRate: s.BodyMinRate, Ceiling: read,
				MaxBody: s.MaxBodyBytes, Logger: log})(h),
			ReadHeaderTimeout: cmp.Or(s.ReadHeaderTimeout, defaultReadHeaderTimeout),
			ReadTimeout:       read,
			WriteTimeout:      cmp.Or(s.WriteTimeout, defaultWriteTimeout),
			IdleTimeout:       cmp.Or(s.IdleTimeout, defaultIdleTimeout),
			MaxHeaderBytes:    DefaultMaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		conns:           NewConnLimit(s.MaxConnsPerIP, s.TrustedProxies, log),
		logger:          log,
		shutdownTimeout: cmp.Or(opts.ShutdownTimeout, DefaultShutdownTimeout),
	}
}

// Listen opens a TCP listener on addr ("" means srv.Addr) under the per-address connection cap,
// which every listener of srv shares.
func (srv *Server) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", cmp.Or(addr, srv.Addr))
	if err != nil {
		return nil, err
	}
	return srv.conns.Wrap(ln), nil
}

// ListenTLS is Listen serving HTTPS (HTTP/2 and HTTP/1.1) with the certificate chain and key in
// the PEM files certFile and keyFile, from srv.TLSConfig when set. Connections are capped
// before the TLS handshake.
func (srv *Server) ListenTLS(addr, certFile, keyFile string) (net.Listener, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if srv.TLSConfig != nil {
		cfg = srv.TLSConfig.Clone()
	}
	cfg.Certificates = append(cfg.Certificates, cert)
	if len(cfg.NextProtos) == 0 {
		// http.Server.Serve sets HTTP/2 up for a TLS listener it did not make when its own
		// TLSConfig is nil, and serves "h2" connections with it.
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	ln, err := srv.Listen(addr)
	if err != nil {
		return nil, err
	}
	return tls.NewListener(ln, cfg), nil
}

// Run serves on each listener (none: Listen(srv.Addr)) until ctx ends, the process gets
// SIGINT or SIGTERM, or a listener fails. Then it shuts down gracefully: the listeners close at
// once, requests in flight get up to the shutdown timeout to finish (then their connections are
// closed), and last stack is closed when not nil (rampart.Stack: it commits SQLite's deferred
// session and audit writes and sends the queued mail). A second signal during the shutdown
// ends the process as usual.
//
// Run returns nil after a requested stop in which everything finished, and otherwise what
// failed: serving, requests still running at the shutdown timeout, closing the stack.
func (srv *Server) Run(ctx context.Context, stack io.Closer, listeners ...net.Listener) error {
	if len(listeners) == 0 {
		ln, err := srv.Listen("")
		if err != nil {
			return closeAlso(fmt.Errorf("server: %w", err), stack)
		}
		listeners = append(listeners, ln)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, len(listeners))
	for _, ln := range listeners {
		go func() { errc <- srv.Serve(ln) }()
	}
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("server: %w", err)
	case <-ctx.Done():
		stop() // a second signal ends the process
		srv.logger.Info("server: shutting down; waiting for requests in flight", "timeout", srv.shutdownTimeout)
	}
	shutdown, cancel := context.WithTimeout(context.Background(), srv.shutdownTimeout)
	defer cancel()
	var shutdownErr error
	if err := srv.Shutdown(shutdown); err != nil {
		shutdownErr = fmt.Errorf("server: requests still running after %v were cut off: %w", srv.shutdownTimeout, err)
		_ = srv.Close()
	}
	return closeAlso(errors.Join(serveErr, shutdownErr), stack)
}

// closeAlso closes stack (when not nil) and adds its error to err.
func closeAlso(err error, stack io.Closer) error {
	if stack == nil {
		return err
	}
	if cerr := stack.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("server: closing the stack: %w", cerr))
	}
	return err
}
