package mail

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// URL is a parsed RAMPART_EMAIL_URL:
//
//	smtp://[user:password@]host[:port]    STARTTLS, port 587 by default (message submission)
//	smtps://[user:password@]host[:port]   TLS from the first byte, port 465 by default (RFC 8314)
//
// User and password are percent-decoded ("apikey", "me%40example.com"). Nothing else is
// accepted: no path, query or fragment, so that a typo in an option cannot be silently ignored.
type URL struct {
	// ImplicitTLS is true for smtps://.
	ImplicitTLS bool
	// Host is the server's name or IP address, without brackets or port.
	Host string
	// Port is the TCP port, defaulted from the scheme.
	Port string
	// Username and Password authenticate (AUTH PLAIN or LOGIN); both empty means no AUTH.
	Username, Password string
}

// Addr is host:port for dialling.
func (u URL) Addr() string { return net.JoinHostPort(u.Host, u.Port) }

// ParseURL reads an smtp:// or smtps:// URL. Its errors never quote the URL, which may hold a
// password.
func ParseURL(raw string) (URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return URL{}, errors.New("is not a valid URL (smtp://user:password@host:587)")
	}
	var out URL
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		out.Port = "587"
	case "smtps":
		out.ImplicitTLS, out.Port = true, "465"
	default:
		return URL{}, errors.New("must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return URL{}, errors.New("has no host (smtp://user:password@host:587)")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return URL{}, errors.New("must not have a path, query or fragment (smtp://user:password@host:587)")
	}
	out.Host = u.Hostname()
	if strings.ContainsAny(out.Host, " %/\\@") {
		return URL{}, errors.New("has an invalid host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return URL{}, fmt.Errorf("has an invalid port %q", p)
		}
		out.Port = strconv.Itoa(n)
	} else if strings.HasSuffix(u.Host, ":") {
		return URL{}, errors.New("has an empty port")
	}
	if u.User != nil {
		out.Username = u.User.Username()
		out.Password, _ = u.User.Password()
		if out.Username == "" || out.Password == "" {
			return URL{}, errors.New("needs both a user name and a password, or neither")
		}
		if strings.ContainsAny(out.Username+out.Password, "\x00\r\n") {
			return URL{}, errors.New("has a control character in its user name or password")
		}
	}
	return out, nil
}
