package password

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func sha1Upper(pw string) string {
	s := sha1.Sum([]byte(pw))
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// fakeRange is a Pwned Passwords range server with padding and request recording.
type fakeRange struct {
	mu      sync.Mutex
	paths   []string
	padding []string
	counts  map[string]int // full SHA-1 -> count
	status  int
	body    string // when set, returned verbatim
}

func (f *fakeRange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.padding = append(f.padding, r.Header.Get("Add-Padding"))
	f.mu.Unlock()
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	if f.body != "" {
		fmt.Fprint(w, f.body)
		return
	}
	prefix := strings.TrimPrefix(r.URL.Path, "/range/")
	for h, n := range f.counts {
		if strings.HasPrefix(h, prefix) {
			fmt.Fprintf(w, "%s:%d\r\n", h[5:], n)
		}
	}
	// Padding entries: random suffixes with count 0.
	for i := range 3 {
		fmt.Fprintf(w, "%035X:0\r\n", i+1)
	}
}

func TestHIBPClient(t *testing.T) {
	pw := "P@ssw0rd-breached"
	full := sha1Upper(pw)
	f := &fakeRange{counts: map[string]int{full: 42, sha1Upper("other"): 7}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := &HIBPClient{BaseURL: srv.URL + "/range/", HTTPClient: srv.Client()}

	n, err := c.Breached(ctx, pw)
	if err != nil || n != 42 {
		t.Fatalf("got %d, %v", n, err)
	}
	n, err = c.Breached(ctx, "never-seen-passphrase")
	if err != nil || n != 0 {
		t.Fatalf("clean: %d, %v", n, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paths[0] != "/range/"+full[:5] || len(f.paths[0]) != len("/range/")+5 {
		t.Errorf("request path %q must carry only the 5-char prefix", f.paths[0])
	}
	for _, p := range f.paths {
		if strings.Contains(p, full[5:]) {
			t.Error("suffix leaked")
		}
	}
	if f.padding[0] != "true" {
		t.Errorf("Add-Padding = %q", f.padding[0])
	}
}

func TestHIBPPaddingEntryIsNotASighting(t *testing.T) {
	pw := "padded-but-clean"
	full := sha1Upper(pw)
	f := &fakeRange{body: full[5:] + ":0\r\n"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := &HIBPClient{BaseURL: srv.URL + "/range/", HTTPClient: srv.Client()}
	if n, err := c.Breached(ctx, pw); n != 0 || err != nil {
		t.Errorf("got %d %v", n, err)
	}
}

func TestHIBPFailsClosed(t *testing.T) {
	tests := []struct {
		name string
		f    *fakeRange
	}{
		{"503", &fakeRange{status: http.StatusServiceUnavailable}},
		{"html", &fakeRange{body: "<html>rate limited</html>"}},
		{"bad count", &fakeRange{body: strings.Repeat("A", 35) + ":lots\n"}},
		{"huge", &fakeRange{body: strings.Repeat(strings.Repeat("A", 35)+":1\n", maxRangeBody/38+10)}},
	}
	for _, tc := range tests {
		srv := httptest.NewServer(tc.f)
		c := &HIBPClient{BaseURL: srv.URL + "/range/", HTTPClient: srv.Client()}
		if _, err := c.Breached(ctx, "x"); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		// Through the validator: an operational error, not acceptance.
		err := Validate(ctx, "x", UserAttrs{}, Breached{Checker: c})
		var ve *ValidationError
		if err == nil || errors.As(err, &ve) {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
		if err := Validate(ctx, "x", UserAttrs{}, Breached{Checker: c, InsecureAllowOnError: true}); err != nil {
			t.Errorf("%s: InsecureAllowOnError: %v", tc.name, err)
		}
		srv.Close()
	}
	// A cancelled context stops the request.
	srv := httptest.NewServer(&fakeRange{})
	defer srv.Close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (&HIBPClient{BaseURL: srv.URL + "/", HTTPClient: srv.Client()}).Breached(cctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestBreachedValidator(t *testing.T) {
	off := OfflineCheckerFromPasswords("hunter2hunter2", "hunter2hunter2", "twice-seen")
	tests := []struct {
		v    Breached
		pw   string
		fail bool
	}{
		{Breached{Checker: off}, "hunter2hunter2", true},
		{Breached{Checker: off}, "fresh-and-unseen", false},
		{Breached{Checker: off, MinCount: 2}, "hunter2hunter2", true},
		{Breached{Checker: off, MinCount: 2}, "twice-seen", false},
	}
	for _, tc := range tests {
		err := tc.v.Validate(ctx, tc.pw, UserAttrs{})
		if (err != nil) != tc.fail {
			t.Errorf("%q: %v", tc.pw, err)
		}
		if err != nil && err.(*Error).Code != "password_breached" {
			t.Errorf("code: %v", err)
		}
	}
	if err := (Breached{}).Validate(ctx, "x", UserAttrs{}); !errors.Is(err, ErrNoChecker) {
		t.Errorf("no checker: %v", err)
	}
}

func TestOfflineChecker(t *testing.T) {
	list := strings.ToLower(sha1Upper("alpha")) + ":12\n\n" + sha1Upper("beta") + "\n"
	c, err := NewOfflineChecker(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]int{"alpha": 12, "beta": 1, "gamma": 0} {
		if n, _ := c.Breached(ctx, pw); n != want {
			t.Errorf("%s: %d want %d", pw, n, want)
		}
	}
	for _, bad := range []string{"xyz\n", sha1Upper("a") + ":-1\n", strings.Repeat("Z", 40) + "\n", strings.Repeat("A", 300)} {
		if _, err := NewOfflineChecker(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %.20q", bad)
		}
	}
}

// FuzzParseRange: hostile range responses never panic, and a reported count always comes
// from a well-formed line for the suffix.
func FuzzParseRange(f *testing.F) {
	f.Add([]byte("0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\n"), "0018A45C4D1DEF81644B54AB7F969B88D65")
	f.Add([]byte(":\n::\n"), "")
	f.Add([]byte(strings.Repeat("A", 35)+":999999999999999999999\n"), strings.Repeat("A", 35))
	f.Fuzz(func(t *testing.T, body []byte, suffix string) {
		n, err := parseRange(body, suffix)
		if err != nil && n != 0 {
			t.Fatalf("error with count %d", n)
		}
		if n > 0 && !strings.Contains(strings.ToUpper(string(body)), strings.ToUpper(suffix)+":") {
			t.Fatalf("count %d for a suffix not in the body", n)
		}
	})
}

// FuzzParseWordlist: hostile list files never panic.
func FuzzParseWordlist(f *testing.F) {
	f.Add([]byte("a\nb\r\n"))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := ParseWordlist(strings.NewReader(string(data)))
		if err == nil && w == nil {
			t.Fatal("nil list without error")
		}
	})
}

func BenchmarkOfflineChecker(b *testing.B) {
	c := OfflineCheckerFromPasswords("a", "b")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Breached(ctx, "correct horse battery staple")
	}
}
