package mail

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
)

// links finds the URLs in a body: what a newcomer needs from a reset or confirmation mail.
var links = regexp.MustCompile(`https?://[^\s<>"]+`)

// Log writes each message's recipient, subject and links to a logger instead of sending it,
// then hands it to Next when set: for development without an SMTP server, so that a newcomer
// can follow a password-reset or confirmation link from the terminal. rampart.New uses it in
// debug and development modes when RAMPART_EMAIL_URL is unset, and auth.New when given no
// Mailer.
//
// The log then holds live links, each a credential for its account until used or expired: never
// use Log where logs are shared.
type Log struct {
	// Logger receives one Info record per message; nil means slog.Default().
	Logger *slog.Logger
	// Next also receives each message when set (rampart.New passes its in-memory Outbox).
	Next Mailer
}

// Send implements Mailer.
func (l Log) Send(ctx context.Context, m Message) error {
	lg := l.Logger
	if lg == nil {
		lg = slog.Default()
	}
	attrs := []slog.Attr{slog.String("to", m.To), slog.String("subject", m.Subject)}
	for _, u := range links.FindAllString(m.Body, 8) {
		// A link that ends a sentence does not take its full stop along.
		attrs = append(attrs, slog.String("link", strings.TrimRight(u, ".,;:!?)'")))
	}
	lg.LogAttrs(ctx, slog.LevelInfo, "mail not sent (development: no RAMPART_EMAIL_URL)", attrs...)
	if l.Next != nil {
		return l.Next.Send(ctx, m)
	}
	return nil
}
