package redisserver

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters on loopback, without replicas.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts masters cluster-enabled servers (each with args), splits the 16384 hash
// slots evenly between them, joins them (CLUSTER MEET) and waits until every node reports
// cluster_state:ok. Everything is killed when the test ends.
func StartCluster(t testing.TB, masters int, args ...string) *Cluster {
	t.Helper()
	c := &Cluster{}
	for range masters {
		c.Nodes = append(c.Nodes, Start(t, append([]string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"}, args...)...))
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
	for _, n := range c.Nodes[1:] {
		if err := c.Nodes[0].Client().ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(n.Port)).Err(); err != nil {
			t.Fatalf("CLUSTER MEET: %v", err)
		}
	}
	for _, n := range c.Nodes {
		WaitFor(t, 60*time.Second, "cluster node on port "+strconv.Itoa(n.Port)+" ok", func(ctx context.Context) (bool, error) {
			info, err := n.Client().ClusterInfo(ctx).Result()
			return strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(masters)+"\r"), err
		})
	}
	return c
}

// URL is the cluster's redis+cluster:// URL, naming every node.
func (c *Cluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = "127.0.0.1:" + strconv.Itoa(n.Port)
	}
	return "redis+cluster://" + strings.Join(addrs, ",")
}
