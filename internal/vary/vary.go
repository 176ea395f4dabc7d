// Package vary lists a request header in a response's Vary header once. Both the session and
// the CSRF layers make responses depend on cookies; each adding "Cookie" blindly sent
// "Vary: Cookie" twice on a response that set both cookies.
package vary

import (
	"net/http"
	"strings"
)

// cookieOnly is shared by every response without an earlier Vary, so the common case does
// not allocate. Its capacity is 1: a later append copies instead of writing into it.
var cookieOnly = []string{"Cookie"}[:1:1]

// Cookie adds "Cookie" to h's Vary header unless it already lists Cookie or "*".
func Cookie(h http.Header) {
	v, ok := h["Vary"]
	if !ok {
		h["Vary"] = cookieOnly
		return
	}
	if Has(v, "Cookie") {
		return
	}
	h["Vary"] = append(v, "Cookie")
}

// Has reports whether the Vary header lines list name (case-insensitively) or "*", which
// already varies on everything.
func Has(lines []string, name string) bool {
	for _, line := range lines {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			item = strings.Trim(item, " \t")
			if item == "*" || strings.EqualFold(item, name) {
				return true
			}
		}
	}
	return false
}
