package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/hosts"
	"github.com/rampart-go/rampart/internal/app"
	"github.com/rampart-go/rampart/metrics"
	"github.com/rampart-go/rampart/server"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/signing"
)

// devKeyFile keeps the generated development key between runs, so restarting the dev server
// does not log everyone out. It is only used when RAMPART_INSECURE_DEV or RAMPART_DEBUG is on
// and no key is configured.
const devKeyFile = ".rampart-dev-key"

func loadSettings(stderr io.Writer) (settings.Settings, bool) {
	s, err := settings.Load()
	if err != nil {
		fail(stderr, err)
		return s, false
	}
	if s.SecretKeyEphemeral {
		if b, err := os.ReadFile(devKeyFile); err == nil && signing.KeyProblem(strings.TrimSpace(string(b))) == nil {
			s.SecretKey = settings.Secret(strings.TrimSpace(string(b)))
		} else if err := os.WriteFile(devKeyFile, []byte(s.SecretKey.Reveal()+"\n"), 0o600); err != nil {
			fmt.Fprintf(stderr, "rampart: warning: could not keep the dev key in %s: %v\n", devKeyFile, err)
		}
	}
	return s, true
}

func serve(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveContext(ctx, args, stdout, stderr)
}

// serveContext is serve until ctx ends (a signal, or a test), then a graceful shutdown.
func serveContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	certFile := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	keyFile := fs.String("tls-key", "", "private key for --tls-cert (PEM)")
	httpAddr := fs.String("http-addr", "", "with --tls-cert: also listen for plain HTTP here (requests are redirected to HTTPS; set RAMPART_SSL_HOST to the HTTPS host:port when it is not 443)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *httpAddr != "" && *certFile == "" {
		fmt.Fprintln(stderr, "rampart: --http-addr needs --tls-cert (plain HTTP alone is served on RAMPART_ADDR)")
		return 2
	}
	s, ok := loadSettings(stderr)
	if !ok {
		return 1
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Metrics only when asked for: they are served on a listener of their own (below).
	var m *metrics.Metrics
	opts := rampart.Options{Logger: logger}
	if s.MetricsAddr != "" {
		m = metrics.New()
		opts.Observer = m
	}
	stack, err := rampart.New(ctx, s, opts)
	if err != nil {
		fail(stderr, err)
		return 1
	}
	// Before the first request: a login burst is what the limit is for (memlimit.go).
	memLimit, limiter := applyMemoryLimit(os.Getenv, stack.Accounts.Hasher().MemoryInFlightMiB(), setMemoryLimit)
	if limiter != nil {
		defer limiter.stop()
	}
	a, err := app.New(stack, app.Options{})
	if err != nil {
		stack.Close()
		fail(stderr, err)
		return 1
	}
	// The timeouts, slow-client limits and graceful shutdown every adopter gets (package
	// server); both listeners share one per-address connection cap.
	srv := server.New(s, stack.Handler(a), server.Options{Logger: logger})
	var listeners []net.Listener
	listen := func(ln net.Listener, err error) bool {
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			stack.Close()
			fail(stderr, err)
			return false
		}
		listeners = append(listeners, ln)
		return true
	}
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
		if !listen(srv.ListenTLS(s.Addr, *certFile, *keyFile)) {
			return 1
		}
	} else if !listen(srv.Listen(s.Addr)) {
		return 1
	}
	mode := "production"
	if s.InsecureDev {
		mode = "insecure development (plain HTTP, no Secure cookies)"
	}
	if s.Debug {
		mode += ", debug error pages"
	}
	fmt.Fprintf(stdout, "rampart: reference app on %s://%s/  [%s; store %s]\n", scheme, displayAddr(listeners[0].Addr().String(), s.AllowedHosts), mode, settings.RedactURL(s.DatabaseURL.Reveal()))
	if *httpAddr != "" {
		// The same server and stack: its HTTPS redirect layer answers every plain request
		// with a redirect.
		if !listen(srv.Listen(*httpAddr)) {
			return 1
		}
		fmt.Fprintf(stdout, "rampart: plain HTTP on http://%s/ (redirects to HTTPS)\n", displayAddr(listeners[1].Addr().String(), s.AllowedHosts))
	}
	if m != nil {
		ms, err := serveMetrics(s.MetricsAddr, m, logger)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			stack.Close()
			fail(stderr, err)
			return 1
		}
		defer ms.stop()
		fmt.Fprintf(stdout, "rampart: Prometheus metrics on http://%s/metrics (RAMPART_METRICS_ADDR)\n", ms.addr)
	}
	fmt.Fprintf(stdout, "rampart: %s\n", memLimit)
	// Run closes the stack last: that commits the SQLite store's deferred session updates
	// and sends the queued mail, so its failure is reported.
	if err := srv.Run(ctx, stack, listeners...); err != nil {
		fail(stderr, err)
		return 1
	}
	return 0
}

// serveMetrics serves m at /metrics on addr (RAMPART_METRICS_ADDR), apart from the
// application's listener and stack: a scraper has no session, and the application's
// hosts, CSRF and rate limits must not count or refuse it. Only /metrics is answered.
func serveMetrics(addr string, m *metrics.Metrics, log *slog.Logger) (metricsStopper, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return metricsStopper{}, fmt.Errorf("RAMPART_METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	return metricsStopper{addr: ln.Addr().String(), stop: func() { _ = srv.Close() }}, nil
}

// metricsStopper is the metrics listener's bound address and how to close it.
type metricsStopper struct {
	addr string
	stop func()
}

// displayAddr is the host:port to print for a listener's address a. A loopback or wildcard
// listener is shown as localhost when ALLOWED_HOSTS admits it: WebAuthn takes the relying party
// ID from the host the browser used and refuses an IP address, so passkeys only work in
// development on http://localhost:PORT (browsers also treat localhost as a secure context).
func displayAddr(a string, allowed []string) string {
	ap, err := netip.ParseAddrPort(a)
	if err != nil {
		return a
	}
	ip, port := ap.Addr().Unmap(), fmt.Sprint(ap.Port())
	if !ip.IsLoopback() && !ip.IsUnspecified() {
		return a
	}
	if c, err := hosts.New(hosts.Options{Allowed: allowed}); err == nil && c.Check("localhost:"+port) == nil {
		return "localhost:" + port
	}
	if ip.IsUnspecified() {
		return "127.0.0.1:" + port
	}
	return a
}
