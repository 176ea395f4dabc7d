// Package browsertest drives the reference app (internal/app, started in-process by
// internal/apptest) with a real Chromium through the DevTools protocol (chromedp): the account
// flows with two-factor login and session management, a cross-origin attack page served from a
// second loopback origin, every line of the shared XSS corpora rendered as a comment with an
// execution detector installed before any page script, and the screenshots in docs/screenshots.
//
// The package holds tests only. Chromium is found through RAMPART_TEST_CHROMIUM or on PATH;
// without it the tests skip, unless RAMPART_TEST_CHROMIUM is set, which makes a missing
// browser a failure (CI sets it so a broken install cannot pass silently).
package browsertest
