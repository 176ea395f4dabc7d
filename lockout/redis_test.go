package lockout

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/rampart-go/rampart/store/redis"
)

func TestTwoInstancesRedis(t *testing.T) {
	url := os.Getenv("RAMPART_TEST_REDIS_URL")
	if url == "" {
		t.Skip("Redis test skipped: set RAMPART_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	// A random key prefix isolates this test from others sharing the server; the lockout
	// keys it leaves expire with their TTLs, and Unlock in the scenario removes the rest.
	opts := redis.Options{KeyPrefix: "rampart-lockout-test-" + hex.EncodeToString(b) + ":"}
	sa, err := redis.Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := redis.Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	testTwoInstances(t, sa, sb, DefaultPrefix)
}
