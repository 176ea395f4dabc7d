package errorpage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/settings"
)

const (
	secretKey  = "k3Q9vX2mP8rT5wY1zA7bC4dE6fG0hJ2kL5nM8pR1sU3vW6xZ9aB"
	dbPassword = "hunter2-db-password"
	bearer     = "Bearer eyJhbGciOiJIUzI1NiJ9.sekrit-token"
	sessionVal = "sess-5a1d9c0ffee"
	csrfVal    = "csrf-77ab12cd"
	apiKeyVal  = "apikey-0099xyz"
	resetTok   = "reset-tok-123456"
)

var allSecrets = []string{secretKey, dbPassword, "sekrit-token", sessionVal, csrfVal, apiKeyVal, resetTok}

func loadSettings(t *testing.T) settings.Settings {
	t.Helper()
	env := map[string]string{
		"RAMPART_DEBUG":        "1",
		"RAMPART_SECRET_KEY":   secretKey,
		"RAMPART_DATABASE_URL": "postgres://app:" + dbPassword + "@db.internal/app",
	}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func panicky(v any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "12345")
		w.Header().Set("X-Outer", "kept")
		panic(v)
	})
}

func hostileRequest(remote string) *http.Request {
	r := httptest.NewRequest("POST", "/accounts/reset?token="+resetTok+"&page=2", strings.NewReader("password=pw"))
	r.RemoteAddr = remote
	r.Header.Set("Authorization", bearer)
	r.Header.Set("X-Api-Key", apiKeyVal)
	r.Header.Set("User-Agent", "test-agent/1.0")
	r.Header.Set("X-Echo", "value with "+secretKey+" inside")
	r.AddCookie(&http.Cookie{Name: "__Host-rampart_session", Value: sessionVal})
	r.AddCookie(&http.Cookie{Name: "prefs", Value: csrfVal})
	return r
}

func TestRecoverDebugPageRedacts(t *testing.T) {
	s := loadSettings(t)
	var logs bytes.Buffer
	o := Options{
		Debug:    s.Debug,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Settings: s.Redacted(),
		Scrub:    s.SecretValues(),
	}
	h := Recover(o)(panicky(fmt.Errorf("cannot connect with key %s and db password %s", secretKey, dbPassword)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hostileRequest("127.0.0.1:5555"))

	body := rec.Body.String()
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	for _, want := range []string{"panic: cannot connect with key", "Stack", "errorpage_test.go", "test-agent/1.0",
		"__Host-rampart_session", "RAMPART_SECRET_KEY", "RAMPART_ADDR", "127.0.0.1:8000", "page=2", Mask} {
		if !strings.Contains(body, want) {
			t.Errorf("debug page lacks %q", want)
		}
	}
	for _, sec := range allSecrets {
		if strings.Contains(body, sec) {
			t.Errorf("debug page leaks %q", sec)
		}
		if strings.Contains(logs.String(), sec) {
			t.Errorf("log leaks %q", sec)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("debug page contains a script")
	}
	if rec.Header().Get("Content-Length") == "12345" || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("headers not reset: %v", rec.Header())
	}
	if rec.Header().Get("X-Outer") != "kept" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", rec.Header())
	}
	if !strings.Contains(logs.String(), "panic serving request") || !strings.Contains(logs.String(), "errorpage_test.go") {
		t.Errorf("log lacks panic or stack: %s", logs.String())
	}
}

func TestRecoverProductionIsGeneric(t *testing.T) {
	for _, tc := range []struct {
		name   string
		debug  bool
		remote string
	}{
		{"debug off", false, "127.0.0.1:1"},
		{"debug on but remote client", true, "203.0.113.9:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := Recover(Options{Debug: tc.debug, Logger: slog.New(slog.NewTextHandler(&logs, nil))})(panicky("boom-detail-xyz"))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, hostileRequest(tc.remote))
			body := rec.Body.String()
			if rec.Code != 500 || !strings.Contains(body, "Something went wrong") {
				t.Fatalf("%d %s", rec.Code, body)
			}
			for _, leak := range append([]string{"boom-detail-xyz", "goroutine", "test-agent", "Authorization", "errorpage_test"}, allSecrets...) {
				if strings.Contains(body, leak) {
					t.Errorf("production page leaks %q", leak)
				}
			}
			if !strings.Contains(logs.String(), "boom-detail-xyz") {
				t.Error("panic not logged")
			}
		})
	}
}

func TestRecoverAbortHandler(t *testing.T) {
	h := Recover(Options{Logger: slog.New(slog.DiscardHandler)})(panicky(http.ErrAbortHandler))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	t.Fatal("ErrAbortHandler swallowed")
}

