package main

import (
	"io"
	"mime/quotedprintable"
	"net/http"
	netmail "net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/smtptest"
)

// post submits a form of the last page fetched (its CSRF token) as a same-origin browser would.
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	form.Set("csrf_token", b.token)
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

var resetLink = regexp.MustCompile(`https?://\S+/accounts/reset/[A-Za-z0-9_.:=-]+`)

// finishReset follows a reset link: a new password, then a login with it; the old one and the
// used link no longer work.
func finishReset(t *testing.T, b *browser, link, oldPW string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || b.base != u.Scheme+"://"+u.Host {
		t.Fatalf("the link %q does not point to the server %s", link, b.base)
	}
	if resp, body := b.get(u.Path); resp.StatusCode != 200 || !strings.Contains(body, `name="new_password1"`) {
		t.Fatalf("GET %s: %d, no new-password form:\n%s", u.Path, resp.StatusCode, body)
	}
	const newPW = "a brand new passphrase 8"
	resp, _ := b.post(u.Path, url.Values{"new_password1": {newPW}, "new_password2": {newPW}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/accounts/login" {
		t.Fatalf("POST %s: %d to %q, want 303 to /accounts/login", u.Path, resp.StatusCode, resp.Header.Get("Location"))
	}
	if status, loc := b.login("ann", oldPW); status != http.StatusOK {
		t.Errorf("the old password still logs in: %d %q", status, loc)
	}
	if status, loc := b.login("ann", newPW); status != http.StatusSeeOther || strings.Contains(loc, "/accounts/login") {
		t.Errorf("the new password does not log in: %d %q", status, loc)
	}
	if _, body := b.get(u.Path); !strings.Contains(body, "invalid or has already been used") {
		t.Error("the reset link works a second time")
	}
}

// TestResetMailOverSMTP: with RAMPART_EMAIL_URL, the reference app's reset request is
// delivered by a real SMTP server process (authenticated; on loopback, where plain SMTP is
// allowed) and the link in it resets the password.
func TestResetMailOverSMTP(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{User: "rampart", Pass: "relay password", AuthInClear: true})
	newUserDir(t)
	t.Setenv("RAMPART_INSECURE_DEV", "1")
	t.Setenv("RAMPART_ADDR", "127.0.0.1:0")
	t.Setenv("RAMPART_EMAIL_URL", "smtp://rampart:relay%20password@"+srv.Addr)
	t.Setenv("RAMPART_EMAIL_FROM", "Rampart <noreply@example.com>")
	base, log := startServeLog(t)
	const oldPW = "correct horse battery staple 7"
	if code, out, errs := runTool(t, oldPW+"\n", "createuser", "--username", "ann", "--email", "ann@example.org", "--password-stdin"); code != 0 {
		t.Fatalf("createuser: %d %s %s", code, out, errs)
	}
	b := newBrowser(t, base)
	b.get("/accounts/reset")
	resp, _ := b.post("/accounts/reset", url.Values{"email": {"ann@example.org"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /accounts/reset: %d", resp.StatusCode)
	}

	got := srv.Message(t)
	if got.User != "rampart" || got.From != "noreply@example.com" || !slices.Equal(got.To, []string{"ann@example.org"}) {
		t.Errorf("delivered as %q from %q to %v", got.User, got.From, got.To)
	}
	msg, err := netmail.ReadMessage(strings.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("To") != "<ann@example.org>" || msg.Header.Get("From") != `"Rampart" <noreply@example.com>` || msg.Header.Get("Subject") != "Password reset" {
		t.Errorf("headers %v", msg.Header)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	link := resetLink.FindString(string(body))
	if link == "" {
		t.Fatalf("no reset link in the mail:\n%s", body)
	}
	if strings.Contains(log.String(), link) {
		t.Error("with RAMPART_EMAIL_URL set, the reset link was also written to the log")
	}
	finishReset(t, b, link, oldPW)
}

// TestResetLinkLoggedInDevelopment: without RAMPART_EMAIL_URL, development mode writes the reset
// link to the log, and a newcomer can finish the reset with it.
func TestResetLinkLoggedInDevelopment(t *testing.T) {
	newUserDir(t)
	t.Setenv("RAMPART_INSECURE_DEV", "1")
	t.Setenv("RAMPART_ADDR", "127.0.0.1:0")
	base, log := startServeLog(t)
	const oldPW = "correct horse battery staple 7"
	if code, out, errs := runTool(t, oldPW+"\n", "createuser", "--username", "ann", "--email", "ann@example.org", "--password-stdin"); code != 0 {
		t.Fatalf("createuser: %d %s %s", code, out, errs)
	}
	b := newBrowser(t, base)
	b.get("/accounts/reset")
	if resp, _ := b.post("/accounts/reset", url.Values{"email": {"ann@example.org"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /accounts/reset: %d", resp.StatusCode)
	}
	// The development mailer logs before the request answers.
	m := regexp.MustCompile(`link=(\S+)`).FindStringSubmatch(log.String())
	if m == nil || !resetLink.MatchString(m[1]) {
		t.Fatalf("no reset link in the log:\n%s", log.String())
	}
	finishReset(t, b, m[1], oldPW)
}
