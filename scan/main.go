package scan

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
)

// Main implements `rampart scan [flags] URL`.
//
// Exit codes: 2 on a usage error or when the site cannot be fetched or
// graded; otherwise 1 when the scan fails and 0 when it passes. Without
// --fail-on it fails when the Observatory grade is below --min-grade
// (default A). With --fail-on it fails on what --fail-on names (a severity
// of finding, and/or grade:X), and on --min-grade only if that is given too.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON (same as --format json)")
	format := fs.String("format", formatTable, "report format: "+strings.Join(formats, ", "))
	minGrade := fs.String("min-grade", "A", "lowest passing Observatory grade (A+, A, A-, B+, ... F)")
	failOnFlag := fs.String("fail-on", "", "fail on findings of this severity or more (info, low, medium, high, critical) and/or on grade:X, comma-separated, e.g. high,grade:A")
	preloaded := fs.Bool("preloaded", false, "treat the target host (and its subdomains) as HSTS-preloaded")
	noProbes := fs.Bool("no-active-probes", false, "skip the random-404 and cross-origin form POST probes")
	noTLS := fs.Bool("no-tls-probe", false, "skip the TLS probe (protocols, cipher suites, certificate, OCSP)")
	pages := fs.Int("pages", 1, "scan up to N pages: the start page, then same-site links and sitemap.xml entries")
	budget := fs.Duration("time-budget", 60*time.Second, "stop following pages after this long")
	concurrency := fs.Int("concurrency", 1, "requests in flight while following pages (1 is polite)")
	caFile := fs.String("ca-file", "", "PEM file of extra CA certificates to trust (a private or test CA)")
	httpURL := fs.String("http-url", "", "where the plain-HTTP side listens (e.g. http://127.0.0.1:8080/); without it, port 80, or the target's own port when it names one other than 443")
	httpsURL := fs.String("https-url", "", "where the HTTPS side listens when not on port 443 (e.g. https://127.0.0.1:8443/)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rampart scan [--format table|json|sarif|junit|markdown] [--fail-on high,grade:A] [--min-grade A] [--pages N] [--time-budget 60s] [--preloaded] [--no-active-probes] [--no-tls-probe] [--ca-file ca.pem] [--http-url URL] [--https-url URL] URL")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *asJSON {
		if set["format"] && *format != formatJSON {
			fmt.Fprintln(stderr, "rampart scan: --json and --format "+*format+" disagree")
			return 2
		}
		*format = formatJSON
	}
	if indexOf(formats, *format) < 0 {
		fmt.Fprintf(stderr, "rampart scan: unknown format %q (want %s)\n", *format, strings.Join(formats, ", "))
		return 2
	}
	if _, ok := gradeRank[*minGrade]; !ok {
		fmt.Fprintf(stderr, "rampart scan: unknown grade %q\n", *minGrade)
		return 2
	}
	policy := failPolicy{MinGrade: *minGrade}
	if *failOnFlag != "" {
		p, err := parseFailOn(*failOnFlag)
		if err != nil {
			fmt.Fprintf(stderr, "rampart scan: %v\n", err)
			return 2
		}
		if p.MinGrade == "" && set["min-grade"] {
			p.MinGrade = *minGrade
		}
		policy = p
	}
	if *pages < 1 || *pages > 10000 {
		fmt.Fprintln(stderr, "rampart scan: --pages must be between 1 and 10000")
		return 2
	}
	if *budget <= 0 || *concurrency < 1 || *concurrency > 16 {
		fmt.Fprintln(stderr, "rampart scan: --time-budget must be positive and --concurrency between 1 and 16")
		return 2
	}
	target := fs.Arg(0)
	opts := Options{NoActiveProbes: *noProbes, NoTLSProbe: *noTLS, HTTPURL: *httpURL, HTTPSURL: *httpsURL,
		Pages: *pages, TimeBudget: *budget, Concurrency: *concurrency}
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
	if err := rep.write(stdout, *format, policy); err != nil {
		fmt.Fprintf(stderr, "rampart scan: %v\n", err)
		return 2
	}
	if rep.Error != "" {
		return 2
	}
	if reasons := policy.Reasons(rep); len(reasons) > 0 {
		fmt.Fprintf(stderr, "rampart scan: failed: %s\n", strings.Join(reasons, "; "))
		return 1
	}
	return 0
}
