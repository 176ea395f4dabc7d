package browsertest

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/sanitize"
)

// balancePage is the reference app's comment markup (internal/app/templates: an <ol> of
// <li class="comment"> each holding div.meta and div.body with the sanitised body) between a
// header, a paragraph after the list and a footer, so that a comment that closes its
// container or leaves an element open shows as a changed page.
var balancePage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>comments</title></head>
<body>
<header class="top"><a class="brand" href="/">rampart</a></header>
<main>
<h1>Comments</h1>
<ol class="comments" id="comments">
{{range .}}<li class="comment" data-i="{{.I}}"><div class="meta">#{{.I}}</div>
<div class="body">{{.Body}}</div></li>
{{end}}</ol>
<p id="after-list">end of comments</p>
</main>
<footer id="footer">Protected by rampart</footer>
</body>
</html>`))

// structural are the markup shapes that break a page around an unbalanced fragment, beside
// the corpus (which holds few of them on purpose).
var structural = []string{
	`<table><tr><td>open cell`, `<table>fostered text<tr><td>c`, `<table><b>fostered</b><tr><td>c</td></tr></table>`,
	`<table><td>a</table>b`, `<table><table>`, `<tr><td>x</td></tr>`, `<caption>x`, `<td>x`,
	`a</div></li></ol></main><footer>pulled in`, `x</div></li></ol></body></html><p>after`, `</li><li>x`,
	`</p>`, `<p>a<p>b<div>c`, `<div>open`, `<div><div><span>open`,
	`<a href="/x">unclosed`, `<a href="/x">a<div>b</div>`, `<a href="/1">1<a href="/2">2`,
	`<li>item`, `<li>a<li>b`, `<span><li>x</li></span>`, `<dd>x<dt>y`, `<div><li>x</div>`,
	`<ul><li>a<ul><li>b</ul>`, `<ol><li><div><li>x`, `<b><i>x</b>y</i>`, `<b>x<p>y</b>z`,
	`<!-- c --><b>x`, `<!--`, `<xmp><b>x</b></xmp>`, `<plaintext><b>x</b></div>`, `<template><b>x</b></template>y`,
	`<noscript><b>x</b></noscript>`, `<textarea></div></textarea>`, `<title></div></title>`, `<form><form><b>x`,
	`<select><option>x</select>`, `<svg><b>x</b></svg>`, `<math><mi>x</math>`, "<pre>\n\nx</pre>", `<h1>a<h2>b`,
	`<ruby>a<rt>b<rp>c`, `<details><summary>s`, `<blockquote><p>q`, "&#13;x\r\ny\rz", "bad \xff\xfe utf-8 <b>x",
	strings.Repeat(`<b>`, 300) + `deep`, strings.Repeat(`<div><span>`, 300) + `deep`,
	strings.Repeat(`<table><tr><td>`, 150) + `deep`, strings.Repeat(`<a href="/">`, 50) + `deep`,
}

// domNode is a DOM subtree as compared between x/net/html and Chromium: elements with their
// attributes in order, and text with adjacent text nodes joined.
type domNode struct {
	K string      `json:"k"` // "e" element, "t" text, else another node type
	T string      `json:"t,omitempty"`
	A [][2]string `json:"a,omitempty"`
	C []domNode   `json:"c,omitempty"`
	X string      `json:"x,omitempty"`
}

// treeJS describes a node's children in the domNode shape.
const treeJS = `const tree = (n) => {
	const out = [];
	for (const c of n.childNodes) {
		if (c.nodeType === Node.TEXT_NODE) {
			if (out.length && out[out.length - 1].k === "t") out[out.length - 1].x += c.data;
			else out.push({k: "t", x: c.data});
		} else if (c.nodeType === Node.ELEMENT_NODE) {
			const ns = c.namespaceURI === "http://www.w3.org/1999/xhtml" ? "" : (c.namespaceURI || "none") + ":";
			const e = {k: "e", t: ns + c.localName, a: [...c.attributes].map((a) => [a.name, a.value]), c: tree(c)};
			if (!e.a.length) delete e.a;
			if (!e.c.length) delete e.c;
			out.push(e);
		} else {
			out.push({k: "o" + c.nodeType, x: c.nodeName});
		}
	}
	return out;
};`

// structureJS checks the page outside the comments and returns each wrapper's index and
// its body's tree. A wrapper that is missing, moved, nested in another or holding anything
// but its meta and body is a finding.
const structureJS = `(() => {
	` + treeJS + `
	const bad = [];
	const kids = (el) => el ? [...el.children].map((c) => c.localName + (c.id ? "#" + c.id : "") + (c.className ? "." + c.className : "")).join(",") : "(missing)";
	const body = document.body;
	if (kids(document.documentElement) !== "head,body") bad.push("html holds " + kids(document.documentElement));
	if (kids(body) !== "header.top,main,footer#footer") bad.push("body holds " + kids(body));
	const main = document.querySelector("main");
	if (kids(main) !== "h1,ol#comments.comments,p#after-list") bad.push("main holds " + kids(main));
	const footer = document.querySelectorAll("footer");
	if (footer.length !== 1 || footer[0].parentElement !== body || footer[0].textContent !== "Protected by rampart" || footer[0].children.length !== 0)
		bad.push("footer: " + footer.length + " found, first in <" + (footer[0]?.parentElement?.localName) + "> holding " + JSON.stringify(footer[0]?.innerHTML.slice(0, 200)));
	const after = document.getElementById("after-list");
	if (!after || after.textContent !== "end of comments" || after.children.length !== 0) bad.push("the paragraph after the list changed");
	const ol = document.getElementById("comments");
	const wrappers = document.querySelectorAll("li.comment");
	const comments = [];
	for (const li of wrappers) {
		const i = li.getAttribute("data-i");
		if (li.parentElement !== ol) bad.push("comment " + i + " is inside <" + li.parentElement.localName + "> not the list");
		if (kids(li) !== "div.meta,div.body") bad.push("comment " + i + " holds " + kids(li));
		const meta = li.querySelector(":scope > div.meta");
		if (!meta || meta.textContent !== "#" + i || meta.children.length !== 0) bad.push("comment " + i + ": meta changed");
		const b = li.querySelector(":scope > div.body");
		comments.push({i: Number(i), tree: b ? tree(b) : null});
	}
	if (ol && ol.children.length !== wrappers.length) bad.push("the list holds " + ol.children.length + " children for " + wrappers.length + " comments");
	return {bad, comments, bodies: document.querySelectorAll("div.body").length, metas: document.querySelectorAll("div.meta").length};
})()`

type structureReport struct {
	Bad      []string `json:"bad"`
	Comments []struct {
		I    int       `json:"i"`
		Tree []domNode `json:"tree"`
	} `json:"comments"`
	Bodies int `json:"bodies"`
	Metas  int `json:"metas"`
}

// fragmentTree parses s as the content of a <div>, as it is written into div.body.
func fragmentTree(t *testing.T, s string) []domNode {
	t.Helper()
	nodes, err := html.ParseFragment(strings.NewReader(s), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	root := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	for _, n := range nodes {
		root.AppendChild(n)
	}
	return goTree(root)
}

func goTree(n *html.Node) []domNode {
	var out []domNode
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			if l := len(out); l > 0 && out[l-1].K == "t" {
				out[l-1].X += c.Data
			} else {
				out = append(out, domNode{K: "t", X: c.Data})
			}
		case html.ElementNode:
			e := domNode{K: "e", T: c.Data, C: goTree(c)}
			switch c.Namespace {
			case "":
			case "svg":
				e.T = "http://www.w3.org/2000/svg:" + c.Data
			case "math":
				e.T = "http://www.w3.org/1998/Math/MathML:" + c.Data
			default:
				e.T = c.Namespace + ":" + c.Data
			}
			for _, a := range c.Attr {
				k := a.Key
				if a.Namespace != "" {
					k = a.Namespace + ":" + k
				}
				e.A = append(e.A, [2]string{k, a.Val})
			}
			out = append(out, e)
		default:
			out = append(out, domNode{K: "o" + strconv.Itoa(int(c.Type)), X: c.Data})
		}
	}
	return out
}

// normalize makes empty child lists nil, as goTree leaves them, for reflect.DeepEqual.
func normalize(tree []domNode) []domNode {
	if len(tree) == 0 {
		return nil
	}
	for i := range tree {
		tree[i].C = normalize(tree[i].C)
		if len(tree[i].A) == 0 {
			tree[i].A = nil
		}
	}
	return tree
}

// short is a tree as JSON, cut to a length that fits an error message.
func short(tree []domNode) string {
	j, _ := json.Marshal(tree)
	if len(j) > 400 {
		return string(j[:400]) + "…"
	}
	return string(j)
}

func hasTag(tree []domNode, tag string) bool {
	for _, n := range tree {
		if n.K == "e" && n.T == tag || hasTag(n.C, tag) {
			return true
		}
	}
	return false
}

// balanceBatch is how many comments one page holds: 25 page loads for the whole corpus.
const balanceBatch = 1000

// TestSanitizedCommentsKeepPageStructure renders every payload of the shared XSS corpora,
// sanitised, as comments in the reference app's markup, a thousand to a page, under the
// default CSP, in Chromium. The page around the comments must be exactly what it would be
// with harmless comments: every wrapper in the list holding its meta and its body and
// nothing else, the paragraph after the list and the footer where they were. Each comment's
// body must hold exactly the tree its sanitised HTML is on its own (x/net/html's fragment
// parse), so no content was pulled out of it or into it. No script may run and the CSP may
// block nothing: in particular, no image the sanitiser keeps is one the CSP refuses.
func TestSanitizedCommentsKeepPageStructure(t *testing.T) {
	browser(t) // skip (or fail) before any setup when there is no Chromium
	dir := filepath.Join(corporaDir(t), "xss")
	payloads, files, lines, empty, long := corpusPayloads(t, dir)
	if len(payloads) < 1000 {
		t.Fatalf("only %d payloads in %s", len(payloads), dir)
	}
	// Harmless comments around the corpus, with what must survive of them, show that the
	// comparison sees real formatting, not only text.
	harmless := []string{
		`<p>Nice post! <b>bold</b> <i>it</i> <a href="https://example.com/">link</a></p>`,
		`<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>`,
		`<img src="/static/none.png" alt="a same-origin image">`,
	}
	all := append(append(append(append([]string(nil), harmless...), structural...), payloads...), harmless...)

	t0 := time.Now()
	type comment struct {
		I    int
		Body template.HTML
	}
	comments := make([]comment, len(all))
	want := make([][]domNode, len(all))
	for i, p := range all {
		comments[i] = comment{I: i, Body: sanitize.HTML(p)}
		want[i] = fragmentTree(t, string(comments[i].Body))
	}
	sanitizeTime := time.Since(t0)
	for i, tags := range [][]string{{"p", "b", "i", "a"}, {"ul", "li", "table", "tbody", "td"}, {"img"}} {
		for _, tag := range tags {
			if !hasTag(want[i], tag) {
				t.Fatalf("harmless comment %q lost its <%s>: %q", harmless[i], tag, comments[i].Body)
			}
		}
	}
	if !strings.Contains(string(comments[2].Body), `src="/static/none.png"`) {
		t.Fatalf("the same-origin image lost its src: %q", comments[2].Body)
	}

	policy, err := csp.New(csp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := policy.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("page"))
		if r.URL.Path != "/comments" || err != nil || n < 0 || n*balanceBatch >= len(comments) {
			http.NotFound(w, r) // same-origin images the comments name
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := balancePage.Execute(w, comments[n*balanceBatch:min((n+1)*balanceBatch, len(comments))]); err != nil {
			t.Errorf("render page %d: %v", n, err)
		}
	}))
	srv := httptest.NewUnstartedServer(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	b := newTab(t)
	det := installDetector(t, b)
	t1 := time.Now()
	pages, broken, differ := 0, 0, 0
	for start := 0; start < len(comments); start += balanceBatch {
		n := start / balanceBatch
		end := min(start+balanceBatch, len(comments))
		if st := b.open(fmt.Sprintf("%s/comments?page=%d", srv.URL, n)); st != http.StatusOK {
			t.Fatalf("page %d: status %d", n, st)
		}
		eval[chromedp.Void](b, settleJS)
		r := eval[structureReport](b, structureJS)
		pages++
		if len(r.Bad) > 0 {
			broken++
			t.Errorf("page %d (comments %d..%d): the page around the comments changed: %v", n, start, end-1, r.Bad[:min(len(r.Bad), 10)])
		}
		if len(r.Comments) != end-start || r.Bodies != end-start || r.Metas != end-start {
			t.Errorf("page %d: %d wrappers, %d bodies, %d metas; want %d each", n, len(r.Comments), r.Bodies, r.Metas, end-start)
		}
		for k, c := range r.Comments {
			if c.I != start+k {
				t.Errorf("page %d: wrapper %d is comment %d, want %d", n, k, c.I, start+k)
				break
			}
			if !reflect.DeepEqual(normalize(c.Tree), want[c.I]) {
				differ++
				if differ <= 10 {
					t.Errorf("comment %d: Chromium's body differs from the sanitised fragment\npayload:   %.300q\nsanitised: %.300q\nChromium:  %s\nexpected:  %s",
						c.I, all[c.I], comments[c.I].Body, short(c.Tree), short(want[c.I]))
				}
			}
		}
	}
	execs, violations := det.counts()
	if len(execs) > 0 {
		t.Errorf("%d script executions: %v", len(execs), execs[:min(len(execs), 20)])
	}
	if len(violations) > 0 {
		t.Errorf("%d CSP violations (the sanitiser keeps what the CSP blocks): %v", len(violations), violations[:min(len(violations), 20)])
	}
	if differ > 0 {
		t.Errorf("%d of %d comments differ in Chromium from their sanitised fragment", differ, len(all))
	}
	t.Logf("structure: %d files, %d lines (%d empty, %d over 10000 chars), %d payloads + %d structural + %d harmless comments on %d pages of %d; sanitising took %s, rendering %s; pages changed: %d, comments differing: %d, executions: %d, CSP violations: %d",
		files, lines, empty, long, len(payloads), len(structural), 2*len(harmless), pages, balanceBatch, sanitizeTime.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond), broken, differ, len(execs), len(violations))
}
