package scan

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// crawlSite is a 20-page HTTPS site: every page sends a strict CSP and the
// usual security headers, except /p/13, which has no CSP, sets a cookie
// without Secure, loads a script over http:// and drops
// X-Content-Type-Options. Pages are reached through links (the start page
// links to /p/1../p/5, /p/i to /p/i+5) and sitemap.xml (/p/16../p/19);
// robots.txt forbids /private/, which the start page also links to.
type crawlSite struct {
	srv      *httptest.Server
	mu       sync.Mutex
	hits     map[string]int
	inFlight atomic.Int32
	maxIn    atomic.Int32
	block    string // a path that answers only when the client gives up
}

func newCrawlSite(t *testing.T) *crawlSite {
	t.Helper()
	s := &crawlSite{hits: map[string]int{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *crawlSite) serve(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxIn.Load()
		if n <= m || s.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Lock()
	s.hits[r.URL.Path]++
	s.mu.Unlock()
	if r.URL.Path == s.block {
		<-r.Context().Done()
		return
	}
	h := w.Header()
	switch r.URL.Path {
	case "/robots.txt":
		io.WriteString(w, "User-agent: *\nDisallow: /private/\nSitemap: "+s.srv.URL+"/sitemap.xml\n")
		return
	case "/sitemap.xml":
		h.Set("Content-Type", "application/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
		for i := 16; i <= 19; i++ {
			fmt.Fprintf(w, "<url><loc>%s/p/%d</loc></url>", s.srv.URL, i)
		}
		io.WriteString(w, "</urlset>")
		return
	}
	weak := r.URL.Path == "/p/13"
	if !weak {
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'nonce-r4nd0mR4nd0m' 'strict-dynamic'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
	} else {
		http.SetCookie(w, &http.Cookie{Name: "prefs", Value: "1", Path: "/p/13"})
	}
	h.Set("Strict-Transport-Security", "max-age=63072000")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Type", "text/html; charset=utf-8")
	var links []string
	switch {
	case r.URL.Path == "/":
		links = []string{"/p/1", "/p/2", "/p/3", "/p/4", "/p/5", "/private/secret", "https://other.example/", "mailto:a@example.com", "/files/report.pdf", "#top"}
	case strings.HasPrefix(r.URL.Path, "/p/"):
		var i int
		fmt.Sscanf(r.URL.Path, "/p/%d", &i)
		if i+5 <= 15 {
			links = []string{fmt.Sprintf("/p/%d", i+5), "/"}
		}
	default:
		http.NotFound(w, r)
		return
	}
	io.WriteString(w, "<!doctype html><title>page</title>")
	for _, l := range links {
		fmt.Fprintf(w, `<a href="%s">x</a>`, l)
	}
	if weak {
		io.WriteString(w, `<script src="http://cdn.example/lib.js"></script>`)
	}
}

func (s *crawlSite) options() Options {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return Options{RootCAs: pool, NoActiveProbes: true, NoTLSProbe: true, Pages: 20}
}

func TestCrawlFindsTheWeakPage(t *testing.T) {
	site := newCrawlSite(t)
	rep, err := Scan(context.Background(), site.srv.URL+"/", site.options())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Pages) != 19 {
		t.Fatalf("%d pages besides the start page, want 19: %+v", len(rep.Pages), rep.Pages)
	}
	fromSitemap := 0
	for _, p := range rep.Pages {
		if p.Status != 200 {
			t.Errorf("page %s: status %d %s", p.URL, p.Status, p.Error)
		}
		if p.From == "sitemap" {
			fromSitemap++
		}
		if weak := strings.HasSuffix(p.URL, "/p/13"); weak != (len(p.Differences) > 0) {
			t.Errorf("page %s differences %v", p.URL, p.Differences)
		}
	}
	if fromSitemap != 4 {
		t.Errorf("%d pages found through sitemap.xml, want 4", fromSitemap)
	}
	weakURL := site.srv.URL + "/p/13"
	want := map[string]bool{rulePageNoCSP: false, rulePageCookie: false, rulePageMixed: false, rulePageHeader: false}
	for _, f := range rep.Findings {
		if f.Area != AreaPages {
			continue
		}
		if f.URL != weakURL {
			t.Errorf("page finding on a good page: %+v", f)
			continue
		}
		if _, ok := want[f.ID]; !ok {
			t.Errorf("unexpected finding %+v", f)
		}
		want[f.ID] = true
		switch f.ID {
		case rulePageCookie:
			if f.Evidence != "prefs" || !strings.Contains(f.Detail, "/p/13") {
				t.Errorf("cookie finding %+v", f)
			}
		case rulePageMixed:
			if !strings.Contains(f.Detail, "script http://cdn.example/lib.js") {
				t.Errorf("mixed content finding %+v", f)
			}
		case rulePageHeader:
			if f.Evidence != "X-Content-Type-Options, X-Frame-Options/frame-ancestors" {
				t.Errorf("header finding %+v", f)
			}
		}
	}
	for id, seen := range want {
		if !seen {
			t.Errorf("no %s finding for %s", id, weakURL)
		}
	}
	// Politeness: robots.txt is obeyed, other sites and non-pages are not
	// fetched, no page twice, one request at a time.
	site.mu.Lock()
	if site.hits["/private/secret"] != 0 || site.hits["/files/report.pdf"] != 0 {
		t.Errorf("fetched a disallowed or non-page link: %v", site.hits)
	}
	for p, n := range site.hits {
		if strings.HasPrefix(p, "/p/") && n != 1 {
			t.Errorf("%s fetched %d times", p, n)
		}
	}
	site.mu.Unlock()
	if m := site.maxIn.Load(); m != 1 {
		t.Errorf("up to %d requests in flight, want 1", m)
	}
	// The Observatory grade is that of the start page alone.
	alone := site.options()
	alone.Pages = 0
	rep1, err := Scan(context.Background(), site.srv.URL+"/", alone)
	if err != nil {
		t.Fatal(err)
	}
	if rep1.Score != rep.Score || rep1.Grade != rep.Grade || len(rep1.Pages) != 0 {
		t.Errorf("grade with pages %s/%d, alone %s/%d", rep.Grade, rep.Score, rep1.Grade, rep1.Score)
	}
}

// Fewer pages than the site has: the crawl stops at --pages.
func TestCrawlStopsAtPages(t *testing.T) {
	site := newCrawlSite(t)
	o := site.options()
	o.Pages = 4
	o.Concurrency = 2
	rep, err := Scan(context.Background(), site.srv.URL+"/", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Pages) != 3 {
		t.Errorf("%d pages, want 3", len(rep.Pages))
	}
	if m := site.maxIn.Load(); m > 2 {
		t.Errorf("%d requests in flight with Concurrency 2", m)
	}
}

// A page that never answers: the crawl gives up at the time budget and says
// so instead of hanging.
func TestCrawlTimeBudget(t *testing.T) {
	site := newCrawlSite(t)
	site.block = "/p/2"
	o := site.options()
	o.TimeBudget = 300 * time.Millisecond
	done := make(chan struct{})
	var rep Report
	var err error
	go func() {
		rep, err = Scan(context.Background(), site.srv.URL+"/", o)
		close(done)
	}()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !rep.HasFinding(rulePageBudget) {
		t.Errorf("no %s finding; pages %+v", rulePageBudget, rep.Pages)
	}
	for _, p := range rep.Pages {
		if strings.HasSuffix(p.URL, "/p/2") {
			t.Errorf("the page cut off by the budget is reported: %+v", p)
		}
	}
}

func TestParseRobotsAndSitemap(t *testing.T) {
	d, sm := parseRobots("User-agent: Googlebot\nDisallow: /g/\n\nUser-agent: *\nDisallow: /private/ # x\nAllow: /\nDisallow:\nSitemap: https://example.com/s.xml\n")
	if strings.Join(d, ",") != "/private/" || strings.Join(sm, ",") != "https://example.com/s.xml" {
		t.Errorf("robots: %v %v", d, sm)
	}
	d, _ = parseRobots("User-agent: *\nDisallow: /a/\nUser-agent: rampart-scan\nDisallow: /b/\n")
	if strings.Join(d, ",") != "/b/" {
		t.Errorf("rampart's own group: %v", d)
	}
	pages, nested := parseSitemap(`<sitemapindex><sitemap><loc> https://example.com/a.xml </loc></sitemap></sitemapindex>`)
	if len(pages) != 0 || strings.Join(nested, ",") != "https://example.com/a.xml" {
		t.Errorf("index: %v %v", pages, nested)
	}
	pages, _ = parseSitemap(`<urlset><url><loc>https://example.com/</loc><lastmod>2026</lastmod></url><url><loc>https://example.com/b</loc></url></urlset>`)
	if strings.Join(pages, ",") != "https://example.com/,https://example.com/b" {
		t.Errorf("urlset: %v", pages)
	}
}

func FuzzCrawlParsers(f *testing.F) {
	f.Add("User-agent: *\nDisallow: /x\nSitemap: /s.xml")
	f.Add(`<urlset><url><loc>https://example.com/</loc></url></urlset>`)
	f.Add(`<html><a href="http://x/"><img srcset="http://a/1.png 1x, /b.png 2x"><script src=//x></script>`)
	f.Fuzz(func(t *testing.T, s string) {
		parseRobots(s)
		parseSitemap(s)
		doc := parseDocument(s)
		pageLinks(doc)
		mixedContent(doc, mustURL("https://example.com/"))
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
