package redis

import (
	"strings"
	"testing"
)

func TestParseInfoPersistence(t *testing.T) {
	for _, tc := range []struct {
		info   string
		want   Durability
		source string
		detail string
	}{
		{"# Persistence\r\nloading:0\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\n", DurabilityAOF, "INFO persistence", ""},
		{"# Persistence\r\naof_enabled:0\r\n", DurabilityUnknown, "INFO persistence", "aof_enabled:0"},
		{"# Persistence\r\nloading:0\r\n", DurabilityUnknown, "", "no aof_enabled"},
		{"aof_enabled:maybe", DurabilityUnknown, "", `aof_enabled:"maybe"`},
		{"", DurabilityUnknown, "", "no aof_enabled"},
	} {
		p := parseInfoPersistence(tc.info)
		if p.Durability != tc.want || p.Source != tc.source || !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("parseInfoPersistence(%q) = %+v", tc.info, p)
		}
	}
}

// The INFO reply and the save rules come from the server; whatever it sends, the parsers
// must not panic, and only an explicit aof_enabled:1 may claim the append-only file.
func FuzzPersistenceParsers(f *testing.F) {
	f.Add("# Persistence\r\naof_enabled:1\r\n", "3600 1 300 100")
	f.Add("aof_enabled:0", "60 0")
	f.Add("aof_enabled:1\naof_enabled:0", "x y z")
	f.Fuzz(func(t *testing.T, info, save string) {
		p := parseInfoPersistence(info)
		if p.Durability == DurabilityAOF && !strings.Contains(info, "aof_enabled:1") {
			t.Fatalf("AOF claimed from %q", info)
		}
		if p.Durability != DurabilityAOF && p.Durability != DurabilityUnknown {
			t.Fatalf("INFO alone cannot tell %v", p.Durability)
		}
		if d, ok := (Persistence{Save: save}).LoneWrite(); ok && d < 0 {
			t.Fatalf("negative wait %v from %q", d, save)
		}
		_ = p.String()
	})
}
