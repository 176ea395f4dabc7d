package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-go/rampart/internal/comments/commentstest"
	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/storetest"
)

func open(t testing.TB, dbURL, schema string) *postgres.Store {
	t.Helper()
	return testbackends.OpenPostgres(t, dbURL, postgres.Options{Schema: schema, MaxConns: 8})
}

func TestConformance(t *testing.T) {
	testbackends.PostgresURL(t) // skip the whole suite, not each case, when unset
	t.Log("conformance: postgres")
	storetest.Run(t, func(t *testing.T) store.Store { return testbackends.Postgres(t, postgres.Options{MaxConns: 8}) })
	commentstest.Run(t, func(t *testing.T) store.Store { return testbackends.Postgres(t, postgres.Options{MaxConns: 8}) })
}

func TestShared(t *testing.T) {
	testbackends.PostgresURL(t) // skip the whole suite, not each case, when unset
	t.Log("conformance (two instances on one database): postgres")
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		return testbackends.PostgresPair(t, postgres.Options{MaxConns: 8})
	})
}

func TestMigrate(t *testing.T) {
	u := testbackends.PostgresURL(t)
	ctx := context.Background()
	sc := testbackends.PostgresSchema(t, u)
	s, err := postgres.Open(ctx, u, postgres.Options{Schema: sc, NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.SchemaVersion(ctx); err == nil {
		t.Fatal("NoMigrate still created the schema")
	}
	// Concurrent migrators (several instances starting at once) serialise on the advisory lock.
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- s.Migrate(ctx) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != 5 {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	if err := s.AppendEvent(ctx, store.Event{Kind: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ev, err := s.RecentEvents(ctx, 5)
	if err != nil || len(ev) != 1 {
		t.Fatalf("data lost by re-migrating: %v %v", ev, err)
	}
}

// TestOutage cuts the connection between the store and PostgreSQL (through a relay we control,
// since the server is shared) and checks that every method fails closed, then recovers.
func TestOutage(t *testing.T) {
	raw := testbackends.PostgresURL(t)
	t.Log("outage: postgres")
	pu, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := storetest.NewProxy(t, pu.Host)
	pu.Host = proxy.Addr()
	s := open(t, pu.String(), testbackends.PostgresSchema(t, raw))
	storetest.RunOutage(t, s, proxy.Down, proxy.Up)
}

// TestTerminatedConnections kills the store's server connections with pg_terminate_backend:
// calls may fail while the pool notices, but never succeed falsely, and the store recovers.
func TestTerminatedConnections(t *testing.T) {
	raw := testbackends.PostgresURL(t)
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	app := "rampart-kill-" + hex.EncodeToString(b)
	pu, _ := url.Parse(raw)
	q := pu.Query()
	q.Set("application_name", app)
	pu.RawQuery = q.Encode()
	s := open(t, pu.String(), testbackends.PostgresSchema(t, raw))
	if ok, err := s.ClaimStep(ctx, "d", 1); !ok || err != nil {
		t.Fatalf("ClaimStep = %v, %v", ok, err)
	}
	admin, err := pgx.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) k`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no connection of the store was found to terminate")
	}
	// Step 1 again is a replay whatever happened to the connections: an error or false, never true.
	for range 5 {
		ok, err := s.ClaimStep(ctx, "d", 1)
		if ok {
			t.Fatal("replayed step accepted after connections were killed")
		}
		if err == nil {
			break
		}
	}
	if ok, err := s.ClaimStep(ctx, "d", 2); !ok || err != nil {
		t.Fatalf("no recovery: ClaimStep = %v, %v", ok, err)
	}
}

func BenchmarkLoadSave(b *testing.B) {
	storetest.BenchLoadSave(b, testbackends.Postgres(b, postgres.Options{MaxConns: 8}))
}

func BenchmarkIncr(b *testing.B) {
	storetest.BenchIncr(b, testbackends.Postgres(b, postgres.Options{MaxConns: 8}))
}

// Every backend offers the session package's Updater (UpdateSession), checked at compile time.
var _ storetest.Updater = (*postgres.Store)(nil)

func TestRetention(t *testing.T) {
	s := testbackends.Postgres(t, postgres.Options{MaxEvents: 3, MaxComments: 2})
	storetest.RunRetention(t, s, 3)
	commentstest.RunRetention(t, s, 2)
}
