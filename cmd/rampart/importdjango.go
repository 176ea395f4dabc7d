package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/djangoimport"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/signing"
)

const importDjangoUsage = "usage: rampart import-django [--dry-run] DJANGO_DATABASE_URL  (postgres://..., sqlite:///path/db.sqlite3 or a file path)"

// importDjango imports a Django site's users, groups, permissions and django-otp devices
// into the server's database (package djangoimport), in one transaction.
func importDjango(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import-django", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "read and check everything, report what would be imported, write nothing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, importDjangoUsage)
		return 2
	}
	if err := importKeyProblem(); err != nil {
		fail(stderr, err)
		return 1
	}
	ctx := context.Background()
	src, err := djangoimport.Open(ctx, fs.Arg(0))
	if err != nil {
		fail(stderr, err)
		return 1
	}
	defer src.Close()
	return withStack(stderr, func(ctx context.Context, st *rampart.Stack) int {
		fmt.Fprintf(stdout, "import-django: %s -> %s\n", settings.RedactURL(fs.Arg(0)), storeName(st.Settings))
		rep, err := djangoimport.Import(ctx, src, st.Store, st.TwoFactor, djangoimport.Options{DryRun: *dryRun})
		if err != nil {
			fail(stderr, err)
			return 1
		}
		rep.WriteText(stdout)
		return 0
	})
}

// importKeyProblem refuses to import without the server's secret key. Unlike the other tools,
// an import seals TOTP secrets and hashes backup codes with it: under a throwaway key they
// would never open on the server, and the users could not pass their second factor.
func importKeyProblem() error {
	s, err := settings.Parse(nil, ".env")
	if err != nil || (s.SecretKey != "" && !s.SecretKeyEphemeral) {
		return nil // a bad setting is reported by toolSettings
	}
	if b, err := os.ReadFile(devKeyFile); err == nil && signing.KeyProblem(strings.TrimSpace(string(b))) == nil {
		return nil // the development server's kept key
	}
	return fmt.Errorf("import-django needs the server's RAMPART_SECRET_KEY (environment or .env): " +
		"TOTP secrets and backup codes are sealed with it, and under another key they would not work on the server")
}
