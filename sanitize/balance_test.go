package sanitize

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/rampart-go/rampart/csp"
)

// pageAround renders a sanitised comment the way the reference app does (ol > li > div.meta +
// div.body, a second comment after it, then content after the list and a footer), with an
// element after the container inside the list item, so that an element left open is seen.
func pageAround(out string) string {
	return `<!doctype html><html><head></head><body><main><ol id="list"><li class="c"><div class="meta">m</div>` +
		`<div class="body">` + out + `</div><div class="tail">t</div></li><li id="after"><div class="body">next</div></li></ol>` +
		`<p id="sentinel">s</p></main><footer id="footer">f</footer></body></html>`
}

// sig describes a tree: element names with their attributes, and text (adjacent text joined).
func sig(parent *html.Node) string {
	var b strings.Builder
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			b.WriteString(strconv.Quote(text.String()))
			text.Reset()
		}
	}
	for c := parent.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			text.WriteString(c.Data)
		case html.ElementNode:
			flush()
			b.WriteString("<" + c.Namespace + c.Data)
			for _, a := range c.Attr {
				fmt.Fprintf(&b, " %s%s=%q", a.Namespace, a.Key, a.Val)
			}
			b.WriteString(">" + sig(c) + "</>")
		default:
			flush()
			fmt.Fprintf(&b, "<!%d %q>", c.Type, c.Data)
		}
	}
	flush()
	return b.String()
}

