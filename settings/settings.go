package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/ratelimit"
	"github.com/rampart-go/rampart/signing"
)

// Prefix starts the name of every rampart environment variable.
const Prefix = "RAMPART_"

// Mask replaces secret values wherever settings are shown (20 stars, as Django's debug page).
const Mask = "********************"

// Secret holds a credential. It prints, logs and marshals as Mask, so that logging a Settings
// value or a field by mistake does not leak it; Reveal returns the real value.
type Secret string

// Reveal returns the secret itself, for the one place that needs it (a signer, a driver).
func (s Secret) Reveal() string { return string(s) }

// String returns Mask (or "" for an empty secret, so that "unset" stays visible).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Mask
}

// GoString masks %#v as well.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// MarshalText masks the secret in JSON, XML and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue masks the secret in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Rate is a number of events per period. It is [ratelimit.Rate], so a rate in a setting and
// one written in code are read by one parser with one meaning ("10/m", "100/5m", "5/30s",
// "1000/d", or a bare number of seconds: "7/30").
type Rate = ratelimit.Rate

// Settings is rampart's whole configuration. Build it with Load (or LoadFrom, Parse); the
// defaults it fills in are secure. The environment variable of each field is in doc.go.
type Settings struct {
	// SecretKey signs sessions, CSRF tokens, reset tokens and everything else (RAMPART_SECRET_KEY).
	SecretKey Secret
	// SecretKeyFallbacks are retired keys still accepted for verification (RAMPART_SECRET_KEY_FALLBACKS).
	SecretKeyFallbacks []Secret
	// SecretKeyEphemeral is true when no key was configured in development mode and a random
	// per-process key was generated: every restart logs everybody out.
	SecretKeyEphemeral bool

	// Debug shows the detailed error page (RAMPART_DEBUG). Only allowed on a loopback address.
	Debug bool
	// InsecureDev serves plain HTTP without Secure cookies, HSTS or HTTPS redirect
	// (RAMPART_INSECURE_DEV). Only allowed on a loopback address.
	InsecureDev bool
	// Addr is the listen address (RAMPART_ADDR).
	Addr string

	// AllowedHosts are the Host header values served (RAMPART_ALLOWED_HOSTS), with Django's
	// syntax: "example.com", ".example.com" (domain and subdomains), "*".
	AllowedHosts []string
	// AllowedHostsLocalDefault is true when RAMPART_ALLOWED_HOSTS was not set and debug or
	// development mode filled in the localhost-only default: the site answers no real host
	// name, and once those modes are off the empty list refuses every request.
	AllowedHostsLocalDefault bool
	// TrustedProxies are the proxies whose forwarding headers are believed (RAMPART_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// ProxyHeader is the header family those proxies set (RAMPART_PROXY_HEADER).
	ProxyHeader clientip.HeaderMode
	// TrustedOrigins are other origins allowed to send unsafe requests (RAMPART_TRUSTED_ORIGINS),
	// "https://example.com" or "https://*.example.com".
	TrustedOrigins []string

	// DatabaseURL locates the database (RAMPART_DATABASE_URL); see ParseDatabaseURL.
	DatabaseURL Secret
	// RedisURL optionally locates a Redis server for shared counters (RAMPART_REDIS_URL).
	RedisURL Secret
	// StoreTimeout bounds each store operation; after it the request gets 503
	// (RAMPART_STORE_TIMEOUT; see the package documentation for the default).
	StoreTimeout time.Duration
	// RecentAuth is how long a login or a re-entered password lets a user take the actions
	// the accounts package guards with RequireRecentAuth ("sudo mode": two-factor and passkey
	// changes, ending other sessions) without being asked again (RAMPART_RECENT_AUTH).
	RecentAuth time.Duration
	// InsecureRedisNoPersistence lets the server start in production although the Redis of a
	// redis:// DatabaseURL does not persist, or its persistence could not be confirmed
	// (RAMPART_INSECURE_REDIS_NO_PERSISTENCE): a restart of that Redis then loses every account
	// and unlocks every locked account. rampart.New refuses that state without it; `rampart
	// check` reports it (RAMPART-W030).
	InsecureRedisNoPersistence bool

	// HSTSSeconds is the Strict-Transport-Security max-age; 0 sends none (RAMPART_HSTS_SECONDS).
	HSTSSeconds int
	// HSTSIncludeSubdomains adds includeSubDomains (RAMPART_HSTS_INCLUDE_SUBDOMAINS).
	HSTSIncludeSubdomains bool
	// HSTSPreload adds preload (RAMPART_HSTS_PRELOAD).
	HSTSPreload bool
	// SSLRedirect redirects plain HTTP requests to HTTPS (RAMPART_SSL_REDIRECT).
	SSLRedirect bool
	// SSLHost, when set, is the host[:port] HTTP requests are redirected to instead of their own
	// Host (RAMPART_SSL_HOST, Django's SECURE_SSL_HOST): for HTTPS on another port or host.
	SSLHost string
	// ReferrerPolicy is the Referrer-Policy header (RAMPART_REFERRER_POLICY).
	ReferrerPolicy string
	// COOP is the Cross-Origin-Opener-Policy header (RAMPART_CROSS_ORIGIN_OPENER_POLICY).
	COOP string
	// CORP is the Cross-Origin-Resource-Policy header (RAMPART_CROSS_ORIGIN_RESOURCE_POLICY).
	CORP string
	// XFrameOptions is the X-Frame-Options header, DENY or SAMEORIGIN (RAMPART_X_FRAME_OPTIONS).
	XFrameOptions string
	// CSPReportOnly sends the CSP as Content-Security-Policy-Report-Only (RAMPART_CSP_REPORT_ONLY).
	CSPReportOnly bool
	// CSPReportURI is where browsers send CSP violation reports (RAMPART_CSP_REPORT_URI).
	CSPReportURI string

	// SessionCookieName names the session cookie (RAMPART_SESSION_COOKIE_NAME).
	SessionCookieName string
	// SessionCookieSecure marks the session cookie Secure (RAMPART_SESSION_COOKIE_SECURE).
	SessionCookieSecure bool
	// SessionCookieSameSite is the session cookie's SameSite (RAMPART_SESSION_COOKIE_SAMESITE).
	SessionCookieSameSite http.SameSite
	// SessionIdleTimeout ends a session after this long without a request (RAMPART_SESSION_IDLE_TIMEOUT).
	SessionIdleTimeout time.Duration
	// SessionAbsoluteTimeout ends a session this long after login whatever the activity
	// (RAMPART_SESSION_ABSOLUTE_TIMEOUT); it is also the cookie's Max-Age.
	SessionAbsoluteTimeout time.Duration

	// CSRFCookieName names the CSRF cookie (RAMPART_CSRF_COOKIE_NAME).
	CSRFCookieName string
	// CSRFCookieSecure marks the CSRF cookie Secure (RAMPART_CSRF_COOKIE_SECURE).
	CSRFCookieSecure bool
	// CSRFCookieSameSite is the CSRF cookie's SameSite (RAMPART_CSRF_COOKIE_SAMESITE).
	CSRFCookieSameSite http.SameSite
	// CSRFCookieAge is the CSRF cookie's Max-Age (RAMPART_CSRF_COOKIE_AGE).
	CSRFCookieAge time.Duration
	// CSRFUseSessions keeps the CSRF secret in the session instead of a cookie (RAMPART_CSRF_USE_SESSIONS).
	CSRFUseSessions bool
	// CSRFFieldName is the form field csrf.TemplateField renders (RAMPART_CSRF_FIELD_NAME);
	// "csrfmiddlewaretoken" is Django's.
	CSRFFieldName string
	// CSRFHeaderName is a header the CSRF token is read from besides X-CSRF-Token and
	// X-CSRFToken (RAMPART_CSRF_HEADER_NAME; Django's CSRF_HEADER_NAME).
	CSRFHeaderName string

	// PasswordMinLength is the minimum password length (RAMPART_PASSWORD_MIN_LENGTH).
	PasswordMinLength int
	// PasswordResetTimeout is how long a password-reset link stays valid (RAMPART_PASSWORD_RESET_TIMEOUT).
	PasswordResetTimeout time.Duration
	// LockoutLimit is the number of failed logins that locks an account/IP pair (RAMPART_LOCKOUT_LIMIT).
	LockoutLimit int
	// LockoutCooloff is how long a lockout lasts (RAMPART_LOCKOUT_COOLOFF).
	LockoutCooloff time.Duration
	// LoginRate limits login attempts per client IP (RAMPART_LOGIN_RATE).
	LoginRate Rate
	// RequestRate limits all requests per client IP, a coarse flood guard in front of
	// sessions and handlers (RAMPART_RATE).
	RequestRate Rate
	// TOTPIssuer is the name authenticator apps show for this site (RAMPART_TOTP_ISSUER).
	TOTPIssuer string

	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the http.Server timeouts
	// (RAMPART_READ_HEADER_TIMEOUT, RAMPART_READ_TIMEOUT, RAMPART_WRITE_TIMEOUT, RAMPART_IDLE_TIMEOUT).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxBodyBytes caps request bodies (RAMPART_MAX_BODY_BYTES).
	MaxBodyBytes int64

	// Slow clients, enforced by package server (see docs/SCALING.md). BodyTimeout is how long
	// a request body may take to arrive (RAMPART_BODY_TIMEOUT), extended by one second per
	// BodyMinRate bytes received (RAMPART_BODY_MIN_RATE, bytes per second; 0: no extension),
	// never beyond ReadTimeout. MaxConnsPerIP caps the connections open at once from one client
	// address, an IPv6 /64 (RAMPART_MAX_CONNS_PER_IP; 0: no cap); connections from
	// TrustedProxies are not capped, since all clients behind a proxy share its address.
	BodyTimeout   time.Duration
	BodyMinRate   int
	MaxConnsPerIP int

	// EmailURL is the SMTP server that delivers mail such as password-reset links
	// (RAMPART_EMAIL_URL, see mail.URL): smtp://user:password@host:587 (STARTTLS, required
	// unless the server is on loopback) or smtps://user:password@host (implicit TLS, port 465).
	// Empty: no mail is sent; rampart.New keeps it in memory (Stack.Outbox) and, in debug or
	// development mode, writes its links to the log.
	EmailURL Secret
	// EmailFrom is the sender of that mail (RAMPART_EMAIL_FROM; Django's DEFAULT_FROM_EMAIL).
	EmailFrom string

	// MetricsAddr is where `rampart serve` serves Prometheus metrics (package metrics), on a
	// listener of its own (RAMPART_METRICS_ADDR). Empty: no metrics. A port alone (":9464")
	// means loopback (127.0.0.1:9464); any other interface must be named, since the metrics
	// show how attacks are refused: keep them on loopback or a private network.
	MetricsAddr string

	// Unknown lists RAMPART_* variables that were set but are not settings (likely typos).
	Unknown []string
}

