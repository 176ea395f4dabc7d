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

func rampartChecks(rs *ResponseSet) []Check {
	return []Check{
		debugCheck(rs),
		cookieFlagCheck(rs, CheckSessionCookie, sessionCookieNames, true),
		cookieFlagCheck(rs, CheckCSRFCookie, csrfCookieNames, false),
		csrfCheck(rs),
		httpsRedirectCheck(rs),
	}
}

func debugCheck(rs *ResponseSet) Check {
	c := Check{Name: CheckDebugPage, Pass: true, Reason: "no debug page found on the start page or a random 404 path"}
	pages := []*Response{rs.DebugProbe, rs.Auto}
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

func cookieFlagCheck(rs *ResponseSet, name string, names []string, wantHttpOnly bool) Check {
	c := Check{Name: name, Pass: true}
	var seen, problems []string
	for _, ck := range cookieJar(rs.Cookies, hostOf(rs.URL)) {
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
		if strings.HasPrefix(ck.Name, "__Host-") && (ck.Domain != "" || ck.Path != "/") {
			miss = append(miss, "__Host- rules (Path=/, no Domain)")
		}
		if len(miss) > 0 {
			problems = append(problems, fmt.Sprintf("%s missing %s", ck.Name, strings.Join(miss, ", ")))
		}
	}
	switch {
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

func csrfCheck(rs *ResponseSet) Check {
	c := Check{Name: CheckCSRFEnforcement}
	p := rs.CSRFProbe
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

func httpsRedirectCheck(rs *ResponseSet) Check {
	c := Check{Name: CheckHTTPSRedirect}
	switch {
	case rs.HTTP == nil:
		c.Pass, c.Skipped = true, true
		c.Reason = "not reachable over plain HTTP"
	case len(rs.HTTPRedirects) < 2:
		c.Reason = "plain HTTP answers without redirecting to HTTPS"
	default:
		next, err := url.Parse(rs.HTTPRedirects[1].URL)
		if err == nil && next.Scheme == "https" {
			c.Pass = true
			c.Reason = "plain HTTP redirects to " + rs.HTTPRedirects[1].URL
		} else {
			c.Reason = "plain HTTP first redirects to " + rs.HTTPRedirects[1].URL + ", not HTTPS"
		}
	}
	return c
}
