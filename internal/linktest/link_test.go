// Package linktest checks that importing rampart links only the store backends an application
// imports, and that a URL whose backend is not linked fails at start with the import to add.
// Its test binary imports no backend, as an application that passes its own store does not.
package linktest

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/open"
)

// A configured URL whose backend is not imported refuses to start, naming the import; no
// other backend is opened in its place.
func TestURLWithoutBackendFails(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		db, redis, pkg string
	}{
		{filepath.Join(dir, "r.db"), "", "store/sqlite"},
		{"sqlite://" + filepath.Join(dir, "r.db"), "", "store/sqlite"},
		{"postgres://u:secret@127.0.0.1:1/x", "", "store/postgres"},
		{"redis://:secret@127.0.0.1:1/0", "", "store/redis"},
		{"sqlite::memory:", "redis://:secret@127.0.0.1:1/0", "store/redis"},
	}
	for _, tc := range tests {
		want := `import _ "github.com/rampart-go/rampart/` + tc.pkg + `"`
		_, err := open.Open(context.Background(), tc.db, tc.redis)
		if !errors.Is(err, open.ErrNotLinked) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q, %q) = %v, want ErrNotLinked naming %s", tc.db, tc.redis, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows the password: %v", err)
		}
		if err := open.Migrate(context.Background(), tc.db); tc.redis == "" && !strings.Contains(tc.db, "redis") && !errors.Is(err, open.ErrNotLinked) {
			t.Errorf("Migrate(%q) = %v, want ErrNotLinked", tc.db, err)
		}

		env := map[string]string{"RAMPART_SECRET_KEY": "rampart-test-key-0123456789abcdefghijklmnopqrstuvwxyz",
			"RAMPART_ALLOWED_HOSTS": "example.com", "RAMPART_DATABASE_URL": tc.db, "RAMPART_REDIS_URL": tc.redis}
		s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
		if err != nil {
			t.Fatal(err)
		}
		st, err := rampart.New(context.Background(), s, rampart.Options{})
		if err == nil {
			st.Close()
			t.Errorf("rampart.New with %q, %q started without its backend", tc.db, tc.redis)
		} else if !strings.Contains(err.Error(), want) {
			t.Errorf("rampart.New with %q, %q: %v; want the error to say %s", tc.db, tc.redis, err, want)
		}
	}
	// The in-process memory store needs no backend.
	s, err := open.Open(context.Background(), "sqlite::memory:", "")
	if err != nil {
		t.Fatalf("sqlite::memory: without backends: %v", err)
	}
	s.Close()
}

// The root package, store/open and the other library packages an application imports link no
// store driver, no browser and no WebAuthn: only store/sqlite, store/postgres, store/redis (and
// store/all) link a driver, only passkey and accounts/passkeys the WebAuthn library. The listing
// is the go command's, so it follows the real import graph.
func TestRootLinksNoBackend(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	heavy := []string{"modernc.org/sqlite", "github.com/jackc/pgx", "github.com/redis/go-redis", "github.com/chromedp",
		"github.com/go-webauthn"} // passkeys are opt-in (accounts/passkeys)
	for _, pkg := range []string{".", "./store/open", "./accounts", "./check", "./metrics", "./settings"} {
		out, err := exec.Command(gobin, "-C", "../..", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, h := range heavy {
				if strings.HasPrefix(dep, h) {
					t.Errorf("%s links %s", pkg, dep)
				}
			}
		}
	}
}
