package settings

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/hosts"
	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/ratelimit"
)

// variable describes one setting: its name after the prefix, its default (which may depend on
// the modes parsed before it), how to parse it into Settings and how to show it.
type variable struct {
	name string
	def  func(*Settings) string
	set  func(*Settings, string) error
	show func(*Settings) string
}

// field is a setting whose parser may return a partial value with its error (a list read up to
// the bad item): that value is stored either way, as before; parse (settings.go) then resets a
// bad variable to its default, so nothing half-read survives.
func field[T any](name string, def func(*Settings) string, parse func(string) (T, error), show func(T) string, f func(*Settings) *T) variable {
	return variable{name, def,
		func(s *Settings, raw string) error {
			v, err := parse(raw)
			*f(s) = v
			return err
		},
		func(s *Settings) string { return show(*f(s)) }}
}

// checked is a setting stored only when it parses: a bad value leaves the field untouched.
func checked[T any](name string, def func(*Settings) string, parse func(string) (T, error), show func(T) string, f func(*Settings) *T) variable {
	return variable{name, def,
		func(s *Settings, raw string) error {
			v, err := parse(raw)
			if err != nil {
				return err
			}
			*f(s) = v
			return nil
		},
		func(s *Settings) string { return show(*f(s)) }}
}

func static(v string) func(*Settings) string { return func(*Settings) string { return v } }

// unlessInsecureDev returns prod normally and dev when RAMPART_INSECURE_DEV is set: only the
// plain-HTTP development mode relaxes transport security.
func unlessInsecureDev(prod, dev string) func(*Settings) string {
	return func(s *Settings) string {
		if s.InsecureDev {
			return dev
		}
		return prod
	}
}

// localHostsInDev is ALLOWED_HOSTS's default: Django's DEBUG default; production must list its hosts.
func localHostsInDev(s *Settings) string {
	if s.Debug || s.InsecureDev {
		return ".localhost,127.0.0.1,[::1]"
	}
	return ""
}

func boolVar(name string, def func(*Settings) string, f func(*Settings) *bool) variable {
	return field(name, def, ParseBool, strconv.FormatBool, f)
}

func intVar(name, def string, min int, f func(*Settings) *int) variable {
	return checked(name, static(def), atLeast(min), strconv.Itoa, f)
}

func durVar(name, def string, f func(*Settings) *time.Duration) variable {
	return checked(name, static(def), parsePositiveDuration, time.Duration.String, f)
}

func strVar(name string, def func(*Settings) string, norm func(string) (string, error), f func(*Settings) *string) variable {
	return field(name, def, func(raw string) (string, error) { return norm(strings.TrimSpace(raw)) }, same, f)
}

func sameSiteVar(name string, f func(*Settings) *http.SameSite) variable {
	return field(name, static("Lax"), ParseSameSite, SameSiteString, f)
}

// secretURLVar is a URL setting holding credentials: the raw value is kept (as a Secret, shown
// redacted) even when check refuses it; empty means "none" when optional.
func secretURLVar[T any](name, def string, optional bool, check func(string) (T, error), f func(*Settings) *Secret) variable {
	return field(name, static(def), func(raw string) (Secret, error) {
		if optional && raw == "" {
			return Secret(raw), nil
		}
		_, err := check(raw)
		return Secret(raw), err
	}, redacted, f)
}

func same(v string) string { return v }

func joined(v []string) string { return strings.Join(v, ",") }

func redacted(v Secret) string { return RedactURL(v.Reveal()) }

func atLeast(min int) func(string) (int, error) {
	return func(raw string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", raw)
		}
		if n < min {
			return 0, fmt.Errorf("%d is below the minimum %d", n, min)
		}
		return n, nil
	}
}

func parsePositiveDuration(raw string) (time.Duration, error) {
	d, err := ParseDuration(raw)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}

func parseSeconds(raw string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a whole number of seconds", raw)
	}
	return n, nil
}

func parseBytes(raw string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a positive number of bytes", raw)
	}
	return n, nil
}

func formatInt64(n int64) string { return strconv.FormatInt(n, 10) }

func parseSecret(raw string) (Secret, error) { return Secret(raw), nil }

func parseSecrets(raw string) ([]Secret, error) {
	var out []Secret
	for _, k := range ParseList(raw) {
		out = append(out, Secret(k))
	}
	return out, nil
}

// maskSecrets shows how many fallback keys there are, never what they are.
func maskSecrets(v []Secret) string {
	m := make([]string, len(v))
	for i := range m {
		m[i] = Mask
	}
	return strings.Join(m, ",")
}

