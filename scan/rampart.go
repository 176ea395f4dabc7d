package scan

import (
	"fmt"
	"net/url"
	"strings"
)

// Names of rampart's own checks.
const (
	CheckDebugPage       = "debug-page"
	CheckSessionCookie   = "session-cookie"
	CheckCSRFCookie      = "csrf-cookie"
	CheckRefusedCookies  = "refused-cookies"
	CheckCSRFEnforcement = "csrf-enforcement"
	CheckHTTPSRedirect   = "https-redirect"
)

// debugMarkers identify framework debug pages: Django's technical 404/500
// pages (both apostrophe spellings Django has used) and rampart's own.
var debugMarkers = []struct{ marker, what string }{
	{"You're seeing this error because you have <code>DEBUG = True</code>", "Django DEBUG page"},
	{"You\u2019re seeing this error because you have <code>DEBUG = True</code>", "Django DEBUG page"},
	{"Using the URLconf defined in", "Django technical 404 page"},
	{"Django tried these URL patterns", "Django technical 404 page"},
	{`<div id="traceback">`, "Django technical 500 page"},
	{"data-rampart-debug", "rampart debug page"},
	{"rampart debug", "rampart debug page"},
}

// Cookie names rampart knows: Django's defaults and rampart's (settings' default session
// cookie is __Host-rampart_session, rampart_session in insecure dev mode).
var (
	sessionCookieNames = []string{"sessionid", "__Host-session", "__Host-rampart_session", "rampart_session"}
	csrfCookieNames    = []string{"csrftoken", "__Host-csrftoken", "__Host-rampart_csrf", "rampart_csrf"}
)

func rampartChecks(rs *responseSet) []Check {
	return []Check{
		debugCheck(rs),
		cookieFlagCheck(rs, CheckSessionCookie, sessionCookieNames, true),
		cookieFlagCheck(rs, CheckCSRFCookie, csrfCookieNames, false),
		refusedCookiesCheck(rs),
		csrfCheck(rs),
		httpsRedirectCheck(rs),
	}
}

func debugCheck(rs *responseSet) Check {
	c := Check{Name: CheckDebugPage, Pass: true, Reason: "no debug page found on the start page or a random 404 path"}
	pages := []*response{rs.DebugProbe, rs.Auto}
	for _, p := range pages {
		if p == nil {
			continue
		}
		for _, m := range debugMarkers {
			if strings.Contains(p.Body, m.marker) {
				c.Pass = false
				c.Reason = fmt.Sprintf("%s leaked at %s (status %d): %q", m.what, p.URL, p.Status, m.marker)
				return c
			}
		}
	}
	if rs.DebugProbe == nil {
		c.Reason = "no debug page on the start page (404 probe not made)"
	}
	return c
}

func cookieFlagCheck(rs *responseSet, name string, names []string, wantHttpOnly bool) Check {
	c := Check{Name: name, Pass: true}
	jar, refused := rs.cookieJar()
	var seen, problems []string
	for _, ck := range jar {
		if indexOf(names, ck.Name) < 0 {
			continue
		}
		seen = append(seen, ck.Name)
		var miss []string
		if !ck.Secure {
			miss = append(miss, "Secure")
		}
		if wantHttpOnly && !ck.HttpOnly {
			miss = append(miss, "HttpOnly")
		}
		if ck.SameSite != "lax" && ck.SameSite != "strict" {
			miss = append(miss, "SameSite=Lax|Strict")
		}
		if len(miss) > 0 {
			problems = append(problems, fmt.Sprintf("%s missing %s", ck.Name, strings.Join(miss, ", ")))
		}
	}
	// A __Host- cookie that breaks the prefix rules is never stored, so it
	// cannot be graded here; say why it is missing.
	var dropped []string
	for _, r := range uniqueRefused(refused) {
		if indexOf(names, r.Name) >= 0 && !r.Deletion {
			dropped = append(dropped, r.Name+": "+r.Reason)
		}
	}
	switch {
	case len(seen) == 0 && len(dropped) > 0:
		c.Skipped = true
		c.Reason = fmt.Sprintf("no %s cookie stored: browsers refuse %s (see %s)",
			strings.Join(names, "/"), strings.Join(dropped, "; "), CheckRefusedCookies)
	case len(seen) == 0:
		c.Skipped = true
		c.Reason = fmt.Sprintf("no %s cookie set on the scanned pages", strings.Join(names, "/"))
	case len(problems) > 0:
		c.Pass = false
		c.Reason = strings.Join(problems, "; ")
	default:
		c.Reason = fmt.Sprintf("%s: Secure, SameSite%s", strings.Join(seen, ", "), map[bool]string{true: ", HttpOnly", false: ""}[wantHttpOnly])
	}
	return c
}

