package mail_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/smtptest"
	"github.com/rampart-go/rampart/mail"
)

const (
	user = "rampart@example.com" // a user name with '@', percent-encoded in the URL
	pass = "s3cret pass/word"
	from = "Rampart Site <noreply@example.com>"
)

// smtpURL is scheme://user:pass@addr with the credentials percent-encoded.
func smtpURL(scheme, addr string, creds bool) string {
	if !creds {
		return scheme + "://" + addr
	}
	return scheme + "://rampart%40example.com:s3cret%20pass%2Fword@" + addr
}

func newSender(t *testing.T, rawURL string, roots *x509.CertPool) *mail.SMTP {
	t.Helper()
	s, err := mail.New(rawURL, mail.Options{From: from, RootCAs: roots, Hello: "app.example.com",
		Now: func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func send(t *testing.T, s *mail.SMTP, m mail.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), smtptest.Safety)
	defer cancel()
	return s.Send(ctx, m)
}

var resetMail = mail.Message{
	To:      "Ann Example <ann@example.org>",
	Subject: "Réinitialisation du mot de passe",
	Body: "Someone asked to reset the password of the account ann.\n\nTo choose a new password, open:\n" +
		"https://example.com/accounts/reset/" + strings.Repeat("AbC-_9", 20) + "\n\n.\nA line with a lone dot above, and é.\n",
}

// verbs lists the commands of a conversation, with whether TLS was on for each.
func verbs(conv []smtptest.Event) []string {
	var out []string
	for _, e := range conv {
		if e.Event == "command" {
			v := e.Verb
			if e.TLS {
				v += "+tls"
			}
			out = append(out, v)
		}
	}
	return out
}

// checkMessage parses what the server received and compares it with m.
func checkMessage(t *testing.T, got smtptest.Event, m mail.Message) {
	t.Helper()
	if got.From != "noreply@example.com" || !slices.Equal(got.To, []string{"ann@example.org"}) {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	msg, err := netmail.ReadMessage(strings.NewReader(got.Data))
	if err != nil {
		t.Fatalf("the received message does not parse: %v\n%s", err, got.Data)
	}
	h := msg.Header
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject %q (decoded %q, %v), want %q", h.Get("Subject"), subject, err, m.Subject)
	}
	if a, err := h.AddressList("From"); err != nil || len(a) != 1 || a[0].Address != "noreply@example.com" || a[0].Name != "Rampart Site" {
		t.Errorf("From %q: %v %v", h.Get("From"), a, err)
	}
	if a, err := h.AddressList("To"); err != nil || len(a) != 1 || a[0].Address != "ann@example.org" {
		t.Errorf("To %q: %v %v", h.Get("To"), a, err)
	}
	if d, err := h.Date(); err != nil || !d.Equal(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)) {
		t.Errorf("Date %q: %v %v", h.Get("Date"), d, err)
	}
	for name, want := range map[string]string{
		"MIME-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"Auto-Submitted":            "auto-generated",
	} {
		if h.Get(name) != want {
			t.Errorf("%s: %q, want %q", name, h.Get(name), want)
		}
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q", id)
	}
	for _, line := range strings.Split(got.Data, "\r\n") {
		if len(line) > 78 {
			t.Errorf("line longer than 78 characters: %q", line)
		}
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if b := strings.ReplaceAll(string(body), "\r\n", "\n"); b != m.Body {
		t.Errorf("body %q\nwant %q", b, m.Body)
	}
}

// TestSend: the message arrives with the right headers and body, over TLS, authenticated, on
// each way of getting TLS; STARTTLS comes before AUTH.
func TestSend(t *testing.T) {
	cases := []struct {
		name   string
		scheme string
		tls    smtptest.TLSMode
		mechs  string
		want   []string // the commands the server saw
	}{
		{"starttls plain", "smtp", smtptest.StartTLS, "", []string{"EHLO", "STARTTLS", "EHLO+tls", "AUTH+tls", "MAIL+tls", "RCPT+tls", "DATA+tls", "QUIT+tls"}},
		{"starttls login", "smtp", smtptest.StartTLS, "LOGIN", []string{"EHLO", "STARTTLS", "EHLO+tls", "AUTH+tls", "MAIL+tls", "RCPT+tls", "DATA+tls", "QUIT+tls"}},
		{"implicit tls", "smtps", smtptest.Implicit, "", []string{"EHLO+tls", "AUTH+tls", "MAIL+tls", "RCPT+tls", "DATA+tls", "QUIT+tls"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Config{TLS: c.tls, User: user, Pass: pass, Mechs: c.mechs})
			s := newSender(t, smtpURL(c.scheme, srv.Addr, true), srv.Roots)
			if err := send(t, s, resetMail); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Message(t)
			if !got.TLS || got.User != user {
				t.Errorf("message received with TLS %v, authenticated as %q; want TLS as %q", got.TLS, got.User, user)
			}
			checkMessage(t, got, resetMail)
			if v := verbs(srv.Conversation(t)); !slices.Equal(v, c.want) {
				t.Errorf("commands %v, want %v", v, c.want)
			}
		})
	}
}