func prefixesString(v []netip.Prefix) string {
	out := make([]string, len(v))
	for i, p := range v {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}

func parseProxyHeader(raw string) (clientip.HeaderMode, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "x-forwarded":
		return clientip.XForwarded, nil
	case "forwarded":
		return clientip.Forwarded, nil
	}
	return 0, fmt.Errorf("%q is not x-forwarded or forwarded", raw)
}

func proxyHeaderString(v clientip.HeaderMode) string {
	if v == clientip.Forwarded {
		return "forwarded"
	}
	return "x-forwarded"
}

func checkXFrameOptions(v string) (string, error) {
	return oneOf("DENY", "SAMEORIGIN")(strings.ToUpper(v))
}

func checkEmailFrom(v string) (string, error) { return v, mail.CheckAddress(v) }

// variables is every setting, in parse order: DEBUG and INSECURE_DEV come first because other
// defaults depend on them. doc.go documents each one; a test keeps the two in step.
var variables = []variable{
	boolVar("DEBUG", static("false"), func(s *Settings) *bool { return &s.Debug }),
	boolVar("INSECURE_DEV", static("false"), func(s *Settings) *bool { return &s.InsecureDev }),
	field("SECRET_KEY", static(""), parseSecret, Secret.String, func(s *Settings) *Secret { return &s.SecretKey }),
	field("SECRET_KEY_FALLBACKS", static(""), parseSecrets, maskSecrets, func(s *Settings) *[]Secret { return &s.SecretKeyFallbacks }),
	strVar("ADDR", static("127.0.0.1:8000"), checkAddr, func(s *Settings) *string { return &s.Addr }),
	field("ALLOWED_HOSTS", localHostsInDev, ParseAllowedHosts, joined, func(s *Settings) *[]string { return &s.AllowedHosts }),
	field("TRUSTED_PROXIES", static(""), clientip.ParsePrefixes, prefixesString, func(s *Settings) *[]netip.Prefix { return &s.TrustedProxies }),
	checked("PROXY_HEADER", static("x-forwarded"), parseProxyHeader, proxyHeaderString, func(s *Settings) *clientip.HeaderMode { return &s.ProxyHeader }),
	field("TRUSTED_ORIGINS", static(""), ParseOrigins, joined, func(s *Settings) *[]string { return &s.TrustedOrigins }),
	secretURLVar("DATABASE_URL", "sqlite://rampart.db", false, ParseDatabaseURL, func(s *Settings) *Secret { return &s.DatabaseURL }),
	secretURLVar("REDIS_URL", "", true, ParseRedisURL, func(s *Settings) *Secret { return &s.RedisURL }),
	durVar("STORE_TIMEOUT", "2s", func(s *Settings) *time.Duration { return &s.StoreTimeout }),
	durVar("RECENT_AUTH", "10m", func(s *Settings) *time.Duration { return &s.RecentAuth }),
	boolVar("INSECURE_REDIS_NO_PERSISTENCE", static("false"), func(s *Settings) *bool { return &s.InsecureRedisNoPersistence }),
	checked("HSTS_SECONDS", unlessInsecureDev("31536000", "0"), parseSeconds, strconv.Itoa, func(s *Settings) *int { return &s.HSTSSeconds }),
	boolVar("HSTS_INCLUDE_SUBDOMAINS", static("true"), func(s *Settings) *bool { return &s.HSTSIncludeSubdomains }),
	boolVar("HSTS_PRELOAD", static("false"), func(s *Settings) *bool { return &s.HSTSPreload }),
	boolVar("SSL_REDIRECT", unlessInsecureDev("true", "false"), func(s *Settings) *bool { return &s.SSLRedirect }),
	strVar("SSL_HOST", static(""), checkSSLHost, func(s *Settings) *string { return &s.SSLHost }),
	strVar("REFERRER_POLICY", static("same-origin"), NormalizeReferrerPolicy, func(s *Settings) *string { return &s.ReferrerPolicy }),
	strVar("CROSS_ORIGIN_OPENER_POLICY", static("same-origin"), oneOf(COOPValues...), func(s *Settings) *string { return &s.COOP }),
	strVar("CROSS_ORIGIN_RESOURCE_POLICY", static("same-origin"), oneOf(CORPValues...), func(s *Settings) *string { return &s.CORP }),
	strVar("X_FRAME_OPTIONS", static("DENY"), checkXFrameOptions, func(s *Settings) *string { return &s.XFrameOptions }),
	boolVar("CSP_REPORT_ONLY", static("false"), func(s *Settings) *bool { return &s.CSPReportOnly }),
	strVar("CSP_REPORT_URI", static("/csp-report"), checkReportURI, func(s *Settings) *string { return &s.CSPReportURI }),
	strVar("SESSION_COOKIE_NAME", unlessInsecureDev("__Host-rampart_session", "rampart_session"), checkCookieName, func(s *Settings) *string { return &s.SessionCookieName }),
	boolVar("SESSION_COOKIE_SECURE", unlessInsecureDev("true", "false"), func(s *Settings) *bool { return &s.SessionCookieSecure }),
	sameSiteVar("SESSION_COOKIE_SAMESITE", func(s *Settings) *http.SameSite { return &s.SessionCookieSameSite }),
	durVar("SESSION_IDLE_TIMEOUT", "30m", func(s *Settings) *time.Duration { return &s.SessionIdleTimeout }),
	durVar("SESSION_ABSOLUTE_TIMEOUT", "12h", func(s *Settings) *time.Duration { return &s.SessionAbsoluteTimeout }),
	strVar("CSRF_COOKIE_NAME", unlessInsecureDev("__Host-rampart_csrf", "rampart_csrf"), checkCookieName, func(s *Settings) *string { return &s.CSRFCookieName }),
	boolVar("CSRF_COOKIE_SECURE", unlessInsecureDev("true", "false"), func(s *Settings) *bool { return &s.CSRFCookieSecure }),
	sameSiteVar("CSRF_COOKIE_SAMESITE", func(s *Settings) *http.SameSite { return &s.CSRFCookieSameSite }),
	durVar("CSRF_COOKIE_AGE", "8736h", func(s *Settings) *time.Duration { return &s.CSRFCookieAge }),
	boolVar("CSRF_USE_SESSIONS", static("false"), func(s *Settings) *bool { return &s.CSRFUseSessions }),
	// Django interoperability (docs/FROM-DJANGO.md): the names of the CSRF form field and header.
	strVar("CSRF_FIELD_NAME", static("csrf_token"), checkFieldName, func(s *Settings) *string { return &s.CSRFFieldName }),
	strVar("CSRF_HEADER_NAME", static("X-CSRF-Token"), checkHeaderName, func(s *Settings) *string { return &s.CSRFHeaderName }),
	intVar("PASSWORD_MIN_LENGTH", "12", 1, func(s *Settings) *int { return &s.PasswordMinLength }),
	durVar("PASSWORD_RESET_TIMEOUT", "72h", func(s *Settings) *time.Duration { return &s.PasswordResetTimeout }),
	intVar("LOCKOUT_LIMIT", "5", 1, func(s *Settings) *int { return &s.LockoutLimit }),
	durVar("LOCKOUT_COOLOFF", "15m", func(s *Settings) *time.Duration { return &s.LockoutCooloff }),
	field("LOGIN_RATE", static("10/m"), ParseRate, Rate.String, func(s *Settings) *Rate { return &s.LoginRate }),
	field("RATE", static("600/m"), ParseRate, Rate.String, func(s *Settings) *Rate { return &s.RequestRate }),
	strVar("TOTP_ISSUER", static("rampart"), checkIssuer, func(s *Settings) *string { return &s.TOTPIssuer }),
	durVar("READ_HEADER_TIMEOUT", "5s", func(s *Settings) *time.Duration { return &s.ReadHeaderTimeout }),
	durVar("READ_TIMEOUT", "30s", func(s *Settings) *time.Duration { return &s.ReadTimeout }),
	durVar("WRITE_TIMEOUT", "60s", func(s *Settings) *time.Duration { return &s.WriteTimeout }),
	durVar("IDLE_TIMEOUT", "120s", func(s *Settings) *time.Duration { return &s.IdleTimeout }),
	checked("MAX_BODY_BYTES", static("2621440"), parseBytes, formatInt64, func(s *Settings) *int64 { return &s.MaxBodyBytes }),
	// Slow clients (`rampart serve`): a login form arrives in well under a second even on a
	// poor mobile link, so 10s plus 4 KiB/s (32 kbit/s, slower than GPRS) leaves real users a
	// wide margin while a body trickled in one byte at a time is cut off after 10s instead of
	// holding its connection for READ_TIMEOUT. 256 connections per address leave room for a
	// NAT full of browsers (about 6 each) but stop one host from holding thousands.
	durVar("BODY_TIMEOUT", "10s", func(s *Settings) *time.Duration { return &s.BodyTimeout }),
	intVar("BODY_MIN_RATE", "4096", 0, func(s *Settings) *int { return &s.BodyMinRate }),
	intVar("MAX_CONNS_PER_IP", "256", 0, func(s *Settings) *int { return &s.MaxConnsPerIP }),
	// Mail (package mail). No URL means no mail server: development logs the links instead.
	secretURLVar("EMAIL_URL", "", true, mail.ParseURL, func(s *Settings) *Secret { return &s.EmailURL }),
	strVar("EMAIL_FROM", static("webmaster@localhost"), checkEmailFrom, func(s *Settings) *string { return &s.EmailFrom }),
	strVar("METRICS_ADDR", static(""), checkMetricsAddr, func(s *Settings) *string { return &s.MetricsAddr }),
}

