package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
)

func randomName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestSharedPostgres(t *testing.T) {
	url := os.Getenv("RAMPART_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("PostgreSQL test skipped: set RAMPART_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	schema := "rampart_rl_" + randomName()
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	a, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testShared(t, a, b, "test")
}

func TestSharedRedis(t *testing.T) {
	url := os.Getenv("RAMPART_TEST_REDIS_URL")
	if url == "" {
		t.Skip("Redis test skipped: set RAMPART_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
	}
	opts := redis.Options{KeyPrefix: "rampart-rl-test-" + randomName() + ":"}
	a, err := redis.Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := redis.Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testShared(t, a, b, "test")
}
