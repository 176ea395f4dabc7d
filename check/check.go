package check

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/signing"
)

// Severity grades a finding. Errors and warnings make `rampart check` exit 1; info does not.
type Severity string

// Severities, from worst to mildest.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Finding is one problem found in a configuration.
type Finding struct {
	// ID is stable across releases (RAMPART-E001, RAMPART-W001, RAMPART-I001...); doc.go maps
	// each one to the Django check it mirrors.
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Message says what is wrong, naming the environment variables it is about (`rampart check`
	// drops a finding that names a variable whose value could not be read).
	Message string `json:"message"`
	// Hint says how to fix it.
	Hint string `json:"hint,omitempty"`
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s (%s) %s", f.ID, f.Severity, f.Message)
	if f.Hint != "" {
		s += "\n    hint: " + f.Hint
	}
	return s
}

type rule struct {
	id   string
	sev  Severity
	hint string
	// run returns one message per problem found (several for per-item checks).
	run func(s settings.Settings) []string
}

func msg(cond bool, format string, args ...any) []string {
	if !cond {
		return nil
	}
	return []string{fmt.Sprintf(format, args...)}
}

// Run applies every deploy check to s and returns the findings in ID order. It judges s as a
// production deployment, whatever mode s is in: that is what "check --deploy" is for.
func Run(s settings.Settings) []Finding {
	var out []Finding
	for _, r := range rules {
		for _, m := range r.run(s) {
			out = append(out, Finding{ID: r.id, Severity: r.sev, Message: m, Hint: r.hint})
		}
	}
	return out
}

// IDs lists every check ID Run can report, plus RAMPART-E000 (a variable that cannot be read) from Main
// and the IDs only Live and Database report.
func IDs() []string {
	ids := append([]string{idUnreadable}, liveOnlyIDs...)
	for _, r := range rules {
		ids = append(ids, r.id)
	}
	return append(ids, liveIDs...)
}

const idUnreadable = "RAMPART-E000"

const (
	hstsMinSeconds     = 15768000 // six months: the MDN Observatory's minimum for a pass
	hstsPreloadSeconds = 31536000 // one year: hstspreload.org's requirement
)

var rules = []rule{
	{"RAMPART-E001", Error, "set RAMPART_SECRET_KEY to the output of `rampart genkey` (or RAMPART_SECRET_KEY_FILE to a file holding it)",
		func(s settings.Settings) []string {
			err := signing.KeyProblem(s.SecretKey.Reveal())
			return msg(err != nil, "RAMPART_SECRET_KEY %v, so signatures (sessions, CSRF, reset links) can be forged", err)
		}},
	{"RAMPART-E002", Error, "replace or remove the weak entry; fallbacks verify signatures, so a weak one is as bad as a weak key",
		func(s settings.Settings) []string {
			var out []string
			for i, k := range s.SecretKeyFallbacks {
				if err := signing.KeyProblem(k.Reveal()); err != nil {
					out = append(out, fmt.Sprintf("RAMPART_SECRET_KEY_FALLBACKS[%d] %v", i, err))
				}
			}
			return out
		}},
	{"RAMPART-E003", Error, "bind to 127.0.0.1 or ::1, or turn RAMPART_DEBUG off",
		func(s settings.Settings) []string {
			return msg(s.Debug && !settings.IsLoopbackAddr(s.Addr), "RAMPART_DEBUG is on and RAMPART_ADDR %q is reachable from other machines", s.Addr)
		}},
	{"RAMPART-E004", Error, "bind to 127.0.0.1 or ::1, or turn RAMPART_INSECURE_DEV off",
		func(s settings.Settings) []string {
			return msg(s.InsecureDev && !settings.IsLoopbackAddr(s.Addr), "RAMPART_INSECURE_DEV is on and RAMPART_ADDR %q is reachable from other machines", s.Addr)
		}},
	{"RAMPART-E005", Error, "list the host names the site answers to, e.g. RAMPART_ALLOWED_HOSTS=example.com,www.example.com",
		func(s settings.Settings) []string {
			return msg(len(s.AllowedHosts) == 0, "RAMPART_ALLOWED_HOSTS is empty: every request would be refused with 400 (Host header validation)")
		}},
	{"RAMPART-E006", Error, "use one of: " + strings.Join(settings.ReferrerPolicies, ", "),
		func(s settings.Settings) []string {
			_, err := settings.NormalizeReferrerPolicy(s.ReferrerPolicy)
			return msg(err != nil, "RAMPART_REFERRER_POLICY %v", err)
		}},
	{"RAMPART-E007", Error, "use one of: " + strings.Join(settings.COOPValues, ", "),
		func(s settings.Settings) []string {
			return msg(!contains(settings.COOPValues, s.COOP), "RAMPART_CROSS_ORIGIN_OPENER_POLICY %q is not a valid value", s.COOP)
		}},
	{"RAMPART-E008", Error, "write each origin with its scheme, e.g. https://example.com",
		func(s settings.Settings) []string {
			var out []string
			for _, o := range s.TrustedOrigins {
				if _, err := settings.NormalizeOrigin(o); err != nil {
					out = append(out, fmt.Sprintf("RAMPART_TRUSTED_ORIGINS: %v", err))
				}
			}
			return out
		}},
	{"RAMPART-E009", Error, "make the cookie Secure, or drop the __Host-/__Secure- prefix and SameSite=None (development only)",
		func(s settings.Settings) []string {
			var out []string
			for _, c := range []struct {
				v      string
				name   string
				secure bool
				ss     http.SameSite
			}{
				{"SESSION_COOKIE", s.SessionCookieName, s.SessionCookieSecure, s.SessionCookieSameSite},
				{"CSRF_COOKIE", s.CSRFCookieName, s.CSRFCookieSecure, s.CSRFCookieSameSite},
			} {
				if !c.secure && (strings.HasPrefix(c.name, "__Host-") || strings.HasPrefix(c.name, "__Secure-")) {
					out = append(out, fmt.Sprintf("RAMPART_%s_NAME %q requires a Secure cookie but RAMPART_%s_SECURE is off: browsers drop it", c.v, c.name, c.v))
				}
				if !c.secure && c.ss == http.SameSiteNoneMode {
					out = append(out, fmt.Sprintf("RAMPART_%s_SAMESITE=None requires a Secure cookie: browsers drop it", c.v))
				}
			}
			return out
		}},
	{"RAMPART-E010", Error, "use DENY (or SAMEORIGIN if the site frames itself)",
		func(s settings.Settings) []string {
			return msg(s.XFrameOptions != "DENY" && s.XFrameOptions != "SAMEORIGIN", "RAMPART_X_FRAME_OPTIONS %q is not DENY or SAMEORIGIN", s.XFrameOptions)
		}},
	{"RAMPART-E011", Error, "use sqlite://path, postgres://..., redis:// or rediss://",
		func(s settings.Settings) []string {
			var out []string
			if _, err := settings.ParseDatabaseURL(s.DatabaseURL.Reveal()); err != nil {
				out = append(out, fmt.Sprintf("RAMPART_DATABASE_URL %v", err))
			}
			if s.RedisURL != "" {
				if _, err := settings.ParseRedisURL(s.RedisURL.Reveal()); err != nil {
					out = append(out, fmt.Sprintf("RAMPART_REDIS_URL %v", err))
				}
			}
			return out
		}},

	{"RAMPART-W001", Warning, "unset RAMPART_DEBUG in deployment",
		func(s settings.Settings) []string {
			return msg(s.Debug, "RAMPART_DEBUG is on: you should not have debug mode on in deployment")
		}},
	{"RAMPART-W002", Warning, "unset RAMPART_INSECURE_DEV and serve HTTPS (directly or behind a TLS proxy listed in RAMPART_TRUSTED_PROXIES)",
		func(s settings.Settings) []string {
			return msg(s.InsecureDev, "RAMPART_INSECURE_DEV is on: plain HTTP, no HSTS, no HTTPS redirect, cookies without Secure")
		}},
	{"RAMPART-W003", Warning, "set RAMPART_HSTS_SECONDS=31536000 once the whole site works over HTTPS",
		func(s settings.Settings) []string {
			return msg(s.HSTSSeconds == 0, "RAMPART_HSTS_SECONDS is 0: no Strict-Transport-Security header, so a first plain-HTTP visit can be intercepted")
		}},
	{"RAMPART-W004", Warning, "use at least 15768000 (6 months); 31536000 (1 year) is the usual value",
		func(s settings.Settings) []string {
			return msg(s.HSTSSeconds > 0 && s.HSTSSeconds < hstsMinSeconds, "RAMPART_HSTS_SECONDS=%d is shorter than six months", s.HSTSSeconds)
		}},
	{"RAMPART-W005", Warning, "set RAMPART_HSTS_INCLUDE_SUBDOMAINS=true once every subdomain serves HTTPS",
		func(s settings.Settings) []string {
			return msg(s.HSTSSeconds > 0 && !s.HSTSIncludeSubdomains, "RAMPART_HSTS_INCLUDE_SUBDOMAINS is off: subdomains can be attacked over plain HTTP (e.g. to set cookies)")
		}},
	{"RAMPART-W006", Warning, "set RAMPART_SSL_REDIRECT=true (or redirect at the proxy and keep this on: it is harmless there)",
		func(s settings.Settings) []string {
			return msg(!s.SSLRedirect, "RAMPART_SSL_REDIRECT is off: plain-HTTP requests are served instead of redirected to HTTPS")
		}},
	{"RAMPART-W007", Warning, "set RAMPART_SESSION_COOKIE_SECURE=true",
		func(s settings.Settings) []string {
			return msg(!s.SessionCookieSecure, "RAMPART_SESSION_COOKIE_SECURE is off: the session cookie can be sent over plain HTTP and sniffed")
		}},
	{"RAMPART-W008", Warning, "set RAMPART_CSRF_COOKIE_SECURE=true",
		func(s settings.Settings) []string {
			return msg(!s.CSRFCookieSecure && !s.CSRFUseSessions, "RAMPART_CSRF_COOKIE_SECURE is off: the CSRF cookie can be sent over plain HTTP and sniffed")
		}},
	{"RAMPART-W009", Warning, "use DENY unless the site frames its own pages",
		func(s settings.Settings) []string {
			return msg(s.XFrameOptions == "SAMEORIGIN", "RAMPART_X_FRAME_OPTIONS is SAMEORIGIN: any page of the origin can frame any other")
		}},
	{"RAMPART-W010", Warning, "list the real host names instead of *",
		func(s settings.Settings) []string {
			return msg(contains(s.AllowedHosts, "*"), "RAMPART_ALLOWED_HOSTS contains *: Host header validation is off (password-reset poisoning, cache poisoning)")
		}},
	{"RAMPART-W011", Warning, "list only the addresses of your own proxies or load balancers",
		func(s settings.Settings) []string {
			var out []string
			for _, p := range s.TrustedProxies {
				if p.Bits() == 0 {
					out = append(out, fmt.Sprintf("RAMPART_TRUSTED_PROXIES contains %s: every client can spoof its IP address, scheme and host", p))
				}
			}
			return out
		}},
	{"RAMPART-W012", Warning, "narrow the range to your proxies' addresses",
		func(s settings.Settings) []string {
			var out []string
			for _, p := range s.TrustedProxies {
				if p.Bits() > 0 && widePublic(p) {
					out = append(out, fmt.Sprintf("RAMPART_TRUSTED_PROXIES contains %s, a wide public range: hosts in it can spoof client addresses", p))
				}
			}
			return out
		}},
	{"RAMPART-W013", Warning, "set RAMPART_CSP_REPORT_ONLY=false once the reports are clean",
		func(s settings.Settings) []string {
			return msg(s.CSPReportOnly, "RAMPART_CSP_REPORT_ONLY is on: the Content-Security-Policy is reported, not enforced, so it blocks no XSS")
		}},
	{"RAMPART-W014", Warning, "use https:// origins",
		func(s settings.Settings) []string {
			var out []string
			for _, o := range s.TrustedOrigins {
				u, err := url.Parse(o)
				if err == nil && u.Scheme == "http" && !settings.IsLoopbackHost(strings.TrimPrefix(u.Hostname(), "*.")) {
					out = append(out, fmt.Sprintf("RAMPART_TRUSTED_ORIGINS contains %s: a network attacker can forge requests from a plain-HTTP origin", o))
				}
			}
			return out
		}},
	{"RAMPART-W015", Warning, "add sslmode=verify-full (or require) to a postgres:// RAMPART_DATABASE_URL; use rediss:// for Redis",
		func(s settings.Settings) []string {
			d, err := settings.ParseDatabaseURL(s.DatabaseURL.Reveal())
			return msg(err == nil && (d.Driver == "postgres" || d.Driver == "redis") && d.Password && !d.TLS && !settings.IsLoopbackHost(d.Host),
				"RAMPART_DATABASE_URL sends a password to %s without requiring TLS", d.Host)
		}},
	{"RAMPART-W016", Warning, "use a rediss:// URL",
		func(s settings.Settings) []string {
			if s.RedisURL == "" {
				return nil
			}
			r, err := settings.ParseRedisURL(s.RedisURL.Reveal())
			return msg(err == nil && r.Password && !r.TLS && !settings.IsLoopbackHost(r.Host),
				"RAMPART_REDIS_URL sends a password to %s without TLS", r.Host)
		}},
	{"RAMPART-W017", Warning, "use same-origin (the default), strict-origin-when-cross-origin or no-referrer",
		func(s settings.Settings) []string {
			var out []string
			for _, p := range settings.ParseList(s.ReferrerPolicy) {
				if p == "unsafe-url" || p == "no-referrer-when-downgrade" {
					out = append(out, fmt.Sprintf("RAMPART_REFERRER_POLICY %s sends full URLs (with any tokens in them) to other sites", p))
				}
			}
			return out
		}},
	{"RAMPART-W018", Warning, "use same-origin (the default) or same-origin-allow-popups",
		func(s settings.Settings) []string {
			return msg(s.COOP == "unsafe-none", "RAMPART_CROSS_ORIGIN_OPENER_POLICY is unsafe-none: pages opened by other sites keep a handle on this window")
		}},
	{"RAMPART-W019", Warning, "keep the idle timeout at 1h or less and the absolute timeout at 24h or less (NIST SP 800-63B AAL2)",
		func(s settings.Settings) []string {
			var out []string
			if s.SessionIdleTimeout > time.Hour {
				out = append(out, fmt.Sprintf("RAMPART_SESSION_IDLE_TIMEOUT %v is longer than 1h", s.SessionIdleTimeout))
			}
			if s.SessionAbsoluteTimeout > 24*time.Hour {
				out = append(out, fmt.Sprintf("RAMPART_SESSION_ABSOLUTE_TIMEOUT %v is longer than 24h", s.SessionAbsoluteTimeout))
			}
			return out
		}},
	{"RAMPART-W020", Warning, "require at least 8 characters (NIST SP 800-63B); 12 or more is better",
		func(s settings.Settings) []string {
			return msg(s.PasswordMinLength < 8, "RAMPART_PASSWORD_MIN_LENGTH %d is below 8", s.PasswordMinLength)
		}},
	{"RAMPART-W021", Warning, "use Lax (the default) or Strict",
		func(s settings.Settings) []string {
			return msg(s.SessionCookieSameSite == http.SameSiteNoneMode, "RAMPART_SESSION_COOKIE_SAMESITE is None: the session cookie is sent on cross-site requests")
		}},
	{"RAMPART-W022", Warning, "preload needs RAMPART_HSTS_SECONDS >= 31536000 and RAMPART_HSTS_INCLUDE_SUBDOMAINS=true",
		func(s settings.Settings) []string {
			return msg(s.HSTSPreload && s.HSTSSeconds > 0 && (s.HSTSSeconds < hstsPreloadSeconds || !s.HSTSIncludeSubdomains),
				"RAMPART_HSTS_PRELOAD is on but the header does not meet the preload list's requirements")
		}},
	{"RAMPART-W024", Warning, "use sqlite://path for one instance, or PostgreSQL (and Redis) for several",
		func(s settings.Settings) []string {
			d, err := settings.ParseDatabaseURL(s.DatabaseURL.Reveal())
			return msg(err == nil && d.Driver == "sqlite" && d.DSN == ":memory:" && !s.Debug && !s.InsecureDev,
				"RAMPART_DATABASE_URL is sqlite::memory:: users, sessions and lockout counters live in this process only and are lost on every restart")
		}},
	{"RAMPART-W023", Warning, "remove the variable or fix its name (see the settings documentation)",
		func(s settings.Settings) []string {
			var out []string
			for _, n := range s.Unknown {
				out = append(out, fmt.Sprintf("%s is not a rampart setting (a typo?)", n))
			}
			return out
		}},
	{idRedisPersistence, Warning, redisOptOutHint, redisOptOut}, // and Live's findings (redis.go)

	{"RAMPART-W025", Warning, "set RAMPART_ALLOWED_HOSTS to the host names the site answers to before turning debug or development mode off",
		func(s settings.Settings) []string {
			mode := "RAMPART_DEBUG"
			if !s.Debug {
				mode = "RAMPART_INSECURE_DEV"
			}
			return msg(s.AllowedHostsLocalDefault,
				"RAMPART_ALLOWED_HOSTS is empty and %s fills in localhost only (%s): no real host name is served, and with %s off the empty list refuses every request",
				mode, strings.Join(s.AllowedHosts, ","), mode)
		}},

	{"RAMPART-I001", Info, "once sure that every subdomain will stay on HTTPS, set RAMPART_HSTS_PRELOAD=true and submit the domain to hstspreload.org",
		func(s settings.Settings) []string {
			return msg(s.HSTSSeconds > 0 && !s.HSTSPreload, "RAMPART_HSTS_PRELOAD is off: the domain cannot be submitted to the browsers' HSTS preload list")
		}},
	{"RAMPART-I002", Info, "set RAMPART_SECRET_KEY so that sessions survive restarts",
		func(s settings.Settings) []string {
			return msg(s.SecretKeyEphemeral, "RAMPART_SECRET_KEY is unset; a random key was generated for this process (development only)")
		}},
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// privateRanges are networks where proxies usually live; a prefix inside one is not "wide".
var privateRanges = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "100.64.0.0/10",
		"169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// widePublic reports a trusted-proxy prefix that reaches outside private address space and is
// wider than a /24 (IPv4) or /48 (IPv6): larger than any one operator's proxy fleet.
func widePublic(p netip.Prefix) bool {
	for _, r := range privateRanges {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return false
		}
	}
	if p.Addr().Is4() {
		return p.Bits() < 24
	}
	return p.Bits() < 48
}
