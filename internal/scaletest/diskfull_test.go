package scaletest

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testdisk"
)

// TestSQLiteDiskFull runs `rampart serve` on a SQLite file in a small tmpfs and fills the
// disk with another file: writes (a login) must answer 503 and /healthz must say 503 too
// (it said 200 while every write failed), then both recover once space is freed, without a
// restart. Mounting needs root; elsewhere the test skips, and store/sqlite's
// TestPingReportsFullDatabase covers the logic with PRAGMA max_page_count.
func TestSQLiteDiskFull(t *testing.T) {
	dir := testdisk.Small(t, "4m", "")
	rampartBinary(t)
	password := "Disk full pass " + randHex(4)
	vars := baseEnv("sqlite://"+filepath.Join(dir, "rampart.db"), "", map[string]string{"RAMPART_RATE": "100000/m"})
	createUsers(t, vars, password, "dora", "eve")
	in := startInstance(t, "sqlite-full", vars) // stopped (cleanup) before the unmount
	anon := newClient(t, "192.0.2.60")
	if r := anon.get(in.URL, "/healthz"); r.Status != http.StatusOK {
		t.Fatalf("/healthz before: %d %v", r.Status, r.Err)
	}
	dora := newClient(t, "192.0.2.61")
	dora.mustLogin(in.URL, "dora", password)

	filler := testdisk.Fill(t, dir)

	eve := newClient(t, "192.0.2.62")
	if r := eve.login(in.URL, "eve", password); r.Status != http.StatusServiceUnavailable {
		t.Errorf("login (a write) with the disk full: status %d location %q err %v, want 503", r.Status, r.Location, r.Err)
	}
	// A successful write probe is trusted for a second: poll until it is probed again.
	waitFor(t, 10*time.Second, "/healthz to answer 503 with the disk full", func() bool {
		return anon.get(in.URL, "/healthz").Status == http.StatusServiceUnavailable
	})
	report(t, "[disk full] sqlite: login answered 503 and /healthz 503 with the disk full")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if r := anon.get(in.URL, "/healthz"); r.Status != http.StatusOK {
		t.Errorf("/healthz once the disk has room: %d", r.Status)
	}
	eve.mustLogin(in.URL, "eve", password)
	if r := dora.get(in.URL, "/accounts/sessions"); r.Status != http.StatusOK {
		t.Errorf("the session from before the disk filled: status %d", r.Status)
	}
	in.Stop(t)
	checkLogs(t, in)
}
