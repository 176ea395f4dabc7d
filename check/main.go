package check

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/rampart-go/rampart/settings"
)

// Report is what Main prints with --json.
type Report struct {
	Findings []Finding `json:"findings"`
	Errors   int       `json:"errors"`
	Warnings int       `json:"warnings"`
	Infos    int       `json:"infos"`
}

// Main is `rampart check`: it reads the settings from the process environment and the .env file
// (--env-file, default .env), runs every check (Run, then Live, which connects to each Redis and the
// SMTP server the settings name, and Database, which counts legacy password hashes, unless --offline)
// and prints the findings, as text or, with --json,
// as a Report. It returns the exit code: 0 when there is no error or warning (info is allowed),
// 1 otherwise (each variable or .env line that cannot be read is an error, RAMPART-E000, and the
// other settings are still checked), 2 for bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	return runWith(args, nil, true, stdout, stderr)
}

// readAndRun reads the settings leniently and checks them: each variable or .env line that cannot
// be read is one RAMPART-E000 finding, and the others are judged as usual. A finding from Run
// that names a variable whose value could not be read is dropped: Run saw that variable's default
// in its place, so the finding would be about a value nobody set. err is for a .env file that
// cannot be read at all.
func readAndRun(env func(string) (string, bool), envFile string, live bool) ([]Finding, error) {
	s, bad, err := settings.ParsePartial(env, envFile)
	if err != nil {
		return nil, err
	}
	var out []Finding
	var lost []string
	for _, b := range bad {
		out = append(out, Finding{ID: idUnreadable, Severity: Error, Message: b.Error(),
			Hint: "fix this value: the server refuses to start on it (the other settings were checked as if it were unset)"})
		if b.Variable != "" {
			lost = append(lost, b.Variable)
		}
	}
	found := Run(s)
	if live {
		found = merge(found, Live(context.Background(), s, LiveTimeout))
		found = merge(found, Database(context.Background(), s, LiveTimeout))
	}
	for _, f := range found {
		if !slices.ContainsFunc(lost, func(v string) bool { return mentions(f.Message, v) }) {
			out = append(out, f)
		}
	}
	return out, nil
}

// mentions reports whether msg names the environment variable name as a whole word, so that
// RAMPART_SECRET_KEY is not found in RAMPART_SECRET_KEY_FALLBACKS. Every finding's message names
// the variables it is about (see Finding.Message).
func mentions(msg, name string) bool {
	word := func(c byte) bool {
		return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
	}
	for i := 0; ; {
		j := strings.Index(msg[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		if (start == 0 || !word(msg[start-1])) && (end == len(msg) || !word(msg[end])) {
			return true
		}
		i = start + 1
	}
}

// run is Main on an injected environment, without Live: the settings checks' tests use it, so
// their made-up Redis hosts are not dialled (redis_test.go tests Live with real servers).
func run(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	return runWith(args, env, false, stdout, stderr)
}

// runWith is Main; live runs Live unless --offline is given.
func runWith(args []string, env func(string) (string, bool), live bool, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	envFile := fs.String("env-file", ".env", "the .env file to read (\"\" for none)")
	offline := fs.Bool("offline", false, "check the settings only: do not connect to Redis (does it persist?), the SMTP server (can it be used?) or the database (legacy password hashes)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rampart check [--json] [--env-file PATH] [--offline]\n\nReports deployment problems in the RAMPART_* settings and, unless --offline, whether each Redis they name\nkeeps its data across a restart, whether the SMTP server of RAMPART_EMAIL_URL can be used and how many users\nstill have legacy password hashes; exits 1 if any error or warning.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *envFile != "" && *envFile != ".env" {
		// An explicitly named file must exist; the default one is optional.
		if _, err := os.Stat(*envFile); err != nil {
			fmt.Fprintf(stderr, "rampart check: %v\n", err)
			return 2
		}
	}
	findings, err := readAndRun(env, *envFile, live && !*offline)
	if err != nil {
		findings = []Finding{{ID: idUnreadable, Severity: Error, Message: err.Error(),
			Hint: "make the file readable; nothing else was checked"}}
	}
	rep := Report{Findings: findings}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	for _, f := range findings {
		switch f.Severity {
		case Error:
			rep.Errors++
		case Warning:
			rep.Warnings++
		default:
			rep.Infos++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return 1
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(stdout, f)
		}
		if len(findings) == 0 {
			fmt.Fprintln(stdout, "rampart check: no issues found")
		} else {
			fmt.Fprintf(stdout, "rampart check: %d error(s), %d warning(s), %d info\n", rep.Errors, rep.Warnings, rep.Infos)
		}
	}
	if rep.Errors+rep.Warnings > 0 {
		return 1
	}
	return 0
}
