package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one plain-text e-mail.
type Message struct {
	// To is the recipient's address, "user@example.com" (or "Name <user@example.com>").
	To string
	// Subject is any UTF-8 text; it is encoded (RFC 2047) as needed.
	Subject string
	// Body is UTF-8 text; line breaks may be \n or \r\n.
	Body string
}

// maxSubject bounds the subject (in bytes, before encoding), so the encoded header stays well
// under SMTP's 998-byte line limit.
const maxSubject = 400

// address parses one address of a header or envelope, refusing anything that could smuggle a
// header or a command: control characters, group syntax, several addresses.
func address(what, s string) (*netmail.Address, error) {
	if strings.ContainsAny(s, "\x00\r\n") || !utf8.ValidString(s) {
		return nil, fmt.Errorf("mail: %s address has a control character or is not UTF-8", what)
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("mail: %s address: %w", what, err)
	}
	if strings.ContainsAny(a.Address, "<>\x00\r\n ") {
		return nil, fmt.Errorf("mail: %s address %q cannot be used in SMTP", what, a.Address)
	}
	return a, nil
}

// compose renders m as an RFC 5322 message with CRLF line ends: headers, then the body in
// quoted-printable, which keeps every line short and 7-bit whatever the text.
func compose(from, to *netmail.Address, m Message, now time.Time) ([]byte, error) {
	if !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Body) {
		return nil, errors.New("mail: subject or body is not UTF-8")
	}
	if len(m.Subject) > maxSubject {
		return nil, fmt.Errorf("mail: subject longer than %d bytes", maxSubject)
	}
	// Line breaks in a subject are no header's business: fold them to spaces (the encoder
	// would otherwise carry them, encoded, into the recipient's view).
	subject := strings.TrimSpace(strings.Join(strings.FieldsFunc(m.Subject, func(r rune) bool { return r == '\r' || r == '\n' }), " "))
	var id [16]byte
	_, _ = rand.Read(id[:])
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	// RFC 3834: no out-of-office replies or bounces to auto-responders for a reset link.
	header("Auto-Submitted", "auto-generated")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	// Line breaks become \n here and CRLF in the writer. (Left to the writer, a lone \r
	// followed by an encoded byte and \n loses the \n: its "CR seen" state survives the byte.)
	body := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(m.Body)
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// CheckAddress reports whether s can be a sender or recipient: one address, optionally with a
// display name, without control characters (settings uses it for RAMPART_EMAIL_FROM).
func CheckAddress(s string) error {
	_, err := address("the", s)
	return err
}
