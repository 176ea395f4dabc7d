package csrf

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/rampart-go/rampart/clientip"
)

func TestCookieStoreNameAndSameSite(t *testing.T) {
	cases := []struct {
		name       string
		store      CookieStore
		https      bool
		wantName   string
		wantSite   http.SameSite
		wantMaxAge int
	}{
		{"default https", CookieStore{}, true, SecureCookieName, http.SameSiteLaxMode, int(DefaultCookieMaxAge / time.Second)},
		{"default http", CookieStore{}, false, InsecureCookieName, http.SameSiteLaxMode, int(DefaultCookieMaxAge / time.Second)},
		{"__Host- name on https", CookieStore{Name: "__Host-rampart_csrf"}, true, "__Host-rampart_csrf", http.SameSiteLaxMode, int(DefaultCookieMaxAge / time.Second)},
		{"__Host- name falls back on http", CookieStore{Name: "__Host-rampart_csrf"}, false, InsecureCookieName, http.SameSiteLaxMode, int(DefaultCookieMaxAge / time.Second)},
		{"plain name on http", CookieStore{Name: "rampart_csrf", MaxAge: time.Hour}, false, "rampart_csrf", http.SameSiteLaxMode, 3600},
		{"strict", CookieStore{SameSite: http.SameSiteStrictMode}, true, SecureCookieName, http.SameSiteStrictMode, int(DefaultCookieMaxAge / time.Second)},
		{"None refused", CookieStore{SameSite: http.SameSiteNoneMode}, true, SecureCookieName, http.SameSiteLaxMode, int(DefaultCookieMaxAge / time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.https {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			if err := c.store.SetCSRFSecret(w, r, "abcdefghijklmnopqrstuvwxyzABCDEF"); err != nil {
				t.Fatal(err)
			}
			ck := w.Result().Cookies()
			if len(ck) != 1 {
				t.Fatalf("%d cookies", len(ck))
			}
			got := ck[0]
			if got.Name != c.wantName || got.SameSite != c.wantSite || got.Secure != c.https || !got.HttpOnly || got.MaxAge != c.wantMaxAge {
				t.Fatalf("cookie %+v", got)
			}
			r.AddCookie(got)
			if v, ok := c.store.CSRFSecret(r); !ok || v != "abcdefghijklmnopqrstuvwxyzABCDEF" {
				t.Fatalf("read back %q %v", v, ok)
			}
		})
	}
}

// issue must write exactly what SetCSRFSecret (http.SetCookie) writes for the same secret,
// in every configuration, and add to headers already present the way Header.Add does.
func TestCookieStoreIssueMatchesSetCookie(t *testing.T) {
	for _, target := range []string{"https://example.com/", "http://example.com/"} {
		for _, maxAge := range []time.Duration{0, time.Hour, 1500 * time.Millisecond, -1} {
			for _, ss := range []http.SameSite{0, http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteNoneMode} {
				for _, name := range []string{"", SecureCookieName, InsecureCookieName, "custom", "bad name"} {
					for _, pre := range []bool{false, true} {
						c := &CookieStore{MaxAge: maxAge, SameSite: ss, Name: name}
						r := httptest.NewRequest("GET", target, nil)
						got := httptest.NewRecorder()
						want := httptest.NewRecorder()
						if pre {
							for _, w := range []*httptest.ResponseRecorder{got, want} {
								w.Header().Set("Set-Cookie", "a=b")
								w.Header().Set("Vary", "Accept-Encoding")
							}
						}
						secret, err := c.issue(got, clientip.FromRequest(r).Secure())
						if err != nil || !validSecret(secret) {
							t.Fatalf("issue: %q, %v", secret, err)
						}
						if err := c.SetCSRFSecret(want, r, secret); err != nil {
							t.Fatal(err)
						}
						if !reflect.DeepEqual(got.Header(), want.Header()) {
							t.Errorf("%s %v %v %q pre=%v:\nissue      %q\nSetCookie  %q", target, maxAge, ss, name, pre, got.Header(), want.Header())
						}
					}
				}
			}
		}
	}
}
