package session

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	tests := []payload{
		{},
		{authHash: "h"},
		{csrf: "c", flashes: []string{"", "two"}},
		{vals: []entry{{key: "s", kind: kindString, s: strings.Repeat("x", 300)}, {key: "i", kind: kindInt, i: -1 << 63}, {key: "b", kind: kindBool, i: 1}, {key: "", kind: kindInt, i: 1<<63 - 1}}},
	}
	for i, p := range tests {
		got, err := decode(p.encode())
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%d: got %+v want %+v", i, got, p)
		}
	}
}

func TestCodecRejectsCorrupt(t *testing.T) {
	good := (&payload{authHash: "h", vals: []entry{{key: "k", kind: kindBool, i: 1}}}).encode()
	tests := map[string][]byte{
		"version":    {2},
		"truncated":  good[:len(good)-1],
		"trailing":   append(append([]byte{}, good...), 0),
		"bad bool":   append(append([]byte{}, good[:len(good)-1]...), 2),
		"bad kind":   {1, 0, 0, 0, 1, 0, 'x'},
		"huge count": {1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge len":   {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"overflow":   {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	}
	for name, b := range tests {
		if _, err := decode(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add((&payload{authHash: "h", csrf: "c", flashes: []string{"f"}, vals: []entry{{key: "k", kind: kindString, s: "v"}, {key: "n", kind: kindInt, i: -7}}}).encode())
	f.Add([]byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes to the same.
		p2, err := decode(p.encode())
		if err != nil || !reflect.DeepEqual(normal(p), normal(p2)) {
			t.Fatalf("re-decode: %v\n%+v\n%+v", err, p, p2)
		}
	})
}

func normal(p payload) payload {
	if len(p.flashes) == 0 {
		p.flashes = nil
	}
	if len(p.vals) == 0 {
		p.vals = nil
	}
	return p
}

func TestFindCookie(t *testing.T) {
	tok := newToken()
	tests := []struct {
		name    string
		headers []string
		token   string
		present bool
	}{
		{"none", nil, "", false},
		{"other cookies", []string{"a=1; b=2"}, "", false},
		{"prefix of name", []string{"__Host-sessionX=" + tok}, "", false},
		{"name without =", []string{"__Host-session"}, "", false},
		{"valid", []string{"a=1;__Host-session=" + tok + ";b=2"}, tok, true},
		{"spaces and tabs", []string{"a=1; \t__Host-session=" + tok + " \t"}, tok, true},
		{"second header", []string{"a=1", "__Host-session=" + tok}, tok, true},
		{"first valid wins", []string{"__Host-session=bad; __Host-session=" + tok + "; __Host-session=" + newToken()}, tok, true},
		{"invalid only", []string{"__Host-session=" + tok[:40]}, "", true},
		{"case matters", []string{"__host-session=" + tok}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Cookie": tt.headers}
			got, present := findCookie(h, "__Host-session")
			if got != tt.token || present != tt.present {
				t.Errorf("got %q %v, want %q %v", got, present, tt.token, tt.present)
			}
		})
	}
}

func FuzzFindCookie(f *testing.F) {
	tok := newToken()
	f.Add("__Host-session=" + tok)
	f.Add("a=b; __Host-session=" + tok + "; c")
	f.Add(";;;__Host-session=;=;")
	f.Add("__Host-session=\"" + tok[:41] + "\"")
	f.Fuzz(func(t *testing.T, line string) {
		got, present := findCookie(http.Header{"Cookie": {line}}, "__Host-session")
		if got != "" {
			if !present || !validToken(got) || !strings.Contains(line, "__Host-session="+got) {
				t.Fatalf("returned %q from %q", got, line)
			}
		}
		// Agreement with net/http's parser on well-formed tokens: whatever it finds we find.
		r := &http.Request{Header: http.Header{"Cookie": {line}}}
		for _, c := range r.CookiesNamed("__Host-session") {
			if validToken(c.Value) && !present {
				t.Fatalf("net/http sees %q in %q, findCookie nothing", c.Value, line)
			}
		}
	})
}

func TestTokenShape(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := newToken()
		if len(tok) != tokenLen || !validToken(tok) || seen[tok] {
			t.Fatalf("token %q", tok)
		}
		seen[tok] = true
	}
	// storeKey is SHA-256 in hex (a known vector), whatever the length of its input.
	if got := storeKey("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("storeKey(abc) = %s", got)
	}
}

// FuzzMiddlewareCookie sends arbitrary Cookie headers through the whole middleware: it must
// never panic, never fail, and ask the store only for well-formed tokens.
func FuzzMiddlewareCookie(f *testing.F) {
	f.Add("__Host-session=" + newToken())
	f.Add("__Host-session=" + strings.Repeat("A", 43) + "; __Host-session=x")
	f.Add("__Host-session=\x00\xff")
	st := newFakeStore()
	m := NewManager(st, Options{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if FromRequest(r).UserID() != "" {
			panic("anonymous cookie logged in")
		}
	}))
	f.Fuzz(func(t *testing.T, cookie string) {
		req := httptest.NewRequest("GET", "https://example.com/", nil)
		req.Header.Set("Cookie", cookie)
		l0, _, _ := st.counts()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		l1, _, _ := st.counts()
		tok, present := findCookie(req.Header, m.CookieName())
		if rec.Code != 200 || (l1-l0 == 1) != (tok != "") {
			t.Fatalf("code %d, loads %d for token %q", rec.Code, l1-l0, tok)
		}
		if present && rec.Header().Get("Set-Cookie") == "" {
			t.Fatalf("stale cookie %q not expired", cookie)
		}
	})
}

