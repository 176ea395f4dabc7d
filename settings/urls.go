package settings

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Database is a parsed RAMPART_DATABASE_URL. store/open opens what it describes, so a URL
// that passes here is one the server can open.
type Database struct {
	// Driver is "sqlite", "postgres" or "redis" (everything in Redis).
	Driver string
	// DSN is the SQLite file path (":memory:" for the in-process memory store), or the URL
	// itself for PostgreSQL (pgx reads postgres:// and postgresql://) and Redis.
	DSN string
	// Host is the server host name without port; "" for SQLite and Unix sockets.
	Host string
	// Password reports whether the URL carries a password.
	Password bool
	// TLS reports whether the connection is required to use TLS (sslmode require/verify-*,
	// rediss://).
	TLS bool
	// SQLite options, from the URL's query: session_cache=off sets SQLiteNoSessionCache;
	// session_write_delay=D sets SQLiteWriteDelay, and =0 sets SQLiteSyncWrites instead.
	SQLiteNoSessionCache bool
	SQLiteWriteDelay     time.Duration
	SQLiteSyncWrites     bool
}

// ParseDatabaseURL reads sqlite://path, sqlite:///abs/path, sqlite::memory:, file:path, a bare
// file path (SQLite, with rampart's options session_cache and session_write_delay in the
// query; SQLite's own pragmas are refused because the store sets them), postgres:// and
// postgresql:// URLs, and redis:// or rediss:// to keep everything in Redis.
func ParseDatabaseURL(raw string) (Database, error) {
	raw = strings.TrimSpace(raw)
	lower := strings.ToLower(raw)
	switch {
	case raw == "":
		return Database{}, errors.New("is empty")
	case strings.HasPrefix(lower, "sqlite:"):
		return parseSQLite(strings.TrimPrefix(raw[len("sqlite:"):], "//"))
	case strings.HasPrefix(lower, "file:"):
		return parseSQLite(strings.TrimPrefix(raw[len("file:"):], "//"))
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil {
			return Database{}, errors.New("is not a valid postgres URL")
		}
		q := u.Query()
		_, hasPass := u.User.Password()
		host := u.Hostname()
		if h := q.Get("host"); host == "" && h != "" {
			host = h
		}
		if strings.HasPrefix(host, "/") {
			host = "" // Unix socket directory
		}
		mode := q.Get("sslmode")
		return Database{
			Driver:   "postgres",
			DSN:      raw,
			Host:     host,
			Password: hasPass || q.Get("password") != "",
			TLS:      mode == "require" || mode == "verify-ca" || mode == "verify-full",
		}, nil
	case strings.HasPrefix(lower, "redis://"), strings.HasPrefix(lower, "rediss://"):
		r, err := ParseRedisURL(raw)
		if err != nil {
			return Database{}, err
		}
		return Database{Driver: "redis", DSN: raw, Host: r.Host, Password: r.Password, TLS: r.TLS}, nil
	case strings.Contains(raw, "://"):
		return Database{}, fmt.Errorf("unsupported database scheme in %q (use sqlite://, postgres:// or redis://)", RedactURL(raw))
	}
	return parseSQLite(raw) // a bare path
}

// parseSQLite reads a SQLite file path and rampart's options after "?".
func parseSQLite(p string) (Database, error) {
	p, query, hasQuery := strings.Cut(p, "?")
	d := Database{Driver: "sqlite", DSN: p}
	switch {
	case p == "":
		return Database{}, errors.New("sqlite URL has no file path (sqlite://rampart.db or sqlite:///abs/path.db)")
	case strings.Contains(p, "#") || strings.Contains(query, "#"):
		return Database{}, fmt.Errorf("sqlite URL %q has a fragment", p)
	case p == ":memory:" && hasQuery:
		return Database{}, errors.New("sqlite::memory: takes no options")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Database{}, fmt.Errorf("sqlite options %q: %v", query, err)
	}
	for name, vals := range q {
		v := vals[len(vals)-1]
		switch name {
		case "session_cache":
			if v != "on" && v != "off" {
				return Database{}, fmt.Errorf("sqlite option session_cache=%q: want on or off", v)
			}
			d.SQLiteNoSessionCache = v == "off"
		case "session_write_delay":
			dur, err := time.ParseDuration(v) // "0" needs no unit
			if err != nil || dur < 0 {
				return Database{}, fmt.Errorf("sqlite option session_write_delay=%q: want a duration such as 10ms, or 0", v)
			}
			d.SQLiteWriteDelay, d.SQLiteSyncWrites = dur, dur == 0
		default:
			return Database{}, fmt.Errorf("sqlite option %q is not supported (rampart sets WAL mode and a busy timeout itself; it knows session_cache and session_write_delay)", name)
		}
	}
	return d, nil
}

// Redis is a parsed RAMPART_REDIS_URL.
type Redis struct {
	// Host is the server host name without port; "" for a Unix socket.
	Host string
	// Password reports whether the URL carries a password.
	Password bool
	// TLS reports a rediss:// URL.
	TLS bool
}

// ParseRedisURL reads redis://, rediss:// (TLS) and unix:// URLs.
func ParseRedisURL(raw string) (Redis, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Redis{}, errors.New("is not a valid URL")
	}
	_, hasPass := u.User.Password()
	hasPass = hasPass || u.Query().Get("password") != ""
	switch strings.ToLower(u.Scheme) {
	case "redis", "rediss":
		if u.Host == "" {
			return Redis{}, errors.New("has no host (redis://host:6379/0)")
		}
		return Redis{Host: u.Hostname(), Password: hasPass, TLS: u.Scheme == "rediss"}, nil
	case "unix":
		return Redis{Password: hasPass}, nil
	}
	return Redis{}, fmt.Errorf("unsupported scheme in %q (use redis://, rediss:// or unix://)", RedactURL(raw))
}

// RedactURL masks the password of a URL (user-info or password= query parameter); other text is
// returned unchanged.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		if strings.Contains(raw, "@") {
			return Mask // unparsable but may hold credentials
		}
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Mask)
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", Mask)
		u.RawQuery = q.Encode()
	}
	// The URL encoder escapes the stars; show them plainly.
	return strings.ReplaceAll(u.String(), strings.Repeat("%2A", len(Mask)), Mask)
}

func urlPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if p, ok := u.User.Password(); ok {
		return p
	}
	return u.Query().Get("password")
}

// IsLoopbackHost reports whether host (a name or address, without port) can only be reached
// from this machine: "localhost", *.localhost, loopback addresses, or "" (a Unix socket).
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.Trim(strings.ToLower(host), "[]"), ".")
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// IsLoopbackAddr reports whether a listen address (host:port) binds only loopback interfaces.
// An empty host (":8000") binds every interface and is not loopback.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	return IsLoopbackHost(host)
}