func elementChildren(n *html.Node) []*html.Node {
	var out []*html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			out = append(out, c)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// describe names elements for error messages: tag#id.class.
func describe(ns []*html.Node) string {
	var parts []string
	for _, n := range ns {
		s := n.Data
		if id := attr(n, "id"); id != "" {
			s += "#" + id
		}
		if c := attr(n, "class"); c != "" {
			s += "." + c
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

// checkBalanced parses out inside pageAround as a browser parses a document and checks that
// the page around the comment is what it would be with an empty comment, and that the
// comment's container holds exactly the tree out is on its own (parsed as a fragment).
func checkBalanced(out string) error {
	doc, err := html.Parse(strings.NewReader(pageAround(out)))
	if err != nil {
		return err
	}
	htmlEl := elementChildren(doc)
	if len(htmlEl) != 1 {
		return fmt.Errorf("document children %s", describe(htmlEl))
	}
	top := elementChildren(htmlEl[0])
	if describe(top) != "head,body" {
		return fmt.Errorf("html children %s", describe(top))
	}
	body := top[1]
	if got := describe(elementChildren(body)); got != "main,footer#footer" {
		return fmt.Errorf("body children %s", got)
	}
	main := elementChildren(body)[0]
	if got := describe(elementChildren(main)); got != "ol#list,p#sentinel" {
		return fmt.Errorf("main children %s", got)
	}
	ol := elementChildren(main)[0]
	if got := describe(elementChildren(ol)); got != "li.c,li#after" {
		return fmt.Errorf("list children %s", got)
	}
	li := elementChildren(ol)[0]
	if got := describe(elementChildren(li)); got != "div.meta,div.body,div.tail" {
		return fmt.Errorf("comment children %s", got)
	}
	if got := sig(elementChildren(ol)[1]); got != `<div class="body">"next"</>` {
		return fmt.Errorf("next comment is %s", got)
	}
	if got := sig(elementChildren(main)[1]); got != `"s"` {
		return fmt.Errorf("the paragraph after the list holds %s", got)
	}
	if got := sig(elementChildren(body)[1]); got != `"f"` {
		return fmt.Errorf("the footer holds %s", got)
	}
	container := elementChildren(li)[1]
	frag, err := html.ParseFragment(strings.NewReader(out), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	if err != nil {
		return err
	}
	alone := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	for _, n := range frag {
		alone.AppendChild(n)
	}
	if in, want := sig(container), sig(alone); in != want {
		return fmt.Errorf("in the page the comment is\n  %s\nalone it is\n  %s", in, want)
	}
	return nil
}

// checkOutput is every property of a sanitiser result: safe, balanced in the page, valid
// UTF-8, and a fixed point of sanitising.
func checkOutput(in, out string) error {
	if err := checkSafe(out); err != nil {
		return err
	}
	if err := checkBalanced(out); err != nil {
		return fmt.Errorf("not balanced: %v", err)
	}
	if !utf8.ValidString(out) {
		return fmt.Errorf("output is not valid UTF-8")
	}
	if again := string(HTML(out)); again != out {
		return fmt.Errorf("not idempotent: HTML(out) = %q", again)
	}
	return nil
}

// The checker must catch what it claims to: these break the page around the comment.
func TestCheckerCatchesUnbalancedHTML(t *testing.T) {
	for _, bad := range []string{
		`</div></li></ol>`, `<table><tr><td>x`, `<a href="/x">open`, `<li>x`, `<b>open`,
		`</main><footer>y</footer>`, `<div>`, `<table>`, `</li><li>x`, `<span><li>x</li></span>`,
	} {
		if checkBalanced(bad) == nil {
			t.Errorf("checker accepted %q", bad)
		}
	}
	for _, good := range []string{``, `x`, `<b>x</b>`, `<ul><li>x</li></ul>`, `<table><tbody><tr><td>x</td></tr></tbody></table>`} {
		if err := checkBalanced(good); err != nil {
			t.Errorf("checker refused %q: %v", good, err)
		}
	}
}

// TestBalanced: whatever a comment holds, it is closed where it ends, it closes nothing it
// did not open, and sanitising again changes nothing.
func TestBalanced(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when only the properties are checked
	}{
		{`<table><tr><td>x`, `<table><tbody><tr><td>x</td></tr></tbody></table>`},
		{`<table><tr><td>cell`, ``},
		{`a</div></li></ol></main><footer>pulled in`, `apulled in`},
		{`x</div></li></ol></body></html><p>after`, `x<p>after</p>`},
		{`</p>`, `<p></p>`},
		{`<p>a<p>b<div>c`, `<p>a</p><p>b</p><div>c</div>`},
		{`<a href="/x">unclosed`, `<a href="/x" rel="nofollow">unclosed</a>`},
		{`<a href="/x">a<div>b</div>`, `<a href="/x" rel="nofollow">a<div>b</div></a>`},
		{`<a href="/1">1<a href="/2">2`, `<a href="/1" rel="nofollow">1</a><a href="/2" rel="nofollow">2</a>`},
		{`<li>item`, `<ul><li>item</li></ul>`},
		{`<li>a<li>b`, `<ul><li>a</li><li>b</li></ul>`},
		{`<span><li>x</li></span>`, `<span><ul><li>x</li></ul></span>`},
		{`<dd>x<dt>y`, `<dl><dd>x</dd><dt>y</dt></dl>`},
		{`<div><li>x</div>`, `<div><ul><li>x</li></ul></div>`},
		{`<ul><li>a<ul><li>b</ul>`, `<ul><li>a<ul><li>b</li></ul></li></ul>`},
		{`<ol><li><div><li>x`, `<ol><li><div></div></li><li>x</li></ol>`},
		{`<table>text<tr><td>c`, `text<table><tbody><tr><td>c</td></tr></tbody></table>`},
		{`<table><b>fostered</b><tr><td>c</td></tr></table>`, `<b>fostered</b><table><tbody><tr><td>c</td></tr></tbody></table>`},
		{`<table><td>a</table>b`, `<table><tbody><tr><td>a</td></tr></tbody></table>b`},
		{`<table><table>`, `<table></table><table></table>`},
		{`<tr><td>x</td></tr>`, `x`},
		{`<caption>x`, `x`},
		{`<td>x`, `x`},
		{`<b><i>x</b>y</i>`, `<b><i>x</i></b><i>y</i>`},
		{`<b>x<p>y</b>z`, `<b>x</b><p><b>y</b>z</p>`},
		{`<!-- c --><b>x`, `<b>x</b>`},
		{`<xmp><b>x</b></xmp>`, ``},
		{`<plaintext><b>x</b></div>`, ``},
		{`<template><b>x</b></template>y`, ``},
		{`<noscript><b>x</b></noscript>`, ``},
		{`<textarea></div></textarea>`, ``},
		{`<title></div></title>`, ``},
		{`<form><form><b>x`, `<b>x</b>`},
		{`<select><option>x</select>`, ``},
		{`<svg><b>x</b></svg>`, ``},
		{`<pre>` + "\n\nx" + `</pre>`, `<pre>` + "\n\nx" + `</pre>`},
		{`<h1>a<h2>b`, `<h1>a</h1><h2>b</h2>`},
		{`<ruby>a<rt>b<rp>c`, ``},
		{`<details><summary>s`, `<details><summary>s</summary></details>`},
		{`<blockquote><p>q`, `<blockquote><p>q</p></blockquote>`},
		{`&#13;x` + "\r\ny\rz", ``},
		{"bad \xff\xfe utf-8 <b>x", "bad \ufffd utf-8 <b>x</b>"},
		{strings.Repeat(`<b>`, 300) + `deep`, ``},
		{strings.Repeat(`<div><span>`, 200) + `deep`, ``},
		{strings.Repeat(`<table><tr><td>`, 80) + `deep`, ``},
	}
	for _, tt := range tests {
		out := string(HTML(tt.in))
		if tt.want != "" && out != tt.want {
			t.Errorf("HTML(%.80q) = %.200q, want %.200q", tt.in, out, tt.want)
		}
		if err := checkOutput(tt.in, out); err != nil {
			t.Errorf("HTML(%.80q) = %.200q: %v", tt.in, out, err)
		}
		if _, ok := sanitize(UGCPolicy(), tt.in); !ok {
			t.Errorf("HTML(%.80q) did not settle; fell back to text", tt.in)
		}
	}
}

// Nesting deeper than maxDepth is flattened to text, so the tree a browser builds (Chromium
// stops nesting at 512) is the tree that was checked.
func TestDepthLimit(t *testing.T) {
	out := string(HTML(strings.Repeat(`<b>`, 2*maxDepth) + `deep`))
	if n := strings.Count(out, "<b>"); n != maxDepth {
		t.Errorf("%d nested <b> kept, want %d", n, maxDepth)
	}
	if !strings.Contains(out, "deep") {
		t.Errorf("text lost: %.100q", out)
	}
}

// The text fallback is itself a fixed point, for the default and for a custom policy.
func TestFallbackIsStable(t *testing.T) {
	for _, in := range []string{`a &amp; b <b>c</b> &#13; ' "`, "x\ry"} {
		out, _ := fixedPoint(strict, in)
		if again := string(HTML(out)); again != out {
			t.Errorf("fallback %q: HTML = %q", out, again)
		}
		if again := string(New(StrictPolicy()).HTML(out)); again != out {
			t.Errorf("fallback %q: strict HTML = %q", out, again)
		}
	}
}

// cspAllows reports whether the directive's sources let a page at page load u, as CSP Level
// 3 matches a source list; source expressions it does not know never match, so an unknown
// CSP change makes TestImagePolicyAgreesWithCSP fail rather than pass.
func cspAllows(sources []string, page, u *url.URL) bool {
	for _, s := range sources {
		ls := strings.ToLower(s)
		switch {
		case ls == "'none'":
		case ls == "'self'":
			if u.Scheme == page.Scheme && u.Host == page.Host ||
				page.Scheme == "http" && u.Scheme == "https" && u.Hostname() == page.Hostname() {
				return true
			}
		case ls == "*":
			if u.Scheme == "http" || u.Scheme == "https" || u.Scheme == page.Scheme {
				return true
			}
		case strings.HasSuffix(ls, ":") && !strings.Contains(ls, "/"):
			if u.Scheme == strings.TrimSuffix(ls, ":") || ls == "http:" && u.Scheme == "https" {
				return true
			}
		case strings.HasPrefix(ls, "'"):
			// nonces, hashes and other keywords do not apply to images
		default:
			src, err := url.Parse(ls)
			if err != nil {
				continue
			}
			if src.Scheme == "" || src.Host == "" {
				src, err = url.Parse(page.Scheme + "://" + ls)
				if err != nil {
					continue
				}
			}
			if src.Scheme != u.Scheme && !(src.Scheme == "http" && u.Scheme == "https") {
				continue
			}
			host, uh := src.Hostname(), u.Hostname()
			if strings.HasPrefix(host, "*.") {
				if !strings.HasSuffix(uh, host[1:]) {
					continue
				}
			} else if host != uh {
				continue
			}
			if src.Port() != "" && src.Port() != "*" && src.Port() != u.Port() {
				continue
			}
			if p := src.Path; p != "" && p != "/" && !(strings.HasSuffix(p, "/") && strings.HasPrefix(u.Path, p)) && p != u.Path {
				continue
			}
			return true
		}
	}
	return false
}

// browserResolve resolves ref against base as a browser does for http(s) pages: leading and
// trailing C0 controls and spaces are trimmed, tabs and newlines removed, and backslashes
// read as slashes.
func browserResolve(base *url.URL, ref string) (*url.URL, error) {
	ref = strings.TrimFunc(ref, func(r rune) bool { return r <= ' ' })
	ref = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(ref)
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = strings.ReplaceAll(ref[:i], `\`, "/") + ref[i:]
	} else {
		ref = strings.ReplaceAll(ref, `\`, "/")
	}
	r, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(r), nil
}

// TestImagePolicyAgreesWithCSP: every image URL the comments policy keeps is one the default
// CSP lets the page load, so a comment never shows a broken image or files a violation
// report, and a change of the CSP that would block comment images fails here.
func TestImagePolicyAgreesWithCSP(t *testing.T) {
	pol := csp.DefaultPolicy()
	sources, ok := pol.Get("img-src")
	if !ok {
		sources, _ = pol.Get("default-src")
	}
	for _, pageURL := range []string{"https://app.example/comments", "http://localhost:8000/comments", "https://app.example:8443/a/b/c"} {
		page, _ := url.Parse(pageURL)
		kept := 0
		for _, src := range []string{
			"/media/cat.png", "/media/cat.png?size=2#x", "cat.png", "./a/b.png", "../up.png", "/", "a:b.png",
			"https://example.com/a.png", "http://example.com/a.png", "//evil.example/a.png", `/\evil.example/a.png`,
			`\\evil.example\a.png`, `\/evil.example/a.png`, " //evil.example/a.png", "/\t/evil.example/a.png",
			"\x01//evil.example/a.png", "https:evil.example/a.png", "https:/evil.example", "ftp://evil.example/a.png",
			"data:image/png;base64,iVBORw0KGgo=", "data:image/svg+xml,<svg onload=alert(1)>", "blob:https://app.example/x",
			"javascript:alert(1)", "/%2F%2Fevil.example/a.png", "https://app.example/media/cat.png", "%2F%2Fevil.example",
			"/media/cat.png ", "/media/cat png", "HTTPS://EXAMPLE.COM/A.PNG", "//app.example/media/cat.png",
		} {
			out := string(HTML(`<img src="` + html.EscapeString(src) + `" alt="a">`))
			frag, err := html.ParseFragment(strings.NewReader(out), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
			if err != nil || len(frag) != 1 || frag[0].DataAtom != atom.Img {
				t.Fatalf("HTML(<img src=%q>) = %q", src, out)
			}
			got := attr(frag[0], "src")
			if got == "" {
				continue
			}
			kept++
			u, err := browserResolve(page, got)
			if err != nil {
				t.Errorf("kept src %q (from %q) does not resolve: %v", got, src, err)
				continue
			}
			if !cspAllows(sources, page, u) {
				t.Errorf("the policy keeps <img src=%q> (from %q), which img-src %v blocks on %s (it loads %s)", got, src, sources, page, u)
			}
		}
		if kept == 0 {
			t.Errorf("no image URL survives: the policy allows no images at all on %s", page)
		}
	}
}

// The matcher the agreement test relies on must itself tell allowed from blocked.
func TestCSPMatcher(t *testing.T) {
	page, _ := url.Parse("https://app.example/comments")
	tests := []struct {
		sources []string
		src     string
		want    bool
	}{
		{[]string{"'self'", "data:"}, "/a.png", true},
		{[]string{"'self'", "data:"}, "data:image/png,x", true},
		{[]string{"'self'", "data:"}, "https://example.com/a.png", false},
		{[]string{"'self'", "data:"}, "//app.example.evil/a.png", false},
		{[]string{"'self'"}, `/\evil.example/a.png`, false},
		{[]string{"'none'"}, "/a.png", false},
		{[]string{"https:"}, "https://example.com/a.png", true},
		{[]string{"https://cdn.example/img/"}, "https://cdn.example/img/a.png", true},
		{[]string{"https://cdn.example/img/"}, "https://cdn.example/other.png", false},
		{[]string{"*.example.com"}, "https://img.example.com/a.png", true},
		{[]string{"'nonce-abc'"}, "/a.png", false},
	}
	for _, tt := range tests {
		u, err := browserResolve(page, tt.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := cspAllows(tt.sources, page, u); got != tt.want {
			t.Errorf("cspAllows(%v, %q) = %v, want %v", tt.sources, tt.src, got, tt.want)
		}
	}
}

// A custom policy that allows comments, raw-text or foreign elements still gives a balanced
// fragment: balancing removes what would not survive a parse and serialisation unchanged.
func TestCustomPolicyStillBalanced(t *testing.T) {
	p := UGCPolicy()
	p.AllowComments()
	p.AllowElements("textarea", "title", "xmp", "svg", "math", "template")
	s := New(p)
	for _, in := range []string{
		`<!-- a --><b>x`, `<textarea></div></li></textarea>`, `<title></ol></title>`, `<xmp></div></xmp>`,
		`<svg><b>x</b></svg>`, `<math><mi>x</mi></math>y`, `<template></div><b>x</template>`, `<!--</div>-->`,
	} {
		out := string(s.HTML(in))
		if err := checkBalanced(out); err != nil {
			t.Errorf("HTML(%q) = %q: %v", in, out, err)
		}
		if again := string(s.HTML(out)); again != out {
			t.Errorf("HTML(%q) = %q, again %q", in, out, again)
		}
		for _, bad := range []string{"<!--", "<textarea", "<title", "<xmp", "<svg", "<math", "<template"} {
			if strings.Contains(out, bad) {
				t.Errorf("HTML(%q) = %q keeps %s", in, out, bad)
			}
		}
	}
}
