package mail

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		raw  string
		want URL
		err  string
	}{
		{"smtp://smtp.example.com", URL{Host: "smtp.example.com", Port: "587"}, ""},
		{"SMTP://smtp.example.com:25", URL{Host: "smtp.example.com", Port: "25"}, ""},
		{"smtps://smtp.example.com", URL{ImplicitTLS: true, Host: "smtp.example.com", Port: "465"}, ""},
		{"smtp://apikey:p%40ss%2Fw0rd@smtp.example.com:2525", URL{Host: "smtp.example.com", Port: "2525", Username: "apikey", Password: "p@ss/w0rd"}, ""},
		{"smtp://me%40example.com:pw@[::1]:1025/", URL{Host: "::1", Port: "1025", Username: "me@example.com", Password: "pw"}, ""},
		{" smtp://127.0.0.1:1025 ", URL{Host: "127.0.0.1", Port: "1025"}, ""},
		{"", URL{}, "smtp://"},
		{"smtp+tls://h", URL{}, "smtp://"},
		{"http://h", URL{}, "smtp://"},
		{"smtp:h", URL{}, "no host"},
		{"smtp://", URL{}, "no host"},
		{"smtp://:pw@", URL{}, "no host"},
		{"smtp://h:0", URL{}, "invalid port"},
		{"smtp://h:70000", URL{}, "invalid port"},
		{"smtp://h:", URL{}, "empty port"},
		{"smtp://h/path", URL{}, "path, query or fragment"},
		{"smtp://h?tls=none", URL{}, "path, query or fragment"},
		{"smtp://h?", URL{}, "path, query or fragment"},
		{"smtp://h#x", URL{}, "path, query or fragment"},
		{"smtp://user@h", URL{}, "both a user name and a password"},
		{"smtp://:secretpw@h", URL{}, "both a user name and a password"},
		{"smtp://u:pw%0d%0aRCPT@h", URL{}, "control character"},
		{"smtp://u:secretpw@h:bad", URL{}, "not a valid URL"},
	}
	for _, c := range cases {
		got, err := ParseURL(c.raw)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", c.raw, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseURL(%q) error %v; want one with %q", c.raw, err, c.err)
		case err != nil && (strings.Contains(err.Error(), "secretpw") || strings.Contains(err.Error(), "pw%0d")):
			t.Errorf("ParseURL(%q) error shows the password: %v", c.raw, err)
		}
	}
}

// TestLogShowsLinks: development mail goes to the log with its links, each a separate value a
// newcomer can copy, and on to Next.
func TestLogShowsLinks(t *testing.T) {
	var buf bytes.Buffer
	var next recorder
	l := Log{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Next: &next}
	m := Message{To: "ann@example.org", Subject: "Password reset",
		Body: "To choose a new password, open:\nhttp://localhost:8000/accounts/reset/abc-DEF_1\n\nor https://example.com/x?y=1.\n"}
	if err := l.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"to=ann@example.org", `subject="Password reset"`, "link=http://localhost:8000/accounts/reset/abc-DEF_1 ", `link="https://example.com/x?y=1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if len(next) != 1 || next[0] != m {
		t.Errorf("Next got %v", next)
	}
}

type recorder []Message

func (r *recorder) Send(_ context.Context, m Message) error {
	*r = append(*r, m)
	return nil
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"smtp://u:p@h:587", "smtps://h", "smtp://[::1]:25/", "smtp://u%40x:p%2F@h", "smtp://h?x#y", "smtp://:@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			return
		}
		if u.Host == "" || u.Port == "" || (u.Username == "") != (u.Password == "") {
			t.Fatalf("ParseURL(%q) = %+v", raw, u)
		}
		if strings.ContainsAny(u.Username+u.Password+u.Host, "\r\n\x00") {
			t.Fatalf("ParseURL(%q) let a control character through: %+v", raw, u)
		}
	})
}

// FuzzCompose: whatever the recipient, subject and body, a composed message has exactly
// rampart's headers, one recipient, the subject (line breaks folded) and the body back.
func FuzzCompose(f *testing.F) {
	f.Add("ann@example.org", "Password reset", "open:\nhttps://example.com/r/abc\n")
	f.Add("Ann <ann@example.org>", "Réinitialisation\r\nBcc: x@y", ".\r\n..\n\r\nend=3D")
	f.Add("\"a b\"@example.org", strings.Repeat("é", 150), strings.Repeat("x", 200)+"\n \t\n")
	from, _ := address("From", "Site <noreply@example.com>")
	f.Fuzz(func(t *testing.T, to, subject, body string) {
		rcpt, err := address("To", to)
		if err != nil {
			return
		}
		data, err := compose(from, rcpt, Message{To: to, Subject: subject, Body: body}, time.Unix(0, 0))
		if err != nil {
			return
		}
		msg, err := netmail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("composed message does not parse: %v\n%q", err, data)
		}
		if len(msg.Header) != 9 {
			t.Fatalf("headers %v", msg.Header)
		}
		if a, err := msg.Header.AddressList("To"); err != nil || len(a) != 1 || a[0].Address != rcpt.Address {
			t.Fatalf("To %q parses as %v, %v; want %q", msg.Header.Get("To"), a, err, rcpt.Address)
		}
		got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		want := strings.TrimSpace(strings.Join(strings.FieldsFunc(subject, func(r rune) bool { return r == '\r' || r == '\n' }), " "))
		if err != nil || got != want {
			t.Fatalf("Subject %q decodes to %q (%v); want %q", msg.Header.Get("Subject"), got, err, want)
		}
		for _, line := range bytes.Split(data, []byte("\r\n")) {
			if len(line) > 998 || bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("bad line %q", line)
			}
		}
		b, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if err != nil {
			t.Fatal(err)
		}
		norm := strings.NewReplacer("\r\n", "\n", "\r", "\n")
		if norm.Replace(string(b)) != norm.Replace(body) && norm.Replace(string(b)) != norm.Replace(body)+"\n" {
			t.Fatalf("body %q, want %q", b, body)
		}
	})
}
