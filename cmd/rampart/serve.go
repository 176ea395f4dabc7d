package main

import (
	"bufio"
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
	"github.com/rampart-go/rampart/internal/app"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/signing"
	"github.com/rampart-go/rampart/store/open"
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
	stack, err := rampart.New(ctx, s, rampart.Options{Logger: logger})
	if err != nil {
		fail(stderr, err)
		return 1
	}
	defer func() {
		// Closing commits the SQLite store's deferred session updates: report a failure.
		if err := stack.Close(); err != nil {
			fmt.Fprintf(stderr, "rampart: closing the store: %v\n", err)
		}
	}()
	a, err := app.New(stack, app.Options{})
	if err != nil {
		fail(stderr, err)
		return 1
	}
	srv := &http.Server{
		Addr:              s.Addr,
		Handler:           stack.Handler(a),
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		fail(stderr, err)
		return 1
	}
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
	}
	mode := "production"
	if s.InsecureDev {
		mode = "insecure development (plain HTTP, no Secure cookies)"
	}
	if s.Debug {
		mode += ", debug error pages"
	}
	fmt.Fprintf(stdout, "rampart: reference app on %s://%s/  [%s; store %s]\n", scheme, displayAddr(ln.Addr().String()), mode, settings.RedactURL(s.DatabaseURL.Reveal()))
	errc := make(chan error, 2)
	go func() {
		if *certFile != "" {
			errc <- srv.ServeTLS(ln, *certFile, *keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	var plain *http.Server
	if *httpAddr != "" {
		pln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fail(stderr, err)
			return 1
		}
		// The same stack: its HTTPS redirect layer answers every plain request with a redirect.
		plain = &http.Server{Handler: srv.Handler, ReadHeaderTimeout: s.ReadHeaderTimeout, ReadTimeout: s.ReadTimeout,
			WriteTimeout: s.WriteTimeout, IdleTimeout: s.IdleTimeout, MaxHeaderBytes: srv.MaxHeaderBytes, ErrorLog: srv.ErrorLog}
		fmt.Fprintf(stdout, "rampart: plain HTTP on http://%s/ (redirects to HTTPS)\n", displayAddr(pln.Addr().String()))
		go func() { errc <- plain.Serve(pln) }()
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fail(stderr, err)
			return 1
		}
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		if plain != nil {
			_ = plain.Shutdown(shutdown)
		}
	}
	return 0
}

func displayAddr(a string) string {
	if ap, err := netip.ParseAddrPort(a); err == nil && ap.Addr().IsUnspecified() {
		return "127.0.0.1:" + fmt.Sprint(ap.Port())
	}
	return a
}

func withStack(stderr io.Writer, f func(ctx context.Context, st *rampart.Stack) int) int {
	s, ok := loadSettings(stderr)
	if !ok {
		return 1
	}
	ctx := context.Background()
	st, err := rampart.New(ctx, s, rampart.Options{Logger: slog.New(slog.NewTextHandler(stderr, nil)), Tool: true})
	if err != nil {
		fail(stderr, err)
		return 1
	}
	defer st.Close()
	return f(ctx, st)
}

func createUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("createuser", flag.ContinueOnError)
	fs.SetOutput(stderr)
	username := fs.String("username", "", "username (required)")
	email := fs.String("email", "", "e-mail address")
	staff := fs.Bool("staff", false, "may open /admin/security")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *username == "" || !*fromStdin {
		fmt.Fprintln(stderr, "usage: rampart createuser --username U [--email E] [--staff] --password-stdin  (the password is never taken from the command line)")
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "rampart: reading password: %v\n", err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	return withStack(stderr, func(ctx context.Context, st *rampart.Stack) int {
		u, err := st.Accounts.CreateUser(ctx, *username, *email, pw, *staff)
		if err != nil {
			fail(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "created user %q (id %s, staff %v)\n", u.Username, u.ID, u.IsStaff)
		return 0
	})
}

func unlock(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("unlock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	username := fs.String("username", "", "clear the lockouts of this username (all IPs)")
	ip := fs.String("ip", "", "clear the lockouts of this client IP")
	list := fs.Bool("list", false, "list what is locked")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *username == "" && *ip == "" && !*list {
		fmt.Fprintln(stderr, "usage: rampart unlock --username U | --ip A | --list")
		return 2
	}
	var addr netip.Addr
	if *ip != "" {
		var err error
		if addr, err = netip.ParseAddr(*ip); err != nil {
			fmt.Fprintf(stderr, "rampart: --ip: %v\n", err)
			return 2
		}
	}
	return withStack(stderr, func(ctx context.Context, st *rampart.Stack) int {
		if *list {
			entries, err := st.Lockout.Locked(ctx, 1000)
			if err != nil {
				fail(stderr, err)
				return 1
			}
			for _, e := range entries {
				fmt.Fprintf(stdout, "%-10s user=%q ip=%s failures=%d until=%s\n", e.Scope, e.Username, e.IP, e.Failures, e.Until.Format(time.RFC3339))
			}
			if len(entries) == 0 {
				fmt.Fprintln(stdout, "nothing is locked")
			}
		}
		if *username != "" {
			if err := st.Lockout.Unlock(ctx, *username); err != nil {
				fail(stderr, err)
				return 1
			}
			fmt.Fprintf(stdout, "unlocked username %q\n", *username)
		}
		if addr.IsValid() {
			if err := st.Lockout.UnlockIP(ctx, addr); err != nil {
				fail(stderr, err)
				return 1
			}
			fmt.Fprintf(stdout, "unlocked ip %s\n", addr)
		}
		return 0
	})
}

func migrate(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: rampart migrate  (uses RAMPART_DATABASE_URL)")
		return 2
	}
	s, ok := loadSettings(stderr)
	if !ok {
		return 1
	}
	if err := open.Migrate(context.Background(), s.DatabaseURL.Reveal()); err != nil {
		fmt.Fprintf(stderr, "rampart: migrate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "migrated %s\n", settings.RedactURL(s.DatabaseURL.Reveal()))
	return 0
}
