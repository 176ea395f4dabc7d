package check

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/smtptest"
	"github.com/rampart-go/rampart/settings"
)

// `rampart check` greets the SMTP server of RAMPART_EMAIL_URL (real servers started here) and
// reports one that speaks plain SMTP from another machine (W050) or cannot be used (W051),
// without sending credentials or mail.
func TestLiveMail(t *testing.T) {
	ip := smtptest.NonLoopbackIP(t)
	plainRemote := smtptest.Start(t, smtptest.Config{Listen: net.JoinHostPort(ip, "0"), User: "u", Pass: "pw", AuthInClear: true})
	plainLocal := smtptest.Start(t, smtptest.Config{User: "u", Pass: "pw", AuthInClear: true})
	tlsRemote := smtptest.Start(t, smtptest.Config{Listen: net.JoinHostPort(ip, "0"), TLS: smtptest.StartTLS, User: "u", Pass: "pw"})
	noAuth := smtptest.Start(t, smtptest.Config{TLS: smtptest.StartTLS})
	closed := "127.0.0.1:" + closedPort(t)
	tests := []struct {
		name  string
		url   string
		roots *x509.CertPool
		id    string // "" for no finding
		msg   string
		srv   *smtptest.Server // whose conversation must hold no AUTH or MAIL
	}{
		{"no URL", "", nil, "", "", nil},
		{"plain SMTP on another machine, password", "smtp://u:pw@" + plainRemote.Addr, nil, idMailPlain,
			"RAMPART_EMAIL_URL: " + plainRemote.Addr + " speaks plain SMTP only (no STARTTLS): rampart refuses to send the SMTP password or mail", plainRemote},
		{"plain SMTP on another machine, no password", "smtp://" + plainRemote.Addr, nil, idMailPlain, "refuses to send mail (live password-reset links)", plainRemote},
		{"plain SMTP on loopback", "smtp://u:pw@" + plainLocal.Addr, nil, "", "", plainLocal},
		{"STARTTLS, trusted", "smtp://u:pw@" + tlsRemote.Addr, tlsRemote.Roots, "", "", tlsRemote},
		{"STARTTLS, untrusted certificate", "smtp://u:pw@" + tlsRemote.Addr, nil, idMailUnusable, "certificate", tlsRemote},
		{"no AUTH for the password", "smtp://u:pw@" + noAuth.Addr, noAuth.Roots, idMailUnusable, "offers no AUTH", noAuth},
		{"unreachable", "smtps://u:pw@" + closed, nil, idMailUnusable, "RAMPART_EMAIL_URL: " + closed + " cannot deliver mail: mail: connecting to", nil},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			s := settings.Settings{EmailURL: settings.Secret(c.url)}
			got := liveMail(context.Background(), s, LiveTimeout, c.roots)
			switch {
			case c.id == "" && len(got) != 0:
				t.Errorf("findings %+v, want none", got)
			case c.id != "" && (len(got) != 1 || got[0].ID != c.id || !strings.Contains(got[0].Message, c.msg) || got[0].Severity != Warning):
				t.Errorf("findings %+v, want one %s with %q", got, c.id, c.msg)
			case len(got) == 1 && strings.Contains(got[0].Message, "pw@"):
				t.Errorf("the finding shows the password: %s", got[0].Message)
			}
			if c.srv != nil {
				for _, e := range c.srv.Conversation(t) {
					if e.Event == "command" && (e.Verb == "AUTH" || e.Verb == "MAIL") {
						t.Errorf("the check sent %s", e.Verb)
					}
				}
			}
		})
	}

	// Through `rampart check`: the finding, exit 1; --offline does not connect.
	env := goodEnv()
	delete(env, "RAMPART_REDIS_URL") // the live check would look its made-up host up
	env["RAMPART_EMAIL_URL"] = "smtp://u:pw@" + plainRemote.Addr
	var out, errb bytes.Buffer
	if code := runWith(nil, envOf(env), true, &out, &errb); code != 1 || !strings.Contains(out.String(), idMailPlain) {
		t.Errorf("check: exit %d\n%s%s", code, out.String(), errb.String())
	}
	plainRemote.Conversation(t)
	out.Reset()
	if code := runWith([]string{"--offline"}, envOf(env), true, &out, &errb); code != 0 || strings.Contains(out.String(), "W05") {
		t.Errorf("check --offline: exit %d\n%s%s", code, out.String(), errb.String())
	}
}
