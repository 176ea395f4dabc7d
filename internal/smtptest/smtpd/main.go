// Command smtpd is a small SMTP server for rampart's tests, run as its own process by package
// smtptest: EHLO/HELO, STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT. It
// delivers nothing: it prints one JSON line per event on stdout (the listening address, each
// command with whether TLS was on, each authentication, each message with its raw data, each
// closed connection), which the test reads.
//
//	smtpd -listen 127.0.0.1:0 [-cert c.pem -key k.pem [-implicit]] [-user U -pass P] [-auth-in-clear] [-mechs "PLAIN LOGIN"]
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one line of output.
type Event struct {
	Event string   `json:"event"` // listening, connect, command, auth, message, close
	Conn  int64    `json:"conn,omitempty"`
	Addr  string   `json:"addr,omitempty"`
	TLS   bool     `json:"tls,omitempty"`
	Verb  string   `json:"verb,omitempty"`
	Arg   string   `json:"arg,omitempty"`
	Mech  string   `json:"mech,omitempty"`
	User  string   `json:"user,omitempty"`
	OK    bool     `json:"ok,omitempty"`
	From  string   `json:"from,omitempty"`
	To    []string `json:"to,omitempty"`
	Data  string   `json:"data,omitempty"`
}

var (
	outMu sync.Mutex
	out   = json.NewEncoder(os.Stdout)
)

func emit(e Event) {
	outMu.Lock()
	defer outMu.Unlock()
	_ = out.Encode(e)
}

type config struct {
	tls         *tls.Config
	implicit    bool
	user, pass  string
	authInClear bool
	mechs       string
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	cert := flag.String("cert", "", "certificate (PEM): offer STARTTLS")
	key := flag.String("key", "", "key of -cert (PEM)")
	implicit := flag.Bool("implicit", false, "TLS from the first byte instead of STARTTLS")
	user := flag.String("user", "", "the user name AUTH accepts (empty: no AUTH)")
	pass := flag.String("pass", "", "the password AUTH accepts")
	authInClear := flag.Bool("auth-in-clear", false, "offer AUTH before STARTTLS too")
	mechs := flag.String("mechs", "PLAIN LOGIN", "AUTH mechanisms offered")
	flag.Parse()

	c := config{implicit: *implicit, user: *user, pass: *pass, authInClear: *authInClear, mechs: *mechs}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fmt.Fprintln(os.Stderr, "smtpd:", err)
			os.Exit(2)
		}
		c.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "smtpd:", err)
		os.Exit(2)
	}
	emit(Event{Event: "listening", Addr: ln.Addr().String()})
	var n atomic.Int64
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "smtpd:", err)
			os.Exit(1)
		}
		id := n.Add(1)
		go func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(time.Minute))
			emit(Event{Event: "connect", Conn: id, Addr: conn.RemoteAddr().String()})
			s := &session{id: id, c: c}
			if c.implicit && c.tls != nil {
				s.setConn(tls.Server(conn, c.tls))
				s.tls = true
			} else {
				s.setConn(conn)
			}
			s.serve()
			emit(Event{Event: "close", Conn: id})
		}()
	}
}

type session struct {
	id   int64
	c    config
	conn net.Conn
	tp   *textproto.Conn
	tls  bool
	user string // authenticated as
	from string
	to   []string
}

func (s *session) setConn(c net.Conn) {
	s.conn = c
	s.tp = textproto.NewConn(c)
}

func (s *session) reply(format string, args ...any) bool {
	return s.tp.PrintfLine(format, args...) == nil
}

