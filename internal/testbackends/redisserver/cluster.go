package redisserver

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster on loopback: masters, each with its replicas.
type Cluster struct {
	// Nodes are the masters, in slot order: master i owns slots i*16384/len(Nodes) to
	// (i+1)*16384/len(Nodes)-1.
	Nodes []*Server
	// Replicas[i] are the replicas of Nodes[i].
	Replicas [][]*Server
}

// StartCluster starts masters cluster-enabled servers and replicas replicas of each (all with
// args), splits the 16384 hash slots evenly between the masters, joins every node (CLUSTER
// MEET), attaches the replicas (CLUSTER REPLICATE) and waits until every node reports
// cluster_state:ok and every replica has synced. cluster-node-timeout is 2 s, so a dead master
// is replaced within seconds. Everything is killed when the test ends.
func StartCluster(t testing.TB, masters, replicas int, args ...string) *Cluster {
	t.Helper()
	c := &Cluster{Replicas: make([][]*Server, masters)}
	start := func() *Server {
		return Start(t, append([]string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"}, args...)...)
	}
	for i := range masters {
		c.Nodes = append(c.Nodes, start())
		for range replicas {
			c.Replicas[i] = append(c.Replicas[i], start())
		}
	}
	all := append([]*Server(nil), c.Nodes...)
	for _, rs := range c.Replicas {
		all = append(all, rs...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const slots = 16384
	for i, n := range c.Nodes {
		first, last := i*slots/masters, (i+1)*slots/masters-1
		if err := n.Client().Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE %d %d on node %d: %v", first, last, i, err)
		}
	}
	for _, n := range all[1:] {
		if err := all[0].Client().ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(n.Port)).Err(); err != nil {
			t.Fatalf("CLUSTER MEET: %v", err)
		}
	}
	known := "cluster_known_nodes:" + strconv.Itoa(len(all)) + "\r"
	for _, n := range all {
		WaitFor(t, 60*time.Second, "cluster node on port "+strconv.Itoa(n.Port)+" knows every node", func(ctx context.Context) (bool, error) {
			info, err := n.Client().ClusterInfo(ctx).Result()
			return strings.Contains(info, known), err
		})
	}
	for i, rs := range c.Replicas {
		id, err := c.Nodes[i].Client().ClusterMyID(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			WaitFor(t, 30*time.Second, "CLUSTER REPLICATE on port "+strconv.Itoa(r.Port), func(ctx context.Context) (bool, error) {
				err := r.Client().Do(ctx, "CLUSTER", "REPLICATE", id).Err()
				return err == nil, err // refused until the replica has learnt the master's ID
			})
		}
	}
	for _, n := range all {
		WaitFor(t, 60*time.Second, "cluster node on port "+strconv.Itoa(n.Port)+" ok", func(ctx context.Context) (bool, error) {
			info, err := n.Client().ClusterInfo(ctx).Result()
			return strings.Contains(info, "cluster_state:ok"), err
		})
	}
	for _, rs := range c.Replicas {
		for _, r := range rs {
			WaitFor(t, 30*time.Second, "cluster replica on port "+strconv.Itoa(r.Port)+" in sync", func(ctx context.Context) (bool, error) {
				info, err := r.Client().Info(ctx, "replication").Result()
				return strings.Contains(info, "master_link_status:up"), err
			})
		}
	}
	return c
}

// MasterFor returns the index in Nodes of the master that was given key's slot at start.
func (c *Cluster) MasterFor(t testing.TB, key string) int {
	t.Helper()
	slot, err := c.Nodes[0].Client().ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Nodes {
		if int(slot) <= (i+1)*16384/len(c.Nodes)-1 {
			return i
		}
	}
	t.Fatalf("slot %d out of range", slot)
	return 0
}

// URL is the cluster's redis+cluster:// URL, naming every node.
func (c *Cluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = "127.0.0.1:" + strconv.Itoa(n.Port)
	}
	return "redis+cluster://" + strings.Join(addrs, ",")
}
