package sanitize

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/rampart-go/rampart/internal/corpora"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// forbiddenElements must never appear in sanitised output.
var forbiddenElements = map[string]bool{
	"script": true, "svg": true, "math": true, "iframe": true, "frame": true, "frameset": true, "object": true,
	"embed": true, "applet": true, "style": true, "form": true, "input": true, "button": true, "textarea": true,
	"select": true, "base": true, "meta": true, "link": true, "noscript": true, "template": true, "xmp": true,
	"plaintext": true, "noembed": true, "video": true, "audio": true, "source": true, "portal": true,
}

// urlAttrs are the attributes a browser resolves as URLs.
var urlAttrs = map[string]bool{
	"href": true, "src": true, "action": true, "formaction": true, "xlink:href": true, "background": true,
	"poster": true, "cite": true, "data": true, "srcset": true, "lowsrc": true, "dynsrc": true,
	"codebase": true, "longdesc": true, "ping": true, "manifest": true, "icon": true,
}

// dangerousURL reports whether v, as a browser reads it (entities already decoded by the
// parser; ASCII tab/newline removed anywhere; leading C0 controls and spaces trimmed),
// uses a script-capable or data: scheme.
func dangerousURL(v string) bool {
	v = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, v)
	v = strings.TrimLeftFunc(v, func(r rune) bool { return r <= ' ' })
	v = strings.ToLower(v)
	for _, p := range []string{"javascript:", "vbscript:", "data:", "livescript:", "mocha:"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// checkSafe parses out as a browser would (a fragment in <body>) and returns the first
// violation of the sanitiser's invariants.
func checkSafe(out string) error {
	lower := strings.ToLower(out)
	for _, bad := range []string{"<script", "<svg", "<iframe", "<object", "<embed", "<style", "<form", "<base", "<meta", "<link", "<math"} {
		if strings.Contains(lower, bad) {
			return fmt.Errorf("raw %q in output", bad)
		}
	}
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(out), body)
	if err != nil {
		return fmt.Errorf("output does not parse: %v", err)
	}
	var walk func(n *html.Node) error
	walk = func(n *html.Node) error {
		if n.Type == html.ElementNode {
			if forbiddenElements[strings.ToLower(n.Data)] {
				return fmt.Errorf("element <%s> survived", n.Data)
			}
			if n.Namespace != "" {
				return fmt.Errorf("foreign-content element %s:%s survived", n.Namespace, n.Data)
			}
			for _, a := range n.Attr {
				k := strings.ToLower(a.Key)
				if a.Namespace != "" {
					k = strings.ToLower(a.Namespace) + ":" + k
				}
				switch {
				case strings.HasPrefix(k, "on"):
					return fmt.Errorf("event handler %s=%q on <%s>", k, a.Val, n.Data)
				case k == "style":
					return fmt.Errorf("style attribute on <%s>", n.Data)
				case k == "id" || k == "name" || k == "class" || k == "srcdoc":
					return fmt.Errorf("attribute %s on <%s>", k, n.Data)
				case urlAttrs[k] && dangerousURL(a.Val):
					return fmt.Errorf("dangerous URL %s=%q on <%s>", k, a.Val, n.Data)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range nodes {
		if err := walk(n); err != nil {
			return err
		}
	}
	return nil
}

// The checker itself must catch what it claims to (a test that cannot fail is a defect).
func TestCheckerCatchesUnsafeHTML(t *testing.T) {
	for _, bad := range []string{
		`<script>alert(1)</script>`, `<img src=x onerror=alert(1)>`, `<a href="javascript:alert(1)">x</a>`,
		`<a href=" &#x6A;avascript:alert(1)">x</a>`, "<a href=\"java\tscript:alert(1)\">x</a>", `<a href="DATA:text/html,x">x</a>`,
		`<iframe src=//x>`, `<svg onload=alert(1)>`, `<form action=//x>`, `<object data=x>`, `<embed src=x>`,
		`<base href=//x>`, `<meta http-equiv=refresh>`, `<link rel=import>`, `<p style="background:url(javascript:x)">`,
		`<b id="csrf_token">`, `<math><mi>x</mi></math>`, `<a href="vbscript:msgbox(1)">x</a>`,
	} {
		if checkSafe(bad) == nil {
			t.Errorf("checker accepted %q", bad)
		}
	}
}

// Always-run hostile set covering each class the reference app's hostile comment contains.
var hostile = []string{
	`<script>alert(1)</script>`,
	`<SCRIPT SRC=//evil.example/x.js></SCRIPT>`,
	`<scr<script>ipt>alert(1)</script>`,
	`<img src=x onerror=alert(1)>`,
	`<img src="javascript:alert(1)">`,
	`<a href="javascript:alert(1)">click</a>`,
	`<a href="jav&#x09;ascript:alert(1)">click</a>`,
	`<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>`,
	"<a href=\"java\nscript:alert(1)\">x</a>",
	`<a href=" javascript:alert(1)">x</a>`,
	`<a href="vbscript:msgbox(1)">x</a>`,
	`<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`,
	`<img src="data:image/svg+xml,<svg onload=alert(1)>">`,
	`<iframe src="https://evil.example"></iframe>`,
	`<iframe srcdoc="<script>alert(1)</script>">`,
	`<div style="background:url(javascript:alert(1))">x</div>`,
	`<p style="x:expression(alert(1))">x</p>`,
	`<svg onload=alert(1)>`,
	`<svg><script>alert(1)</script></svg>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
	`<form action="https://evil.example"><input name=x><button>go</button></form>`,
	`<object data="x.swf"></object>`,
	`<embed src="x.swf">`,
	`<base href="https://evil.example/">`,
	`<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
	`<link rel="stylesheet" href="https://evil.example/x.css">`,
	`<style>body{background:red}</style>`,
	`<body onload=alert(1)>`,
	`<details open ontoggle=alert(1)>`,
	`<a href="https://example.com" onclick="alert(1)" id="csrf_token" name="x" class="y">x</a>`,
	`<noscript><p title="</noscript><img src=x onerror=alert(1)>">`,
	`<template><script>alert(1)</script></template>`,
	`<!--<img src="--><img src=x onerror=alert(1)//">`,
	`<a href="//evil.example">protocol-relative</a>`,
}

func TestHostilePayloads(t *testing.T) {
	for _, in := range hostile {
		out := string(HTML(in))
		if err := checkSafe(out); err != nil {
			t.Errorf("HTML(%q) = %q: %v", in, out, err)
		}
	}
}

// Every line of every file in corpora/xss through the policy: each output is safe, balanced
// in the page it is rendered in, and unchanged by sanitising it again.
func TestXSSCorpus(t *testing.T) {
	dir := corpora.Dir(t, "xss")
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("XSS corpora directory %s is empty", dir)
	}
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n, failed := 0, 0
		for sc.Scan() {
			line := sc.Text()
			n++
			out, settled := sanitize(defaultSanitizer.p, line)
			err := checkOutput(line, out)
			if err == nil && !settled {
				err = fmt.Errorf("did not settle; fell back to text")
			}
			if err != nil {
				failed++
				if failed <= 5 {
					t.Errorf("%s:%d: HTML(%q) = %q: %v", filepath.Base(f), n, line, out, err)
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if failed > 0 {
			t.Errorf("%s: %d of %d payloads unsafe, unbalanced or unstable", filepath.Base(f), failed, n)
		}
		total += n
	}
	if total < 20000 {
		t.Fatalf("checked only %d payloads; corpus incomplete?", total)
	}
	t.Logf("checked %d XSS payloads from %d files: all outputs safe, balanced and stable", total, len(files))
}

func TestHarmlessFormattingSurvives(t *testing.T) {
	tests := []struct{ in, want string }{
		{`<b>bold</b> and <i>italic</i>`, `<b>bold</b> and <i>italic</i>`},
		{`<p>para</p><p>two</p>`, `<p>para</p><p>two</p>`},
		{`<ul><li>a</li><li>b</li></ul><ol><li>1</li></ol>`, `<ul><li>a</li><li>b</li></ul><ol><li>1</li></ol>`},
		{`<code>x := 1 &lt; 2</code>`, `<code>x := 1 &lt; 2</code>`},
		{`<pre><code>fmt.Println()</code></pre>`, `<pre><code>fmt.Println()</code></pre>`},
		{`<em>e</em><strong>s</strong><blockquote>q</blockquote>`, `<em>e</em><strong>s</strong><blockquote>q</blockquote>`},
		{`<a href="https://example.com/page?a=1&amp;b=2">link</a>`, `<a href="https://example.com/page?a=1&amp;b=2" rel="nofollow noopener" target="_blank">link</a>`},
		{`<a href="/local/path">local</a>`, `<a href="/local/path" rel="nofollow">local</a>`},
		{`<a href="mailto:a@example.com">mail</a>`, `<a href="mailto:a@example.com" rel="nofollow">mail</a>`},
		{`<h2>Title</h2><hr><br>`, `<h2>Title</h2><hr/><br/>`}, // void elements as x/net/html serialises them
		{`<img src="/media/a.png" alt="A cat">`, `<img src="/media/a.png" alt="A cat"/>`},
		// The CSP blocks images from other hosts: their src goes, the alt text stays.
		{`<img src="https://example.com/a.png" alt="A cat">`, `<img alt="A cat"/>`},
		{`plain text & more`, `plain text &amp; more`},
	}
	for _, tt := range tests {
		if got := string(HTML(tt.in)); got != tt.want {
			t.Errorf("HTML(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// User-supplied rel/target are dropped; the policy's own values are applied.
	for in, want := range map[string]string{
		`<a href="https://example.com" rel="opener" target="_self">x</a>`: `<a href="https://example.com" rel="nofollow noopener" target="_blank">x</a>`,
		`<a href="/x" target="_blank" rel="opener">x</a>`:                 `<a href="/x" rel="nofollow">x</a>`,
	} {
		if got := string(HTML(in)); got != want {
			t.Errorf("HTML(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFuncMapOnlySanitisedHTMLIsSafe(t *testing.T) {
	tmpl := template.Must(template.New("t").Funcs(FuncMap()).Parse(
		`[{{ safeHTML .Body }}][{{ sanitize .Body }}][{{ .Body }}][{{ stripTags .Body }}]`))
	var out bytes.Buffer
	body := `<b>hi</b><script>alert(1)</script> 1 < 2`
	if err := tmpl.Execute(&out, map[string]string{"Body": body}); err != nil {
		t.Fatal(err)
	}
	want := `[<b>hi</b> 1 &lt; 2][<b>hi</b> 1 &lt; 2][&lt;b&gt;hi&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt; 1 &lt; 2][hi 1 &lt; 2]`
	if out.String() != want {
		t.Fatalf("got  %s\nwant %s", out.String(), want)
	}
	if Text(`<p>a &amp; b</p>`) != "a & b" {
		t.Fatalf("Text = %q", Text(`<p>a &amp; b</p>`))
	}
	// A custom Sanitizer with the strict policy.
	if got := New(StrictPolicy()).HTML(`<b>x</b>`); got != "x" {
		t.Fatalf("strict HTML = %q", got)
	}
	// UGCPolicy returns independent copies.
	if p1, p2 := UGCPolicy(), UGCPolicy(); p1 == p2 {
		t.Fatal("UGCPolicy must return a fresh policy")
	}
}

// FuzzSanitize: whatever goes in, the output is safe, balanced in the page around it (it
// neither closes the comment's container nor leaves anything open over what follows), valid
// UTF-8, and a fixed point: sanitising it again returns it unchanged. The policy and the
// balancing settle (no fallback to text) for every input.
func FuzzSanitize(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	for _, s := range []string{
		`<b>bold</b><a href="https://example.com">x</a>`, `<table><tr><td>x`, `</div></li></ol></body></html>x`,
		`<li>a<dd>b`, `<span><li>x</span>`, `<table>x<b>y<tr><td>z`, `<b><i>x</b>y</i>`, `<a href="/">a<div>b`,
		`<p>a<table>b`, `<pre>` + "\n\nx", `<ruby><rt>a<rp>b`, "\xff<b>\r\n", `<img src="/a.png">`,
		strings.Repeat(`<div><b>`, 120),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, settled := sanitize(defaultSanitizer.p, in)
		if err := checkOutput(in, out); err != nil {
			t.Fatalf("HTML(%q) = %q: %v", in, out, err)
		}
		if !settled {
			t.Fatalf("HTML(%q) did not settle; fell back to text %q", in, out)
		}
	})
}

var benchComment = strings.Repeat(`<p>Nice post! <b>bold</b> <a href="https://example.com/x">link</a></p>`+
	`<img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a><iframe src=//evil></iframe>`+
	`<div style="background:url(javascript:alert(1))">s</div><svg onload=alert(1)><form action=//e><input></form>`+
	`<object data=x></object><embed src=x><script>alert(1)</script>`, 4)

func BenchmarkHTML(b *testing.B) {
	if err := checkSafe(string(HTML(benchComment))); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchComment)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = HTML(benchComment)
	}
}