// Stored session data is decoded defensively: a varint is at most ten bytes and its tenth
// byte may only carry the top bit, a truncated varint is corrupt, and an item count the
// remaining input cannot hold is refused before anything is allocated for it.
func TestDecoderEdges(t *testing.T) {
	cont := strings.Repeat("\x80", 9)
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"\x00", 0, true},
		{"\x7f", 127, true},
		{"\x80\x01", 128, true},
		{cont + "\x01", 1 << 63, true},
		{cont + "\x02", 0, false},                       // 2^64: overflow
		{strings.Repeat("\x80", 10) + "\x00", 0, false}, // eleven bytes
		{"\x80", 0, false},                              // truncated
		{"", 0, false},
	} {
		d := decoder{s: c.in}
		got := d.uvarint()
		if (d.err == nil) != c.ok || got != c.want {
			t.Errorf("uvarint(%q) = %d, %v; want %d, ok=%v", c.in, got, d.err, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		in  string
		min int
		n   int
		ok  bool
	}{
		{"\x02abcd", 2, 2, true},  // two items of at least two bytes in four bytes
		{"\x03abcd", 2, 0, false}, // three cannot fit
		{"\x04abcd", 1, 4, true},
		{"\x05abcd", 1, 0, false},
	} {
		d := decoder{s: c.in}
		if n := d.count(c.min); n != c.n || (d.err == nil) != c.ok {
			t.Errorf("count(%q, min %d) = %d, %v; want %d, ok=%v", c.in, c.min, n, d.err, c.n, c.ok)
		}
	}
}

// A public session ID is exactly 16 lower-case hex digits; End refuses anything else before
// asking the store.
func TestValidPublicID(t *testing.T) {
	for s, want := range map[string]bool{
		"0123456789abcdef":  true,
		"ffffffffffffffff":  true,
		"0123456789abcdeg":  false,
		"0123456789ABCDEF":  false,
		"0123456789abcde/":  false,
		"0123456789abcde:":  false,
		"0123456789abcde`":  false,
		"0123456789abcde":   false,
		"0123456789abcdef0": false,
		"":                  false,
	} {
		if got := validPublicID(s); got != want {
			t.Errorf("validPublicID(%q) = %v, want %v", s, got, want)
		}
	}
}
