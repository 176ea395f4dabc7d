package scan

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
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
	caFile := fs.String("ca-file", "", "PEM file of extra CA certificates to trust (a private or test CA)")
	httpURL := fs.String("http-url", "", "where the plain-HTTP side listens (e.g. http://127.0.0.1:8080/); without it, port 80, or the target's own port when it names one other than 443")
	httpsURL := fs.String("https-url", "", "where the HTTPS side listens when not on port 443 (e.g. https://127.0.0.1:8443/)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rampart scan [--json] [--min-grade A] [--preloaded] [--no-active-probes] [--ca-file ca.pem] [--http-url URL] [--https-url URL] URL")
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
	opts := Options{NoActiveProbes: *noProbes, HTTPURL: *httpURL, HTTPSURL: *httpsURL}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "rampart scan: --ca-file: %v\n", err)
			return 2
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "rampart scan: --ca-file: no PEM certificate in %s\n", *caFile)
			return 2
		}
		opts.RootCAs = pool
	}
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
