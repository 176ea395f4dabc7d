// Package check is rampart's `check --deploy`: it inspects an effective configuration
// (settings.Settings) and reports what makes it unsafe to deploy, with stable IDs.
//
// Run(s) returns the findings about the settings themselves; Live(ctx, s, timeout) asks each
// Redis the settings name whether it keeps its data across a restart, and greets the SMTP
// server of EMAIL_URL; Database(ctx, s, timeout) counts the users whose password hashes are still
// in a legacy Django algorithm (these are the checks that connect anywhere); Main is the `rampart check` command, all together unless --offline (text
// or --json output, exit code 1 when any error or warning is found). Errors are the conditions settings.Validate refuses
// at startup, so `rampart check` names them all at once instead of failing on the first; warnings
// are weaker choices that still run; info findings do not change the exit code.
//
// # Check IDs
//
// IDs never change meaning and are never reused. "Django" is the `manage.py check --deploy`
// check mirrored (django.md §1.14); "rampart" marks rampart's own.
//
//	| ID           | Severity | Django                      | Fires when                                                                 |
//	|--------------|----------|-----------------------------|----------------------------------------------------------------------------|
//	| RAMPART-E000 | error    | —                           | a variable cannot be read (bad value, unreadable _FILE, bad .env line): one finding each; the rest is checked as if it were unset, and findings naming it are dropped (an unreadable .env file: nothing else is checked) |
//	| RAMPART-E001 | error    | security.W009               | SECRET_KEY empty, < 50 chars, < 5 distinct chars, or django-insecure-/rampart-insecure- prefix |
//	| RAMPART-E002 | error    | security.W025               | an entry of SECRET_KEY_FALLBACKS is weak by the same rule (one finding per entry) |
//	| RAMPART-E003 | error    | rampart                     | DEBUG on and ADDR not loopback                                              |
//	| RAMPART-E004 | error    | rampart                     | INSECURE_DEV on and ADDR not loopback                                       |
//	| RAMPART-E005 | error    | security.W020               | ALLOWED_HOSTS empty                                                          |
//	| RAMPART-E006 | error    | security.E023               | REFERRER_POLICY has a value outside the 8 valid tokens                       |
//	| RAMPART-E007 | error    | security.E024               | CROSS_ORIGIN_OPENER_POLICY is not one of the 3 valid values                  |
//	| RAMPART-E008 | error    | 4_0.E001                    | a TRUSTED_ORIGINS entry has no scheme or is not an origin                   |
//	| RAMPART-E009 | error    | rampart                     | a __Host-/__Secure- cookie name or SameSite=None without Secure (browsers drop the cookie) |
//	| RAMPART-E010 | error    | rampart (cf. security.W019) | X_FRAME_OPTIONS is neither DENY nor SAMEORIGIN                               |
//	| RAMPART-E011 | error    | rampart                     | DATABASE_URL or REDIS_URL cannot be parsed                                   |
//	| RAMPART-W001 | warning  | security.W018               | DEBUG on                                                                     |
//	| RAMPART-W002 | warning  | rampart                     | INSECURE_DEV on                                                              |
//	| RAMPART-W003 | warning  | security.W004               | HSTS_SECONDS is 0                                                            |
//	| RAMPART-W004 | warning  | rampart                     | HSTS_SECONDS between 1 and 6 months (Observatory minimum)                    |
//	| RAMPART-W005 | warning  | security.W005               | HSTS on without INCLUDE_SUBDOMAINS                                           |
//	| RAMPART-W006 | warning  | security.W008               | SSL_REDIRECT off                                                             |
//	| RAMPART-W007 | warning  | security.W010/W011/W012     | SESSION_COOKIE_SECURE off                                                    |
//	| RAMPART-W008 | warning  | security.W016               | CSRF_COOKIE_SECURE off (and CSRF_USE_SESSIONS off)                           |
//	| RAMPART-W009 | warning  | security.W019               | X_FRAME_OPTIONS is SAMEORIGIN                                                |
//	| RAMPART-W010 | warning  | rampart                     | ALLOWED_HOSTS contains *                                                     |
//	| RAMPART-W011 | warning  | rampart                     | TRUSTED_PROXIES contains 0.0.0.0/0 or ::/0                                   |
//	| RAMPART-W012 | warning  | rampart                     | TRUSTED_PROXIES has a public range wider than /24 (IPv4) or /48 (IPv6)       |
//	| RAMPART-W013 | warning  | rampart                     | CSP_REPORT_ONLY on (policy not enforced)                                     |
//	| RAMPART-W014 | warning  | rampart                     | a TRUSTED_ORIGINS entry uses http:// on a non-loopback host                  |
//	| RAMPART-W015 | warning  | rampart                     | DATABASE_URL sends a password to a non-loopback host without TLS (sslmode=require/verify-*, rediss://) |
//	| RAMPART-W016 | warning  | rampart                     | REDIS_URL sends a password to a non-loopback host without rediss://          |
//	| RAMPART-W017 | warning  | rampart (cf. security.W022) | REFERRER_POLICY includes unsafe-url or no-referrer-when-downgrade            |
//	| RAMPART-W018 | warning  | rampart (cf. security.E024) | CROSS_ORIGIN_OPENER_POLICY is unsafe-none                                    |
//	| RAMPART-W019 | warning  | rampart                     | SESSION_IDLE_TIMEOUT > 1h or SESSION_ABSOLUTE_TIMEOUT > 24h (NIST AAL2)      |
//	| RAMPART-W020 | warning  | rampart                     | PASSWORD_MIN_LENGTH < 8 (NIST SP 800-63B)                                    |
//	| RAMPART-W021 | warning  | rampart                     | SESSION_COOKIE_SAMESITE is None                                              |
//	| RAMPART-W022 | warning  | rampart                     | HSTS_PRELOAD on but max-age < 1 year or no includeSubDomains                 |
//	| RAMPART-W023 | warning  | rampart                     | an unknown RAMPART_* variable is set (likely a typo)                         |
//	| RAMPART-W024 | warning  | rampart                     | DATABASE_URL is sqlite::memory: outside DEBUG/INSECURE_DEV (state lost on restart) |
//	| RAMPART-W025 | warning  | rampart (cf. security.W020) | ALLOWED_HOSTS unset with DEBUG or INSECURE_DEV on: only the localhost default is served, and without those modes it is empty (every request refused) |
//	| RAMPART-W030 | warning  | rampart                     | a Redis in DATABASE_URL or REDIS_URL is not known to keep an append-only file: no persistence, RDB snapshots only, CONFIG and INFO refused, or no connection (Live; `rampart serve` logs the same and, for a redis:// DATABASE_URL that keeps nothing or cannot tell, refuses to start in production); or INSECURE_REDIS_NO_PERSISTENCE is on (Run) |
//	| RAMPART-W050 | warning  | rampart                     | EMAIL_URL's server, not on a loopback address, offers no STARTTLS: the mailer refuses to send it the password or mail (live reset links) in clear, so no mail is delivered (Live) |
//	| RAMPART-W051 | warning  | rampart                     | EMAIL_URL's server cannot deliver: unreachable, TLS certificate not valid or not trusted, or no AUTH PLAIN/LOGIN for the URL's password (Live; greets the server, sends no credentials or mail) |
//	| RAMPART-W040 | warning  | rampart                     | users in DATABASE_URL still have a legacy Django password hash (md5, sha1, unsalted_md5, unsalted_sha1, crypt), counted by algorithm (Database, live: the users are read a page at a time; each such hash is upgraded at its user's next login) |
//	| RAMPART-W041 | warning  | rampart                     | the users in DATABASE_URL could not be read to count legacy hashes (Database, live)     |
//	| RAMPART-W042 | warning  | rampart                     | an active superuser in DATABASE_URL has no second factor (no TOTP device, no passkey): a phished password gives every permission (Database, live) |
//	| RAMPART-I001 | info     | security.W021               | HSTS on without PRELOAD (info, not warning: preloading is a commitment a tool should not push) |
//	| RAMPART-I002 | info     | rampart                     | no SECRET_KEY in development mode; a per-process random key is used          |
//
// Django checks with no meaning here, and why:
//
//	| Django                       | Why not applicable                                                         |
//	|------------------------------|----------------------------------------------------------------------------|
//	| security.W001, W002, W003    | rampart.New always installs the security-header, framing and CSRF layers   |
//	| security.W006                | X-Content-Type-Options: nosniff is always sent; there is no setting to turn it off |
//	| security.W013, W014, W015    | the session cookie is always HttpOnly; there is no setting to turn it off  |
//	| security.W022                | Referrer-Policy cannot be disabled (REFERRER_POLICY is required, default same-origin) |
//	| security.W026                | the CSP is built by typed Go code, not a settings dict                     |
//	| security.E101, E102          | the CSRF failure handler is a typed Go value; the compiler checks it       |
//	| security.W007, W017, E100    | removed from Django                                                        |
package check
