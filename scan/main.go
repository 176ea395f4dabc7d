package scan

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Main implements `rampart scan [--json] [--min-grade A] [--preloaded] URL`.
// It exits 0 when the grade is at least --min-grade (default A), 1 when it is
// below, and 2 on a usage error or when the site cannot be fetched or graded.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	minGrade := fs.String("min-grade", "A", "lowest passing grade (A+, A, A-, B+, ... F)")
	preloaded := fs.Bool("preloaded", false, "treat the target host (and its subdomains) as HSTS-preloaded")
	noProbes := fs.Bool("no-active-probes", false, "skip the random-404 and cross-origin form POST probes")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rampart scan [--json] [--min-grade A] [--preloaded] [--no-active-probes] URL")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if _, ok := gradeRank[*minGrade]; !ok {
		fmt.Fprintf(stderr, "rampart scan: unknown grade %q\n", *minGrade)
		return 2
	}
	target := fs.Arg(0)
	opts := Options{NoActiveProbes: *noProbes}
	if *preloaded {
		raw := target
		if !strings.Contains(raw, "://") {
			raw = "https://" + raw
		}
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			opts.Preload = PreloadList{strings.ToLower(u.Hostname()): {IncludeSubDomains: true}}
		}
	}
	rep, err := Scan(context.Background(), target, opts)
	if err != nil {
		fmt.Fprintf(stderr, "rampart scan: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "rampart scan: %v\n", err)
			return 2
		}
	} else if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "rampart scan: %v\n", err)
		return 2
	}
	if rep.Error != "" {
		return 2
	}
	if !GradeAtLeast(rep.Grade, *minGrade) {
		return 1
	}
	return 0
}