// Load reads the settings from the process environment and ./.env, and validates them:
// it returns an error naming every problem, and the application should refuse to start.
func Load() (Settings, error) { return LoadFrom(nil, ".env") }

// LoadFrom is Load with an explicit environment lookup (nil means the process environment) and
// .env path ("" means none; a missing file is ignored). The environment wins over the file.
func LoadFrom(env func(string) (string, bool), dotenvPath string) (Settings, error) {
	s, err := Parse(env, dotenvPath)
	if err != nil {
		return s, err
	}
	return s, s.Validate()
}

// Parse reads and type-checks the settings like LoadFrom but does not apply the production rules
// of Validate. Any variable or .env line that cannot be read makes it fail, naming each one.
func Parse(env func(string) (string, bool), dotenvPath string) (Settings, error) {
	s, bad, err := ParsePartial(env, dotenvPath)
	if err != nil {
		return s, err
	}
	if len(bad) > 0 {
		errs := make([]error, len(bad))
		for i := range bad {
			errs[i] = &bad[i]
		}
		return s, fmt.Errorf("settings: %w", errors.Join(errs...))
	}
	return s, nil
}

// VarError is one setting that could not be read: a value that does not parse, an unreadable
// NAME_FILE, NAME and NAME_FILE both set, or a malformed .env line.
type VarError struct {
	// Variable is the setting (RAMPART_...) that was left at its default because of this error.
	// It is "" when no setting lost its value: a .env line with no usable name, a line for a
	// variable that is not a setting, or one the process environment overrides anyway.
	Variable string
	// Err says what is wrong; it names the variable, or the .env file and line.
	Err error
}

