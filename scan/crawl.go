package scan

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"

	"golang.org/x/net/html"

	"github.com/rampart-go/rampart/internal/ascii"
)

// Crawl rules: what differs on a page other than the start page.
var (
	rulePageNoCSP = rule(Rule{ID: "pages/no-csp", Area: AreaPages, Severity: SeverityHigh,
		Title:     "a page has no Content-Security-Policy while the start page has one",
		Fix:       "send the policy on every HTML response (set it in middleware, not per view)",
		Reference: "https://w3c.github.io/webappsec-csp/"})
	rulePageCSPWeaker = rule(Rule{ID: "pages/csp-weaker", Area: AreaPages, Severity: SeverityMedium,
		Title: "a page's Content-Security-Policy is weaker than the start page's",
		Fix:   "use one policy for every page, or check why this page needs more"})
	rulePageHeader = rule(Rule{ID: "pages/missing-header", Area: AreaPages, Severity: SeverityMedium,
		Title: "a page lacks security headers the start page sends",
		Fix:   "set the headers in middleware so every response carries them"})
	rulePageCookie = rule(Rule{ID: "pages/insecure-cookie", Area: AreaPages, Severity: SeverityMedium,
		Title:     "a page sets a cookie without Secure (or SameSite=None without Secure)",
		Fix:       "set Secure on every cookie (and HttpOnly on session cookies)",
		Reference: "RFC 6265bis §4.1.2.5"})
	rulePageMixed = rule(Rule{ID: "pages/mixed-content", Area: AreaPages, Severity: SeverityMedium,
		Title:     "an HTTPS page loads subresources over plain http:// (mixed content)",
		Fix:       "load every subresource over https:// (or add upgrade-insecure-requests to the CSP)",
		Reference: "https://w3c.github.io/webappsec-mixed-content/"})
	rulePageDebug = rule(Rule{ID: "pages/debug-page", Area: AreaPages, Severity: SeverityHigh,
		Title: "a page shows a framework debug page",
		Fix:   "turn debug mode off in production (Django: DEBUG = False)"})
	rulePageError = rule(Rule{ID: "pages/error", Area: AreaPages, Severity: SeverityInfo,
		Title: "a linked page could not be fetched or answered a server error",
		Fix:   "check the page"})
	rulePageBudget = rule(Rule{ID: "pages/budget-exhausted", Area: AreaPages, Severity: SeverityInfo,
		Title: "the crawl's time budget ran out before --pages pages were scanned",
		Fix:   "raise --time-budget, or lower --pages"})
)

