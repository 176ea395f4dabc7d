//go:build !linux

package testdisk

import "testing"

// Small skips the test: a tmpfs of a given size can only be mounted on Linux.
func Small(t testing.TB, size, note string) string {
	t.Helper()
	t.Skipf("disk-full test skipped: mounting a small tmpfs needs Linux%s", note)
	return ""
}