// ParseBool accepts 1/0, true/false, yes/no, on/off (any case). Anything else is an error rather
// than false, so that a typo cannot silently switch a protection off.
func ParseBool(raw string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "1", "true", "yes", "on", "y":
		return true, nil
	case "0", "false", "no", "off", "n":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use true or false)", raw)
}

// ParseDuration accepts a Go duration ("30m", "1h30m") or a whole number of seconds ("900").
func ParseDuration(raw string) (time.Duration, error) {
	raw = strings.TrimSpace(raw)
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		if n > int64(1<<63-1)/int64(time.Second) || n < 0 {
			return 0, fmt.Errorf("%q seconds is out of range", raw)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 30m, 12h or a number of seconds)", raw)
	}
	return d, nil
}

// ParseList splits a comma-separated list, trimming items and dropping empty ones.
func ParseList(raw string) []string {
	var out []string
	for _, p := range strings.Split(raw, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseRate reads a rate with [ratelimit.ParseRate] and refuses a zero count: as a setting,
// "0/m" would refuse every login or request, which is never what an operator means.
func ParseRate(raw string) (Rate, error) {
	r, err := ratelimit.ParseRate(raw)
	if err != nil {
		return Rate{}, err
	}
	if r.N < 1 {
		return Rate{}, fmt.Errorf("%q: a rate setting must allow at least 1 event (0 would refuse every request)", raw)
	}
	return r, nil
}

// ParseSameSite reads Lax, Strict or None (any case).
func ParseSameSite(raw string) (http.SameSite, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, fmt.Errorf("%q is not Lax, Strict or None", raw)
}

// SameSiteString is the inverse of ParseSameSite.
func SameSiteString(v http.SameSite) string {
	switch v {
	case http.SameSiteStrictMode:
		return "Strict"
	case http.SameSiteNoneMode:
		return "None"
	case http.SameSiteLaxMode:
		return "Lax"
	}
	return "default"
}

// ReferrerPolicies are the valid Referrer-Policy tokens (Django's security.E023 list).
var ReferrerPolicies = []string{"no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin",
	"same-origin", "strict-origin", "strict-origin-when-cross-origin", "unsafe-url"}

// COOPValues are the valid Cross-Origin-Opener-Policy values (Django's security.E024 list).
var COOPValues = []string{"same-origin", "same-origin-allow-popups", "unsafe-none"}

// CORPValues are the valid Cross-Origin-Resource-Policy values.
var CORPValues = []string{"same-origin", "same-site", "cross-origin"}

func oneOf(valid ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, ok := range valid {
			if strings.EqualFold(v, ok) {
				return ok, nil
			}
		}
		return v, fmt.Errorf("%q is not one of %s", v, strings.Join(valid, ", "))
	}
}

// NormalizeReferrerPolicy validates a comma-separated Referrer-Policy (fallback list) and joins it
// with "," as Django does ("strict-origin, origin" becomes "strict-origin,origin").
func NormalizeReferrerPolicy(v string) (string, error) {
	parts := ParseList(v)
	if len(parts) == 0 {
		return v, errors.New("is empty")
	}
	for i, p := range parts {
		n, err := oneOf(ReferrerPolicies...)(p)
		if err != nil {
			return v, err
		}
		parts[i] = n
	}
	return strings.Join(parts, ","), nil
}

func checkAddr(v string) (string, error) {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return v, fmt.Errorf("%q is not host:port", v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return v, fmt.Errorf("%q has a bad port", v)
	}
	return v, nil
}

// checkMetricsAddr accepts empty (no metrics listener) or host:port; a missing host is
// loopback, so that exposing the metrics beyond the machine is always spelled out.
func checkMetricsAddr(v string) (string, error) {
	if v == "" {
		return v, nil
	}
	if _, err := checkAddr(v); err != nil {
		return v, err
	}
	host, port, _ := net.SplitHostPort(v)
	if host == "" {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	return v, nil
}

func checkReportURI(v string) (string, error) {
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") {
		return v, nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return v, fmt.Errorf("%q is neither a path starting with / nor an https:// URL", v)
	}
	return v, nil
}

func checkCookieName(v string) (string, error) {
	if v == "" {
		return v, errors.New("is empty")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		// RFC 6265 token characters.
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return v, fmt.Errorf("%q is not a valid cookie name", v)
		}
	}
	return v, nil
}

