package csrf

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/djangotest"
)

// djangoCSRF is a Django project in a script: CsrfViewMiddleware with the default names
// (cookie csrftoken, field csrfmiddlewaretoken, header X-CSRFToken), a view that issues a
// token and one that accepts a POST. It prints cookie/token pairs Django issued, then
// Django's answer to each POST in IN["cases"].
const djangoCSRF = djangotest.Settings + `
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.test import Client
from django.urls import path
def form(request):
    return HttpResponse(get_token(request))
def post(request):
    return HttpResponse("ok")
urlpatterns[:] = [path("form", form), path("post", post)]
out = {"issued": [], "answers": []}
for _ in range(4):
    c = Client(enforce_csrf_checks=True)
    r = c.get("/form")
    cookie, token = r.cookies["csrftoken"].value, r.content.decode()
    own = c.post("/post", {"csrfmiddlewaretoken": token}).status_code  # Django accepts its own pair
    out["issued"].append({"cookie": cookie, "token": token, "own": own})
for case in IN["cases"]:
    c = Client(enforce_csrf_checks=True)
    c.cookies["csrftoken"] = case["cookie"]
    if case["header"]:
        r = c.post("/post", {}, HTTP_X_CSRFTOKEN=case["token"])
    else:
        r = c.post("/post", {case["field"]: case["token"]})
    out["answers"].append(r.status_code)
print(json.dumps(out))
`

type djangoCase struct {
	Cookie string `json:"cookie"`
	Token  string `json:"token"`
	Field  string `json:"field"`
	Header bool   `json:"header"`
}

type djangoOut struct {
	Issued []struct {
		Cookie string `json:"cookie"`
		Token  string `json:"token"`
		Own    int    `json:"own"`
	} `json:"issued"`
	Answers []int `json:"answers"`
}

