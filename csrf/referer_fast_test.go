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

// The Referers browsers actually send (an https origin followed by a path, query or fragment,
// spaces and all) are answered by the allocation-free parser, with the right origin; only
// unusual ones fall back to url.Parse.
func TestFastRefererAnswersCommonForms(t *testing.T) {
	cases := map[string]origin{
		"https://www.example.com/form?x=1": {scheme: "https", host: "www.example.com"},
		"https://www.example.com":          {scheme: "https", host: "www.example.com"},
		"https://www.example.com?q":        {scheme: "https", host: "www.example.com"},
		"https://www.example.com#f":        {scheme: "https", host: "www.example.com"},
		"https://Www.Example.com:443/x":    {scheme: "https", host: "www.example.com"},
		"https://a.example.com:8443/p":     {scheme: "https", host: "a.example.com", port: "8443"},
		"https://www.example.com/a b~!":    {scheme: "https", host: "www.example.com"},
		"https://[::1]:8443/":              {scheme: "https", host: "[::1]", port: "8443"},
	}
	for s, want := range cases {
		if o, ok := fastReferer(s); !ok || o != want {
			t.Errorf("fastReferer(%q) = %+v, %v; want %+v from the fast path", s, o, ok, want)
		}
	}
}
