package sanitize

import (
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// An allow-list policy works on tokens: it drops what it does not know, but it keeps the
// allowed tags exactly as they came, so its output can hold a stray </div></li></ol>, an
// unclosed <table> or <a>, or a <li> with no list. Dropped into a page, such a fragment
// closes the element it is rendered in or stays open over the markup that follows (later
// comments end up inside one comment's table; the footer inside an <a>).
//
// balance fixes this as a browser would: it parses the fragment in the context it is
// rendered in (the children of a <div>) with x/net/html, an implementation of the HTML
// standard's tree builder, and serialises the tree. The serialisation of a tree has every
// element closed by its own end tag and no stray end tag, so a browser parsing it in the
// page builds the same tree under the container and leaves the container and everything
// after it alone.
//
// Sanitising is then run to a fixed point: the policy, then balance, then the policy again
// until both leave the string unchanged. The result is both allowed by the policy and
// balanced, and sanitising it again returns it unchanged.

// maxRounds bounds the fixed-point loop. Every input seen so far settles in two rounds;
// an input that does not settle gets the text-only fallback.
const maxRounds = 4

// maxDepth is the deepest element nesting kept in a fragment. Chromium stops nesting at a
// depth of 512 and attaches deeper elements to their grandparent, so a deep enough fragment
// would not be the tree we checked; no comment needs more than a few levels. Elements
// deeper than this are replaced by their text.
const maxDepth = 100

// sanitize returns p's output for in made balanced, and whether the fixed point was reached.
// When it was not, the result is the text of in with every tag removed.
func sanitize(p *bluemonday.Policy, in string) (string, bool) {
	if !utf8.ValidString(in) {
		// Browsers decode invalid UTF-8 to U+FFFD; do it first so that the tree checked
		// here is the tree a browser builds.
		in = strings.ToValidUTF8(in, "\uFFFD")
	}
	if out, ok := fixedPoint(p, in); ok {
		return out, true
	}
	if out, ok := fixedPoint(strict, in); ok {
		return out, false
	}
	return "", false // unreachable for text; fail closed all the same
}

// fixedPoint applies p and balance until neither changes the string.
func fixedPoint(p *bluemonday.Policy, in string) (string, bool) {
	x := p.Sanitize(in)
	for range maxRounds {
		b, ok := balance(x)
		if !ok {
			return "", false
		}
		if b == x {
			if y := p.Sanitize(x); y == x {
				return x, true
			}
		}
		x = p.Sanitize(b)
	}
	return "", false
}

// balance parses s as the children of a <div> and serialises the tree, after making it
// independent of where the <div> is: see fixTree. It reports false if s cannot be parsed
// or serialised.
func balance(s string) (string, bool) {
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(s), ctx)
	if err != nil {
		return "", false
	}
	root := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	for _, n := range nodes {
		root.AppendChild(n)
	}
	fixTree(root, 0)
	var b strings.Builder
	for c := root.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			return "", false
		}
	}
	return b.String(), true
}

// rawText are the elements whose content a serialiser writes unescaped or that a browser
// parses differently with scripting on or off. No policy of this package allows them; they
// are removed here so that serialising can never write unescaped text.
var rawText = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Xmp: true, atom.Iframe: true, atom.Noembed: true,
	atom.Noframes: true, atom.Noscript: true, atom.Plaintext: true, atom.Textarea: true,
	atom.Title: true, atom.Template: true,
}

// fixTree makes the tree under n render the same whatever block container it is put in:
//   - comments, doctypes, foreign (SVG, MathML) and raw-text elements are removed;
//   - elements deeper than maxDepth are replaced by their text;
//   - a <li>, <dd> or <dt> outside any list is wrapped in a list of its own. Parsed inside
//     <ol><li><div>, a bare <li> start tag looks past the <div> for an open <li> and closes
//     the page's list item (the comment's wrapper); inside a <ul> or <dl> it cannot.
func fixTree(n *html.Node, depth int) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case c.Type == html.TextNode:
		case c.Type != html.ElementNode || c.Namespace != "" || rawText[c.DataAtom]:
			n.RemoveChild(c)
		case depth >= maxDepth:
			n.InsertBefore(&html.Node{Type: html.TextNode, Data: textOf(c)}, c)
			n.RemoveChild(c)
		default:
			if wrap := listFor(c); wrap != 0 && !inList(n) {
				next = wrapRun(n, c, wrap)
				c = c.Parent // the new list; its items are fixed below with it
			}
			fixTree(c, depth+1)
		}
		c = next
	}
}

// listFor returns the list element a list item needs: ul for li, dl for dd and dt.
func listFor(c *html.Node) atom.Atom {
	switch c.DataAtom {
	case atom.Li:
		return atom.Ul
	case atom.Dd, atom.Dt:
		return atom.Dl
	}
	return 0
}

// inList reports whether n or an ancestor is a list. The HTML parser's search for an open
// list item to close stops at the first "special" element, which every list is, so inside
// a list a list item start tag cannot reach the page outside the fragment. (It stops at
// other special elements too; wrapping there as well costs only an extra list.)
func inList(n *html.Node) bool {
	for ; n != nil; n = n.Parent {
		switch n.DataAtom {
		case atom.Ul, atom.Ol, atom.Menu, atom.Dir, atom.Dl:
			return true
		}
	}
	return false
}

// wrapRun moves c and the list items of the same kind that directly follow it into a new
// list element of type wrap, inserted where c was, and returns the node after the list.
func wrapRun(parent, c *html.Node, wrap atom.Atom) *html.Node {
	list := &html.Node{Type: html.ElementNode, Data: wrap.String(), DataAtom: wrap}
	parent.InsertBefore(list, c)
	for c != nil && c.Type == html.ElementNode && listFor(c) == wrap {
		next := c.NextSibling
		parent.RemoveChild(c)
		list.AppendChild(c)
		c = next
	}
	return c
}

// textOf returns the concatenated text under n.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
