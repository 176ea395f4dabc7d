package csrf

import (
	"strconv"
	"strings"
)

// reason is a rejection cause. It is a string type rather than errors.New so the texts can
// be Django's exact REASON_* strings (capitalised, ending with a period).
type reason string

func (r reason) Error() string { return string(r) }

// The rejection reasons, mirroring Django's REASON_* constants (django.middleware.csrf).
// The error passed to Options.OnFailure wraps exactly one of them (test with errors.Is);
// its text is the full Django message, e.g. "CSRF token from POST has incorrect length.".
var (
	// ErrCrossSite: Sec-Fetch-Site said cross-site or same-site and Origin is not trusted.
	// (No Django equivalent: Django does not read Fetch Metadata.)
	ErrCrossSite error = reason("Sec-Fetch-Site checking failed - cross-origin request.")
	// ErrBadOrigin is REASON_BAD_ORIGIN.
	ErrBadOrigin error = reason("Origin checking failed - origin does not match any trusted origins.")
	// ErrNoReferer is REASON_NO_REFERER.
	ErrNoReferer error = reason("Referer checking failed - no Referer.")
	// ErrBadReferer is REASON_BAD_REFERER.
	ErrBadReferer error = reason("Referer checking failed - Referer does not match any trusted origins.")
	// ErrMalformedReferer is REASON_MALFORMED_REFERER.
	ErrMalformedReferer error = reason("Referer checking failed - Referer is malformed.")
	// ErrInsecureReferer is REASON_INSECURE_REFERER.
	ErrInsecureReferer error = reason("Referer checking failed - Referer is insecure while host is secure.")
	// ErrNoCSRFCookie is REASON_NO_CSRF_COOKIE: no secret stored for this client (cookie or session).
	ErrNoCSRFCookie error = reason("CSRF cookie not set.")
	// ErrCSRFTokenMissing is REASON_CSRF_TOKEN_MISSING.
	ErrCSRFTokenMissing error = reason("CSRF token missing.")
	// ErrCSRFTokenIncorrect: the token is well formed but does not carry the stored secret.
	ErrCSRFTokenIncorrect error = reason("CSRF token incorrect.")
	// ErrIncorrectLength is REASON_INCORRECT_LENGTH (stored secret or submitted token).
	ErrIncorrectLength error = reason("has incorrect length")
	// ErrInvalidCharacters is REASON_INVALID_CHARACTERS (stored secret or submitted token).
	ErrInvalidCharacters error = reason("has invalid characters")
)

// failure is a reason with the detailed Django-style message.
type failure struct {
	kind error
	msg  string
}

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return f.kind }

func fail(kind error, msg string) error { return &failure{kind: kind, msg: msg} }

// printable renders attacker-controlled text for messages and logs: control characters
// escaped, length capped, so a hostile header cannot forge log lines or flood them.
func printable(s string) string {
	const max = 200
	cut := false
	if len(s) > max {
		s, cut = s[:max], true
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	if cut {
		q += "..."
	}
	return q
}

func badOrigin(origin string) error {
	return fail(ErrBadOrigin, "Origin checking failed - "+printable(origin)+" does not match any trusted origins.")
}

func badReferer(referer string) error {
	return fail(ErrBadReferer, "Referer checking failed - "+printable(referer)+" does not match any trusted origins.")
}

// formatFailure builds "CSRF cookie has incorrect length." and friends.
func formatFailure(what string, kind error) error {
	return fail(kind, what+" "+kind.Error()+".")
}

func tokenSource(header string) string {
	if header == "" {
		return "CSRF token from POST"
	}
	return "CSRF token from the '" + header + "' HTTP header"
}

func tokenIncorrect(header string) error {
	return fail(ErrCSRFTokenIncorrect, tokenSource(header)+" incorrect.")
}

// logLine is Django's log format "Forbidden (<reason>): <path>", with the path escaped.
func logLine(err error, path string) string {
	var b strings.Builder
	b.WriteString("Forbidden (")
	b.WriteString(err.Error())
	b.WriteString("): ")
	b.WriteString(printable(path))
	return b.String()
}
