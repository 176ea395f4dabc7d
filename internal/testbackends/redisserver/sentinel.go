package redisserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Sentinel failure detection in the groups started here: a master that does not answer for
// DownAfter is subjectively down; a failover that stalls is retried after twice FailoverTimeout.
// Short, so that a failover test takes seconds, not the production default of 30 s.
const (
	DownAfter       = time.Second
	FailoverTimeout = 5 * time.Second
)

// Group is a Sentinel setup on loopback: a master, its replicas and the sentinels that
// watch them under Name.
type Group struct {
	Name      string
	Master    *Server
	Replicas  []*Server
	Sentinels []*Server
}

// StartGroup starts a master and replicas replicas of it (each with args, for example
// "--appendonly", "yes"), waits until every replica has synced, then starts sentinels
// sentinels with quorum quorum (at most sentinels) and waits until each one sees every replica
// and every other sentinel, so that a failover can start as soon as the master fails.
// Everything is killed when the test ends. The sentinels run redis-server --sentinel (the
// redis-sentinel binary is the same program).
func StartGroup(t testing.TB, name string, replicas, sentinels, quorum int, args ...string) *Group {
	t.Helper()
	g := &Group{Name: name, Master: Start(t, args...)}
	for range replicas {
		r := Start(t, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(g.Master.Port)}, args...)...)
		g.Replicas = append(g.Replicas, r)
	}
	for _, r := range g.Replicas {
		WaitFor(t, 30*time.Second, "replica on port "+strconv.Itoa(r.Port)+" in sync", func(ctx context.Context) (bool, error) {
			info, err := r.Client().Info(ctx, "replication").Result()
			return strings.Contains(info, "master_link_status:up"), err
		})
	}
	for range sentinels {
		g.Sentinels = append(g.Sentinels, startSentinel(t, name, g.Master.Port, quorum))
	}
	for _, s := range g.Sentinels {
		WaitFor(t, 60*time.Second, "sentinel on port "+strconv.Itoa(s.Port)+" sees the group", func(ctx context.Context) (bool, error) {
			m, err := s.SentinelClient().Master(ctx, name).Result()
			if err != nil {
				return false, err
			}
			return m["num-slaves"] == strconv.Itoa(replicas) && m["num-other-sentinels"] == strconv.Itoa(sentinels-1), nil
		})
	}
	return g
}

// URL is the group's redis+sentinel:// URL, database 0.
func (g *Group) URL() string {
	addrs := make([]string, len(g.Sentinels))
	for i, s := range g.Sentinels {
		addrs[i] = "127.0.0.1:" + strconv.Itoa(s.Port)
	}
	return "redis+sentinel://" + strings.Join(addrs, ",") + "/" + g.Name + "/0"
}

// MasterPort asks the first sentinel that answers which port the master is on now.
func (g *Group) MasterPort(ctx context.Context) (int, error) {
	var last error
	for _, s := range g.Sentinels {
		a, err := s.SentinelClient().GetMasterAddrByName(ctx, g.Name).Result()
		if err != nil {
			last = err
			continue
		}
		return strconv.Atoi(a[1])
	}
	return 0, last
}

// Client returns a client on the server (one second timeouts, no retries), kept until Kill
// closes it.
func (s *Server) Client() *goredis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port),
			DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	}
	return s.client
}

// SentinelClient returns a Sentinel-command client on the server (a sentinel), kept until
// Kill closes it.
func (s *Server) SentinelClient() *goredis.SentinelClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sentinel == nil {
		s.sentinel = goredis.NewSentinelClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port),
			DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	}
	return s.sentinel
}

func startSentinel(t testing.TB, name string, masterPort, quorum int) *Server {
	t.Helper()
	s := &Server{Port: freePort(t), Dir: t.TempDir(), bin: Binary(t)}
	s.conf = filepath.Join(s.Dir, "sentinel.conf")
	conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d %[3]d\n"+
		"sentinel down-after-milliseconds %[1]s %[4]d\n"+
		"sentinel failover-timeout %[1]s %[5]d\n"+
		"sentinel parallel-syncs %[1]s 1\n",
		name, masterPort, quorum, DownAfter.Milliseconds(), FailoverTimeout.Milliseconds())
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	t.Cleanup(func() { s.Kill(t) })
	return s
}

// WaitFor polls cond (each call bounded by one second) until it reports true, failing the
// test with what and the last error when limit passes first. It is for waiting on real
// external processes (replication, sentinels), where no event can be awaited instead.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ok, err := cond(ctx)
		cancel()
		if ok {
			return
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last error: %v)", what, limit, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