func (e *VarError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *VarError) Unwrap() error { return e.Err }

// ParsePartial reads the settings like Parse but does not stop at what cannot be read: each
// variable that does not parse takes its default, as if it were unset, and is returned as one
// VarError (so is each malformed .env line, whose variable is then unset). It is for
// `rampart check`, which reports every bad value and still judges the rest; a server must use
// Load, which refuses to start on any of them. err is non-nil only when the .env file exists but
// cannot be read, and then nothing was parsed.
func ParsePartial(env func(string) (string, bool), dotenvPath string) (s Settings, bad []VarError, err error) {
	var names []string
	if env == nil {
		env = os.LookupEnv
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			names = append(names, k)
		}
	}
	dotenv, badLines, err := readDotenv(dotenvPath)
	if err != nil {
		return Settings{}, nil, fmt.Errorf("settings: %w", err)
	}
	for k := range dotenv {
		names = append(names, k)
	}
	known := knownNames()
	for _, l := range badLines {
		e := VarError{Err: l.err}
		if name := known[l.key]; name != "" {
			if _, inEnv := env(l.key); !inEnv {
				e.Variable = name
			}
		}
		bad = append(bad, e)
	}
	src := &source{env: env, dotenv: dotenv}
	s, badVars := parse(src)
	s.Unknown = unknown(names)
	return s, append(bad, badVars...), nil
}

