package scan

import (
	"strings"

	"golang.org/x/net/html"
)

// parseDocument parses an HTML body with the HTML5 algorithm (x/net/html),
// which, like a browser, never fails on hostile input.
func parseDocument(body string) *html.Node {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return &html.Node{Type: html.DocumentNode}
	}
	return doc
}

func walk(n *html.Node, f func(*html.Node)) {
	// Iterative to keep deep hostile documents off the Go stack.
	stack := []*html.Node{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		f(n)
		for c := n.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, c)
		}
	}
}

// attr returns the first attribute named key (names are lower-cased by the parser).
func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// parseHTTPEquiv collects what the Observatory reads from <meta>: every
// http-equiv Content-Security-Policy with a non-empty content, and the last
// <meta name="referrer">, keyed by lower-case header name.
func parseHTTPEquiv(doc *html.Node) map[string][]string {
	out := map[string][]string{"content-security-policy": nil}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode || n.Data != "meta" {
			return
		}
		equiv, hasEquiv := attr(n, "http-equiv")
		content, hasContent := attr(n, "content")
		if hasEquiv && hasContent {
			if content != "" && strings.ToLower(strings.TrimSpace(equiv)) == "content-security-policy" {
				out["content-security-policy"] = append(out["content-security-policy"], content)
			}
			return
		}
		if name, ok := attr(n, "name"); ok && strings.ToLower(strings.TrimSpace(name)) == "referrer" && content != "" {
			out["referrer-policy"] = []string{content}
		}
	})
	return out
}

type scriptTag struct {
	src       string
	integrity bool
}

func findScripts(doc *html.Node) []scriptTag {
	var out []scriptTag
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode || n.Data != "script" || n.Namespace != "" {
			return
		}
		src, _ := attr(n, "src")
		integ, _ := attr(n, "integrity")
		out = append(out, scriptTag{src: strings.TrimSpace(src), integrity: integ != ""})
	})
	return out
}

// form is the first POST form of a page.
type form struct {
	action string
	fields map[string]string
}

// csrfFieldName reports whether a form field looks like an anti-CSRF token,
// which the probe deliberately leaves out.
func csrfFieldName(name string) bool {
	n := strings.ToLower(name)
	for _, p := range []string{"csrf", "xsrf", "authenticity_token", "_token", "gorilla.csrf"} {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

// firstPostForm finds the first <form method="post"> and its non-token fields.
func firstPostForm(body string) *form {
	var found *form
	walk(parseDocument(body), func(n *html.Node) {
		if found != nil || n.Type != html.ElementNode || n.Data != "form" {
			return
		}
		if m, _ := attr(n, "method"); strings.ToLower(strings.TrimSpace(m)) != "post" {
			return
		}
		action, _ := attr(n, "action")
		f := &form{action: strings.TrimSpace(action), fields: map[string]string{}}
		walk(n, func(c *html.Node) {
			if c.Type != html.ElementNode || (c.Data != "input" && c.Data != "textarea" && c.Data != "select") {
				return
			}
			name, ok := attr(c, "name")
			if !ok || name == "" || csrfFieldName(name) {
				return
			}
			v, _ := attr(c, "value")
			if v == "" {
				v = "rampart-scan"
			}
			f.fields[name] = v
		})
		found = f
	})
	return found
}
