// Package mail delivers rampart's mail (password reset, and any other message an application
// sends through a Mailer) to an SMTP server named by one URL, RAMPART_EMAIL_URL:
//
//	smtp://user:password@smtp.example.com:587    STARTTLS (required unless the server is on loopback)
//	smtps://user:password@smtp.example.com       TLS from the first byte, port 465
//	smtp://localhost:25                           a local relay (plain allowed: the mail never leaves the machine)
//
// New returns an SMTP sender; rampart.New builds one from the settings and puts it behind the
// background Queue, so that requests never wait for the mail server. Log is the
// development stand-in: it writes each message's links to the log; Outbox keeps messages in
// memory for tests.
package mail