// knownNames maps every variable name rampart reads, NAME and NAME_FILE, to the setting it sets.
func knownNames() map[string]string {
	known := map[string]string{}
	for _, v := range variables {
		known[Prefix+v.name] = Prefix + v.name
		known[Prefix+v.name+"_FILE"] = Prefix + v.name
	}
	return known
}

func unknown(names []string) []string {
	known := knownNames()
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		// RAMPART_TEST_* configure the test suites, not the application.
		if !strings.HasPrefix(n, Prefix) || strings.HasPrefix(n, Prefix+"TEST_") || known[n] != "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// parse reads every variable in order. One that cannot be read gets its default instead, so
// that later defaults depending on it (the development modes) and every other variable are still
// parsed, and is returned in bad.
func parse(src *source) (Settings, []VarError) {
	var s Settings
	var bad []VarError
	for _, v := range variables {
		name := Prefix + v.name
		raw, ok, err := src.lookup(name)
		if err == nil {
			if !ok {
				raw = v.def(&s)
			}
			if err = v.set(&s, raw); err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
		}
		if err != nil {
			bad = append(bad, VarError{Variable: name, Err: err})
			ok = false
			// The defaults are valid by construction (TestDefaultsParse); set also resets
			// whatever the bad value left half-written.
			_ = v.set(&s, v.def(&s))
		}
		if v.name == "ALLOWED_HOSTS" && !ok && (s.Debug || s.InsecureDev) {
			s.AllowedHostsLocalDefault = true
		}
	}
	if s.SecretKey == "" && (s.Debug || s.InsecureDev) {
		s.SecretKey = Secret(signing.GenerateKey())
		s.SecretKeyEphemeral = true
	}
	return s, bad
}

// Field is one setting as shown to people: its environment variable and its value, masked
// when it is a secret.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Redacted lists every setting by environment variable, with secrets replaced by Mask and the
// passwords of database and Redis URLs masked. It is what the debug page and `rampart check`
// show.
func (s Settings) Redacted() []Field {
	out := make([]Field, 0, len(variables))
	for _, v := range variables {
		out = append(out, Field{Name: Prefix + v.name, Value: v.show(&s)})
	}
	return out
}

// SecretValues returns the raw secrets held by s (keys, database and Redis URLs and their
// passwords), so that error pages and logs can scrub them from free text such as panic values.
func (s Settings) SecretValues() []string {
	var out []string
	add := func(v string) {
		if len(v) >= 4 { // shorter strings would mask innocent text everywhere
			out = append(out, v)
		}
	}
	add(s.SecretKey.Reveal())
	for _, k := range s.SecretKeyFallbacks {
		add(k.Reveal())
	}
	for _, u := range []Secret{s.DatabaseURL, s.RedisURL, s.EmailURL} {
		add(u.Reveal())
		add(urlPassword(u.Reveal()))
	}
	return out
}

// String renders s redacted, one NAME=value per line, so that printing or logging a Settings
// value never shows a secret.
func (s Settings) String() string {
	var b strings.Builder
	for _, f := range s.Redacted() {
		b.WriteString(f.Name)
		b.WriteByte('=')
		b.WriteString(f.Value)
		b.WriteByte('\n')
	}
	return b.String()
}

// GoString masks %#v too.
func (s Settings) GoString() string { return "settings.Settings{\n" + s.String() + "}" }

// LogValue renders s redacted in log/slog output.
func (s Settings) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(variables))
	for _, f := range s.Redacted() {
		attrs = append(attrs, slog.String(f.Name, f.Value))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON renders s redacted, as an object keyed by environment variable.
func (s Settings) MarshalJSON() ([]byte, error) {
	m := map[string]string{}
	for _, f := range s.Redacted() {
		m[f.Name] = f.Value
	}
	return json.Marshal(m)
}
