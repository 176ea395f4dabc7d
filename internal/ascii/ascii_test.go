package ascii

import "testing"

func TestLower(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"abc":           "abc",
		"ABC-xyz.Z@[":   "abc-xyz.z@[",
		"\u212aelvin":   "\u212aelvin", // the Kelvin sign is not 'K'
		"Ä":             "Ä",
		"__HOST-Cookie": "__host-cookie",
	} {
		if got := Lower(in); got != want {
			t.Errorf("Lower(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Lower("already.lower") }); n != 0 {
		t.Errorf("Lower allocated %v times on a lower-case string", n)
	}
}
