package csrf

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCookieValueWhitespace: only SP and HTAB surround a cookie pair; any other white space
// is part of the name, so a cookie named "\u00a0__Host-csrftoken" (which a sibling subdomain
// can set, since it lacks the prefix) is not the __Host- cookie.
func TestCookieValueWhitespace(t *testing.T) {
	tests := []struct {
		line   string
		want   string
		wantOK bool
	}{
		{"__Host-csrftoken=good", "good", true},
		{" \t__Host-csrftoken=good \t; other=x", "good", true},
		{"a=b;__Host-csrftoken =good", "good", true},
		{"\u00a0__Host-csrftoken=evil", "", false},
		{"\u0085__Host-csrftoken=evil", "", false},
		{"\u2003__Host-csrftoken=evil", "", false},
		{"\u3000__Host-csrftoken=evil", "", false},
		{"__Host-csrftoken\u00a0=evil", "", false},
		{"\u00a0__Host-csrftoken=evil; __Host-csrftoken=good", "good", true},
		{"\v__Host-csrftoken=evil", "", false},
		{"\f__Host-csrftoken=evil", "", false},
		{"\r\n__Host-csrftoken=evil", "", false},
		{`__Host-csrftoken="quoted"`, "quoted", true},
	}
	for _, tt := range tests {
		got, ok := cookieValue([]string{tt.line}, SecureCookieName)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("cookieValue(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.wantOK)
		}
	}
}

// FuzzCookieValue: the reader never panics, and what it finds is exactly what RFC 6265's
// reading finds: the first ";"-separated pair whose name, trimmed of SP and HTAB only, is
// the name asked for.
func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"__Host-csrftoken=x", "\u00a0__Host-csrftoken=x", "a=b; __Host-csrftoken=\"y\"", ";;=;", "__Host-csrftoken"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got, ok := cookieValue([]string{line}, SecureCookieName)
		var want string
		var wantOK bool
		for _, part := range strings.Split(line, ";") {
			k, v, found := strings.Cut(strings.Trim(part, " \t"), "=")
			if !found || strings.Trim(k, " \t") != SecureCookieName {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			want, wantOK = v, true
			break
		}
		if got != want || ok != wantOK {
			t.Fatalf("cookieValue(%q) = %q, %v; RFC 6265 reading gives %q, %v", line, got, ok, want, wantOK)
		}
	})
}

// A handler may set its own cookies and Vary before asking for a token: the CSRF cookie is
// added beside them, never in their place, and Vary gains Cookie without losing anything.
func TestTokenKeepsEarlierHeaders(t *testing.T) {
	cases := []struct {
		name       string
		preset     http.Header
		wantCookie []string // cookie names expected, in order
		wantVary   []string
	}{
		{"nothing set", http.Header{}, []string{SecureCookieName}, []string{"Cookie"}},
		{"a session cookie", http.Header{"Set-Cookie": {"sid=abc; Path=/; HttpOnly"}}, []string{"sid", SecureCookieName}, []string{"Cookie"}},
		{"a Vary", http.Header{"Vary": {"Accept-Encoding"}}, []string{SecureCookieName}, []string{"Accept-Encoding", "Cookie"}},
		{"both", http.Header{"Set-Cookie": {"sid=abc"}, "Vary": {"Origin"}}, []string{"sid", SecureCookieName}, []string{"Origin", "Cookie"}},
	}
	for _, c := range cases {
		h := protect(Options{Logger: quietLogger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range c.preset {
				w.Header()[k] = append([]string(nil), v...)
			}
			if Token(r) == "" {
				t.Error("no token")
			}
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newReq("GET", "https://www.example.com/", nil, nil))
		var names []string
		for _, ck := range rec.Result().Cookies() {
			names = append(names, ck.Name)
		}
		if strings.Join(names, ",") != strings.Join(c.wantCookie, ",") {
			t.Errorf("%s: cookies %v, want %v", c.name, names, c.wantCookie)
		}
		var vary []string
		for _, v := range rec.Header().Values("Vary") {
			for _, f := range strings.Split(v, ",") {
				vary = append(vary, strings.TrimSpace(f))
			}
		}
		if strings.Join(vary, ",") != strings.Join(c.wantVary, ",") {
			t.Errorf("%s: Vary %v, want %v", c.name, vary, c.wantVary)
		}
	}
}

// Issuing a secret on a first visit costs at most two allocations (the Set-Cookie line and
// the header values sharing one array), as issue's comment promises: it runs on every first
// page view with a form.
func TestIssueAllocations(t *testing.T) {
	cs := &CookieStore{}
	w := &headerOnly{h: http.Header{}}
	limit := 2.0
	if raceEnabled {
		limit++ // the race detector's own allocation
	}
	for _, secure := range []bool{true, false} {
		if n := testing.AllocsPerRun(200, func() {
			clear(w.h)
			if _, err := cs.issue(w, secure); err != nil {
				t.Fatal(err)
			}
		}); n > limit {
			t.Errorf("issue(secure=%v) allocates %.1f times, want at most %.0f", secure, n, limit)
		}
	}
}

type headerOnly struct{ h http.Header }

func (w *headerOnly) Header() http.Header         { return w.h }
func (w *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerOnly) WriteHeader(int)             {}
