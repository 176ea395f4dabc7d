package rampart_test

import (
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/csrf"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/memory"
)

// The whole stack with Django's CSRF names from the settings (RAMPART_CSRF_COOKIE_NAME,
// _FIELD_NAME, _HEADER_NAME) and a page streamed through a template: the field has Django's
// name, the cookie arrives with the page, and the token posts back by the configured header
// from a client that sends neither Origin nor Sec-Fetch-Site.
func TestStackDjangoCSRFNames(t *testing.T) {
	env := map[string]string{"RAMPART_INSECURE_DEV": "1", "RAMPART_CSRF_COOKIE_NAME": "csrftoken",
		"RAMPART_CSRF_FIELD_NAME": "csrfmiddlewaretoken", "RAMPART_CSRF_HEADER_NAME": "X-XSRF-TOKEN"}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := rampart.New(t.Context(), s, rampart.Options{Store: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page := template.Must(template.New("p").Funcs(csrf.FuncMap()).Parse(
		`<!doctype html><title>t</title><p>{{.Filler}}</p><form method="post">{{csrfField .R}}</form>`))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, struct {
			R      *http.Request
			Filler string
		}{r, strings.Repeat("lorem ipsum ", 2000)}); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "posted") })
	srv := httptest.NewServer(st.Handler(mux))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/form")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"`).FindSubmatch(body)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "csrftoken" {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || m == nil || cookie == nil {
		t.Fatalf("GET /form: %d, field %v, cookies %v", resp.StatusCode, m != nil, resp.Cookies())
	}
	req, _ := http.NewRequest("POST", srv.URL+"/post", nil)
	req.Header.Set("X-XSRF-TOKEN", string(m[1]))
	req.AddCookie(cookie)
	pr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pr.Body.Close()
	if pr.StatusCode != 200 {
		t.Fatalf("POST with the streamed page's token: %d", pr.StatusCode)
	}
}