func TestRecoverAfterWriteAborts(t *testing.T) {
	var logs bytes.Buffer
	h := Recover(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("partial"))
		panic("late")
	}))
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	}()
	if rec.Body.String() != "partial" || !strings.Contains(logs.String(), "late") {
		t.Errorf("body %q logs %q", rec.Body.String(), logs.String())
	}
}

func TestRecoverPassesThrough(t *testing.T) {
	h := Recover(Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through wrapper: %v", err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("status %d", rec.Code)
	}
	// panic(nil) is still a panic (runtime.PanicNilError) and must give a 500.
	rec = httptest.NewRecorder()
	Recover(Options{Logger: slog.New(slog.DiscardHandler)})(panicky(nil)).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 {
		t.Errorf("panic(nil): status %d", rec.Code)
	}
}

func TestWriteStatuses(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{
		{400, "could not be understood"},
		{403, "permission"},
		{404, "does not exist"},
		{429, "Too many requests"},
		{500, "Something went wrong"},
		{503, "temporarily unavailable"},
		{418, "I&#39;m a teapot."},
		{200, "Something went wrong"}, // not an error status: refused, 500
	} {
		rec := httptest.NewRecorder()
		Write(rec, httptest.NewRequest("GET", "/x", nil), tc.status)
		wantCode := tc.status
		if wantCode < 400 {
			wantCode = 500
		}
		if rec.Code != wantCode || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%d: %d %q", tc.status, rec.Code, rec.Body.String())
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%d: headers %v", tc.status, rec.Header())
		}
	}
}

func TestWriteMessageEscapesAndJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteMessage(rec, httptest.NewRequest("GET", "/", nil), 403, `<script>alert(1)</script>`)
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Error("message not escaped")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept", "application/json")
	rec = httptest.NewRecorder()
	Write(rec, r, 429)
	var got struct {
		Status  int    `json:"status"`
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Status != 429 || got.Error != "Too Many Requests" {
		t.Errorf("json: %v %+v", err, got)
	}
	// HEAD gets headers only.
	rec = httptest.NewRecorder()
	Handler(404).ServeHTTP(rec, httptest.NewRequest("HEAD", "/", nil))
	if rec.Code != 404 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d %q", rec.Code, rec.Body.String())
	}
}

func TestNonceAndStylesheet(t *testing.T) {
	o := Options{Stylesheet: "/static/app.css", Nonce: func(*http.Request) string { return "n0nce\"x" }}
	rec := httptest.NewRecorder()
	o.Write(rec, httptest.NewRequest("GET", "/", nil), 404)
	b := rec.Body.String()
	if !strings.Contains(b, `<link rel="stylesheet" href="/static/app.css">`) || !strings.Contains(b, `<style nonce="n0nce&#34;x">`) {
		t.Errorf("page: %s", b)
	}
	rec = httptest.NewRecorder()
	Write(rec, httptest.NewRequest("GET", "/", nil), 404)
	if strings.Contains(rec.Body.String(), "<style") {
		t.Error("inline style without a nonce")
	}
}

func TestIsSensitive(t *testing.T) {
	for _, n := range []string{"Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "RAMPART_SECRET_KEY", "X-CSRF-Token", "password", "Proxy-Authorization", "X-Signature", "sessionid"} {
		if !IsSensitive(n) {
			t.Errorf("%q not sensitive", n)
		}
	}
	for _, n := range []string{"User-Agent", "Accept", "RAMPART_ADDR", "page"} {
		if IsSensitive(n) {
			t.Errorf("%q sensitive", n)
		}
	}
}

func BenchmarkRecoverNoPanic(b *testing.B) {
	h := Recover(Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// Cached status pages must still carry each request's own nonce, never the placeholder.
func TestCachedPageCarriesRequestNonce(t *testing.T) {
	for _, nonce := range []string{"n0nceA+/=", "otherNonce123", ""} {
		o := Options{Nonce: func(*http.Request) string { return nonce }}
		for i := 0; i < 2; i++ {
			rec := httptest.NewRecorder()
			o.WriteMessage(rec, httptest.NewRequest("GET", "/", nil), http.StatusTooManyRequests, "slow down")
			body := rec.Body.String()
			if rec.Code != 429 || !strings.Contains(body, "slow down") {
				t.Fatalf("status %d body %q", rec.Code, body)
			}
			if strings.Contains(body, nonceMark) {
				t.Fatalf("placeholder leaked: %q", body)
			}
			if nonce != "" && !strings.Contains(body, `nonce="`+template.HTMLEscapeString(nonce)+`"`) {
				t.Fatalf("nonce %q missing: %q", nonce, body)
			}
			if nonce == "" && strings.Contains(body, "nonce=") {
				t.Fatalf("nonce attribute without a nonce: %q", body)
			}
		}
	}
}
