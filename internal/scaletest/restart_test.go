package scaletest

import (
	"context"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// One server per SQLite file (a second is refused while tools may run beside it), and a
// session update that the SQLite store defers (here a flash, with the write delay set to an
// hour so that only a flush can write it) survives a graceful restart: SIGTERM makes `rampart
// serve` close the store, which commits what is pending. A second process then reads it from
// the file.
func TestSQLiteOneServerAndRestartKeepsDeferredSessionWrites(t *testing.T) {
	const flash = "A comment must have between 1 and 10000 characters."
	db := filepath.Join(t.TempDir(), "rampart.db")
	vars := baseEnv("sqlite://"+db+"?session_write_delay=1h", "", nil)
	createUsers(t, vars, "correct horse battery staple 9", "restart")

	first := startInstance(t, "sqlite-1", vars)
	// A second server on the same file is refused at start (its session cache could not see
	// the first one's writes); a tool beside the running server is not.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dup := exec.CommandContext(ctx, rampartBinary(t), "serve")
	dup.Env = env(vars)
	dup.Dir = t.TempDir()
	out, err := dup.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another process serves sessions from this file") {
		t.Fatalf("second server on the same SQLite file: err %v, output:\n%s", err, out)
	}
	createUsers(t, vars, "correct horse battery staple 9", "beside")
	c := newClient(t, "")
	c.mustLogin(first.URL, "restart", "correct horse battery staple 9")
	r := c.post(first.URL, "/comments", "/comments", url.Values{"body": {"   "}}) // refused: sets a flash
	if r.Err != nil || r.Status != 303 {
		t.Fatalf("empty comment: status %d err %v", r.Status, r.Err)
	}
	first.Stop(t)
	checkLogs(t, first)

	second := startInstance(t, "sqlite-2", vars)
	page := c.get(second.URL, "/comments")
	if page.Err != nil || page.Status != 200 {
		t.Fatalf("after restart: status %d err %v", page.Status, page.Err)
	}
	if !strings.Contains(page.Body, flash) {
		t.Fatalf("the flash set before the restart is lost; page:\n%s", tail(page.Body, 2000))
	}
	if !strings.Contains(page.Body, "restart") {
		t.Fatal("the session is not logged in after the restart")
	}
	report(t, "sqlite restart: a deferred session write (flash) committed at SIGTERM and read by the next process")
	second.Stop(t)
	checkLogs(t, second)
}