// Issue 14: Django's own CsrfViewMiddleware (Debian's python3-django 3.2, which writes the
// 64-character masked cookies of Django < 4.1) and rampart, configured with Django's names,
// accept each other's cookie/token pairs, by form field and by header, and refuse a wrong
// token.
func TestDjangoCSRFInterop(t *testing.T) {
	py := djangotest.Python(t, "django")
	opts := Options{Logger: quietLogger, FieldName: "csrfmiddlewaretoken", HeaderName: "X-CSRFToken",
		Store: &CookieStore{Name: "csrftoken"}}
	mw := protect(opts)
	tmpl := template.Must(template.New("f").Funcs(FuncMap()).Parse(`<form method="post">{{csrfField .}}</form><meta content="{{csrfToken .}}">`))
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(200)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		if err := tmpl.Execute(w, r); err != nil {
			t.Error(err)
		}
	}))
	// rampart issues pairs: its cookie is the bare secret, its form field is Django's name.
	field := regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([A-Za-z0-9]{64})">`)
	meta := regexp.MustCompile(`<meta content="([A-Za-z0-9]{64})">`)
	var cases []djangoCase
	var wrongAt []int
	for i := range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newReq("GET", "http://testserver/form", nil, nil))
		cks := rec.Result().Cookies()
		f, m := field.FindStringSubmatch(rec.Body.String()), meta.FindStringSubmatch(rec.Body.String())
		if len(cks) != 1 || cks[0].Name != "csrftoken" || len(cks[0].Value) != 32 || f == nil || m == nil || f[1] != "csrfmiddlewaretoken" {
			t.Fatalf("rampart's page: cookies %v, body %s", cks, rec.Body.String())
		}
		cases = append(cases, djangoCase{Cookie: cks[0].Value, Token: f[2], Field: f[1]},
			djangoCase{Cookie: cks[0].Value, Token: m[1], Header: true})
		if i == 0 { // a token of another secret: refused
			wrongAt = append(wrongAt, len(cases))
			cases = append(cases, djangoCase{Cookie: cks[0].Value, Token: maskSecret(newSecret()), Field: f[1]})
		}
	}
	var out djangoOut
	djangotest.Run(t, py, djangoCSRF, map[string]any{"middleware": []string{"django.middleware.csrf.CsrfViewMiddleware"}, "cases": cases}, &out)

	// rampart -> Django.
	accepted := 0
	for i, status := range out.Answers {
		want := 200
		if len(wrongAt) > 0 && i == wrongAt[0] {
			want = 403
		}
		if status != want {
			t.Errorf("Django answered %d to rampart's pair %+v, want %d", status, cases[i], want)
		} else if want == 200 {
			accepted++
		}
	}
	if len(out.Answers) != len(cases) {
		t.Fatalf("%d answers for %d cases", len(out.Answers), len(cases))
	}

	// Django -> rampart: Django 3.2's 64-character masked cookie with its token, by form field
	// and by header; a wrong token is refused.
	post := func(cookie, tok string, header bool) int {
		var r *http.Request
		if header {
			r = newReq("POST", "http://testserver/post", map[string]string{"X-CSRFToken": tok}, nil)
		} else {
			body, ct := formBody(url.Values{"csrfmiddlewaretoken": {tok}})
			r = newReq("POST", "http://testserver/post", map[string]string{"Content-Type": ct}, body)
		}
		withCookie(r, "csrftoken", cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	took := 0
	for _, p := range out.Issued {
		if len(p.Cookie) != 64 || p.Own != 200 {
			t.Fatalf("Django issued cookie %q (Django's own POST: %d); Django 3.2 writes 64-character masked cookies", p.Cookie, p.Own)
		}
		for _, header := range []bool{false, true} {
			if got := post(p.Cookie, p.Token, header); got != 200 {
				t.Errorf("rampart answered %d to Django's pair (header %v)", got, header)
			} else {
				took++
			}
		}
		if got := post(p.Cookie, maskSecret(newSecret()), false); got != 403 {
			t.Errorf("rampart accepted a wrong token with Django's cookie: %d", got)
		}
	}
	// A rampart page served to a visitor holding Django's cookie keeps the secret: its token
	// carries it, and the cookie is left as it is (the page streams; a token issued before
	// the header goes would rewrite it bare, as Django 4.1+ does). Django accepts the pair.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, withCookie(newReq("GET", "http://testserver/form", nil, nil), "csrftoken", out.Issued[0].Cookie))
	f := field.FindStringSubmatch(rec.Body.String())
	if f == nil || unmaskString(f[2]) != unmaskString(out.Issued[0].Cookie) || len(rec.Result().Cookies()) != 0 {
		t.Fatalf("Django's cookie on a rampart page: cookies %v, body %s", rec.Result().Cookies(), rec.Body.String())
	}
	bare := bareCookieFromRampart(t, out.Issued[0].Cookie)
	var again djangoOut
	djangotest.Run(t, py, djangoCSRF, map[string]any{"middleware": []string{"django.middleware.csrf.CsrfViewMiddleware"},
		"cases": []djangoCase{{Cookie: out.Issued[0].Cookie, Token: f[2], Field: f[1]}, {Cookie: bare, Token: f[2], Field: f[1]}}}, &again)
	if len(again.Answers) != 2 || again.Answers[0] != 200 || again.Answers[1] != 200 {
		t.Errorf("Django on its cookie / the rewritten one with rampart's token: %v", again.Answers)
	}
	t.Logf("Django 3.2 accepted %d of %d rampart pairs (and refused the wrong one); rampart accepted %d of %d Django pairs (64-character cookies)",
		accepted, len(cases)-1, took, 2*len(out.Issued))
}

// bareCookieFromRampart asks rampart for a token before anything is written, with Django's
// masked cookie: the cookie comes back rewritten as the bare secret.
func bareCookieFromRampart(t *testing.T, masked string) string {
	t.Helper()
	h := protect(Options{Logger: quietLogger, Store: &CookieStore{Name: "csrftoken"}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = Token(r)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, withCookie(newReq("GET", "http://testserver/", nil, nil), "csrftoken", masked))
	cks := rec.Result().Cookies()
	if len(cks) != 1 || len(cks[0].Value) != 32 || cks[0].Value != unmaskString(masked) {
		t.Fatalf("masked cookie not rewritten bare: %v", cks)
	}
	return cks[0].Value
}

// The configured names are rendered and read, and bad ones are refused by New.
func TestFieldAndHeaderNames(t *testing.T) {
	h := protect(Options{Logger: quietLogger, FieldName: "_csrf", HeaderName: "x-xsrf-token"})(okHandler)
	for _, tc := range []struct {
		hdr  map[string]string
		form url.Values
		want int
	}{
		{map[string]string{"X-XSRF-TOKEN": maskSecret(testSecret)}, nil, 200},
		{map[string]string{"X-CSRF-Token": maskSecret(testSecret)}, nil, 200}, // built-in names still read
		{map[string]string{"X-CSRFToken": maskSecret(testSecret)}, nil, 200},
		{nil, url.Values{"_csrf": {maskSecret(testSecret)}}, 200},
		{nil, url.Values{"csrfmiddlewaretoken": {maskSecret(testSecret)}}, 200},
		{nil, url.Values{"csrf_token": {maskSecret(testSecret)}}, 200},
		{map[string]string{"X-XSRF-TOKEN": strings.Repeat("a", 64)}, nil, 403},
		{nil, url.Values{"other": {maskSecret(testSecret)}}, 403},
	} {
		hdr := map[string]string{}
		for k, v := range tc.hdr {
			hdr[k] = v
		}
		var r *http.Request
		if tc.form != nil {
			body, ct := formBody(tc.form)
			hdr["Content-Type"] = ct
			r = newReq("POST", "http://www.example.com/", hdr, body)
		} else {
			r = newReq("POST", "http://www.example.com/", hdr, nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, withCookie(r, InsecureCookieName, testSecret))
		if rec.Code != tc.want {
			t.Errorf("%v %v: %d, want %d", tc.hdr, tc.form, rec.Code, tc.want)
		}
	}
	res := run(t, Options{HeaderName: "X-XSRF-TOKEN"}, nil, withCookie(newReq("POST", "http://www.example.com/",
		map[string]string{"X-XSRF-TOKEN": "short"}, nil), InsecureCookieName, testSecret))
	if res.reason == nil || res.reason.Error() != "CSRF token from the 'X-XSRF-TOKEN' HTTP header has incorrect length." {
		t.Errorf("reason %v", res.reason)
	}
	var field string
	protect(Options{FieldName: "_csrf"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		field = string(TemplateField(r))
	})).ServeHTTP(httptest.NewRecorder(), newReq("GET", "http://www.example.com/", nil, nil))
	if !strings.HasPrefix(field, `<input type="hidden" name="_csrf" value="`) {
		t.Errorf("field %s", field)
	}
	for _, o := range []Options{{FieldName: `a"b`}, {FieldName: "a b"}, {FieldName: "<x>"}, {HeaderName: "X Token"}, {HeaderName: "X:Y"}, {HeaderName: "é"}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
