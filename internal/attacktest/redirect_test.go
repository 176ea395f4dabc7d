package attacktest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-go/rampart/internal/apptest"
)

// browserResolve resolves a Location header the way a browser's URL parser (WHATWG) would,
// for the leniencies that matter to open redirects: ASCII tabs and newlines are removed
// anywhere, leading and trailing C0 controls and spaces are trimmed, and '\' counts as '/'
// in http(s) URLs. Go's url.Parse alone is stricter than browsers, so checking its result
// would miss "/\evil.example" and "/\t/evil.example".
func browserResolve(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, loc)
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= 0x20 })
	// Only the scheme-and-authority part matters for where the browser goes; replacing
	// every backslash is the stricter reading.
	loc = strings.ReplaceAll(loc, `\`, "/")
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(u), nil
}

// sameSite reports whether a redirect Location stays on the site at base (same scheme, host
// and port, no user-info), as a browser would follow it.
func sameSite(base *url.URL, loc string) (bool, string) {
	if loc == "" {
		return false, "no Location"
	}
	if strings.ContainsAny(loc, "\r\n") {
		return false, "Location holds CR/LF"
	}
	u, err := browserResolve(base, loc)
	if err != nil {
		return false, "unparseable Location: " + err.Error()
	}
	if u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil {
		return false, fmt.Sprintf("goes to %s://%s (user %v)", u.Scheme, u.Host, u.User)
	}
	return true, ""
}

// nextVariant is one way to put a corpus entry into the login URL's next parameter.
type nextVariant struct {
	entry, file, how string
	rawQuery         string
}

// nextVariants makes, for one entry, the encoded variant (the server sees the entry as
// written) and, when it differs, the raw one (the entry pasted into the URL as an attacker
// would, so the server sees it percent-decoded, with '+' as space and '&' splitting).
func nextVariants(file, entry string) []nextVariant {
	out := []nextVariant{{entry, file, "encoded", "next=" + url.QueryEscape(entry)}}
	raw := "next=" + entry
	if q, err := url.ParseQuery(raw); err == nil && q.Get("next") == entry {
		return out
	}
	if _, err := url.Parse("http://h/accounts/login?" + raw); err != nil {
		return out // not sendable as a request line; the encoded variant covers the bytes
	}
	return append(out, nextVariant{entry, file, "raw", raw})
}

// TestOpenRedirectCorpora logs in with every open-redirect payload as next: each login must
// succeed (the payload must not break a legitimate login) and redirect to this site.
func TestOpenRedirectCorpora(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	cheapHashing(env)
	env.CreateUser(t, "alice", alicePW, false)
	base, _ := url.Parse(env.URL)

	var cases []nextVariant
	seen := map[string]bool{}
	for _, file := range corpusDir(t, "open-redirect") {
		for _, e := range corpusLines(t, file) {
			for _, v := range nextVariants(file, e) {
				if !seen[v.rawQuery] {
					seen[v.rawQuery] = true
					cases = append(cases, v)
				}
			}
		}
	}
	loginOnce := func(hc *http.Client, v nextVariant) (int, string, error) {
		req, err := http.NewRequest(http.MethodPost, env.URL+"/accounts/login?"+v.rawQuery,
			strings.NewReader(url.Values{"username": {"alice"}, "password": {alicePW}}.Encode()))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", env.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		drain(resp)
		return resp.StatusCode, resp.Header.Get("Location"), nil
	}

	type failure struct {
		v      nextVariant
		status int
		loc    string
		why    string
	}
	var (
		mu       sync.Mutex
		failures []failure
		wg       sync.WaitGroup
		work     = make(chan nextVariant)
		kept     int // payloads whose path survived as the destination (same-site)
	)
	// Two workers: logins are argon2id-bound and there are two cores.
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for v := range work {
				status, loc, err := loginOnce(hc, v)
				var why string
				switch {
				case err != nil:
					why = err.Error()
				case status != http.StatusSeeOther:
					why = fmt.Sprintf("status %d, want 303 (a payload in next must not break the login)", status)
				default:
					if ok, reason := sameSite(base, loc); !ok {
						why = reason
					}
				}
				mu.Lock()
				if why != "" {
					failures = append(failures, failure{v, status, loc, why})
				} else if loc != "/" {
					kept++
				}
				mu.Unlock()
			}
		}()
	}
	for _, v := range cases {
		work <- v
	}
	close(work)
	wg.Wait()
	for _, f := range failures {
		t.Errorf("%s [%s] next=%q: %s (Location %q)", f.v.file, f.v.how, f.v.entry, f.why, f.loc)
	}
	t.Logf("open-redirect: %d logins with corpus payloads as next, %d kept a same-site destination, %d fell back to /", len(cases), kept, len(cases)-kept-len(failures))
	count("open-redirect next payloads (logins)", len(cases))

	// The checker itself must catch what browsers follow off-site; a test that cannot fail
	// is a defect.
	for _, loc := range []string{"//evil.example", `/\evil.example`, "/\t/evil.example", "https://evil.example/", "http://alice@evil.example",
		"http://" + base.Host + "@evil.example", " //evil.example", "https://" + base.Host} {
		if ok, _ := sameSite(base, loc); ok {
			t.Errorf("sameSite(%q) = true; the checker is too lenient", loc)
		}
	}
	for _, loc := range []string{"/", "/comments?x=1", env.URL + "/accounts/2fa", "comments"} {
		if ok, why := sameSite(base, loc); !ok {
			t.Errorf("sameSite(%q) = false (%s); the checker is too strict", loc, why)
		}
	}
}

// crlfInjected reports whether a response carries a header an input tried to inject.
func crlfInjected(resp *http.Response) string {
	for _, ck := range resp.Cookies() {
		if strings.EqualFold(ck.Name, "crlf") {
			return "Set-Cookie crlf=" + ck.Value
		}
	}
	for k, vs := range resp.Header {
		if strings.EqualFold(k, "crlf") {
			return "header " + k
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				return "header " + k + " holds CR/LF"
			}
		}
	}
	return ""
}

// TestCRLFInjection puts every CRLF payload in the path, a query string, next (through a
// real login and through the login-required redirect), form fields and a comment: no
// response may carry an injected header, and legitimate requests around them still work.
func TestCRLFInjection(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	cheapHashing(env)
	env.CreateUser(t, "alice", alicePW, false)
	payloads := corpusLines(t, "crlf/patt-crlfinjection.txt")
	anon := env.Client(t)
	user := env.Client(t)
	user.Login("alice", alicePW)
	n := 0
	check := func(t *testing.T, ctx, p string, r *apptest.Response) {
		t.Helper()
		n++
		if why := crlfInjected(r.Response); why != "" {
			t.Errorf("%s %q: injected %s", ctx, p, why)
		}
		if r.StatusCode >= 500 {
			t.Errorf("%s %q: status %d (hostile input must not crash a handler)", ctx, p, r.StatusCode)
		}
	}
	get := func(c *apptest.Client, rawPathQuery string) (*apptest.Response, bool) {
		req, err := http.NewRequest(http.MethodGet, env.URL+rawPathQuery, nil)
		if err != nil {
			return nil, false
		}
		return c.Do(req), true
	}
	base, _ := url.Parse(env.URL)
	for _, p := range payloads {
		esc := url.QueryEscape(p)
		if r, ok := get(anon, p); ok {
			check(t, "path", p, r)
		}
		if r, ok := get(anon, "/?q="+p); ok {
			check(t, "query", p, r)
		}
		for _, q := range []string{p, esc} {
			if r, ok := get(anon, "/accounts/password?x="+q); ok {
				check(t, "login-required redirect", p, r)
				if r.StatusCode != http.StatusSeeOther {
					t.Errorf("login-required redirect %q: status %d", p, r.StatusCode)
				}
			}
			if r, ok := get(anon, "/accounts/login?next="+q); ok {
				check(t, "login form with next", p, r)
			}
			// A real login with the payload as next: must log in and stay on the site.
			req, err := http.NewRequest(http.MethodPost, env.URL+"/accounts/login?next="+q,
				strings.NewReader(url.Values{"username": {"alice"}, "password": {alicePW}}.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", env.URL)
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				r := env.Client(t).Do(req)
				check(t, "login next", p, r)
				if ok, why := sameSite(base, r.Header.Get("Location")); r.StatusCode != http.StatusSeeOther || !ok {
					t.Errorf("login with next=%q: status %d, %s", q, r.StatusCode, why)
				}
			}
		}
		r := user.Post("/comments", "/comments", url.Values{"body": {"crlf test " + p}})
		check(t, "comment body", p, r)
		r = anon.Post("/accounts/reset", "/accounts/reset", url.Values{"email": {"alice@example.test" + p}})
		check(t, "reset e-mail field", p, r)
	}
	// Form fields of a failed login: decoded CR/LF in the username reach the lockout keys,
	// the audit trail and the re-rendered form.
	bad := env.Client(t)
	for _, p := range payloads {
		u, _ := url.QueryUnescape(strings.ReplaceAll(p, "%u000a", "%0a"))
		r := bad.Post("/accounts/login", "/accounts/login", url.Values{"username": {u}, "password": {"x"}})
		check(t, "login username", p, r)
		if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusTooManyRequests {
			t.Errorf("login username %q: status %d", u, r.StatusCode)
		}
	}
	// Legit flows after the barrage: alice's comments are there and she can still log in.
	if r := user.Get("/comments"); !strings.Contains(r.Body, "crlf test") {
		t.Error("comments with CRLF payloads were not stored")
	}
	env.Client(t).Login("alice", alicePW)
	count("crlf payload x context requests", n)
}
