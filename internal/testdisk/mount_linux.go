package testdisk

import (
	"os"
	"syscall"
	"testing"
)

// Small mounts a tmpfs of size (e.g. "4m") on a new temporary directory, unmounted when the
// test ends (register what must be closed first after this call, so it runs before), and
// returns the directory. It skips the test, saying why and adding note, where it cannot mount.
func Small(t testing.TB, size, note string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("disk-full test skipped: mounting a small tmpfs needs root%s", note)
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("disk-full test skipped: cannot mount a tmpfs here (%v)%s", err, note)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
