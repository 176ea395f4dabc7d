package scan

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const signedSecurityTxt = `-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

Contact: mailto:security@example.com
Expires: 2027-03-01T00:00:00Z
Canonical: https://example.com/.well-known/security.txt
- # a dash-escaped line
-----BEGIN PGP SIGNATURE-----

iHUEARYKAB0WIQTexampleexampleexampleexampleAAoJEexample
=abcd
-----END PGP SIGNATURE-----
`

func TestSecurityTxtFindings(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	const at = "https://example.com/.well-known/security.txt"
	const utf8Plain = "text/plain; charset=utf-8"
	tests := []struct {
		name, body, ctype string
		want              string // finding IDs without "security.txt/", sorted
	}{
		{"minimal valid", "Contact: mailto:security@example.com\nExpires: 2027-03-01T00:00:00Z\n", utf8Plain, "unsigned"},
		{"field names are case-insensitive, CRLF, comments",
			"# hello\r\ncontact: https://example.com/report\r\nEXPIRES: 2027-03-01T00:00:00+01:00\r\n\r\n", utf8Plain, "unsigned"},
		{"signed", signedSecurityTxt, utf8Plain, ""},
		{"signed, fetched elsewhere than Canonical", strings.Replace(signedSecurityTxt, "example.com/.well", "www.example.com/.well", 1), utf8Plain, "canonical-mismatch"},
		{"signed but armor cut", strings.Split(signedSecurityTxt, "-----BEGIN PGP SIGNATURE-----")[0], utf8Plain, "signature-format"},
		{"no contact", "Expires: 2027-03-01T00:00:00Z\n", utf8Plain, "no-contact unsigned"},
		{"no expires", "Contact: mailto:a@example.com\n", utf8Plain, "no-expires unsigned"},
		{"bad expires", "Contact: mailto:a@example.com\nExpires: March 2027\n", utf8Plain, "no-expires syntax unsigned"},
		{"expired", "Contact: mailto:a@example.com\nExpires: 2026-12-05T23:59:59Z\n", utf8Plain, "expired unsigned"},
		{"expires two years ahead", "Contact: mailto:a@example.com\nExpires: 2028-12-06T00:00:00Z\n", utf8Plain, "expires-far unsigned"},
		{"two Expires", "Contact: mailto:a@example.com\nExpires: 2027-01-01T00:00:00Z\nExpires: 2027-02-01T00:00:00Z\n", utf8Plain, "syntax unsigned"},
		{"http contact and policy", "Contact: http://example.com/c\nPolicy: http://example.com/p\nExpires: 2027-01-01T00:00:00Z\n", utf8Plain, "insecure-uri unsigned"},
		{"not a field", "Contact: mailto:a@example.com\nExpires: 2027-01-01T00:00:00Z\njust some text\n", utf8Plain, "syntax unsigned"},
		{"wrong content type", "Contact: mailto:a@example.com\nExpires: 2027-01-01T00:00:00Z\n", "text/html", "content-type unsigned"},
		{"no charset", "Contact: mailto:a@example.com\nExpires: 2027-01-01T00:00:00Z\n", "text/plain", "content-type unsigned"},
		{"unknown fields are ignored", "Contact: mailto:a@example.com\nExpires: 2027-01-01T00:00:00Z\nX-Custom: yes\n", utf8Plain, "unsigned"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := parseSecurityTxt(tc.body)
			st.URL = at
			var ids []string
			for _, id := range findingIDs(securityTxtFindings(st, tc.ctype, now)) {
				ids = append(ids, strings.TrimPrefix(id, "security.txt/"))
			}
			if got := strings.Join(ids, " "); got != tc.want {
				t.Errorf("got %q, want %q (parsed %+v)", got, tc.want, st)
			}
		})
	}
	st := parseSecurityTxt(signedSecurityTxt)
	if !st.Signed || len(st.Contact) != 1 || st.Contact[0] != "mailto:security@example.com" || st.Expires.IsZero() {
		t.Errorf("signed file parsed as %+v", st)
	}
}

func FuzzParseSecurityTxt(f *testing.F) {
	f.Add(signedSecurityTxt)
	f.Add("Contact: mailto:a@example.com\nExpires: 2027-01-01T00:00:00Z\n")
	f.Add("-----BEGIN PGP SIGNED MESSAGE-----\n\n-\n")
	f.Add(":\n\xff: x\nContact:\n")
	f.Fuzz(func(t *testing.T, body string) {
		st := parseSecurityTxt(body)
		st.URL = "https://example.com/.well-known/security.txt"
		for _, fd := range securityTxtFindings(st, "text/plain; charset=utf-8", time.Unix(0, 0)) {
			if _, ok := LookupRule(fd.ID); !ok {
				t.Fatalf("unknown rule %q", fd.ID)
			}
		}
	})
}

func TestFetchSecurityTxt(t *testing.T) {
	const valid = "Contact: mailto:security@example.com\nExpires: 2099-01-01T00:00:00Z\n"
	serve := func(routes map[string]func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
		mux := http.NewServeMux()
		for p, h := range routes {
			mux.HandleFunc(p, h)
		}
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	text := func(body string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, body)
		}
	}
	tests := []struct {
		name   string
		routes map[string]func(http.ResponseWriter, *http.Request)
		found  bool
		want   string // finding IDs without "security.txt/", sorted
	}{
		{"well-known (plain HTTP)", map[string]func(http.ResponseWriter, *http.Request){"/.well-known/security.txt": text(valid)}, true, "expires-far not-https unsigned"},
		{"legacy location only", map[string]func(http.ResponseWriter, *http.Request){"/security.txt": text(valid)}, true, "expires-far legacy-location not-https unsigned"},
		{"same-site redirect is followed", map[string]func(http.ResponseWriter, *http.Request){
			"/.well-known/security.txt": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/files/sec.txt", http.StatusFound) },
			"/files/sec.txt":            text(valid)}, true, "expires-far not-https unsigned"},
		{"off-site redirect is not", map[string]func(http.ResponseWriter, *http.Request){
			"/.well-known/security.txt": func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://security.example.net/security.txt", http.StatusFound)
			}}, false, "missing offsite-redirect"},
		{"none", map[string]func(http.ResponseWriter, *http.Request){}, false, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(tc.routes)
			o := Options{}.withDefaults()
			s := &session{client: newClient(o, false), verified: true, opts: o}
			base, _ := url.Parse(srv.URL + "/")
			st, fs := fetchSecurityTxt(context.Background(), s, base)
			if (st != nil) != tc.found {
				t.Fatalf("found = %v, want %v", st != nil, tc.found)
			}
			var ids []string
			for _, id := range findingIDs(fs) {
				ids = append(ids, strings.TrimPrefix(id, "security.txt/"))
			}
			if got := strings.Join(ids, " "); got != tc.want {
				t.Errorf("findings %q, want %q", got, tc.want)
			}
		})
	}
}