// TestRefusesCleartextToAnotherMachine: a server on a non-loopback address that offers no
// STARTTLS (and would take AUTH in clear) gets neither the password nor the message; with
// STARTTLS the same address works.
func TestRefusesCleartextToAnotherMachine(t *testing.T) {
	ip := smtptest.NonLoopbackIP(t)
	for _, creds := range []bool{true, false} {
		srv := smtptest.Start(t, smtptest.Config{Listen: net.JoinHostPort(ip, "0"), User: user, Pass: pass, AuthInClear: true})
		s := newSender(t, smtpURL("smtp", srv.Addr, creds), nil)
		if err := send(t, s, resetMail); !errors.Is(err, mail.ErrNoTLS) {
			t.Errorf("credentials %v: Send to %s without STARTTLS: %v, want ErrNoTLS", creds, srv.Addr, err)
		}
		if v := verbs(srv.Conversation(t)); !slices.Equal(v, []string{"EHLO", "QUIT"}) {
			t.Errorf("credentials %v: the server saw %v, want EHLO and QUIT only (no AUTH, no MAIL)", creds, v)
		}
		if err := s.Probe(context.Background()); !errors.Is(err, mail.ErrNoTLS) {
			t.Errorf("Probe: %v, want ErrNoTLS", err)
		}
	}

	srv := smtptest.Start(t, smtptest.Config{Listen: net.JoinHostPort(ip, "0"), TLS: smtptest.StartTLS, User: user, Pass: pass})
	if err := send(t, newSender(t, smtpURL("smtp", srv.Addr, true), srv.Roots), resetMail); err != nil {
		t.Fatalf("Send with STARTTLS to %s: %v", srv.Addr, err)
	}
	if got := srv.Message(t); !got.TLS || got.User != user {
		t.Errorf("TLS %v, user %q", got.TLS, got.User)
	}
}

// TestLoopbackWithoutTLS: on loopback, plain SMTP (and AUTH) is allowed: the connection never
// leaves the machine (a local relay).
func TestLoopbackWithoutTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{User: user, Pass: pass, AuthInClear: true})
	if err := send(t, newSender(t, smtpURL("smtp", srv.Addr, true), nil), resetMail); err != nil {
		t.Fatal(err)
	}
	got := srv.Message(t)
	if got.TLS || got.User != user {
		t.Errorf("TLS %v, user %q; want a plain authenticated delivery", got.TLS, got.User)
	}
	checkMessage(t, got, resetMail)
}

