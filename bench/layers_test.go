package bench

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	gorilla "github.com/gorilla/csrf"
	"github.com/justinas/nosurf"
	"github.com/unrolled/secure"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/headers"
	"github.com/rampart-go/rampart/hosts"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/sqlite"
)

// ---------------------------------------------------------------------------------------
// CSRF: rampart vs net/http CrossOriginProtection vs gorilla/csrf vs nosurf.

// csrfImpl is one CSRF middleware with the names its cookie, form field and header use.
type csrfImpl struct {
	name  string
	h     http.Handler
	field string // "" for header-only protections (no token)
	// cookie and token of a primed client ("" for header-only protections).
	cookies []*http.Cookie
	token   string
}

var forbidden = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "Forbidden", http.StatusForbidden)
})

// tokenApp renders the library's token on GET (what a form page does) and answers POSTs.
func tokenApp(token func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && token != nil {
			io.WriteString(w, `<input type="hidden" value="`+html.EscapeString(token(r))+`">`)
			return
		}
		io.WriteString(w, "ok")
	})
}

func csrfImpls(tb testing.TB) []csrfImpl {
	tb.Helper()
	ns := nosurf.New(tokenApp(nosurf.Token))
	ns.SetFailureHandler(forbidden) // nosurf answers 400 by default; align on 403
	ns.SetBaseCookie(http.Cookie{Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	protect, err := csrf.New(csrf.Options{Logger: Quiet})
	if err != nil {
		tb.Fatal(err)
	}
	impls := []csrfImpl{
		{name: "rampart", h: protect.Middleware(tokenApp(csrf.Token)), field: csrf.FieldName},
		{name: "stdlib-COP", h: http.NewCrossOriginProtection().Handler(tokenApp(nil))},
		{name: "gorilla", h: gorilla.Protect(GorillaKey, gorilla.Secure(true), gorilla.Path("/"))(tokenApp(gorilla.Token)), field: "gorilla.csrf.Token"},
		{name: "nosurf", h: ns, field: nosurf.FormFieldName},
	}
	for i := range impls {
		im := &impls[i]
		if im.field == "" {
			continue
		}
		rec := benchCase{h: im.h, req: newReq("GET", Origin+"/form", nil, nil, "")}.once()
		m := valueRE.FindStringSubmatch(rec.Body.String())
		if rec.Code != 200 || m == nil {
			tb.Fatalf("%s: priming GET: %d %q", im.name, rec.Code, rec.Body)
		}
		im.token = html.UnescapeString(m[1])
		im.cookies = rec.Result().Cookies()
		if len(im.cookies) == 0 {
			tb.Fatalf("%s: priming GET set no cookie", im.name)
		}
	}
	return impls
}

func csrfCases(tb testing.TB) []benchCase {
	impls := csrfImpls(tb)
	var cases []benchCase
	add := func(scenario string, im csrfImpl, hdr map[string]string, withToken, tokenInHeader bool, want int) {
		body := "title=hello"
		var cookies []*http.Cookie
		h := map[string]string{}
		for k, v := range hdr {
			h[k] = v
		}
		if withToken && im.field != "" {
			cookies = im.cookies
			if tokenInHeader {
				h["X-CSRF-Token"] = im.token
			} else {
				body = im.field + "=" + url.QueryEscape(im.token) + "&" + body
			}
		}
		cases = append(cases, benchCase{
			name: scenario + "/" + im.name, h: im.h,
			req:  newReq("POST", Origin+"/form", h, cookies, body),
			body: body, want: want,
		})
	}
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": Origin, "Referer": Origin + "/form"}
	refererOnly := map[string]string{"Referer": Origin + "/form"}
	crossSite := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example", "Referer": "https://evil.example/"}

	// What every current browser sends: rampart and CrossOriginProtection decide on
	// Sec-Fetch-Site alone; gorilla and nosurf still need their cookie and token.
	for _, im := range impls {
		add("POST-same-origin-Sec-Fetch-Site", im, sameOrigin, true, false, 200)
	}
	// Old browsers and non-browser clients: no Fetch Metadata, no Origin; the token decides.
	// (CrossOriginProtection lets such requests through unchecked, so it has no row here.)
	for _, im := range impls {
		if im.field != "" {
			add("POST-token-in-form", im, refererOnly, true, false, 200)
		}
	}
	for _, im := range impls {
		if im.field != "" {
			add("POST-token-in-header", im, refererOnly, true, true, 200)
		}
	}
	for _, im := range impls {
		add("POST-cross-origin-rejected", im, crossSite, true, false, 403)
	}
	for _, im := range impls {
		if im.field != "" {
			cases = append(cases, benchCase{
				name: "GET-new-visitor-issues-token/" + im.name, h: im.h,
				req: newReq("GET", Origin+"/form", nil, nil, ""), want: 200,
			})
		}
	}
	return cases
}

func BenchmarkCSRF(b *testing.B) { runCases(b, csrfCases(b)) }

func TestCSRF(t *testing.T) { checkCases(t, csrfCases(t)) }

// ---------------------------------------------------------------------------------------
// Security headers + CSP nonce: rampart (clientip+hosts+headers+csp) vs unrolled/secure.

func nonceApp(nonce func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := nonce(r)
		if n == "" {
			http.Error(w, "no nonce", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `<script nonce="`+n+`"></script>`)
	})
}

func headerCases(tb testing.TB) []benchCase {
	res := &clientip.Resolver{}
	allowed, err := hosts.New(hosts.Options{Allowed: []string{Host}, Logger: Quiet})
	if err != nil {
		tb.Fatal(err)
	}
	sec, err := headers.New(headers.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	policy, err := csp.New(csp.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	rampart := res.Middleware(allowed.Middleware(sec.Middleware(policy.Middleware(nonceApp(csp.Nonce)))))
	headersOnly := sec.Middleware(okHandler)
	cspOnly := policy.Middleware(nonceApp(csp.Nonce))
	unrolled := secure.New(SecureOptions(false)).Handler(nonceApp(func(r *http.Request) string { return secure.CSPNonce(r.Context()) }))
	unrolledStatic := secure.Options(SecureOptions(false))
	unrolledStatic.ContentSecurityPolicy = strings.ReplaceAll(AnchorCSP(), "$NONCE", "static")
	unrolledNoNonce := secure.New(unrolledStatic).Handler(okHandler)

	get := newReq("GET", Origin+"/", nil, nil, "")
	plain := newReq("GET", "http://"+Host+"/page?x=1", nil, nil, "")
	badHost := newReq("GET", Origin+"/", nil, nil, "")
	badHost.Host = "evil.example"

	// Sanity: both stacks send the same header set on the nonce row.
	for _, h := range []http.Handler{rampart, unrolled} {
		rec := benchCase{h: h, req: get}.once()
		for _, k := range []string{"Strict-Transport-Security", "Content-Security-Policy", "X-Content-Type-Options",
			"X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy", "Cross-Origin-Resource-Policy", "Permissions-Policy"} {
			if rec.Header().Get(k) == "" {
				tb.Fatalf("missing %s in %v", k, rec.Header())
			}
		}
	}
	return []benchCase{
		{name: "GET-all-headers+CSP-nonce/rampart", h: rampart, req: get, want: 200},
		{name: "GET-all-headers+CSP-nonce/unrolled-secure", h: unrolled, req: get, want: 200},
		{name: "GET-headers-static-CSP/rampart-headers-only", h: headersOnly, req: get, want: 200},
		{name: "GET-headers-static-CSP/unrolled-secure", h: unrolledNoNonce, req: get, want: 200},
		{name: "GET-CSP-nonce-only/rampart-csp", h: cspOnly, req: get, want: 200},
		{name: "GET-plain-HTTP-redirect/rampart", h: rampart, req: plain, want: http.StatusMovedPermanently},
		{name: "GET-plain-HTTP-redirect/unrolled-secure", h: unrolled, req: plain, want: http.StatusMovedPermanently},
		{name: "GET-disallowed-host/rampart", h: rampart, req: badHost, want: http.StatusBadRequest},
		{name: "GET-disallowed-host/unrolled-secure", h: unrolled, req: badHost, want: http.StatusInternalServerError},
	}
}

func BenchmarkHeaders(b *testing.B) { runCases(b, headerCases(b)) }

func TestHeaders(t *testing.T) { checkCases(t, headerCases(t)) }

// ---------------------------------------------------------------------------------------
// Sessions: rampart (memory, SQLite) vs scs (memstore; redisstore with RAMPART_TEST_REDIS_URL).
// Session contents as in perf-anchors.md: user ID, e-mail, lastSeen (int64).

// sessionApp serves /login (create and log in), /touch (modify lastSeen: load + save) and
// /read (load only), with the same behaviour on each library.
type sessionApp struct {
	login func(w http.ResponseWriter, r *http.Request) error
	touch func(r *http.Request)
	read  func(r *http.Request) string
}

func (a sessionApp) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := a.login(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/touch", func(w http.ResponseWriter, r *http.Request) {
		a.touch(r)
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		if a.read(r) == "" {
			http.Error(w, "anonymous", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/none", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	return mux
}

func rampartSessions(st store.Sessions) http.Handler {
	mgr := session.NewManager(st, session.Options{Logger: Quiet})
	return mgr.Middleware(sessionApp{
		login: func(w http.ResponseWriter, r *http.Request) error {
			if err := mgr.Login(r, benchUserID, "authhash"); err != nil {
				return err
			}
			s := session.FromRequest(r)
			s.SetString("email", benchEmail)
			s.SetInt64("lastSeen", time.Now().UnixNano())
			return nil
		},
		touch: func(r *http.Request) { session.FromRequest(r).SetInt64("lastSeen", time.Now().UnixNano()) },
		read: func(r *http.Request) string {
			s := session.FromRequest(r)
			e, _ := s.GetString("email")
			if s.UserID() == "" {
				return ""
			}
			return e
		},
	}.handler())
}

func scsSessions(sm *scs.SessionManager) http.Handler {
	sm.Cookie.Secure = true
	return sm.LoadAndSave(sessionApp{
		login: func(w http.ResponseWriter, r *http.Request) error {
			if err := sm.RenewToken(r.Context()); err != nil {
				return err
			}
			sm.Put(r.Context(), "userID", 12345)
			sm.Put(r.Context(), "email", benchEmail)
			sm.Put(r.Context(), "lastSeen", time.Now().UnixNano())
			return nil
		},
		touch: func(r *http.Request) { sm.Put(r.Context(), "lastSeen", time.Now().UnixNano()) },
		read: func(r *http.Request) string {
			if sm.GetInt(r.Context(), "userID") == 0 {
				return ""
			}
			return sm.GetString(r.Context(), "email")
		},
	}.handler())
}

func sessionCases(tb testing.TB) []benchCase {
	tb.Helper()
	sq, err := sqlite.Open(filepath.Join(tb.TempDir(), "sessions.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sq.Close() })
	sqSync, err := sqlite.OpenWith(filepath.Join(tb.TempDir(), "sessions-sync.db"), sqlite.Options{SyncSessionWrites: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sqSync.Close() })
	impls := []struct {
		name string
		h    http.Handler
	}{
		{"rampart-memory", rampartSessions(memory.New())},
		{"rampart-sqlite", rampartSessions(sq)},
		{"rampart-sqlite-sync", rampartSessions(sqSync)},
		{"scs-memstore", scsSessions(scs.New())},
	}
	if rh, sh, ok := redisStores(tb); ok {
		impls = append(impls, struct {
			name string
			h    http.Handler
		}{"rampart-redis", rh}, struct {
			name string
			h    http.Handler
		}{"scs-redisstore", sh})
	}
	var cases []benchCase
	for _, im := range impls {
		rec := benchCase{h: im.h, req: newReq("GET", Origin+"/login", nil, nil, "")}.once()
		if rec.Code != 200 || len(rec.Result().Cookies()) == 0 {
			tb.Fatalf("%s: login: %d %v", im.name, rec.Code, rec.Result().Cookies())
		}
		ck := rec.Result().Cookies()
		cases = append(cases,
			benchCase{name: "load+modify+save/" + im.name, h: im.h, req: newReq("GET", Origin+"/touch", nil, ck, ""), want: 200},
			benchCase{name: "load-only/" + im.name, h: im.h, req: newReq("GET", Origin+"/read", nil, ck, ""), want: 200},
			benchCase{name: "no-cookie-untouched/" + im.name, h: im.h, req: newReq("GET", Origin+"/none", nil, nil, ""), want: 200},
		)
		if strings.HasPrefix(im.name, "rampart") {
			// The same update spread over many logged-in sessions, each request another one.
			reqs := make([]*http.Request, manySessions)
			for i := range reqs {
				rec := benchCase{h: im.h, req: newReq("GET", Origin+"/login", nil, nil, "")}.once()
				if rec.Code != 200 {
					tb.Fatalf("%s: login %d: %d", im.name, i, rec.Code)
				}
				reqs[i] = newReq("GET", Origin+"/touch", nil, rec.Result().Cookies(), "")
			}
			cases = append(cases, benchCase{name: fmt.Sprintf("load+modify+save-%d-sessions/%s", manySessions, im.name),
				h: im.h, req: reqs[0], reqs: reqs, want: 200})
		}
	}
	return cases
}

// manySessions is how many sessions the spread-out session scenario cycles through.
const manySessions = 1000

func BenchmarkSession(b *testing.B) { runCases(b, sessionCases(b)) }

func TestSession(t *testing.T) { checkCases(t, sessionCases(t)) }

// countingSessions counts writes, to prove the load+modify+save rows write and the
// load-only rows do not.
type countingSessions struct {
	store.Sessions
	saves int
}

func (c *countingSessions) SaveSession(ctx context.Context, s store.Session) error {
	c.saves++
	return c.Sessions.SaveSession(ctx, s)
}

func TestSessionWrites(t *testing.T) {
	st := &countingSessions{Sessions: memory.New()}
	h := rampartSessions(st)
	rec := benchCase{h: h, req: newReq("GET", Origin+"/login", nil, nil, "")}.once()
	ck := rec.Result().Cookies()
	for _, tc := range []struct {
		path  string
		saves int
	}{{"/touch", 1}, {"/touch", 1}, {"/read", 0}, {"/none", 0}} {
		before := st.saves
		if rec := (benchCase{h: h, req: newReq("GET", Origin+tc.path, nil, ck, "")}).once(); rec.Code != 200 {
			t.Fatalf("%s: %d", tc.path, rec.Code)
		}
		if got := st.saves - before; got != tc.saves {
			t.Fatalf("%s: %d saves, want %d", tc.path, got, tc.saves)
		}
	}
}
