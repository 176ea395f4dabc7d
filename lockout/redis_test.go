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

// BenchmarkCheckLockedRedis measures rejects of a locked account through Redis, with 64
// concurrent requests as in a flood (three GETs per Check, one round trip each).
func BenchmarkCheckLockedRedis(b *testing.B) {
	url := os.Getenv("RAMPART_TEST_REDIS_URL")
	if url == "" {
		b.Skip("set RAMPART_TEST_REDIS_URL")
	}
	rb := make([]byte, 6)
	rand.Read(rb)
	s, err := redis.Open(ctx, url, redis.Options{KeyPrefix: "rampart-lockout-test-" + hex.EncodeToString(rb) + ":"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchCheckLockedOn(b, s)
}
