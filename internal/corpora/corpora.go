// Package corpora locates the shared attack and vector corpora (shared/corpora beside the
// repository) for tests, so every test finds them the same way on a developer machine and in CI.
package corpora

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the absolute path of the corpora subdirectory sub (e.g. "xss"). It looks at
// $RAMPART_CORPORA, then at shared/corpora beside the repository root. When the directory is
// missing the test is skipped with a message, or fails when $RAMPART_REQUIRE_CORPORA is set
// (CI sets it, so a missing corpus can never turn a suite green by skipping).
func Dir(t testing.TB, sub string) string {
	t.Helper()
	var candidates []string
	if d := os.Getenv("RAMPART_CORPORA"); d != "" {
		candidates = append(candidates, d)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
					candidates = append(candidates, filepath.Join(filepath.Dir(d), "shared", "corpora"))
					break
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, c := range candidates {
		p := filepath.Join(c, sub)
		if st, err := os.Stat(p); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				_ = st
				return abs
			}
		}
	}
	if os.Getenv("RAMPART_REQUIRE_CORPORA") != "" {
		t.Fatalf("corpus %q not found (looked in %v); set RAMPART_CORPORA", sub, candidates)
	}
	// Loud on purpose: a skipped corpus test proves nothing, and only CI turns it into a failure.
	t.Skipf("SKIPPED, NOT RUN: corpus %q not found (looked in %v). Set RAMPART_CORPORA to the "+
		"shared corpora to run this test; CI sets RAMPART_REQUIRE_CORPORA=1, which makes this a failure",
		sub, candidates)
	return ""
}

// File is Dir for one file path inside the corpora.
func File(t testing.TB, rel string) string {
	t.Helper()
	dir := Dir(t, filepath.Dir(rel))
	return filepath.Join(dir, filepath.Base(rel))
}
