// Package scan grades a web site's security headers, cookies, redirects and TLS the way the
// MDN HTTP Observatory does (same tests, same scores, same grades: [AlgorithmVersion]), and
// adds what the Observatory does not look at, as [Finding]s that never change the grade: a CSP
// evaluation, the TLS protocols and cipher suites, HSTS preload eligibility, security.txt,
// debug pages, CSRF enforcement and, with [Options.Pages], the other pages of the site.
//
// Three entry points:
//   - [Scan] grades a live site by URL (what `rampart scan URL` runs; [Main] is that command);
//   - [Handler] grades an http.Handler in process, for an application's own tests;
//   - [Report] carries the result: [Report.Grade], [Report.Tests] (named by the Test*
//     constants, with results named by the constants beside them), [Report.Findings] (whose
//     IDs [Rules] lists), and [Report.WriteSARIF] and [Report.WriteMarkdown] for CI.
//
// Scan only reads: it sends GET, HEAD and OPTIONS requests, plus, unless
// [Options.NoActiveProbes], one request for a random missing page and one cross-origin form
// POST without a token, which a protected site refuses.
package scan