// refusedCookiesCheck reports Set-Cookie lines browsers would not store:
// they are left out of the grade, and a site that sets them is broken (a
// session or CSRF cookie that never reaches the browser) or misconfigured.
func refusedCookiesCheck(rs *responseSet) Check {
	c := Check{Name: CheckRefusedCookies, Pass: true}
	_, refused := rs.cookieJar()
	refused = uniqueRefused(refused)
	switch {
	case len(rs.Cookies) == 0:
		c.Skipped = true
		c.Reason = "no Set-Cookie on the scanned pages"
	case len(refused) == 0:
		c.Reason = fmt.Sprintf("browsers store every cookie set (%d Set-Cookie lines, RFC 6265bis)", len(rs.Cookies))
	default:
		c.Pass = false
		parts := make([]string, 0, len(refused))
		for _, r := range refused {
			name := r.Name
			if name == "" {
				name = "(nameless)"
			}
			what := ""
			if r.Deletion {
				what = " (a deletion, so the old cookie stays)"
			}
			parts = append(parts, fmt.Sprintf("%s from %s: %s%s", name, r.URL, r.Reason, what))
		}
		c.Reason = "browsers refuse these cookies, so they are not graded: " + strings.Join(parts, "; ")
	}
	return c
}

// uniqueRefused drops repeats of the same refusal (a cookie set on every
// response of the session is refused once per response).
func uniqueRefused(in []RefusedCookie) []RefusedCookie {
	type key struct {
		line, reason string
	}
	seen := map[key]bool{}
	var out []RefusedCookie
	for _, r := range in {
		k := key{r.line, r.Reason}
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

func csrfCheck(rs *responseSet) Check {
	c := Check{Name: CheckCSRFEnforcement}
	p := rs.csrfProbe
	switch {
	case p == nil:
		c.Skipped, c.Pass = true, true
		c.Reason = "no POST form on the start page"
	case p.Skipped != "":
		c.Skipped, c.Pass = true, true
		c.Reason = p.Skipped
	case p.Status == 403:
		c.Pass = true
		c.Reason = fmt.Sprintf("cross-origin POST without token to %s refused with 403", p.Action)
	default:
		c.Reason = fmt.Sprintf("cross-origin POST (Origin: %s) without token to %s answered %d, want 403", evilOrigin, p.Action, p.Status)
	}
	return c
}

func httpsRedirectCheck(rs *responseSet) Check {
	c := Check{Name: CheckHTTPSRedirect}
	probed := rs.GuessedHTTPURL
	if len(rs.HTTPRedirects) > 0 {
		probed = rs.HTTPRedirects[0].URL
	}
	guessed := rs.GuessedHTTPURL != ""
	hint := "pass --http-url with the address plain HTTP listens on to check its redirect"
	switch {
	case rs.HTTP == nil && guessed:
		c.Pass, c.Skipped = true, true
		c.Reason = fmt.Sprintf("nothing answered plain HTTP at %s, the target's own port (no --http-url given); %s", probed, hint)
	case rs.HTTP == nil:
		c.Pass, c.Skipped = true, true
		c.Reason = "not reachable over plain HTTP"
		if probed != "" {
			c.Reason += " at " + probed
		}
	case len(rs.HTTPRedirects) < 2 && guessed && rs.HTTP.Status >= 400:
		// A plain-HTTP request on a TLS port gets an error (Go and nginx
		// answer 400): that is the TLS listener speaking, not the site's
		// plain-HTTP side, so neither a pass nor a failure would be true.
		c.Pass, c.Skipped = true, true
		c.Reason = fmt.Sprintf("plain HTTP was probed at %s, the target's own port (no --http-url given), and got %d without a redirect, as a TLS port answers; %s",
			probed, rs.HTTP.Status, hint)
	case len(rs.HTTPRedirects) < 2:
		c.Reason = fmt.Sprintf("plain HTTP at %s answers %d without redirecting to HTTPS", probed, rs.HTTP.Status)
		if guessed {
			c.Reason += " (probed at the target's own port as no --http-url was given; if plain HTTP listens elsewhere, " + hint + ")"
		}
	default:
		next, err := url.Parse(rs.HTTPRedirects[1].URL)
		if err == nil && next.Scheme == "https" {
			c.Pass = true
			c.Reason = "plain HTTP at " + probed + " redirects to " + rs.HTTPRedirects[1].URL
		} else {
			c.Reason = "plain HTTP at " + probed + " first redirects to " + rs.HTTPRedirects[1].URL + ", not HTTPS"
			if guessed {
				c.Reason += " (probed at the target's own port as no --http-url was given; if plain HTTP listens elsewhere, " + hint + ")"
			}
		}
	}
	return c
}

// guessedHTTPNote qualifies the Observatory's redirection result when the
// plain-HTTP probe went to the target's TLS port.
func guessedHTTPNote(rs *responseSet) string {
	return "plain HTTP was probed at " + rs.GuessedHTTPURL +
		", the target's own port, as no --http-url was given; pass --http-url with the address plain HTTP listens on"
}
