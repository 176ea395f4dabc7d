// Package sanitize turns untrusted HTML (user comments, profile text) into HTML that is safe
// to render, and gives html/template a way to mark HTML safe that cannot skip sanitising:
// every template.HTML this package returns went through a bluemonday allow-list policy.
//
// The policies are bluemonday's (an allow-list sanitiser built on x/net/html); sanitising
// is not something to write by hand.
package sanitize

import (
	"html"
	"html/template"
	"regexp"

	"github.com/microcosm-cc/bluemonday"
)

// UGCPolicy returns a new copy of the default policy for user-generated content: text
// formatting (b, i, em, strong, code, pre, blockquote, headings, lists, tables, ...), links
// and images with http, https, mailto or relative URLs only. Every link gets rel="nofollow";
// links to other hosts also open in a new tab with rel="nofollow noopener". Nothing else
// survives: no script, style (element or attribute), event handlers, iframes, svg, math,
// forms, object, embed, base, meta, link.
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
	p.AllowImages()

	// URL policy: parseable URLs with safe schemes only; javascript:, vbscript:, data: and
	// every other scheme are dropped together with the attribute.
	p.AllowStandardURLs()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}

// StrictPolicy returns a policy that removes every element and keeps only text.
func StrictPolicy() *bluemonday.Policy { return bluemonday.StrictPolicy() }

// Sanitizer applies one finished policy. It is safe for concurrent use.
type Sanitizer struct {
	p *bluemonday.Policy
}

// New returns a Sanitizer for p. p must not be modified afterwards.
func New(p *bluemonday.Policy) *Sanitizer { return &Sanitizer{p: p} }

// HTML sanitises s and marks the result safe for html/template.
func (s *Sanitizer) HTML(in string) template.HTML {
	return template.HTML(s.p.Sanitize(in)) // #nosec G203 -- output of an allow-list policy
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
