package csrf

import (
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