// PageReport is one page of a multi-page scan.
type PageReport struct {
	URL    string `json:"url"`
	Status int    `json:"status,omitempty"`
	// From says how the page was found: "link" (from the page named by
	// Referrer), "sitemap" or "redirect".
	From     string `json:"from"`
	Referrer string `json:"referrer,omitempty"`
	// CSP is the Observatory CSP result for the page.
	CSP string `json:"csp,omitempty"`
	// Differences says, in words, how the page differs from the start page.
	Differences []string `json:"differences,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// maxSitemapURLs bounds what is read from sitemaps.
const maxSitemapURLs = 10000

// skipExtensions are links that are not pages.
var skipExtensions = newSet(".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".zip", ".gz",
	".tgz", ".tar", ".mp3", ".mp4", ".webm", ".woff", ".woff2", ".ttf", ".css", ".js", ".json", ".xml", ".txt", ".exe", ".dmg")

type crawlItem struct {
	url, from, referrer string
}

// crawler holds the crawl's state.
type crawler struct {
	sess     *session
	start    *url.URL
	startRes *response
	robots   []string        // Disallow prefixes for rampart (or *)
	seen     map[string]bool // touched by the crawl loop only, never by visit
}

// normalise returns the URL without fragment, or "" when it is not a page of
// the scanned site rampart may fetch.
func (c *crawler) normalise(raw string, base *url.URL) string {
	u, err := base.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != c.start.Scheme || u.Host == "" || !sameSite(u.Hostname(), c.start.Hostname()) {
		return ""
	}
	if u.User != nil {
		return ""
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	if skipExtensions.has(ascii.Lower(path.Ext(u.Path))) {
		return ""
	}
	for _, p := range c.robots {
		if strings.HasPrefix(u.EscapedPath(), p) {
			return ""
		}
	}
	return u.String()
}

// parseRobots returns the Disallow path prefixes that apply to rampart: the
// group naming "rampart" if there is one, else the "*" group. Sitemap lines
// are returned too.
func parseRobots(body string) (disallow, sitemaps []string) {
	groups := map[string][]string{}
	var agents []string
	inRules := false
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = ascii.Lower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "user-agent":
			if inRules {
				agents, inRules = nil, false
			}
			agents = append(agents, ascii.Lower(v))
		case "disallow", "allow":
			inRules = true
			if k == "disallow" && v != "" {
				for _, a := range agents {
					groups[a] = append(groups[a], v)
				}
			}
		case "sitemap":
			sitemaps = append(sitemaps, v)
		}
	}
	for a, d := range groups {
		if strings.Contains(a, "rampart") {
			return d, sitemaps
		}
	}
	return groups["*"], sitemaps
}

// parseSitemap reads a sitemap or sitemap index (sitemaps.org protocol) and
// returns page URLs and nested sitemap URLs.
func parseSitemap(body string) (pages, sitemaps []string) {
	dec := xml.NewDecoder(strings.NewReader(body))
	dec.Strict = false
	var stack []string
	for len(pages)+len(sitemaps) < maxSitemapURLs {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) >= 2 && stack[len(stack)-1] == "loc" {
				loc := strings.TrimSpace(string(t))
				switch stack[len(stack)-2] {
				case "url":
					pages = append(pages, loc)
				case "sitemap":
					sitemaps = append(sitemaps, loc)
				}
			}
		}
	}
	return pages, sitemaps
}

// pageLinks returns the href of every <a> and <area> of a document.
func pageLinks(doc *html.Node) []string {
	var out []string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "a" || n.Data == "area") {
			if h, ok := attr(n, "href"); ok {
				out = append(out, h)
			}
		}
	})
	return out
}

// mixedContent lists the http:// subresources of an HTTPS page: active ones
// (scripts, frames, stylesheets, plugins) and passive ones (images, media).
func mixedContent(doc *html.Node, base *url.URL) []string {
	var out []string
	add := func(n *html.Node, key, what string) {
		v, ok := attr(n, key)
		if !ok {
			return
		}
		for _, part := range strings.Split(v, ",") { // srcset lists several
			f := strings.Fields(part)
			if len(f) == 0 {
				continue
			}
			u, err := base.Parse(f[0])
			if err == nil && u.Scheme == "http" {
				out = append(out, what+" "+u.String())
			}
		}
	}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script":
			add(n, "src", "script")
		case "iframe", "frame":
			add(n, "src", "frame")
		case "object":
			add(n, "data", "object")
		case "embed":
			add(n, "src", "embed")
		case "link":
			if rel, _ := attr(n, "rel"); strings.Contains(ascii.Lower(rel), "stylesheet") {
				add(n, "href", "stylesheet")
			}
		case "img", "source":
			add(n, "src", n.Data)
			add(n, "srcset", n.Data)
		case "audio", "video", "track":
			add(n, "src", n.Data)
		}
	})
	sort.Strings(out)
	return out
}

// securityHeaders are compared page by page.
var securityHeaders = []string{"Strict-Transport-Security", "X-Content-Type-Options", "Referrer-Policy",
	"Cross-Origin-Opener-Policy", "Permissions-Policy"}

// hasFrameProtection reports whether a response restricts framing, by
// X-Frame-Options or a header CSP's frame-ancestors (a meta CSP cannot).
func hasFrameProtection(r *response) bool {
	if firstHeader(r.Header, "X-Frame-Options") != "" {
		return true
	}
	for _, p := range splitPolicies(headerValues(r.Header, "Content-Security-Policy")) {
		if parseEvalPolicy(p).has("frame-ancestors") {
			return true
		}
	}
	return false
}

func isHTML(r *response) bool {
	mt := strings.TrimSpace(strings.Split(firstHeader(r.Header, "Content-Type"), ";")[0])
	return htmlTypes[ascii.Lower(mt)]
}

// crawl scans up to o.Pages-1 pages besides the start page: same-site links
// (breadth first) and sitemap.xml entries, within o.TimeBudget, with at most
// o.Concurrency requests at once. It reports per page what differs from the
// start page, plus mixed content on the start page itself.
func crawl(ctx context.Context, sess *session, rs *responseSet, o Options) ([]PageReport, []Finding) {
	start, err := url.Parse(rs.Auto.URL)
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.TimeBudget)
	defer cancel()
	c := &crawler{sess: sess, start: start, startRes: rs.Auto, seen: map[string]bool{}}
	c.seen[start.String()] = true
	var findings []Finding

	var sitemapURLs []string
	if r, _, err := sess.do(ctx, http.MethodGet, start.ResolveReference(&url.URL{Path: "/robots.txt"}).String(),
		http.Header{"Accept": {"text/plain"}}, nil); err == nil && r.Status == http.StatusOK {
		c.robots, sitemapURLs = parseRobots(r.Body)
	}
	sitemapURLs = append(sitemapURLs, start.ResolveReference(&url.URL{Path: "/sitemap.xml"}).String())

	startDoc := rs.document()
	if start.Scheme == "https" {
		if mixed := mixedContent(startDoc, start); len(mixed) > 0 {
			findings = append(findings, newFinding(rulePageMixed, start.String(), "loads "+strings.Join(mixed, ", "), strings.Join(mixed, ", ")))
		}
	}
	var queue []crawlItem
	enqueue := func(raw string, base *url.URL, from, referrer string) {
		if n := c.normalise(raw, base); n != "" && !c.seen[n] {
			c.seen[n] = true
			queue = append(queue, crawlItem{url: n, from: from, referrer: referrer})
		}
	}
	for _, l := range pageLinks(startDoc) {
		enqueue(l, start, "link", start.String())
	}
	// Sitemaps: one level of sitemap index, same-site only.
	smSeen := map[string]bool{}
	for i := 0; i < len(sitemapURLs) && i < 20; i++ {
		sm, err := start.Parse(sitemapURLs[i])
		if err != nil || !sameSite(sm.Hostname(), start.Hostname()) || smSeen[sm.String()] {
			continue
		}
		smSeen[sm.String()] = true
		r, _, err := sess.do(ctx, http.MethodGet, sm.String(), http.Header{"Accept": {"application/xml,text/xml"}}, nil)
		if err != nil || r.Status != http.StatusOK {
			continue
		}
		pages, nested := parseSitemap(r.Body)
		for _, p := range pages {
			enqueue(p, sm, "sitemap", sm.String())
		}
		sitemapURLs = append(sitemapURLs, nested...)
	}

	startCSP := evaluateCSP(pageCSP(rs.Auto, rs.httpEquiv()["content-security-policy"]), rs.Auto.URL)
	startHasCSP := cspTest(rs).result != CSPNotImplemented && cspTest(rs).result != CSPNotImplementedReportOnly
	want := o.Pages - 1
	var pages []PageReport
	var pageFindings [][]Finding
	for len(pages) < want && len(queue) > 0 && ctx.Err() == nil {
		n := min(o.Concurrency, want-len(pages), len(queue))
		batch := queue[:n]
		queue = queue[n:]
		results := make([]PageReport, n)
		found := make([][]Finding, n)
		links := make([][]string, n)
		var wg sync.WaitGroup
		for i, it := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], found[i], links[i] = c.visit(ctx, it, rs, startCSP, startHasCSP)
			}()
		}
		wg.Wait()
		for i := range batch {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && results[i].Error != "" {
				continue // cut short by the budget: not a finding about the page
			}
			pages = append(pages, results[i])
			pageFindings = append(pageFindings, found[i])
			base, _ := url.Parse(results[i].URL)
			for _, l := range links[i] {
				from := "link"
				if results[i].Status >= 300 && results[i].Status < 400 {
					from = "redirect"
				}
				enqueue(l, base, from, results[i].URL)
			}
		}
	}
	for _, f := range pageFindings {
		findings = append(findings, f...)
	}
	if len(pages) < want && (len(queue) > 0 || ctx.Err() != nil) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		findings = append(findings, newFinding(rulePageBudget, start.String(),
			fmt.Sprintf("scanned %d of %d pages within %s", len(pages)+1, o.Pages, o.TimeBudget), ""))
	}
	return pages, findings
}

// visit fetches one page and compares it with the start page. It returns the
// page's links (or its redirect target) for the crawl to follow.
func (c *crawler) visit(ctx context.Context, it crawlItem, rs *responseSet, startCSP []Finding, startHasCSP bool) (PageReport, []Finding, []string) {
	p := PageReport{URL: it.url, From: it.from, Referrer: it.referrer}
	r, loc, err := c.sess.do(ctx, http.MethodGet, it.url, nil, nil)
	if err != nil {
		p.Error = err.Error()
		return p, []Finding{newFinding(rulePageError, it.url, "fetch failed: "+err.Error(), "")}, nil
	}
	p.Status = r.Status
	var out []Finding
	u, _ := url.Parse(it.url)
	// Cookies set by this page's response.
	for _, line := range r.Header.Values("Set-Cookie") {
		ck, ok := ParseSetCookie(line)
		if !ok || ck.ExpiredAt(rs.FetchedAt) {
			continue
		}
		if !ck.Secure {
			what := "sets cookie " + ck.Name + " without Secure"
			if ck.SameSite == "none" {
				what = "sets cookie " + ck.Name + " with SameSite=None but without Secure"
			}
			out = append(out, newFinding(rulePageCookie, it.url, what+" (on "+u.EscapedPath()+" only)", ck.Name))
			p.Differences = append(p.Differences, what)
		}
	}
	if loc != "" {
		return p, out, []string{loc}
	}
	if r.Status >= 500 {
		out = append(out, newFinding(rulePageError, it.url, fmt.Sprintf("answered %d", r.Status), fmt.Sprint(r.Status)))
	}
	if r.Status >= 400 || !isHTML(r) {
		return p, out, nil
	}
	for _, m := range debugMarkers {
		if strings.Contains(r.Body, m.marker) {
			out = append(out, newFinding(rulePageDebug, it.url, m.what+" shown", m.marker))
			p.Differences = append(p.Differences, m.what+" shown")
			break
		}
	}
	page := &responseSet{Hostname: rs.Hostname, URL: it.url, Auto: r, HTTPS: r, Preload: rs.Preload}
	equiv := page.httpEquiv()["content-security-policy"]
	res := cspTest(page).result
	p.CSP = res
	if startHasCSP && (res == CSPNotImplemented || res == CSPNotImplementedReportOnly) {
		out = append(out, newFinding(rulePageNoCSP, it.url, "no enforced Content-Security-Policy on this page", ""))
		p.Differences = append(p.Differences, "no Content-Security-Policy")
	} else if startHasCSP {
		var weaker []string
		for _, f := range evaluateCSP(pageCSP(r, equiv), it.url) {
			if f.Severity.AtLeast(SeverityMedium) && !hasID(startCSP, f.ID) && indexOf(weaker, f.ID) < 0 {
				weaker = append(weaker, f.ID)
			}
		}
		if len(weaker) > 0 {
			out = append(out, newFinding(rulePageCSPWeaker, it.url, "this page's policy has "+strings.Join(weaker, ", ")+", which the start page's has not",
				strings.Join(headerValues(r.Header, "Content-Security-Policy"), ", ")))
			p.Differences = append(p.Differences, "weaker CSP: "+strings.Join(weaker, ", "))
		}
	}
	var missing []string
	for _, h := range securityHeaders {
		if firstHeader(c.startRes.Header, h) != "" && firstHeader(r.Header, h) == "" {
			missing = append(missing, h)
		}
	}
	if hasFrameProtection(c.startRes) && !hasFrameProtection(r) {
		missing = append(missing, "X-Frame-Options/frame-ancestors")
	}
	if len(missing) > 0 {
		out = append(out, newFinding(rulePageHeader, it.url, "missing here but sent on the start page: "+strings.Join(missing, ", "), strings.Join(missing, ", ")))
		p.Differences = append(p.Differences, "missing "+strings.Join(missing, ", "))
	}
	doc := page.document()
	if u.Scheme == "https" {
		if mixed := mixedContent(doc, u); len(mixed) > 0 {
			out = append(out, newFinding(rulePageMixed, it.url, "loads "+strings.Join(mixed, ", "), strings.Join(mixed, ", ")))
			p.Differences = append(p.Differences, "mixed content: "+strings.Join(mixed, ", "))
		}
	}
	return p, out, pageLinks(doc)
}

func hasID(fs []Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}
