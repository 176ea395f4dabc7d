package attacktest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
)

const newPW = "a brand new passphrase 42"

// csrfTarget is one state-changing endpoint and how to see whether a forged request changed
// anything.
type csrfTarget struct {
	path    string
	form    func(i int) url.Values
	changed func(t *testing.T, i int) bool
}

func csrfTargets(t *testing.T, env *apptest.Env, victim *apptest.Client) []csrfTarget {
	hash0 := mustUser(t, env, "alice").PasswordHash
	return []csrfTarget{
		{
			path: "/comments",
			form: func(i int) url.Values { return url.Values{"body": {"forged-comment-" + itoa(i)}} },
			changed: func(t *testing.T, i int) bool {
				return strings.Contains(victim.Get("/comments").Body, "forged-comment-"+itoa(i)+"<")
			},
		},
		{
			path:    "/accounts/logout",
			form:    func(int) url.Values { return url.Values{} },
			changed: func(t *testing.T, _ int) bool { return !loggedIn(t, victim) },
		},
		{
			path: "/accounts/password",
			form: func(int) url.Values {
				return url.Values{"old_password": {alicePW}, "new_password1": {newPW}, "new_password2": {newPW}}
			},
			changed: func(t *testing.T, _ int) bool { return mustUser(t, env, "alice").PasswordHash != hash0 },
		},
	}
}

// csrfVariant is one forged request: its headers and which token it carries.
type csrfVariant struct {
	name  string
	hdr   func(base string) map[string]string // base is the site's own URL
	token string                              // "victim" (valid for the victim), "attacker" (the attacker's own), "prelogin", "garbage", ""
}

// TestCSRF sends every forgery variant to every state-changing endpoint with the victim's
// cookies (the worst case: a browser that attaches them cross-site) and requires 403 with
// nothing changed; then the same endpoints accept the victim's own same-origin requests.
func TestCSRF(t *testing.T) {
	run := func(t *testing.T, tls bool, variants []csrfVariant) {
		env := apptest.New(t, apptest.Options{TLS: tls})
		env.CreateUser(t, "alice", alicePW, false)
		env.CreateUser(t, "mallory", bobPW, false)
		victim := env.Client(t)
		victim.Get("/accounts/login")
		preLogin := victim.Token()
		victim.Login("alice", alicePW)
		attacker := env.Client(t)
		attacker.Login("mallory", bobPW)
		attacker.Get("/comments")
		attackerToken := attacker.Token()

		targets := csrfTargets(t, env, victim)
		n := 0
		for _, tg := range targets {
			for _, v := range variants {
				n++
				t.Run(tg.path+"/"+v.name+" must be refused with 403", func(t *testing.T) {
					form := tg.form(n)
					switch v.token {
					case "victim":
						victim.Get("/comments")
						form.Set("csrf_token", victim.Token())
					case "attacker":
						form.Set("csrf_token", attackerToken)
					case "prelogin":
						form.Set("csrf_token", preLogin)
					case "garbage":
						form.Set("csrf_token", strings.Repeat("A", 64))
					}
					var hdr map[string]string
					if v.hdr != nil {
						hdr = v.hdr(env.URL)
					}
					r := postRaw(t, victim, env.URL, tg.path, form, hdr)
					if r.StatusCode != http.StatusForbidden {
						t.Errorf("status %d, want 403", r.StatusCode)
					}
					if tg.changed(t, n) {
						t.Fatalf("forged request changed state")
					}
				})
			}
		}
		count("csrf forgeries", n)

		// Legit flows still work: the victim's browser, same origin, with its token.
		// Order: the comment, then the password change (the session survives it), logout last.
		for _, tg := range []csrfTarget{targets[0], targets[2], targets[1]} {
			t.Run(tg.path+"/same-origin browser post must succeed", func(t *testing.T) {
				n++
				r := victim.Post("/comments", tg.path, tg.form(n))
				if r.StatusCode != http.StatusSeeOther {
					t.Fatalf("legit post: status %d, want 303", r.StatusCode)
				}
				if !tg.changed(t, n) {
					t.Fatal("legit post had no effect")
				}
			})
		}
	}

	t.Run("http", func(t *testing.T) {
		run(t, false, []csrfVariant{
			{"no Origin, no Sec-Fetch-Site, no token", nil, ""},
			{"no headers, garbage token", nil, "garbage"},
			{"Origin null, no token", h("Origin", "null"), ""},
			{"Origin null with a valid token", h("Origin", "null"), "victim"},
			{"Sec-Fetch-Site cross-site with a valid token", h("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), "victim"},
			{"Sec-Fetch-Site cross-site without Origin", h("Sec-Fetch-Site", "cross-site"), "victim"},
			{"Sec-Fetch-Site same-site (sibling subdomain)", h("Sec-Fetch-Site", "same-site", "Origin", "http://evil.localhost"), "victim"},
			{"Sec-Fetch-Site with an unknown value", h("Sec-Fetch-Site", "bogus"), "victim"},
			{"token valid but Origin foreign", h("Origin", "https://evil.example"), "victim"},
			{"Origin on another port of the same host", h("Origin", "http://127.0.0.1:1"), "victim"},
			{"Origin https while the site is http", func(base string) map[string]string {
				return map[string]string{"Origin": strings.Replace(base, "http://", "https://", 1)}
			}, "victim"},
			{"token from the attacker's own session, no headers", nil, "attacker"},
			{"token from the attacker's own session, Origin null", h("Origin", "null"), "attacker"},
			{"token issued before login (rotated at login), no headers", nil, "prelogin"},
		})
	})
	t.Run("https", func(t *testing.T) {
		run(t, true, []csrfVariant{
			{"no Origin, no Sec-Fetch-Site, no token", nil, ""},
			{"Origin http:// of the https site (scheme mismatch)", func(base string) map[string]string {
				return map[string]string{"Origin": strings.Replace(base, "https://", "http://", 1)}
			}, "victim"},
			{"valid token, no Origin, no Referer (Django's strict Referer on HTTPS)", nil, "victim"},
			{"valid token, no Origin, foreign Referer", h("Referer", "https://evil.example/page"), "victim"},
			{"valid token, no Origin, http Referer of the same host", func(base string) map[string]string {
				return map[string]string{"Referer": strings.Replace(base, "https://", "http://", 1) + "/comments"}
			}, "victim"},
			{"Sec-Fetch-Site cross-site with a valid token", h("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), "victim"},
			{"Origin null with a valid token", h("Origin", "null"), "victim"},
			{"token from the attacker's own session, same-origin Referer", func(base string) map[string]string {
				return map[string]string{"Referer": base + "/comments"}
			}, "attacker"},
		})
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// h returns fixed headers (pairs of name, value) for a csrfVariant.
func h(kv ...string) func(string) map[string]string {
	return func(string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
}
