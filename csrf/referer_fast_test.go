package csrf

import (
	"net/url"
	"testing"
)

// FuzzFastReferer checks that the allocation-free Referer parser answers only where url.Parse
// accepts the value and gives the same origin, so checkReferer's verdicts do not change.
func FuzzFastReferer(f *testing.F) {
	for _, s := range []string{"https://www.example.com/", "https://www.example.com", "https://a.example.com:443/x?y#z",
		"https://[::1]:8443/p", "https://u@www.example.com/", "https://www.example.com/%zz", "https://www.example.com/a\x7f",
		"https://ex%61mple.com/", "HTTPS://www.example.com/", "https://www.example.com:/", "https://www.example.com:0443/",
		"https://www.example.com#frag", "https://www.example.com?q", "https://", "https:///x", "https://a b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := fastReferer(s)
		if !ok {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			t.Fatalf("fastReferer(%q) accepted what url.Parse gives %v, %v", s, u, err)
		}
		host, port, ok := parseAuthority(u.Host, false)
		if !ok || o != (origin{scheme: "https", host: host, port: stripDefaultPort("https", port)}) {
			t.Fatalf("fastReferer(%q) = %+v; url.Parse path gives %q %q %v", s, o, host, port, ok)
		}
	})
}

func TestFastRefererNoAlloc(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { fastReferer("https://www.example.com/form?x=1") }); n != 0 {
		t.Fatalf("fastReferer allocates %v times", n)
	}
	for _, s := range []string{"https://www.example.com/%zz", "https://u@www.example.com/", "HTTPS://www.example.com/", "https://ex%61mple.com/"} {
		if _, ok := fastReferer(s); ok {
			t.Errorf("fastReferer(%q) answered; want the url.Parse path", s)
		}
	}
}