// TestFailures: each delivery that must not happen, and what the server saw.
func TestFailures(t *testing.T) {
	cases := []struct {
		name   string
		cfg    smtptest.Config
		url    func(addr string) string
		trust  bool
		errHas string
		saw    []string
	}{
		// The certificate is verified even on loopback: nothing after the handshake.
		{"untrusted certificate", smtptest.Config{TLS: smtptest.StartTLS, User: user, Pass: pass},
			func(a string) string { return smtpURL("smtp", a, true) }, false, "certificate", []string{"EHLO", "STARTTLS"}},
		{"untrusted certificate smtps", smtptest.Config{TLS: smtptest.Implicit, User: user, Pass: pass},
			func(a string) string { return smtpURL("smtps", a, true) }, false, "certificate", nil},
		{"wrong password", smtptest.Config{TLS: smtptest.StartTLS, User: user, Pass: "other"},
			func(a string) string { return smtpURL("smtp", a, true) }, true, "535", []string{"EHLO", "STARTTLS", "EHLO+tls", "AUTH+tls", "*+tls", "QUIT+tls"}},
		{"no AUTH offered", smtptest.Config{TLS: smtptest.StartTLS},
			func(a string) string { return smtpURL("smtp", a, true) }, true, "offers no AUTH", []string{"EHLO", "STARTTLS", "EHLO+tls", "QUIT+tls"}},
		{"no usable mechanism", smtptest.Config{TLS: smtptest.StartTLS, User: user, Pass: pass, Mechs: "CRAM-MD5"},
			func(a string) string { return smtpURL("smtp", a, true) }, true, "not PLAIN or LOGIN", []string{"EHLO", "STARTTLS", "EHLO+tls", "QUIT+tls"}},
		{"server requires AUTH, URL has none", smtptest.Config{TLS: smtptest.StartTLS, User: user, Pass: pass},
			func(a string) string { return smtpURL("smtp", a, false) }, true, "530", []string{"EHLO", "STARTTLS", "EHLO+tls", "MAIL+tls"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.Start(t, c.cfg)
			var roots *x509.CertPool
			if c.trust {
				roots = srv.Roots
			}
			err := send(t, newSender(t, c.url(srv.Addr), roots), resetMail)
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Fatalf("Send: %v, want an error with %q", err, c.errHas)
			}
			if strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
			if v := verbs(srv.Conversation(t)); !slices.Equal(v, c.saw) {
				t.Errorf("the server saw %v, want %v", v, c.saw)
			}
		})
	}
}

// TestProbe: Probe goes as far as Send would before authenticating, and sends nothing.
func TestProbe(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{TLS: smtptest.StartTLS, User: user, Pass: pass})
	if err := newSender(t, smtpURL("smtp", srv.Addr, true), srv.Roots).Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := verbs(srv.Conversation(t)); !slices.Equal(v, []string{"EHLO", "STARTTLS", "EHLO+tls", "QUIT+tls"}) {
		t.Errorf("Probe sent %v", v)
	}
}

// TestSendHonoursContext: a server that never greets does not hold Send past its context.
func TestSendHonoursContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close() // held open, silent, until the test ends
		close(accepted)
		io.Copy(io.Discard, c)
	}()
	s := newSender(t, smtpURL("smtp", ln.Addr().String(), true), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, resetMail) }()
	<-accepted // Send waits for the greeting
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(smtptest.Safety):
		t.Fatal("Send did not return after its context was cancelled")
	}
}

// TestHeaderInjection: a recipient or sender that would add a header or an SMTP command is
// refused before any connection; line breaks in a subject stay inside the Subject header.
func TestHeaderInjection(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{TLS: smtptest.StartTLS, User: user, Pass: pass})
	s := newSender(t, smtpURL("smtp", srv.Addr, true), srv.Roots)
	for _, to := range []string{"ann@example.org\r\nBcc: eve@example.net", "ann@example.org>\r\nRCPT TO:<eve@example.net", "ann@example.org, eve@example.net", "", "not an address"} {
		if err := send(t, s, mail.Message{To: to, Subject: "x", Body: "y"}); err == nil {
			t.Errorf("To %q was accepted", to)
		}
	}
	if _, err := mail.New(smtpURL("smtp", srv.Addr, true), mail.Options{From: "a@example.com\r\nBcc: eve@example.net"}); err == nil {
		t.Error("a From with a line break was accepted")
	}
	m := mail.Message{To: "ann@example.org", Subject: "Hello\r\nBcc: eve@example.net", Body: "hi\n"}
	if err := send(t, s, m); err != nil {
		t.Fatal(err)
	}
	got := srv.Message(t)
	msg, err := netmail.ReadMessage(strings.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" || !slices.Equal(got.To, []string{"ann@example.org"}) {
		t.Errorf("the subject added a header or a recipient: %q, %v", msg.Header, got.To)
	}
	if subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); subj != "Hello Bcc: eve@example.net" {
		t.Errorf("Subject %q", subj)
	}
}
