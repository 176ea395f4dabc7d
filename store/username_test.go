package store

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func slowUsernameKey(s string) string {
	return strings.ToLower(strings.TrimSpace(norm.NFKC.String(s)))
}

func TestUsernameKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Alice", "alice"},
		{" BOB\t", "bob"},
		{"ｂｏｂ", "bob"},            // fullwidth: NFKC
		{"ᴮᴵᴳᴮᴵᴿᴰ", "bigbird"},    // Django's normalize_username example
		{"\u212Aelvin", "kelvin"}, // KELVIN SIGN
		{"Straße", "straße"},      // lower-casing, not case folding: "strasse" is another account
	} {
		if got := UsernameKey(c.in); got != c.want {
			t.Errorf("UsernameKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The ASCII fast path is taken only for ASCII: any other byte, valid UTF-8 or not, gets NFKC,
// so the fast path never changes which account or lockout counter a name lands on.
func TestUsernameKeyFastPathOnlyForASCII(t *testing.T) {
	for b := 0; b < 256; b++ {
		s := "A" + string([]byte{byte(b)}) + "B"
		if got, slow := UsernameKey(s), slowUsernameKey(s); got != slow {
			t.Errorf("UsernameKey(%q) = %q, the Unicode path gives %q", s, got, slow)
		}
	}
}

func FuzzUsernameKey(f *testing.F) {
	for _, s := range []string{"Alice", " BOB\t", "a\x00b", "K", "\x7f", "ｂｏｂ", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, slow := UsernameKey(s), slowUsernameKey(s); got != slow {
			t.Fatalf("UsernameKey(%q) = %q, Unicode path gives %q", s, got, slow)
		}
	})
}