func (s *session) serve() {
	if !s.reply("220 smtpd.test ESMTP ready") {
		return
	}
	for {
		line, err := s.tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		ev := Event{Event: "command", Conn: s.id, TLS: s.tls, Verb: verb, Arg: arg}
		if verb == "AUTH" {
			ev.Arg, _, _ = strings.Cut(arg, " ") // the mechanism, not the credentials
		}
		emit(ev)
		switch verb {
		case "EHLO":
			lines := []string{"smtpd.test", "8BITMIME", "PIPELINING"}
			if s.c.tls != nil && !s.tls {
				lines = append(lines, "STARTTLS")
			}
			if s.c.user != "" && (s.tls || s.c.authInClear) {
				lines = append(lines, "AUTH "+s.c.mechs)
			}
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				if !s.reply("250%s%s", sep, l) {
					return
				}
			}
		case "HELO":
			s.reply("250 smtpd.test")
		case "STARTTLS":
			if s.c.tls == nil || s.tls {
				s.reply("502 not available")
				continue
			}
			if !s.reply("220 go ahead") {
				return
			}
			t := tls.Server(s.conn, s.c.tls)
			if err := t.Handshake(); err != nil {
				return
			}
			s.setConn(t)
			s.tls = true
			s.user, s.from, s.to = "", "", nil
		case "AUTH":
			if !s.auth(arg) {
				return
			}
		case "MAIL":
			if s.c.user != "" && s.user == "" {
				s.reply("530 authentication required")
				continue
			}
			from, ok := path(arg, "FROM:")
			if !ok {
				s.reply("501 syntax: MAIL FROM:<address>")
				continue
			}
			s.from, s.to = from, nil
			s.reply("250 ok")
		case "RCPT":
			if s.from == "" {
				s.reply("503 MAIL first")
				continue
			}
			to, ok := path(arg, "TO:")
			if !ok {
				s.reply("501 syntax: RCPT TO:<address>")
				continue
			}
			s.to = append(s.to, to)
			s.reply("250 ok")
		case "DATA":
			if len(s.to) == 0 {
				s.reply("503 RCPT first")
				continue
			}
			if !s.reply("354 end with <CRLF>.<CRLF>") {
				return
			}
			data, err := io.ReadAll(s.tp.DotReader())
			if err != nil {
				return
			}
			// DotReader turns CRLF into LF; the message is shown as it was sent.
			data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
			emit(Event{Event: "message", Conn: s.id, TLS: s.tls, User: s.user, From: s.from, To: s.to, Data: string(data)})
			s.from, s.to = "", nil
			s.reply("250 queued")
		case "RSET":
			s.from, s.to = "", nil
			s.reply("250 ok")
		case "NOOP":
			s.reply("250 ok")
		case "QUIT":
			s.reply("221 bye")
			return
		default:
			s.reply("500 unknown command")
		}
	}
}

// auth runs AUTH PLAIN or LOGIN; it reports false when the connection is gone.
func (s *session) auth(arg string) bool {
	mech, initial, _ := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	if s.c.user == "" || (!s.tls && !s.c.authInClear) || !strings.Contains(" "+s.c.mechs+" ", " "+mech+" ") {
		return s.reply("504 mechanism not available")
	}
	ask := func(prompt string) (string, bool) {
		if !s.reply("334 %s", base64.StdEncoding.EncodeToString([]byte(prompt))) {
			return "", false
		}
		l, err := s.tp.ReadLine()
		if err != nil {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(l)
		return string(b), err == nil
	}
	var user, pass string
	switch mech {
	case "PLAIN":
		var resp string
		if initial != "" {
			b, err := base64.StdEncoding.DecodeString(initial)
			if err != nil {
				return s.reply("501 bad base64")
			}
			resp = string(b)
		} else {
			var ok bool
			if resp, ok = ask(""); !ok {
				return false
			}
		}
		parts := strings.Split(resp, "\x00")
		if len(parts) == 3 {
			user, pass = parts[1], parts[2]
		}
	case "LOGIN":
		var ok bool
		if user, ok = ask("Username:"); !ok {
			return false
		}
		if pass, ok = ask("Password:"); !ok {
			return false
		}
	}
	ok := user == s.c.user && pass == s.c.pass
	emit(Event{Event: "auth", Conn: s.id, TLS: s.tls, Mech: mech, User: user, OK: ok})
	if !ok {
		return s.reply("535 authentication failed")
	}
	s.user = user
	return s.reply("235 authenticated")
}

// path reads "FROM:<a@b> PARAMS" (after the verb) and returns a@b.
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	f := strings.Fields(arg[len(prefix):])
	if len(f) == 0 || !strings.HasPrefix(f[0], "<") || !strings.HasSuffix(f[0], ">") {
		return "", false
	}
	return f[0][1 : len(f[0])-1], true
}
