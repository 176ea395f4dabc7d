package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/settings"
)

// IsSentinelURL reports whether url names a Sentinel group (redis+sentinel:// or
// rediss+sentinel://) rather than one server.
func IsSentinelURL(url string) bool {
	scheme, _, ok := strings.Cut(strings.TrimSpace(url), "://")
	scheme = strings.ToLower(scheme)
	return ok && (scheme == "redis+sentinel" || scheme == "rediss+sentinel")
}

// IsClusterURL reports whether url names a Redis Cluster (redis+cluster:// or
// rediss+cluster://).
func IsClusterURL(url string) bool {
	scheme, _, ok := strings.Cut(strings.TrimSpace(url), "://")
	scheme = strings.ToLower(scheme)
	return ok && (scheme == "redis+cluster" || scheme == "rediss+cluster")
}

// newClient returns a client for url: one server (redis://, rediss://, unix://, read by
// go-redis's ParseURL) or the master of a Sentinel group (redis+sentinel://, read by
// settings.ParseRedisURL so that what the settings accept is what opens). The failover client
// asks the sentinels for the master on every new connection and drops its connections when they
// announce a new one, so the store follows a failover without being reopened. probe > 0 bounds
// the dial and each command by probe and turns retries off (ProbeURL); otherwise the store's
// deadline hook bounds each operation.
func newClient(url string, probe time.Duration) (goredis.UniversalClient, error) {
	url = strings.TrimSpace(url)
	if !IsSentinelURL(url) && !IsClusterURL(url) {
		o, err := goredis.ParseURL(url)
		if err != nil {
			var ue *neturl.Error
			if errors.As(err, &ue) {
				err = ue.Err // without the URL, which may hold a password
			}
			return nil, fmt.Errorf("redis: bad URL: %w", err)
		}
		// Without it go-redis ignores the context's deadline for socket reads and writes
		// (ReadTimeout, default 5 s, applies instead, and again on each retry).
		o.ContextTimeoutEnabled = true
		if probe > 0 {
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout = probe, probe, probe
			o.MaxRetries = -1
			o.DialerRetries = 1 // one dial attempt: a refused connection is the answer
			o.PoolSize = 1
		}
		return goredis.NewClient(o), nil
	}
	r, err := settings.ParseRedisURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: bad URL: %w", err)
	}
	var tlsConfig *tls.Config
	if r.TLS {
		// No ServerName: crypto/tls takes it from each address dialled (sentinels, then
		// whichever server is master; each cluster node).
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cl := r.Cluster; cl != nil {
		o := &goredis.ClusterOptions{Addrs: cl.Addrs, Username: cl.Username, Password: cl.Password,
			ContextTimeoutEnabled: true, TLSConfig: tlsConfig}
		if probe > 0 {
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout = probe, probe, probe
			o.MaxRetries = -1
			o.DialerRetries = 1
			o.PoolSize = 1
		}
		cc := goredis.NewClusterClient(o)
		cc.AddHook(reloadOnFailure{cc})
		return cc, nil
	}
	sn := r.Sentinel
	o := &goredis.FailoverOptions{
		MasterName: sn.MasterName, SentinelAddrs: sn.Addrs,
		SentinelUsername: sn.SentinelUsername, SentinelPassword: sn.SentinelPassword,
		Username: sn.Username, Password: sn.Password, DB: sn.DB,
		ContextTimeoutEnabled: true,
	}
	o.TLSConfig = tlsConfig
	if probe > 0 {
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = probe, probe, probe
		o.MaxRetries = -1
		o.DialerRetries = 1
		o.PoolSize = 1
	}
	return goredis.NewFailoverClient(o), nil
}

// reloadOnFailure asks a cluster client to reload its slot map whenever a command or pipeline
// fails with anything but a reply from Redis (a refused connection, a timeout). go-redis reloads
// it on MOVED replies and otherwise only every ClusterStateReloadInterval (a minute): after the
// master of a slot dies, every command for that slot would keep going to the dead address for up
// to a minute, although the cluster promoted its replica within seconds. Reloads are coalesced
// by go-redis (one at a time, 200 ms apart).
type reloadOnFailure struct{ c *goredis.ClusterClient }

func (h reloadOnFailure) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h reloadOnFailure) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.after(err)
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		h.after(err)
		return err
	}
}

func (h reloadOnFailure) after(err error) {
	if err != nil && !isServerError(err) {
		h.c.ReloadState(context.Background())
	}
}
