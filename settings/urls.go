package settings

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
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
// postgresql:// URLs, and redis://, rediss:// or a Sentinel URL (redis+sentinel://, see
// ParseRedisURL) to keep everything in Redis.
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
	case strings.HasPrefix(lower, "redis://"), strings.HasPrefix(lower, "rediss://"),
		strings.HasPrefix(lower, "redis+sentinel://"), strings.HasPrefix(lower, "rediss+sentinel://"),
		strings.HasPrefix(lower, "redis+cluster://"), strings.HasPrefix(lower, "rediss+cluster://"):
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
	// TLS reports a rediss:// or rediss+sentinel:// URL.
	TLS bool
	// Sentinel is set for a redis+sentinel:// or rediss+sentinel:// URL: the client asks
	// these sentinels where the master is, and asks again after a failover. Host is then the
	// first sentinel's host that is not loopback (else the first), for checks that warn
	// about passwords sent in clear.
	Sentinel *Sentinel
	// Cluster is set for a redis+cluster:// or rediss+cluster:// URL; Host is chosen as for
	// Sentinel.
	Cluster *Cluster
}

// Sentinel is the Sentinel part of a parsed Redis URL.
type Sentinel struct {
	// Addrs are the sentinels' host:port (port 26379 when the URL gives none), in URL order.
	Addrs []string
	// MasterName is the name the sentinels monitor the master under (sentinel monitor NAME).
	MasterName string
	// DB is the database number (0 when the URL gives none).
	DB int
	// Username and Password authenticate to the master and replicas (the URL's user info).
	Username, Password string
	// SentinelUsername and SentinelPassword authenticate to the sentinels themselves, when
	// they require it (query parameters sentinel_username and sentinel_password).
	SentinelUsername, SentinelPassword string
}

// DefaultSentinelPort is the port of a sentinel address given without one.
const DefaultSentinelPort = "26379"

// Cluster is the Redis Cluster part of a parsed Redis URL.
type Cluster struct {
	// Addrs are some of the cluster's nodes, host:port (port 6379 when the URL gives none):
	// the client learns the others and the slot map from them.
	Addrs []string
	// Username and Password authenticate to every node (the URL's user info).
	Username, Password string
}

// DefaultClusterPort is the port of a cluster node address given without one.
const DefaultClusterPort = "6379"

// ParseRedisURL reads redis://, rediss:// (TLS) and unix:// URLs, and Sentinel URLs:
//
//	redis+sentinel://[[user]:password@]host1[:26379][,host2[:26379]...]/MASTERNAME[/DB][?sentinel_username=U&sentinel_password=P]
//
// (rediss+sentinel:// for TLS to sentinels and servers alike). The user info authenticates to
// the master and replicas; sentinel_username and sentinel_password to the sentinels. And
// Redis Cluster URLs, listing some of the cluster's nodes (database 0 only):
//
//	redis+cluster://[[user]:password@]host1[:6379][,host2[:6379]...][/0]
func ParseRedisURL(raw string) (Redis, error) {
	raw = strings.TrimSpace(raw)
	if scheme, _, ok := strings.Cut(raw, "://"); ok {
		switch strings.ToLower(scheme) {
		case "redis+sentinel", "rediss+sentinel":
			return parseSentinelURL(raw)
		case "redis+cluster", "rediss+cluster":
			return parseClusterURL(raw)
		}
	}
	u, err := url.Parse(raw)
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
	return Redis{}, fmt.Errorf("unsupported scheme in %q (use redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://)", RedactURL(raw))
}

// multiHost reads a URL whose authority lists several host[:port] (defaultPort when none),
// which net/url does not take when one is an IPv6 literal: the host list is cut out by hand and
// the rest (user info, path, query) parsed by net/url around a placeholder host. r has Host
// (the first host that is not loopback, else the first), Password and TLS (a scheme ending in
// "s+KIND") set.
func multiHost(raw, kind, defaultPort string) (r Redis, addrs []string, user, pass string, u *url.URL, err error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostlist := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hostlist = authority[:at+1], authority[at+1:]
	}
	u, err = url.Parse(scheme + "://" + userinfo + "hosts" + tail)
	if err != nil {
		return r, nil, "", "", nil, errors.New("is not a valid URL")
	}
	if u.Fragment != "" {
		return r, nil, "", "", nil, fmt.Errorf("%s URL has a fragment", kind)
	}
	user = u.User.Username()
	pass, _ = u.User.Password()
	r = Redis{TLS: strings.EqualFold(scheme, "rediss+"+kind), Password: pass != ""}
	if hostlist == "" {
		return r, nil, "", "", nil, fmt.Errorf("%s URL has no address (redis+%[1]s://host1:%s,host2:%[2]s/…)", kind, defaultPort)
	}
	for _, a := range strings.Split(hostlist, ",") {
		host, port := a, defaultPort
		if h, p, err := net.SplitHostPort(a); err == nil {
			host, port = h, p
		} else if strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]") {
			host = a[1 : len(a)-1]
		}
		n, err := strconv.Atoi(port)
		if host == "" || strings.ContainsAny(host, "[]/@ ") || err != nil || n < 1 || n > 65535 {
			return r, nil, "", "", nil, fmt.Errorf("%s address %q is not host[:port]", kind, a)
		}
		addrs = append(addrs, net.JoinHostPort(host, port))
		if r.Host == "" || (IsLoopbackHost(r.Host) && !IsLoopbackHost(host)) {
			r.Host = host
		}
	}
	return r, addrs, user, pass, u, nil
}

// parseSentinelURL reads a redis+sentinel:// URL.
func parseSentinelURL(raw string) (Redis, error) {
	r, addrs, user, pass, u, err := multiHost(raw, "sentinel", DefaultSentinelPort)
	if err != nil {
		return Redis{}, err
	}
	sn := &Sentinel{Addrs: addrs, Username: user, Password: pass}
	r.Sentinel = sn
	path := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(path) > 2 || path[0] == "" {
		return Redis{}, errors.New("sentinel URL path must be /MASTERNAME or /MASTERNAME/DB")
	}
	sn.MasterName = path[0]
	if len(path) == 2 {
		db, err := strconv.Atoi(path[1])
		if err != nil || db < 0 {
			return Redis{}, fmt.Errorf("sentinel URL database %q is not a number", path[1])
		}
		sn.DB = db
	}
	for name, vals := range u.Query() {
		switch name {
		case "sentinel_username":
			sn.SentinelUsername = vals[len(vals)-1]
		case "sentinel_password":
			sn.SentinelPassword = vals[len(vals)-1]
			r.Password = r.Password || sn.SentinelPassword != ""
		default:
			return Redis{}, fmt.Errorf("sentinel URL option %q is not supported (sentinel_username, sentinel_password)", name)
		}
	}
	return r, nil
}

// parseClusterURL reads a redis+cluster:// URL.
func parseClusterURL(raw string) (Redis, error) {
	r, addrs, user, pass, u, err := multiHost(raw, "cluster", DefaultClusterPort)
	if err != nil {
		return Redis{}, err
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" && p != "0" {
		return Redis{}, errors.New("cluster URL path must be empty or /0 (Redis Cluster has only database 0)")
	}
	if u.RawQuery != "" || u.ForceQuery {
		return Redis{}, errors.New("cluster URL takes no options")
	}
	r.Cluster = &Cluster{Addrs: addrs, Username: user, Password: pass}
	return r, nil
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
	if q.Has("password") || q.Has("sentinel_password") {
		for _, k := range []string{"password", "sentinel_password"} {
			if q.Has(k) {
				q.Set(k, Mask)
			}
		}
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
