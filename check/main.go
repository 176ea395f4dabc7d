package check

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

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
// (--env-file, default .env), runs every check (Run, then Live, which connects to each Redis the
// settings name, unless --offline) and prints the findings, as text or, with --json,
// as a Report. It returns the exit code: 0 when there is no error or warning (info is allowed),
// 1 otherwise (settings that cannot be read count as an error, RAMPART-E000), 2 for bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	return runWith(args, nil, true, stdout, stderr)
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
	offline := fs.Bool("offline", false, "check the settings only: do not connect to Redis to check that it persists")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rampart check [--json] [--env-file PATH] [--offline]\n\nReports deployment problems in the RAMPART_* settings and, unless --offline, whether each Redis they name\nkeeps its data across a restart; exits 1 if any error or warning.")
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
	var findings []Finding
	s, err := settings.Parse(env, *envFile)
	if err != nil {
		findings = []Finding{{ID: idUnreadable, Severity: Error, Message: err.Error(),
			Hint: "fix the variables named above; nothing else was checked"}}
	} else {
		findings = Run(s)
		if live && !*offline {
			findings = merge(findings, Live(context.Background(), s, LiveTimeout))
		}
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
