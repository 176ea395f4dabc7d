package password

import (
	"bytes"
	"compress/gzip"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite common-passwords.txt.gz from testdata/wordlists")

func sourceLists(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("testdata/wordlists/*.txt.gz")
	if err != nil || len(files) != 4 {
		t.Fatalf("want 4 source lists, got %v %v", files, err)
	}
	out := map[string][]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(zr); err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	}
	return out
}

// TestEmbeddedListMatchesSources rebuilds the list from the SecLists sources and compares it
// with the embedded file (-update rewrites the file).
func TestEmbeddedListMatchesSources(t *testing.T) {
	want := map[string]struct{}{}
	for _, lines := range sourceLists(t) {
		for _, l := range lines {
			if !utf8.ValidString(l) {
				continue
			}
			if s := normalizeCommon(l); utf8.RuneCountInString(s) >= CommonListMinLength {
				want[s] = struct{}{}
			}
		}
	}
	if *update {
		words := make([]string, 0, len(want))
		for s := range want {
			words = append(words, s)
		}
		slices.Sort(words)
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write([]byte(strings.Join(words, "\n") + "\n"))
		zw.Close()
		if err := os.WriteFile("common-passwords.txt.gz", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d entries", len(words))
		return
	}
	got := DefaultWordlist()
	if got.Len() != len(want) {
		t.Errorf("embedded list has %d entries, sources give %d (run with -update)", got.Len(), len(want))
	}
	for s := range want {
		if !got.Contains(s) {
			t.Errorf("embedded list lacks %q (run with -update)", s)
			break
		}
	}
}

// TestCommonPasswordCoverage: every entry of every source list that meets the length policy
// is refused, by CommonPassword alone and by the default validator set. Prints the coverage.
func TestCommonPasswordCoverage(t *testing.T) {
	for _, minLen := range []int{DefaultMinLength, CommonListMinLength} {
		total := 0
		for name, lines := range sourceLists(t) {
			eligible, refused := 0, 0
			for _, pw := range lines {
				if utf8.RuneCountInString(pw) < minLen || !utf8.ValidString(pw) {
					continue
				}
				eligible++
				if (CommonPassword{}).Validate(ctx, pw, UserAttrs{}) != nil {
					refused++
				} else {
					t.Errorf("%s: %q (min %d) not refused", name, pw, minLen)
				}
			}
			t.Logf("min length %2d: %-52s %6d of %6d eligible entries refused (%.2f%%)",
				minLen, name, refused, eligible, 100*float64(refused)/float64(max(eligible, 1)))
			total += eligible
		}
		if total == 0 {
			t.Errorf("min %d: no eligible entries at all", minLen)
		}
	}
}
