// Package settings loads rampart's configuration from RAMPART_* environment variables, an
// optional .env file and NAME_FILE indirections, and refuses unsafe production configurations.
//
// # Sources
//
// Each variable is looked up in the process environment first, then in the .env file (the
// environment wins). Any variable may instead be given as NAME_FILE, the path of a file holding
// the value (Docker and Kubernetes secrets); trailing newlines are trimmed, and setting both NAME
// and NAME_FILE is an error. An empty value counts as unset.
//
// .env lines are `[export ]KEY=value`; '#' starts a comment line; 'single quotes' keep the value
// raw; "double quotes" understand \n \r \t \" \\; unquoted values end at " #". A malformed line is
// an error, not skipped.
//
// Values are typed: a bad boolean, integer, duration, list item or URL is an error naming the
// variable. Booleans are 1/0, true/false, yes/no, on/off. Durations are Go durations (30m, 12h)
// or whole seconds. Rates are read by ratelimit.ParseRate ("10/m", "100/5m", "7/30"), with
// a count of at least 1. Lists are comma-separated. Load refuses to start on any such error;
// ParsePartial, for `rampart check`, returns each one and reads the rest, with every bad
// variable at its default.
//
// # Modes
//
// Production is the default. RAMPART_DEBUG=1 shows the detailed (still redacted) error page;
// RAMPART_INSECURE_DEV=1 serves plain HTTP: no HSTS, no HTTPS redirect, no Secure or __Host-
// cookies. Both are allowed only when RAMPART_ADDR is a loopback address, and both are reported
// by `rampart check`. With either on, an unset secret key is replaced by a random per-process key
// and ALLOWED_HOSTS defaults to localhost. In production (Debug off) Validate refuses a missing
// or weak secret key or fallback key and an empty ALLOWED_HOSTS.
//
// # Variables
//
// Defaults marked "dev:" apply when RAMPART_INSECURE_DEV is on (ALLOWED_HOSTS and SECRET_KEY:
// when RAMPART_DEBUG or RAMPART_INSECURE_DEV is on).
//
//	| Variable                              | Field                   | Type      | Default                                  | Django analogue                    |
//	|---------------------------------------|-------------------------|-----------|------------------------------------------|------------------------------------|
//	| RAMPART_DEBUG                         | Debug                   | bool      | false                                    | DEBUG                              |
//	| RAMPART_INSECURE_DEV                  | InsecureDev             | bool      | false                                    | (none)                             |
//	| RAMPART_SECRET_KEY                    | SecretKey               | secret    | required in production; dev: random      | SECRET_KEY                         |
//	| RAMPART_SECRET_KEY_FALLBACKS          | SecretKeyFallbacks      | list      | empty                                    | SECRET_KEY_FALLBACKS               |
//	| RAMPART_ADDR                          | Addr                    | host:port | 127.0.0.1:8000                           | (runserver address)                |
//	| RAMPART_ALLOWED_HOSTS                 | AllowedHosts            | list      | empty; dev: .localhost,127.0.0.1,[::1]   | ALLOWED_HOSTS                      |
//	| RAMPART_TRUSTED_PROXIES               | TrustedProxies          | CIDR list | empty (no proxy trusted)                 | SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST |
//	| RAMPART_PROXY_HEADER                  | ProxyHeader             | enum      | x-forwarded (or: forwarded)              | (none)                             |
//	| RAMPART_TRUSTED_ORIGINS               | TrustedOrigins          | list      | empty                                    | CSRF_TRUSTED_ORIGINS               |
//	| RAMPART_DATABASE_URL                  | DatabaseURL             | secret URL| sqlite://rampart.db                      | DATABASES (django-environ db_url)  |
//	| RAMPART_REDIS_URL                     | RedisURL                | secret URL| empty (not used)                         | CACHES (django-environ cache_url)  |
//	| RAMPART_STORE_TIMEOUT                 | StoreTimeout            | duration  | 2s (per store operation)                 | (OPTIONS connect/statement timeout)|
//	| RAMPART_RECENT_AUTH                   | RecentAuth              | duration  | 10m (accounts "sudo mode" window)        | (django-sudo SUDO_COOKIE_AGE)      |
//	| RAMPART_INSECURE_REDIS_NO_PERSISTENCE | InsecureRedisNoPersistence | bool   | false                                    | (none)                             |
//	| RAMPART_HSTS_SECONDS                  | HSTSSeconds             | int       | 31536000; dev: 0                         | SECURE_HSTS_SECONDS (default 0)    |
//	| RAMPART_HSTS_INCLUDE_SUBDOMAINS       | HSTSIncludeSubdomains   | bool      | true                                     | SECURE_HSTS_INCLUDE_SUBDOMAINS     |
//	| RAMPART_HSTS_PRELOAD                  | HSTSPreload             | bool      | false                                    | SECURE_HSTS_PRELOAD                |
//	| RAMPART_SSL_REDIRECT                  | SSLRedirect             | bool      | true; dev: false                         | SECURE_SSL_REDIRECT (default False)|
//	| RAMPART_SSL_HOST                      | SSLHost                 | host:port | empty (the request's own host)           | SECURE_SSL_HOST                    |
//	| RAMPART_REFERRER_POLICY               | ReferrerPolicy          | list      | same-origin                              | SECURE_REFERRER_POLICY             |
//	| RAMPART_CROSS_ORIGIN_OPENER_POLICY    | COOP                    | enum      | same-origin                              | SECURE_CROSS_ORIGIN_OPENER_POLICY  |
//	| RAMPART_CROSS_ORIGIN_RESOURCE_POLICY  | CORP                    | enum      | same-origin                              | (none)                             |
//	| RAMPART_X_FRAME_OPTIONS               | XFrameOptions           | enum      | DENY (or SAMEORIGIN)                     | X_FRAME_OPTIONS                    |
//	| RAMPART_CSP_REPORT_ONLY               | CSPReportOnly           | bool      | false                                    | SECURE_CSP_REPORT_ONLY             |
//	| RAMPART_CSP_REPORT_URI                | CSPReportURI            | path/URL  | /csp-report                              | (report-uri directive)             |
//	| RAMPART_SESSION_COOKIE_NAME           | SessionCookieName       | string    | __Host-rampart_session; dev: rampart_session | SESSION_COOKIE_NAME            |
//	| RAMPART_SESSION_COOKIE_SECURE         | SessionCookieSecure     | bool      | true; dev: false                         | SESSION_COOKIE_SECURE (default False) |
//	| RAMPART_SESSION_COOKIE_SAMESITE       | SessionCookieSameSite   | enum      | Lax (or Strict, None)                    | SESSION_COOKIE_SAMESITE            |
//	| RAMPART_SESSION_IDLE_TIMEOUT          | SessionIdleTimeout      | duration  | 30m (ASVS L2 / OWASP)                    | SESSION_COOKIE_AGE (2 weeks)       |
//	| RAMPART_SESSION_ABSOLUTE_TIMEOUT      | SessionAbsoluteTimeout  | duration  | 12h (ASVS L2; NIST AAL2 ≤ 24h)           | (none)                             |
//	| RAMPART_CSRF_COOKIE_NAME              | CSRFCookieName          | string    | __Host-rampart_csrf; dev: rampart_csrf   | CSRF_COOKIE_NAME                   |
//	| RAMPART_CSRF_COOKIE_SECURE            | CSRFCookieSecure        | bool      | true; dev: false                         | CSRF_COOKIE_SECURE (default False) |
//	| RAMPART_CSRF_COOKIE_SAMESITE          | CSRFCookieSameSite      | enum      | Lax                                      | CSRF_COOKIE_SAMESITE               |
//	| RAMPART_CSRF_COOKIE_AGE               | CSRFCookieAge           | duration  | 8736h (52 weeks)                         | CSRF_COOKIE_AGE                    |
//	| RAMPART_CSRF_USE_SESSIONS             | CSRFUseSessions         | bool      | false                                    | CSRF_USE_SESSIONS                  |
//	| RAMPART_CSRF_FIELD_NAME               | CSRFFieldName           | string    | csrf_token (csrfmiddlewaretoken is read too) | csrfmiddlewaretoken (fixed)    |
//	| RAMPART_CSRF_HEADER_NAME              | CSRFHeaderName          | header    | X-CSRF-Token (X-CSRFToken is read too)   | CSRF_HEADER_NAME                   |
//	| RAMPART_PASSWORD_MIN_LENGTH           | PasswordMinLength       | int ≥ 1   | 12                                       | MinimumLengthValidator (8)         |
//	| RAMPART_PASSWORD_RESET_TIMEOUT        | PasswordResetTimeout    | duration  | 72h (Django: 3 days)                     | PASSWORD_RESET_TIMEOUT (3 days)    |
//	| RAMPART_LOCKOUT_LIMIT                 | LockoutLimit            | int ≥ 1   | 5                                        | AXES_FAILURE_LIMIT (3)             |
//	| RAMPART_LOCKOUT_COOLOFF               | LockoutCooloff          | duration  | 15m                                      | AXES_COOLOFF_TIME                  |
//	| RAMPART_LOGIN_RATE                    | LoginRate               | rate      | 10/m (per client IP)                     | django-ratelimit rate              |
//	| RAMPART_RATE                          | RequestRate             | rate      | 600/m (all requests, per client IP)      | (none)                             |
//	| RAMPART_TOTP_ISSUER                   | TOTPIssuer              | string    | rampart                                  | OTP_TOTP_ISSUER                    |
//	| RAMPART_READ_HEADER_TIMEOUT           | ReadHeaderTimeout       | duration  | 5s                                       | (server)                           |
//	| RAMPART_READ_TIMEOUT                  | ReadTimeout             | duration  | 30s                                      | (server)                           |
//	| RAMPART_WRITE_TIMEOUT                 | WriteTimeout            | duration  | 60s                                      | (server)                           |
//	| RAMPART_IDLE_TIMEOUT                  | IdleTimeout             | duration  | 120s                                     | (server)                           |
//	| RAMPART_MAX_BODY_BYTES                | MaxBodyBytes            | int ≥ 1   | 2621440 (2.5 MiB)                        | DATA_UPLOAD_MAX_MEMORY_SIZE        |
//	| RAMPART_BODY_TIMEOUT                  | BodyTimeout             | duration  | 10s (+1s per BODY_MIN_RATE bytes)        | (nginx client_body_timeout)        |
//	| RAMPART_BODY_MIN_RATE                 | BodyMinRate             | int ≥ 0   | 4096 (bytes/s; 0: no extension)          | (Apache mod_reqtimeout MinRate)    |
//	| RAMPART_MAX_CONNS_PER_IP              | MaxConnsPerIP           | int ≥ 0   | 256 (0: no cap; proxies exempt)          | (nginx limit_conn)                 |
//	| RAMPART_EMAIL_URL                     | EmailURL                | secret URL| empty (no mail sent; dev: links logged)  | EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER/PASSWORD, EMAIL_USE_TLS/SSL (django-environ email_url) |
//	| RAMPART_EMAIL_FROM                    | EmailFrom               | address   | webmaster@localhost                      | DEFAULT_FROM_EMAIL                 |
//	| RAMPART_METRICS_ADDR                  | MetricsAddr             | host:port | empty (no metrics; ":9464" = loopback)   | (none; django-prometheus)          |
//
// DATABASE_URL accepts sqlite://rampart.db (relative path), sqlite:///var/lib/rampart.db
// (absolute), sqlite::memory:, file:rampart.db, a bare path, postgres:// or postgresql://
// URLs, and redis:// or rediss:// to keep everything in Redis (which must then persist: in
// production the server refuses to start on a Redis without an append-only file or snapshots,
// or whose persistence it cannot read, unless RAMPART_INSECURE_REDIS_NO_PERSISTENCE is on;
// see docs/SCALING.md). A SQLite URL may add ?session_cache=off (several processes writing
// sessions to one file) and ?session_write_delay=DURATION (0: commit every session update
// before the response; default 10ms, see store/sqlite's Options.SyncSessionWrites). REDIS_URL accepts redis://, rediss:// (TLS) and unix://,
// redis+sentinel://[[user]:pw@]h1[:26379],h2/MASTER[/DB] (a Sentinel group's master) and
// redis+cluster://[[user]:pw@]h1[:6379],h2 (Redis Cluster), as does a Redis DATABASE_URL; see
// ParseRedisURL and docs/SCALING.md.
//
// The four server timeouts, BODY_TIMEOUT, BODY_MIN_RATE and MAX_CONNS_PER_IP are applied by
// package server (server.New and server.Run; Stack.Serve and `rampart serve` use them); an
// application that builds its own http.Server sets its own. The last three bound slow clients:
// a request body must arrive within BODY_TIMEOUT, extended by one second per BODY_MIN_RATE bytes received and never
// beyond READ_TIMEOUT; a small body (a form) that does not is answered 408 before any handler
// runs. MAX_CONNS_PER_IP caps the connections open at once from one address (IPv6: one /64);
// past it new connections are closed at once. Connections from TRUSTED_PROXIES are not capped
// (every client behind a proxy shares its address): cap per client at the proxy, which should
// also buffer request bodies (nginx does by default). See docs/SCALING.md.
//
// EMAIL_URL names the SMTP server that sends password-reset mail (package mail):
// smtp://user:password@host:587 upgrades with STARTTLS, which is required unless the server's
// address is loopback (no password or message leaves the machine in clear);
// smtps://user:password@host uses TLS from the first byte (port 465). User and password are
// percent-encoded; no path, query or fragment is accepted. The certificate is verified against
// the host with the system's roots (SSL_CERT_FILE, SSL_CERT_DIR). Mail goes through a background
// queue, so requests never wait for the server and a reset request answers alike whether or not
// the address has an account; failed deliveries are logged. Unset, mail is kept in memory only:
// in production rampart.New logs a warning, and in debug or development mode it writes each
// message's links (reset, confirmation) to the log so that every flow can be finished locally.
// `rampart check` connects to the server (unless --offline) and reports RAMPART-W050 when it
// speaks only plain SMTP, so that the password and mail would not be sent, and RAMPART-W051 when
// it cannot be used at all (unreachable, certificate not trusted, no usable AUTH).
//
// STORE_TIMEOUT bounds every store operation a request waits for (loading the session, a
// lockout or rate-limit counter, a user, a comment...), on every backend: a store that does
// not answer within it fails the operation, and the request gets 503 with nothing allowed
// (no login, no page that needs the session), instead of waiting until a frozen database
// comes back. The default, 2s, is far above a healthy store's slowest moments (a round trip
// is well under a millisecond on a LAN, a new TLS connection tens of milliseconds, a
// saturated connection pool's queue some hundreds), so a load spike does not turn into
// errors; and far below what proxies, load balancers and browsers wait (30 to 60 s and more),
// so users get a prompt 503 rather than a gateway timeout, and a hung store holds few
// goroutines and connections. The first operation that times out ends the request, so a
// request waits about one timeout; /healthz is bounded by it too. Lower
// it for a local store when a fast failure matters more than riding out slow moments; keep
// it below the client's and the proxy's timeouts, or requests they abandon first are logged
// as cancelled (at debug level) instead of as store failures. On SQLite it also caps the wait
// for another process's write lock (busy_timeout, 10 s) for requests.
//
// CSRF_FIELD_NAME is the form field csrf.TemplateField renders; CSRF_HEADER_NAME is one more
// header the token is read from. Tokens are always read from the fields csrf_token and
// csrfmiddlewaretoken and the headers X-CSRF-Token and X-CSRFToken as well, so a site sharing
// its domain with Django sets CSRF_FIELD_NAME=csrfmiddlewaretoken (Django reads only that
// field) and CSRF_COOKIE_NAME=csrftoken (see docs/FROM-DJANGO.md).
//
// Not configurable on purpose (always on): X-Content-Type-Options nosniff, HttpOnly session
// cookies. RAMPART_TEST_* variables configure test suites and are ignored; any other unknown
// RAMPART_* variable is listed in Settings.Unknown and reported by `rampart check`.
//
// # Secrets
//
// SecretKey, SecretKeyFallbacks, DatabaseURL, RedisURL and EmailURL have type Secret, which prints, logs
// and marshals as a mask; Settings itself prints redacted (String, LogValue, MarshalJSON), and
// Redacted lists every variable with secrets masked.
package settings
