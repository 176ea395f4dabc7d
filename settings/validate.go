package settings

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/signing"
)

// Validate applies the rules that make a configuration unfit to run, and returns them all,
// each naming its variable. In production mode (Debug off) a missing or weak secret key or
// fallback key (Django's W009/W025 rule: under 50 characters, under 5 distinct characters, or
// a well-known insecure prefix) and an empty RAMPART_ALLOWED_HOSTS are refused. In every mode,
// Debug or InsecureDev on a non-loopback address, cookie attributes browsers would reject, and
// invalid header values are refused.
//
// Weaker-but-workable choices (HSTS off, report-only CSP...) are left to `rampart check`.
func (s Settings) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", Prefix, name, fmt.Sprintf(format, args...)))
	}
	if s.Debug && !IsLoopbackAddr(s.Addr) {
		bad("DEBUG", "debug mode shows internals and is only allowed on a loopback address, but RAMPART_ADDR is %q", s.Addr)
	}
	if s.InsecureDev && !IsLoopbackAddr(s.Addr) {
		bad("INSECURE_DEV", "plain-HTTP development mode is only allowed on a loopback address, but RAMPART_ADDR is %q", s.Addr)
	}
	if !s.Debug {
		if err := signing.KeyProblem(s.SecretKey.Reveal()); err != nil {
			bad("SECRET_KEY", "%v; generate one with `rampart genkey`", err)
		}
		for i, k := range s.SecretKeyFallbacks {
			if err := signing.KeyProblem(k.Reveal()); err != nil {
				bad("SECRET_KEY_FALLBACKS", "entry %d %v", i, err)
			}
		}
		if len(s.AllowedHosts) == 0 {
			bad("ALLOWED_HOSTS", "must not be empty in production (list the host names this site answers to)")
		}
	} else if s.SecretKey == "" {
		bad("SECRET_KEY", "is empty")
	}
	if _, err := ParseAllowedHosts(strings.Join(s.AllowedHosts, ",")); err != nil {
		bad("ALLOWED_HOSTS", "%v", err)
	}
	for _, o := range s.TrustedOrigins {
		if _, err := NormalizeOrigin(o); err != nil {
			bad("TRUSTED_ORIGINS", "%v", err)
		}
	}
	if _, err := ParseDatabaseURL(s.DatabaseURL.Reveal()); err != nil {
		bad("DATABASE_URL", "%v", err)
	}
	if s.RedisURL != "" {
		if _, err := ParseRedisURL(s.RedisURL.Reveal()); err != nil {
			bad("REDIS_URL", "%v", err)
		}
	}
	if s.EmailURL != "" {
		if _, err := mail.ParseURL(s.EmailURL.Reveal()); err != nil {
			bad("EMAIL_URL", "%v", err)
		}
	}
	if s.EmailFrom != "" || s.EmailURL != "" {
		if err := mail.CheckAddress(s.EmailFrom); err != nil {
			bad("EMAIL_FROM", "%v", err)
		}
	}
	if _, err := checkAddr(s.Addr); err != nil {
		bad("ADDR", "%v", err)
	}
	if _, err := NormalizeReferrerPolicy(s.ReferrerPolicy); err != nil {
		bad("REFERRER_POLICY", "%v", err)
	}
	if _, err := oneOf(COOPValues...)(s.COOP); err != nil {
		bad("CROSS_ORIGIN_OPENER_POLICY", "%v", err)
	}
	if _, err := oneOf(CORPValues...)(s.CORP); err != nil {
		bad("CROSS_ORIGIN_RESOURCE_POLICY", "%v", err)
	}
	if s.XFrameOptions != "DENY" && s.XFrameOptions != "SAMEORIGIN" {
		bad("X_FRAME_OPTIONS", "%q is not DENY or SAMEORIGIN", s.XFrameOptions)
	}
	if _, err := checkReportURI(s.CSPReportURI); err != nil {
		bad("CSP_REPORT_URI", "%v", err)
	}
	cookie := func(prefix, name string, secure bool, sameSite http.SameSite) {
		if _, err := checkCookieName(name); err != nil {
			bad(prefix+"_NAME", "%v", err)
		}
		if !secure && (strings.HasPrefix(name, "__Host-") || strings.HasPrefix(name, "__Secure-")) {
			bad(prefix+"_SECURE", "is false but the cookie name %q requires Secure (browsers would drop it)", name)
		}
		if !secure && sameSite == http.SameSiteNoneMode {
			bad(prefix+"_SAMESITE", "None requires a Secure cookie (browsers would drop it)")
		}
	}
	cookie("SESSION_COOKIE", s.SessionCookieName, s.SessionCookieSecure, s.SessionCookieSameSite)
	cookie("CSRF_COOKIE", s.CSRFCookieName, s.CSRFCookieSecure, s.CSRFCookieSameSite)
	if s.SessionIdleTimeout <= 0 || s.SessionAbsoluteTimeout <= 0 {
		bad("SESSION_IDLE_TIMEOUT", "session timeouts must be positive")
	} else if s.SessionIdleTimeout > s.SessionAbsoluteTimeout {
		bad("SESSION_IDLE_TIMEOUT", "%v is longer than RAMPART_SESSION_ABSOLUTE_TIMEOUT %v", s.SessionIdleTimeout, s.SessionAbsoluteTimeout)
	}
	if s.PasswordMinLength < 1 {
		bad("PASSWORD_MIN_LENGTH", "must be at least 1")
	}
	if s.LockoutLimit < 1 || s.LockoutCooloff <= 0 {
		bad("LOCKOUT_LIMIT", "lockout limit and cool-off must be positive")
	}
	if s.LoginRate.N < 1 || s.LoginRate.Per < 1 {
		bad("LOGIN_RATE", "must be a positive rate like 10/m")
	}
	if s.RequestRate.N < 1 || s.RequestRate.Per < 1 {
		bad("RATE", "must be a positive rate like 600/m")
	}
	if s.HSTSSeconds < 0 {
		bad("HSTS_SECONDS", "must not be negative")
	}
	if s.MaxBodyBytes < 1 {
		bad("MAX_BODY_BYTES", "must be positive")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("settings: refusing to start:\n%w", errors.Join(errs...))
}
