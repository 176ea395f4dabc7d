// Package sanitize turns untrusted HTML (user comments, profile text) into HTML that is safe
// to render, and gives html/template a way to mark HTML safe that cannot skip sanitising:
// every template.HTML this package returns went through a bluemonday allow-list policy.
//
// The policies are bluemonday's (an allow-list sanitiser built on x/net/html); sanitising
// is not something to write by hand. An allow-list alone leaves the markup unbalanced (a
// stray </div> or an unclosed <table> in a comment changes the page around it), so the
// policy's output is also parsed as a fragment and serialised again (see balance.go): what
// this package returns is a balanced fragment that cannot close, open or swallow markup
// around it when rendered as the content of a block container such as <div>, <li>,
// <section> or <td>. It is not meant for inline or phrasing containers (<p>, <span>, <a>,
// <h1>): a block element in the comment would close a <p> around it.
package sanitize

import (
	"html"
	"html/template"
	"regexp"

	"github.com/microcosm-cc/bluemonday"
)

// UGCPolicy returns a new copy of the default policy for user-generated content: text
// formatting (b, i, em, strong, code, pre, blockquote, headings, lists, tables, ...), links
// with http, https, mailto or relative URLs, and images from the site itself (see
// sameOriginImage). Every link gets rel="nofollow"; links to other hosts also open in a new
// tab with rel="nofollow noopener". Nothing else survives: no script, style (element or
// attribute), event handlers, iframes, svg, math, forms, object, embed, base, meta, link.
//
// It is stricter than bluemonday.UGCPolicy: no id or name attributes (user content could
// clobber DOM globals and page element lookups) and no image maps.
//
// A fresh policy is returned because bluemonday policies must not be changed once in use;
// callers may extend their copy before passing it to New.
func UGCPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()

	p.AllowAttrs("dir").Matching(bluemonday.Direction).Globally()
	p.AllowAttrs("lang").Matching(regexp.MustCompile(`^[a-zA-Z]{2,8}(-[a-zA-Z0-9]{1,8})*$`)).Globally()
	p.AllowAttrs("title").Matching(bluemonday.Paragraph).Globally()

	p.AllowElements(
		"p", "br", "hr", "div", "span", "wbr",
		"b", "i", "u", "s", "strike", "em", "strong", "small", "sub", "sup", "mark", "tt",
		"code", "pre", "kbd", "samp", "var", "abbr", "acronym", "cite", "dfn",
		"h1", "h2", "h3", "h4", "h5", "h6", "hgroup",
		"article", "aside", "section", "figure", "figcaption", "summary",
		"rp", "rt", "ruby", "caption",
		"details", "blockquote", "q", "del", "ins", "time", "bdi", "bdo",
	)
	p.AllowAttrs("open").Matching(regexp.MustCompile(`(?i)^(|open)$`)).OnElements("details")
	p.AllowAttrs("cite").OnElements("blockquote", "q", "del", "ins")
	p.AllowAttrs("datetime").Matching(bluemonday.ISO8601).OnElements("time", "del", "ins")
	p.AllowAttrs("dir").Matching(bluemonday.Direction).OnElements("bdi", "bdo")
	p.AllowLists()
	p.AllowTables()

	p.AllowAttrs("href").OnElements("a")

	// Images as bluemonday.AllowImages, except that src must name this site: the CSP
	// (csp.DefaultPolicy: img-src 'self' data:) blocks every other host, so an external image
	// would render broken and file a violation report on every view of the page, and it
	// would tell a third party who reads the comment. data: URLs, which the CSP allows, stay
	// out too: no comment needs one and they are a favourite of filter-evasion payloads.
	// TestImagePolicyAgreesWithCSP fails if the two ever disagree.
	p.AllowAttrs("align").Matching(bluemonday.ImageAlign).OnElements("img")
	p.AllowAttrs("alt").Matching(bluemonday.Paragraph).OnElements("img")
	p.AllowAttrs("height", "width").Matching(bluemonday.NumberOrPercent).OnElements("img")
	p.AllowAttrs("src").Matching(sameOriginImage).OnElements("img")

	// URL policy: parseable URLs with safe schemes only; javascript:, vbscript:, data: and
	// every other scheme are dropped together with the attribute.
	p.AllowStandardURLs()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}

// sameOriginImage matches the image URLs a browser can only resolve against the page's own
// origin: an absolute path that does not start with // (or /\, which browsers read the same
// way), or a relative path whose first segment has no colon (no scheme). Only URL code points
// are allowed, so no whitespace or control character can be stripped by the browser to turn
// the value into something else; bluemonday then also requires the value to parse as a URL.
var sameOriginImage = func() *regexp.Regexp {
	const (
		pchar   = `[A-Za-z0-9\-._~%!$&'()*+,;=:@]`
		pchar0  = `[A-Za-z0-9\-._~%!$&'()*+,;=@]` // first segment of a relative path: no colon
		segs    = `(?:/` + pchar + `*)*`
		tail    = `(?:\?[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*)?(?:#[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*)?`
		absPath = `/(?:` + pchar + `+` + segs + `)?`
		relPath = pchar0 + `+` + segs
	)
	return regexp.MustCompile(`^(?:` + absPath + `|` + relPath + `)` + tail + `$`)
}()

// StrictPolicy returns a policy that removes every element and keeps only text.
func StrictPolicy() *bluemonday.Policy { return bluemonday.StrictPolicy() }

// Sanitizer applies one finished policy. It is safe for concurrent use.
type Sanitizer struct {
	p *bluemonday.Policy
}

// New returns a Sanitizer for p. p must not be modified afterwards. Whatever p allows, the
// Sanitizer's output has no comments, no SVG or MathML and no element whose content is raw
// text (script, style, textarea, title, xmp, iframe, noscript, template, ...): balancing
// removes them, because their content would not round-trip through a parse.
func New(p *bluemonday.Policy) *Sanitizer { return &Sanitizer{p: p} }

// HTML sanitises s and marks the result safe for html/template. The result is allowed by
// the policy and balanced (see the package documentation); sanitising it again returns it
// unchanged. In the rare case where the two cannot be reconciled, it is the text of s with
// every tag removed.
func (s *Sanitizer) HTML(in string) template.HTML {
	out, _ := sanitize(s.p, in)
	return template.HTML(out) // #nosec G203 -- output of an allow-list policy, balanced
}

// FuncMap returns template functions bound to this Sanitizer:
//
//	{{ safeHTML .Body }}  sanitised HTML, rendered as markup
//	{{ sanitize .Body }}  the same (alias)
//	{{ stripTags .Body }} text only, every tag removed (html/template escapes it as usual)
//
// Register it after any other FuncMap so that "safeHTML" cannot be an unsanitised
// template.HTML conversion defined elsewhere.
func (s *Sanitizer) FuncMap() template.FuncMap {
	return template.FuncMap{
		"safeHTML":  s.HTML,
		"sanitize":  s.HTML,
		"stripTags": Text,
	}
}

var (
	defaultSanitizer = New(UGCPolicy())
	strict           = bluemonday.StrictPolicy()
)

// HTML sanitises s with the UGC policy and marks the result safe for html/template.
func HTML(s string) template.HTML { return defaultSanitizer.HTML(s) }

// Text removes every tag from s and returns plain, unescaped text: a string, never
// template.HTML, so html/template escapes it when rendering (without double escaping).
func Text(s string) string { return html.UnescapeString(strict.Sanitize(s)) }

// FuncMap returns the template functions of the default UGC Sanitizer (see Sanitizer.FuncMap).
func FuncMap() template.FuncMap { return defaultSanitizer.FuncMap() }
