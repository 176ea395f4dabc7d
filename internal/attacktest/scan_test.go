package attacktest

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/scan"
)

// TestScanReferenceAppAPlus runs `rampart scan`'s engine against the reference app served
// over TLS in production mode, with a plain-HTTP listener that redirects to it (as a real
// deployment's port 80 does): the grade must be A+ with every Observatory test and every
// rampart check passing. The weak-site side (no headers, insecure cookies, Django debug
// page, unprotected form -> F with each finding) is scan.TestScanWeakServer; not repeated.
func TestScanReferenceAppAPlus(t *testing.T) {
	env := apptest.New(t, apptest.Options{TLS: true})
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, env.URL+r.URL.RequestURI(), http.StatusMovedPermanently)
	}))
	t.Cleanup(plain.Close)
	pool := x509.NewCertPool()
	pool.AddCert(env.Server.Certificate())

	cases := []struct {
		path string
		// ran are rampart checks that must have run (not skipped) on this page.
		ran []string
	}{
		{"/", []string{scan.CheckDebugPage, scan.CheckCSRFCookie, scan.CheckHTTPSRedirect}},
		// The login form: the scanner's cross-origin POST must be refused.
		{"/accounts/login", []string{scan.CheckCSRFEnforcement, scan.CheckCSRFCookie}},
		{"/comments", []string{scan.CheckCSRFCookie}},
		// A redirect (the second step without a pending login) is followed and graded too.
		{"/accounts/login/2fa", []string{scan.CheckCSRFEnforcement}},
	}
	for _, tc := range cases {
		path := tc.path
		t.Run(path+" must grade A+", func(t *testing.T) {
			rep, err := scan.Scan(context.Background(), env.URL+path, scan.Options{
				RootCAs: pool, HTTPURL: plain.URL + path, HTTPSURL: env.URL + path,
			})
			if err != nil {
				t.Fatal(err)
			}
			var table bytes.Buffer
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			if path == "/" {
				fmt.Printf("rampart scan of the reference app (%s):\n%s\n", path, table.String())
			}
			if rep.Grade != "A+" || rep.Error != "" {
				t.Fatalf("grade %s (score %d, error %q), want A+\n%s", rep.Grade, rep.Score, rep.Error, table.String())
			}
			if rep.TestsFailed != 0 {
				t.Errorf("%d Observatory tests failed\n%s", rep.TestsFailed, table.String())
			}
			for _, c := range rep.Checks {
				if !c.Pass {
					t.Errorf("rampart check %s failed: %s", c.Name, c.Reason)
				}
			}
			for _, name := range tc.ran {
				if c := rep.Check(name); c.Name == "" || c.Skipped || !c.Pass {
					t.Errorf("rampart check %s must run and pass here: %+v\n%s", name, c, table.String())
				}
			}
			want := map[string]string{
				scan.TestRedirection: scan.RedirectionToHTTPS,
				scan.TestHSTS:        scan.HSTSSixMonths,
				scan.TestXCTO:        scan.XCTONosniff,
			}
			for name, w := range want {
				if got := rep.Test(name).Result; got != w {
					t.Errorf("%s = %s, want %s", name, got, w)
				}
			}
			count("scan pages graded", 1)
		})
	}
}

// TestSessionCookieFlagsTLS checks what the scanner cannot see anonymously (the app creates
// no session for anonymous visitors): the session cookie a login sets in production mode,
// parsed as the scanner parses cookies, has every flag the session-cookie check requires.
func TestSessionCookieFlagsTLS(t *testing.T) {
	env := apptest.New(t, apptest.Options{TLS: true})
	env.CreateUser(t, "alice", alicePW, false)
	r := env.Client(t).Login("alice", alicePW)
	found := false
	for _, line := range r.Header.Values("Set-Cookie") {
		ck, ok := scan.ParseSetCookie(line)
		if !ok || ck.Name != env.Settings.SessionCookieName {
			continue
		}
		found = true
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != "lax" && ck.SameSite != "strict" || ck.Path != "/" || ck.Domain != "" {
			t.Errorf("session cookie %q lacks a required flag: %+v", line, ck)
		}
		if !strings.HasPrefix(ck.Name, "__Host-") {
			t.Errorf("production session cookie %q is not __Host- prefixed", ck.Name)
		}
	}
	if !found {
		t.Fatalf("login set no %s cookie", env.Settings.SessionCookieName)
	}
}
