package csrf

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
