package vary

import (
	"net/http"
	"slices"
	"testing"
)

func TestCookie(t *testing.T) {
	tests := []struct {
		before, after []string
	}{
		{nil, []string{"Cookie"}},
		{[]string{"Cookie"}, []string{"Cookie"}},
		{[]string{"Accept-Encoding"}, []string{"Accept-Encoding", "Cookie"}},
		{[]string{"Accept-Encoding, cookie"}, []string{"Accept-Encoding, cookie"}},
		{[]string{"Origin", " COOKIE "}, []string{"Origin", " COOKIE "}},
		{[]string{"*"}, []string{"*"}},
		{[]string{"Cookies"}, []string{"Cookies", "Cookie"}},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.before != nil {
			h["Vary"] = slices.Clone(tt.before)
		}
		Cookie(h)
		Cookie(h) // twice: still listed once
		if !slices.Equal(h["Vary"], tt.after) {
			t.Errorf("Vary %q -> %q, want %q", tt.before, h["Vary"], tt.after)
		}
	}
	// The shared slice is never written through.
	a, b := http.Header{}, http.Header{}
	Cookie(a)
	Cookie(b)
	a["Vary"] = append(a["Vary"], "Origin")
	if !slices.Equal(b["Vary"], []string{"Cookie"}) {
		t.Fatalf("shared Vary slice changed: %q", b["Vary"])
	}
}
