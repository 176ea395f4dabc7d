package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/smtp"
	"os"
	"strings"
	"time"
)

// ErrNoTLS is returned when a server that is not on a loopback address does not offer
// STARTTLS: nothing is sent to it, neither the password nor the message (which holds a live
// reset link).
var ErrNoTLS = errors.New("mail: the SMTP server offers no STARTTLS and its address is not loopback: refusing to send in clear")

// DefaultTimeout bounds one delivery when the context has no deadline of its own.
const DefaultTimeout = 30 * time.Second

// Options configure an SMTP sender. From is required; the zero value of the rest is what
// rampart uses.
type Options struct {
	// From is the sender, "site@example.com" or "Site <site@example.com>" (RAMPART_EMAIL_FROM).
	From string
	// Hello is the name given in EHLO. Empty means this machine's host name, or "localhost"
	// when that is not a usable name.
	Hello string
	// RootCAs verify the server's certificate. Nil means the system's roots (which
	// SSL_CERT_FILE and SSL_CERT_DIR can change).
	RootCAs *x509.CertPool
	// Timeout bounds a delivery whose context has no deadline (default DefaultTimeout).
	Timeout time.Duration
	// Now is the clock of the Date header. Nil means time.Now.
	Now func() time.Time
}

// SMTP sends messages to one SMTP server (a relay or submission service), one connection per
// message. Its rules are fixed, not options:
//
//   - smtp:// upgrades with STARTTLS whenever the server offers it, and requires it unless the
//     server's address (the connected peer, not the name) is a loopback address; otherwise it
//     fails with ErrNoTLS before sending anything. smtps:// is TLS from the start.
//   - The certificate is always verified against the URL's host.
//   - The password is sent (AUTH PLAIN, or LOGIN when PLAIN is not offered) only over TLS or
//     to a loopback peer, and only when the URL has one; a server that offers no usable AUTH
//     then fails the delivery instead of being used unauthenticated.
//
// SMTP sends synchronously and takes as long as the server (100 ms to seconds): put it
// behind a Queue, as rampart.New does, so that a reset request does not reveal by its
// timing whether the address has an account. Safe for concurrent use.
//
// Why net/smtp: it speaks EHLO, STARTTLS, AUTH and DATA (with dot-stuffing) correctly, and its
// Auth interface takes the LOGIN mechanism in a few lines. What it lacks, cancellation, is a
// deadline on the connection here; a library would add a dependency for nothing more.
type SMTP struct {
	url   URL
	from  *netmail.Address
	hello string
	tls   *tls.Config
	opts  Options
}

// New parses rawURL (see URL) and returns a sender. It does not connect: Probe does.
func New(rawURL string, opts Options) (*SMTP, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mail: RAMPART_EMAIL_URL %w", err)
	}
	from, err := address("From", opts.From)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hello := opts.Hello
	if hello == "" {
		hello, _ = os.Hostname()
	}
	if !hostName(hello) {
		hello = "localhost"
	}
	return &SMTP{url: u, from: from, hello: hello, opts: opts,
		tls: &tls.Config{ServerName: u.Host, RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}}, nil
}

// hostName reports whether s can be given in EHLO: letters, digits, '-' and '.'.
func hostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Send delivers m. It implements Mailer.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := address("To", m.To)
	if err != nil {
		return err
	}
	data, err := compose(s.from, to, m, s.opts.Now())
	if err != nil {
		return err
	}
	return s.session(ctx, true, func(c *smtp.Client) error {
		if err := c.Mail(s.from.Address); err != nil {
			return fmt.Errorf("mail: MAIL FROM: %w", err)
		}
		if err := c.Rcpt(to.Address); err != nil {
			return fmt.Errorf("mail: RCPT TO: %w", err)
		}
		w, err := c.Data()
		if err != nil {
			return fmt.Errorf("mail: DATA: %w", err)
		}
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("mail: DATA: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("mail: message refused: %w", err)
		}
		return nil
	})
}

