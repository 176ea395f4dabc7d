// Package testdisk gives tests a real full disk: a small tmpfs of their own, and a file that
// takes every free block of it. Mounting needs Linux and root (CAP_SYS_ADMIN); elsewhere the
// caller's test is skipped with the reason it gives.
package testdisk

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Fill writes a file in dir until the file system answers ENOSPC, and returns its path;
// removing it frees the space again.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return filler
		}
	}
}
