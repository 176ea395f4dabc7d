package bench

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	gorilla "github.com/gorilla/csrf"
	"github.com/ulule/limiter/v3"
	ulstdlib "github.com/ulule/limiter/v3/drivers/middleware/stdlib"
	ulmemory "github.com/ulule/limiter/v3/drivers/store/memory"
	"github.com/unrolled/secure"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/headers"
	"github.com/rampart-go/rampart/ratelimit"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

// The site every benchmark request addresses.
const (
	Host   = "www.example.com"
	Origin = "https://" + Host
)

// Quiet is the logger handed to every layer: rejections are still formatted and passed to
// slog (part of the cost), but not written anywhere.
var Quiet = slog.New(slog.DiscardHandler)

// Config selects what differs between stack instances.
type Config struct {
	// Rate is the per-IP limit in ratelimit syntax ("1/h" for the rate-limited scenario).
	// Empty means a limit so high it never trips, so the check itself is measured.
	Rate string
	// Store is rampart's backend (sessions, audit events); nil means store/memory.
	Store store.Store
	// BehindProxy trusts X-Forwarded-Proto from 127.0.0.1 (the wrk server runs plain HTTP
	// on loopback, as behind a TLS-terminating proxy).
	BehindProxy bool
}

// Stack is one assembled middleware chain plus what the benchmarks need to prime it.
type Stack struct {
	Name    string
	Handler http.Handler
	// Rampart is the assembled rampart stack (nil for the anchor chain).
	Rampart *rampart.Stack
}

// The application both stacks serve. Its behaviour is identical on each: the form page
// renders a CSRF hidden field and uses the CSP nonce, the POST updates the session, the
// account page reads the logged-in user.
//
//	GET  /form     -> 200, hidden field + nonce (issues a CSRF token)
//	POST /form     -> 200 "ok", session lastSeen updated (saved)
//	POST /login    -> 200, logs user 12345 in (session ID renewed)
//	GET  /account  -> 200 with the user's e-mail and the nonce, 401 when anonymous
type appAPI struct {
	field func(r *http.Request) template.HTML
	nonce func(r *http.Request) string
	login func(w http.ResponseWriter, r *http.Request) error
	user  func(r *http.Request) (id, email string)
	touch func(r *http.Request)
}

func (a appAPI) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		f := a.field(r)
		n := a.nonce(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<form method="post">`)
		io.WriteString(w, string(f))
		io.WriteString(w, `</form><script nonce="`)
		io.WriteString(w, n)
		io.WriteString(w, `"></script>`)
	})
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		a.touch(r)
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := a.login(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "logged in")
	})
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		id, email := a.user(r)
		if id == "" {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<p>`)
		io.WriteString(w, template.HTMLEscapeString(email))
		io.WriteString(w, `</p><script nonce="`)
		io.WriteString(w, a.nonce(r))
		io.WriteString(w, `"></script>`)
	})
	return mux
}

const (
	benchUserID = "12345"
	benchEmail  = "alice@example.com"
)

// hugeRate never trips in a benchmark; what is measured is the limiter's check.
// Per hour, so the client's key stays tracked between requests (see limiter_test.go).
const hugeRate = "1000000000/h"

// BenchKey is the secret key of the benchmark stacks (long and varied enough for production rules).
const BenchKey = "bench-7c1e9a4f2b8d6035-rampart-benchmark-secret-key-qrs"

// Settings are the production settings of the benchmark stack: the zero-value (secure)
// defaults of every layer, the benchmark host allowed, and loopback trusted as a
// TLS-terminating proxy when cfg.BehindProxy.
func Settings(cfg Config) (settings.Settings, error) {
	rate := cfg.Rate
	if rate == "" {
		rate = hugeRate
	}
	env := map[string]string{
		"RAMPART_SECRET_KEY":    BenchKey,
		"RAMPART_ALLOWED_HOSTS": Host,
		"RAMPART_RATE":          rate,
	}
	if cfg.BehindProxy {
		env["RAMPART_TRUSTED_PROXIES"] = "127.0.0.0/8,::1/128"
	}
	return settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
}