// checkFieldName accepts a form field name that needs no escaping in an HTML attribute
// (what the csrf package renders): letters, digits, '-', '_', '.' and ':'.
func checkFieldName(v string) (string, error) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return v, fmt.Errorf("%q is not a valid form field name (letters, digits, '-', '_', '.', ':')", v)
		}
	}
	if v == "" {
		return v, errors.New("is empty")
	}
	return v, nil
}

// checkHeaderName accepts an HTTP header name (an RFC 9110 token). Django's CSRF_HEADER_NAME
// is a META key ("HTTP_X_CSRFTOKEN"); the header it names is what is given here.
func checkHeaderName(v string) (string, error) {
	if strings.HasPrefix(v, "HTTP_") {
		return v, fmt.Errorf("%q is a Django META key: give the header itself (HTTP_X_CSRFTOKEN is X-CSRFToken)", v)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return v, fmt.Errorf("%q is not a valid HTTP header name", v)
		}
	}
	if v == "" {
		return v, errors.New("is empty")
	}
	return v, nil
}

// ParseAllowedHosts reads a comma-separated ALLOWED_HOSTS list: host names, IP addresses,
// "[v6]" literals, ".domain" wildcards and "*". Entries are lower-cased; a scheme, path or port
// is an error because ports are not compared and a scheme is a common mistake.
func ParseAllowedHosts(raw string) ([]string, error) {
	var out []string
	for _, h := range ParseList(raw) {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if h == "*" {
			out = append(out, h)
			continue
		}
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			if _, err := netip.ParseAddr(h[1 : len(h)-1]); err != nil {
				return out, fmt.Errorf("%q is not an IPv6 literal", h)
			}
			out = append(out, h)
			continue
		}
		name := strings.TrimPrefix(h, ".")
		if name == "" || strings.ContainsAny(name, "/:@*_ ") {
			return out, fmt.Errorf("%q is not a host name (no scheme, port or path)", h)
		}
		for _, l := range strings.Split(name, ".") {
			if l == "" || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
				return out, fmt.Errorf("%q is not a host name", h)
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// ParseOrigins reads a comma-separated list of origins "scheme://host[:port]"; the host may start
// with "*." to allow subdomains. A missing scheme is an error (Django's 4_0.E001).
func ParseOrigins(raw string) ([]string, error) {
	var out []string
	for _, o := range ParseList(raw) {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return out, err
		}
		out = append(out, n)
	}
	return out, nil
}

// NormalizeOrigin validates one trusted origin and lower-cases it.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.ToLower(o))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return o, fmt.Errorf("%q is not an origin like https://example.com", o)
	}
	host := strings.TrimPrefix(u.Hostname(), "*.")
	if host == "" || strings.Contains(host, "*") {
		return o, fmt.Errorf("%q has a bad host (only a leading *. is allowed)", o)
	}
	return u.Scheme + "://" + u.Host, nil
}

// checkIssuer keeps the issuer printable and short: it is shown in authenticator apps and
// becomes part of the otpauth label, where ':' is the separator.
func checkIssuer(v string) (string, error) {
	if v == "" || len(v) > 64 || strings.ContainsAny(v, ":\x00\r\n") {
		return v, fmt.Errorf("%q must be 1-64 characters without ':' or control characters", v)
	}
	return v, nil
}

// checkSSLHost accepts an empty value or a bare host[:port]: no scheme, path or user info, so a
// redirect built from it cannot point anywhere but that host.
func checkSSLHost(v string) (string, error) {
	if v == "" {
		return v, nil
	}
	if _, _, err := hosts.Split(v); err != nil || strings.ContainsAny(v, "/@?#\\ ") {
		return v, fmt.Errorf("%q is not a host or host:port", v)
	}
	return strings.ToLower(v), nil
}