// Probe connects as Send does, up to the point where it would authenticate, and reports
// whether a delivery could go ahead: the server answers, offers STARTTLS where it is required,
// presents a certificate that verifies, and offers AUTH PLAIN or LOGIN when the URL has a
// password. It sends no credentials and no mail (`rampart check` uses it).
func (s *SMTP) Probe(ctx context.Context) error {
	return s.session(ctx, false, nil)
}

// session dials, greets, secures and (when login) authenticates, then runs fn and QUITs.
func (s *SMTP) session(ctx context.Context, login bool, fn func(*smtp.Client) error) (err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
	}
	var conn net.Conn
	if s.url.ImplicitTLS {
		conn, err = (&tls.Dialer{Config: s.tls}).DialContext(ctx, "tcp", s.url.Addr())
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", s.url.Addr())
	}
	if err != nil {
		return fmt.Errorf("mail: connecting to %s: %w", s.url.Addr(), err)
	}
	defer conn.Close()
	loopback := isLoopback(conn.RemoteAddr())
	// net/smtp takes no context: the deadline ends every read and write, and cancellation
	// moves it to now.
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
	}()

	c, err := smtp.NewClient(conn, s.url.Host)
	if err != nil {
		return fmt.Errorf("mail: greeting from %s: %w", s.url.Addr(), err)
	}
	defer c.Close()
	if err := c.Hello(s.hello); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	secure := s.url.ImplicitTLS
	if !secure {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tls); err != nil {
				return fmt.Errorf("mail: STARTTLS with %s: %w", s.url.Host, err)
			}
			secure = true
		} else if !loopback {
			_ = c.Quit()
			return ErrNoTLS
		}
	}
	if s.url.Username != "" {
		a, err := s.auth(c, secure || loopback)
		if err != nil {
			_ = c.Quit()
			return err
		}
		if login {
			if err := c.Auth(a); err != nil {
				return fmt.Errorf("mail: AUTH: %w", err)
			}
		}
	}
	if fn != nil {
		if err := fn(c); err != nil {
			return err
		}
	}
	// The message was accepted at the end of DATA: a failed QUIT loses nothing.
	_ = c.Quit()
	return nil
}

// auth picks the mechanism: PLAIN, or LOGIN for servers that offer only that (Microsoft 365).
func (s *SMTP) auth(c *smtp.Client, safe bool) (smtp.Auth, error) {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return nil, errors.New("mail: the SMTP server offers no AUTH, but RAMPART_EMAIL_URL has a user name and password")
	}
	have := map[string]bool{}
	for _, m := range strings.Fields(strings.ToUpper(mechs)) {
		have[m] = true
	}
	switch {
	case have["PLAIN"]:
		return &plainAuth{user: s.url.Username, pass: s.url.Password, safe: safe}, nil
	case have["LOGIN"]:
		return &loginAuth{user: s.url.Username, pass: s.url.Password, safe: safe}, nil
	}
	return nil, fmt.Errorf("mail: the SMTP server offers AUTH %s, not PLAIN or LOGIN", mechs)
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.AddrPort().Addr().Unmap().IsLoopback()
}

// errClearAuth guards the mechanisms themselves: session already refuses this case, and the
// check here keeps a password off the wire whatever the caller does.
var errClearAuth = errors.New("mail: refusing to send the SMTP password without TLS")

// plainAuth is RFC 4616 PLAIN. net/smtp's PlainAuth judges "local" by the host name only
// (localhost, 127.0.0.1, ::1); this one is given the connected peer's verdict.
type plainAuth struct {
	user, pass string
	safe       bool
}

func (a *plainAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS && !a.safe {
		return "", nil, errClearAuth
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("mail: unexpected AUTH PLAIN challenge")
	}
	return nil, nil
}

// loginAuth is the LOGIN mechanism (draft-murchison-sasl-login): user name, then password,
// each asked for by the server.
type loginAuth struct {
	user, pass string
	safe       bool
	step       int
}

func (a *loginAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS && !a.safe {
		return "", nil, errClearAuth
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.pass), nil
	}
	return nil, errors.New("mail: unexpected AUTH LOGIN challenge")
}
