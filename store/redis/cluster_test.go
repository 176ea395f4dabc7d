package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/rampart-go/rampart/internal/testbackends/redisserver"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/redis"
	"github.com/rampart-go/rampart/store/storetest"
)

// The whole conformance suite passes on a 3-master Redis Cluster, each store under its own
// hash-tagged prefix (so each store's keys share one slot, and different stores land on
// different masters).
func TestClusterConformance(t *testing.T) {
	c := redisserver.StartCluster(t, 3)
	t.Log("conformance: redis over Cluster (" + c.URL() + ")")
	storetest.Run(t, func(t *testing.T) store.Store {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		s, err := redis.Open(context.Background(), c.URL(), redis.Options{KeyPrefix: "rampart-test:{" + hex.EncodeToString(b) + "}:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// A prefix without a hash tag is refused on Cluster: its scripts' keys would hash to
// different slots.
func TestClusterPrefixNeedsHashTag(t *testing.T) {
	c := redisserver.StartCluster(t, 3)
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
