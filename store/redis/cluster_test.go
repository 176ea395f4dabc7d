package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/comments/commentstest"
	"github.com/rampart-go/rampart/internal/testbackends/redisserver"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/redis"
	"github.com/rampart-go/rampart/store/storetest"
)

// The whole conformance suite passes on a 3-master Redis Cluster, each store under its own
// hash-tagged prefix (so each store's keys share one slot, and different stores land on
// different masters).
func TestClusterConformance(t *testing.T) {
	c := redisserver.StartCluster(t, 3, 0)
	t.Log("conformance: redis over Cluster (" + c.URL() + ")")
	newStore := func(t *testing.T) store.Store {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		s, err := redis.Open(context.Background(), c.URL(), redis.Options{KeyPrefix: "rampart-test:{" + hex.EncodeToString(b) + "}:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.Run(t, newStore)
	commentstest.Run(t, newStore)
}

// A prefix without a hash tag is refused on Cluster: its scripts' keys would hash to
// different slots.
func TestClusterPrefixNeedsHashTag(t *testing.T) {
	c := redisserver.StartCluster(t, 3, 0)
	ctx := context.Background()
	for _, p := range []string{"rampart:", "{}:", "a{b"} {
		if s, err := redis.Open(ctx, c.URL(), redis.Options{KeyPrefix: p}); !errors.Is(err, redis.ErrClusterPrefix) {
			if s != nil {
				s.Close()
			}
			t.Errorf("prefix %q: %v, want ErrClusterPrefix", p, err)
		}
	}
	s, err := redis.Open(ctx, c.URL(), redis.Options{})
	if err != nil {
		t.Fatalf("default prefix: %v", err)
	}
	defer s.Close()
	if _, err := s.CreateUser(ctx, store.User{Username: "ann", Email: "ann@example.com"}); err != nil {
		t.Fatalf("CreateUser under the default prefix: %v", err)
	}
}

// TestClusterFailover kills (SIGKILL) the master that holds a store's slot on a 3-master
// cluster with one replica each, and checks that the store fails closed until the cluster has
// promoted that master's replica, then works again with the sessions and lockout counters the
// replica had acknowledged (WAIT 1) before the crash.
func TestClusterFailover(t *testing.T) {
	c := redisserver.StartCluster(t, 3, 1, "--appendonly", "yes")
	const tag = "failover"
	s, err := redis.Open(context.Background(), c.URL(), redis.Options{KeyPrefix: "{" + tag + "}:", Timeout: failoverTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now().Truncate(time.Microsecond)
	for i := range 20 {
		k := strconv.Itoa(i)
		if err := s.SaveSession(ctx, store.Session{Key: "sess" + k, UserID: "u" + k, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Incr(ctx, "lockout:user:u"+k, int64(i+1), now, time.Hour, false); err != nil {
			t.Fatal(err)
		}
	}
	m := c.MasterFor(t, tag)
	if n, err := c.Nodes[m].Client().Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d replicas acknowledged, %v", n, err)
	}
	killed := time.Now()
	c.Nodes[m].Kill(t)

	var failures, ops int
	var slowest, recovered time.Duration
	for {
		ops++
		start := time.Now()
		_, ok, err := s.Reserve(ctx, "rate:during", 1000, now, time.Hour)
		took := time.Since(start)
		slowest = max(slowest, took)
		if err == nil {
			if !ok {
				t.Fatal("Reserve refused a slot on an empty window after the failover")
			}
			recovered = time.Since(killed)
			break
		}
		failures++
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			t.Fatalf("during the failover Reserve returned %v, which a caller takes for an answer", err)
		}
		if took > failoverTimeout+5*time.Second { // a hang is unbounded; room for a loaded machine
			t.Fatalf("an operation during the failover took %s; the store timeout is %s", took, failoverTimeout)
		}
		if time.Since(killed) > 60*time.Second {
			nodes, nerr := c.Replicas[m][0].Client().ClusterNodes(ctx).Result()
			t.Logf("replica's view: %s %v", nodes, nerr)
			t.Fatalf("no new master within 60s of killing the old one (last error: %v)", err)
		}
	}
	t.Logf("cluster failover figures: %d of %d reservations failed (none granted) while the slot had no master; "+
		"slowest %s (store timeout %s); store working again %s after the kill",
		failures, ops, slowest.Round(time.Millisecond), failoverTimeout, recovered.Round(time.Millisecond))
	for i := range 20 {
		k := strconv.Itoa(i)
		x, err := s.LoadSession(ctx, "sess"+k, now)
		if err != nil || x.UserID != "u"+k {
			t.Errorf("session %s after failover: %+v, %v", k, x, err)
		}
		cn, err := s.GetCounter(ctx, "lockout:user:u"+k, now)
		if err != nil || cn.N != int64(i+1) {
			t.Errorf("lockout counter u%s after failover: %+v, %v; want %d", k, cn, err, i+1)
		}
	}
	if _, err := s.CreateUser(ctx, store.User{Username: "after", Email: "after@example.com"}); err != nil {
		t.Fatal(err)
	}
}