// Rampart is rampart's real default stack, rampart.New + (*rampart.Stack).Handler, over
// cfg.Store (store/memory when nil): clientip -> panic recovery -> hosts -> headers (HSTS,
// HTTPS redirect) -> csp -> ratelimit (RateLimit headers, error page on 429) -> session ->
// csrf (rejections recorded by audit, error page) -> app, with production settings.
func Rampart(cfg Config) (*Stack, error) {
	st := cfg.Store
	if st == nil {
		st = memory.New()
	}
	s, err := Settings(cfg)
	if err != nil {
		return nil, err
	}
	stack, err := rampart.New(context.Background(), s, rampart.Options{Store: st, Logger: Quiet, Now: time.Now})
	if err != nil {
		return nil, err
	}
	mgr := stack.Sessions
	app := appAPI{
		field: csrf.TemplateField,
		nonce: csp.Nonce,
		login: func(w http.ResponseWriter, r *http.Request) error {
			if err := mgr.Login(r, benchUserID, "authhash-0123456789abcdef"); err != nil {
				return err
			}
			s := session.FromRequest(r)
			s.SetString("email", benchEmail)
			s.SetInt64("lastSeen", time.Now().UnixNano())
			return csrf.Rotate(w, r)
		},
		user: func(r *http.Request) (string, string) {
			s := session.FromRequest(r)
			e, _ := s.GetString("email")
			return s.UserID(), e
		},
		touch: func(r *http.Request) {
			session.FromRequest(r).SetInt64("lastSeen", time.Now().UnixNano())
		},
	}
	return &Stack{Name: "rampart", Handler: stack.Handler(app.mux()), Rampart: stack}, nil
}

// AnchorCSP is the policy the anchor chain sends: rampart's default policy text, with
// unrolled/secure's $NONCE placeholder, so both stacks send the same header.
func AnchorCSP() string {
	return strings.ReplaceAll(csp.DefaultPolicy().String(), "{nonce}", "$NONCE")
}

// SecureOptions is the production unrolled/secure configuration of the anchor chain,
// matching rampart's headers/hosts/csp defaults header for header.
func SecureOptions(behindProxy bool) secure.Options {
	o := secure.Options{
		AllowedHosts:              []string{Host},
		SSLRedirect:               true,
		STSSeconds:                63072000,
		STSIncludeSubdomains:      true,
		FrameDeny:                 true,
		ContentTypeNosniff:        true,
		ReferrerPolicy:            headers.DefaultReferrerPolicy,
		PermissionsPolicy:         headers.DefaultPermissionsPolicy,
		CrossOriginOpenerPolicy:   headers.DefaultCOOP,
		CrossOriginResourcePolicy: headers.DefaultCORP,
		ContentSecurityPolicy:     AnchorCSP(),
	}
	if behindProxy {
		o.SSLProxyHeaders = map[string]string{"X-Forwarded-Proto": "https"}
	}
	return o
}

// GorillaKey is the anchor chain's gorilla/csrf authentication key.
var GorillaKey = []byte("0123456789abcdef0123456789abcdef")

// Anchor assembles the chain perf-anchors.md measured (25.1 µs / 344 allocs on a valid
// POST): unrolled/secure (production headers + CSP nonce + allowed hosts + HTTPS redirect)
// -> ulule/limiter per-IP stdlib middleware (memory store) -> scs LoadAndSave (memstore)
// -> gorilla/csrf -> app.
func Anchor(cfg Config) (*Stack, error) {
	rate := limiter.Rate{Period: time.Hour, Limit: 1_000_000_000}
	if cfg.Rate != "" {
		rt, err := ratelimit.ParseRate(cfg.Rate)
		if err != nil {
			return nil, err
		}
		rate = limiter.Rate{Period: rt.Per, Limit: int64(rt.N)}
	}
	sm := scs.New()
	sm.Cookie.Secure = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.IdleTimeout = 30 * time.Minute
	sm.Lifetime = 12 * time.Hour
	app := appAPI{
		field: gorilla.TemplateField,
		nonce: func(r *http.Request) string { return secure.CSPNonce(r.Context()) },
		login: func(w http.ResponseWriter, r *http.Request) error {
			if err := sm.RenewToken(r.Context()); err != nil {
				return err
			}
			sm.Put(r.Context(), "userID", 12345)
			sm.Put(r.Context(), "email", benchEmail)
			sm.Put(r.Context(), "lastSeen", time.Now().UnixNano())
			return nil
		},
		user: func(r *http.Request) (string, string) {
			id := sm.GetInt(r.Context(), "userID")
			if id == 0 {
				return "", ""
			}
			return fmt.Sprint(id), sm.GetString(r.Context(), "email")
		},
		touch: func(r *http.Request) {
			sm.Put(r.Context(), "lastSeen", time.Now().UnixNano())
		},
	}
	h := http.Handler(app.mux())
	h = gorilla.Protect(GorillaKey, gorilla.Secure(true), gorilla.Path("/"))(h)
	h = sm.LoadAndSave(h)
	h = ulstdlib.NewMiddleware(limiter.New(ulmemory.NewStore(), rate)).Handler(h)
	h = secure.New(SecureOptions(cfg.BehindProxy)).Handler(h)
	return &Stack{Name: "anchor", Handler: h}, nil
}

