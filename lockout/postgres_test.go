package lockout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-go/rampart/store/postgres"
)

func TestTwoInstancesPostgres(t *testing.T) {
	url := os.Getenv("RAMPART_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("PostgreSQL test skipped: set RAMPART_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "rampart_lockout_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	sa, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	testTwoInstances(t, sa, sb, DefaultPrefix)
}

// BenchmarkCheckLockedPostgres measures rejects of a locked account through PostgreSQL with
// 64 concurrent requests.
func BenchmarkCheckLockedPostgres(b *testing.B) {
	url := os.Getenv("RAMPART_TEST_POSTGRES_URL")
	if url == "" {
		b.Skip("set RAMPART_TEST_POSTGRES_URL")
	}
	rb := make([]byte, 6)
	rand.Read(rb)
	schema := "rampart_lockout_" + hex.EncodeToString(rb)
	defer func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			b.Errorf("cleanup: %v", err)
			return
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	}()
	s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchCheckLockedOn(b, s)
}
