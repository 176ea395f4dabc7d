// Command rampart is the operator's tool: it serves the reference app, checks a deployment's
// settings, grades a live site, and manages keys, users, lockouts and database migrations.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rampart-go/rampart/check"
	"github.com/rampart-go/rampart/scan"
	"github.com/rampart-go/rampart/signing"
	_ "github.com/rampart-go/rampart/store/all" // the reference app and the tools open any URL
)

const usage = `usage: rampart <command> [flags]

commands:
  serve        run the reference app (settings from RAMPART_* variables; unless GOMEMLIMIT is
               set, a soft memory limit sized from the password hashing, logged at start-up)
  check        deploy checks; exits 1 when any warning or error is found (--json)
  scan URL     grade a live site like the MDN HTTP Observatory, plus TLS, CSP, security.txt and
               multi-page findings (--format json|sarif|junit|markdown, --fail-on, --pages, --min-grade)
  genkey       print a new secret key for RAMPART_SECRET_KEY
  createuser   create a user: --username U [--email E] [--staff] [--superuser] --password-stdin
  grant        grant permissions: (--user U | --group G) PERMISSION...
  revoke       revoke permissions: (--user U | --group G) PERMISSION...
  groups       list groups; create NAME, delete NAME, add --user U GROUP, remove --user U GROUP, show --user U
  unlock       clear lockouts: --username U | --ip A | --all, and/or list them: --list
  migrate      create or upgrade the SQL schema of RAMPART_DATABASE_URL
  import-django [--dry-run] URL
               import a Django site's users, groups, permissions and django-otp devices
               (docs/FROM-DJANGO.md); needs the server's RAMPART_SECRET_KEY

createuser, grant, revoke, groups, unlock, migrate and import-django read the RAMPART_* settings and ./.env as serve does, but need
only the server's database (RAMPART_DATABASE_URL, default sqlite://rampart.db in the current
directory) and RAMPART_REDIS_URL if the server has one; run them where the server runs.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "check":
		return check.Main(rest, stdout, stderr)
	case "scan":
		return scan.Main(rest, stdout, stderr)
	case "genkey":
		fmt.Fprintln(stdout, signing.GenerateKey())
		return 0
	case "serve":
		return serve(rest, stdout, stderr)
	case "createuser":
		return createUser(rest, stdin, stdout, stderr)
	case "grant":
		return grant("grant", false, rest, stdout, stderr)
	case "revoke":
		return grant("revoke", true, rest, stdout, stderr)
	case "groups":
		return groups(rest, stdout, stderr)
	case "unlock":
		return unlock(rest, stdout, stderr)
	case "migrate":
		return migrate(rest, stdout, stderr)
	case "import-django":
		return importDjango(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "rampart: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// fail prints err for the user, prefixed with the program's name once (rampart.New's errors
// already carry it).
func fail(w io.Writer, err error) {
	msg := err.Error()
	if !strings.HasPrefix(msg, "rampart: ") {
		msg = "rampart: " + msg
	}
	fmt.Fprintln(w, msg)
}