// Client is what a browser holding a logged-in session on a stack sends back.
type Client struct {
	Cookies []*http.Cookie
	// Token is the CSRF token from the stack's hidden form field.
	Token string
}

var valueRE = regexp.MustCompile(`value="([^"]+)"`)

// Prime logs a client in through h the way a browser would (GET the form, POST the login
// with the token), so later requests carry a real session and a real CSRF token.
// remoteAddr and proto say where the priming requests come from.
func Prime(h http.Handler, remoteAddr string, behindProxy bool) (Client, error) {
	var c Client
	do := func(method, path, body string) (*http.Response, string) {
		r := httptest.NewRequestWithContext(context.Background(), method, Origin+path, strings.NewReader(body))
		if behindProxy {
			r = httptest.NewRequestWithContext(context.Background(), method, "http://"+Host+path, strings.NewReader(body))
			r.Header.Set("X-Forwarded-Proto", "https")
		}
		r.RemoteAddr = remoteAddr
		if body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Origin", Origin)
			r.Header.Set("Referer", Origin+"/form")
			r.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		for _, ck := range c.Cookies {
			r.AddCookie(ck)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		res := rec.Result()
		c.Cookies = mergeCookies(c.Cookies, res.Cookies())
		return res, rec.Body.String()
	}
	res, body := do("GET", "/form", "")
	if res.StatusCode != 200 {
		return c, fmt.Errorf("GET /form: %d %s", res.StatusCode, body)
	}
	m := valueRE.FindStringSubmatch(body)
	if m == nil {
		return c, fmt.Errorf("GET /form: no token in %q", body)
	}
	tok := html.UnescapeString(m[1])
	res, body = do("POST", "/login", FormBody(tok, tok))
	if res.StatusCode != 200 {
		return c, fmt.Errorf("POST /login: %d %s", res.StatusCode, body)
	}
	// Login rotates the CSRF secret (rampart); fetch a token valid after it.
	res, body = do("GET", "/form", "")
	if m = valueRE.FindStringSubmatch(body); res.StatusCode != 200 || m == nil {
		return c, fmt.Errorf("GET /form after login: %d %s", res.StatusCode, body)
	}
	c.Token = html.UnescapeString(m[1])
	return c, nil
}

// FormBody is a form carrying rampart's token under Django's field name and gorilla's under
// its own, so one request body serves both stacks.
func FormBody(rampartTok, gorillaTok string) string {
	return "csrfmiddlewaretoken=" + url.QueryEscape(rampartTok) +
		"&gorilla.csrf.Token=" + url.QueryEscape(gorillaTok) + "&title=hello"
}

func mergeCookies(have, got []*http.Cookie) []*http.Cookie {
	for _, g := range got {
		kept := have[:0]
		for _, h := range have {
			if h.Name != g.Name {
				kept = append(kept, h)
			}
		}
		have = kept
		if g.MaxAge >= 0 && g.Value != "" {
			have = append(have, &http.Cookie{Name: g.Name, Value: g.Value})
		}
	}
	return have
}
