package browsertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/internal/apptest"
)

// virtualAuthenticator gives the tab a platform authenticator (CTAP2, internal transport,
// resident keys, user verification that succeeds) through the DevTools WebAuthn domain, so
// navigator.credentials.create/get run the real ceremony without a person.
func (b *tab) virtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	off := false
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: &off}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// credentials lists what the virtual authenticator holds (with its signature counters).
func (b *tab) credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		b.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}

// passkeyStatus waits until the page's script reports a failure and returns the message.
func (b *tab) passkeyStatus() string {
	b.t.Helper()
	return get(b, "passkey status", chromedp.Poll[string](
		`(() => { const s = document.getElementById('passkey-status').textContent; return s.startsWith('Passkey failed') ? s : false })()`))
}

// passkeyLogin clicks "Log in with a passkey" and waits for the logged-in home page.
func (b *tab) passkeyLogin(base string) {
	b.t.Helper()
	if st := b.open(base + "/accounts/login/passkey"); st != 200 {
		b.t.Fatalf("GET /accounts/login/passkey: %d", st)
	}
	b.do("passkey login", chromedp.Click(chromedp.CSS(`#passkey-login`)), chromedp.WaitVisible(chromedp.CSS(`#logout`)))
}

// TestPasskeys registers a passkey while logged in, logs out, logs in with the passkey alone
// (twice: the signature counter moves forward), removes it, and checks that the authenticator
// still offering it no longer logs anyone in. WebAuthn needs a secure context and an RP ID
// that is a host name: http://localhost is both (an IP address cannot be an RP ID).
func TestPasskeys(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	base := strings.Replace(env.URL, "://127.0.0.1:", "://localhost:", 1)
	if base == env.URL {
		t.Fatalf("app URL %s is not on 127.0.0.1", env.URL)
	}
	env.CreateUser(t, "pat", alicePassword, false)
	b := newTab(t)
	auth := b.virtualAuthenticator()

	if p := b.login(base, "pat", alicePassword); p != "/" {
		t.Fatalf("password login ended at %s", p)
	}
	if st := b.open(base + "/accounts/passkeys"); st != 200 {
		t.Fatalf("GET /accounts/passkeys: %d", st)
	}
	b.do("name the passkey", chromedp.SendKeys(chromedp.CSS(`#passkey-name`), "laptop"))
	b.do("add a passkey", chromedp.Click(chromedp.CSS(`#passkey-add`)), chromedp.WaitVisible(chromedp.CSS(`td.passkey-name`)))
	if name := b.text(`td.passkey-name`); name != "laptop" {
		t.Fatalf("listed passkey = %q, want laptop", name)
	}
	creds := b.credentials(auth)
	if len(creds) != 1 || !creds[0].IsResidentCredential {
		t.Fatalf("authenticator holds %+v, want one resident credential", creds)
	}

	// A passkey alone logs in: no password, no TOTP.
	b.logout()
	b.passkeyLogin(base)
	if h := b.welcome(); h != "Welcome, pat" {
		t.Fatalf("after passkey login h1 = %q", h)
	}
	b.logout()
	b.passkeyLogin(base)
	if h := b.welcome(); h != "Welcome, pat" {
		t.Fatalf("after second passkey login h1 = %q", h)
	}
	if c := b.credentials(auth); len(c) != 1 || c[0].SignCount < 2 {
		t.Fatalf("authenticator counter after two logins: %+v", c)
	}
	ev, err := env.Stack.Store.RecentEvents(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	logins := 0
	for _, e := range ev {
		if e.Kind == "passkey.login" && e.Username == "pat" {
			logins++
		}
	}
	if logins != 2 {
		t.Fatalf("%d passkey.login events, want 2", logins)
	}

	// Removing a passkey needs a recent authentication (sudo mode): once the login is older
	// than the window, the remove button leads to the confirm page, and the passkey itself
	// confirms (the password would too).
	env.Clock.Advance(accounts.DefaultRecentAuth + time.Minute)
	if st := b.open(base + "/accounts/passkeys"); st != 200 {
		t.Fatalf("GET /accounts/passkeys: %d", st)
	}
	if st, u := b.submit(`button.passkey-delete`); st != 200 || path(t, u) != "/accounts/confirm" {
		t.Fatalf("remove with a stale login: %d %s, want the confirm page", st, u)
	}
	b.do("confirm with the passkey", chromedp.Click(chromedp.CSS(`#passkey-reauth`)), chromedp.WaitVisible(chromedp.CSS(`td.passkey-name`)))
	if u := get(b, "location", chromedpLocation()); path(t, u) != "/accounts/passkeys" {
		t.Fatalf("after confirming with the passkey: %s", u)
	}

	// Removed: the authenticator still offers the credential, the app no longer knows it.
	if st := b.open(base + "/accounts/passkeys"); st != 200 {
		t.Fatalf("GET /accounts/passkeys: %d", st)
	}
	if st, u := b.submit(`button.passkey-delete`); st != 200 || path(t, u) != "/accounts/passkeys" {
		t.Fatalf("remove passkey: %d %s", st, u)
	}
	if n := eval[int](b, `document.querySelectorAll('td.passkey-name').length`); n != 0 {
		t.Fatalf("%d passkeys listed after removal", n)
	}
	b.logout()
	if st := b.open(base + "/accounts/login/passkey"); st != 200 {
		t.Fatalf("GET /accounts/login/passkey: %d", st)
	}
	b.do("passkey login after removal", chromedp.Click(chromedp.CSS(`#passkey-login`)))
	if msg := b.passkeyStatus(); !strings.Contains(msg, "not registered") {
		t.Fatalf("login with a removed passkey: %q", msg)
	}
	if n := eval[int](b, `document.querySelectorAll('#logout').length`); n != 0 {
		t.Fatal("a removed passkey logged in")
	}
}
