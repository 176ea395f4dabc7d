// Package ascii holds the one ASCII-only lower-casing that host names, schemes, cookie
// prefixes and CSP keywords need. strings.ToLower is Unicode-aware and would fold, e.g., the
// Kelvin sign "K" (U+212A) into "k", which browsers do not do: a check using it would accept
// a spelling the browser treats as different.
package ascii

// Lower lower-cases the ASCII letters of s and leaves every other byte alone. It returns s
// itself, without allocating, when there is nothing to change.
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
