package check

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/settings"
)

// The findings about RAMPART_EMAIL_URL's server, from Live: it speaks plain SMTP only (W050),
// or cannot be used at all (W051).
const (
	idMailPlain    = "RAMPART-W050"
	idMailUnusable = "RAMPART-W051"
)

// liveOnlyIDs are the IDs only Live reports (IDs lists them with Run's).
var liveOnlyIDs = []string{idMailPlain, idMailUnusable}

const (
	mailPlainHint    = "turn STARTTLS on at the server, use its implicit-TLS port with smtps://, or send through a relay on this machine (smtp://localhost:25)"
	mailUnusableHint = "check the host and port, that the server's certificate is valid for that host and trusted here (SSL_CERT_FILE or SSL_CERT_DIR for a private CA), and that it offers AUTH PLAIN or LOGIN when the URL has a password"
)

// liveMail connects to the SMTP server of RAMPART_EMAIL_URL, if any, as the mailer would up to
// authentication (mail.SMTP.Probe: no password or mail is sent), within timeout. roots nil
// means the system's roots, as the server uses.
func liveMail(ctx context.Context, s settings.Settings, timeout time.Duration, roots *x509.CertPool) []Finding {
	if s.EmailURL == "" {
		return nil
	}
	u, err := mail.ParseURL(s.EmailURL.Reveal())
	if err != nil {
		return nil // an E000 finding already
	}
	sender, err := mail.New(s.EmailURL.Reveal(), mail.Options{From: "rampart-check@localhost", RootCAs: roots})
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = sender.Probe(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mail.ErrNoTLS):
		what := "mail (live password-reset links)"
		if u.Password != "" {
			what = "the SMTP password or mail (live password-reset links)"
		}
		return []Finding{{ID: idMailPlain, Severity: Warning, Hint: mailPlainHint, Message: fmt.Sprintf(
			"RAMPART_EMAIL_URL: %s speaks plain SMTP only (no STARTTLS): rampart refuses to send %s in clear beyond loopback, so no mail is delivered", u.Addr(), what)}}
	}
	return []Finding{{ID: idMailUnusable, Severity: Warning, Hint: mailUnusableHint, Message: fmt.Sprintf(
		"RAMPART_EMAIL_URL: %s cannot deliver mail: %v", u.Addr(), err)}}
}
