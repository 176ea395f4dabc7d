package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/sqlite"
)

// Stored hashes of every kind `rampart check` tells apart.
var censusHashes = []string{
	"md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3",
	"88a434c88cca4e900f7874cd98123f43",
	"sha1$$6d138ca3ae545631b3abd71a4f076ce759c5700b",
	"crypt$$sePpRS0NCPEro",
	"sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8",
	"pbkdf2_sha256$600000$seasalt$OAXyhAQ/4ZDA9V5RMExt3C1OwQdUpLZ99vm1McFlLRA=",
	"argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
	"scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
	"!unusableunusableunusableunusableunusable",
	"lolcat$1$2",
}

// addUsers stores n users cycling through censusHashes and returns how many got a legacy one.
func addUsers(t *testing.T, users store.Users, n int) int {
	t.Helper()
	legacy := 0
	for i := range n {
		h := censusHashes[i%len(censusHashes)]
		if i%len(censusHashes) < 5 {
			legacy++
		}
		if _, err := users.CreateUser(context.Background(), store.User{Username: fmt.Sprintf("user%04d", i), PasswordHash: h,
			IsActive: true, DateJoined: time.Unix(1e9, 0).UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	return legacy
}

// CountHashes pages through every user (more than one page) and counts by algorithm.
func TestCountHashes(t *testing.T) {
	m := memory.New()
	const n = 2*hashPage + 37
	legacy := addUsers(t, m, n)
	c, err := CountHashes(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if c.Users != n || c.Legacy() != legacy {
		t.Fatalf("census %+v: users %d legacy %d, want %d and %d", c, c.Users, c.Legacy(), n, legacy)
	}
	per := n / len(censusHashes) // 103 of each, the first 7 kinds once more
	for alg, want := range map[string]int{"md5": per + 1, "unsalted_md5": per + 1, "unsalted_sha1": per + 1, "crypt": per + 1,
		"sha1": per + 1, "pbkdf2_sha256": per + 1, "argon2i": per + 1, "scrypt": per, "unusable": per, "unknown": per} {
		if c.ByAlgorithm[alg] != want {
			t.Errorf("%s: %d, want %d", alg, c.ByAlgorithm[alg], want)
		}
	}
	fs := c.Findings()
	if len(fs) != 1 || fs[0].ID != "RAMPART-W040" || fs[0].Severity != Warning ||
		!strings.Contains(fs[0].Message, fmt.Sprintf("%d of %d users in RAMPART_DATABASE_URL", legacy, n)) ||
		!strings.Contains(fs[0].Message, "(crypt: 104, md5: 104, sha1: 104, unsalted_md5: 104, unsalted_sha1: 104)") {
		t.Errorf("findings %v", fs)
	}
	// No legacy hash, no finding.
	if fs := (HashCensus{Users: 3, ByAlgorithm: map[string]int{"argon2id": 2, "unusable": 1}}).Findings(); fs != nil {
		t.Errorf("clean census reported %v", fs)
	}
}

type failingUsers struct{ store.Users }

func (failingUsers) ListUsers(context.Context, string, int) ([]store.User, error) {
	return nil, errors.New("boom")
}

func TestCountHashesError(t *testing.T) {
	if _, err := CountHashes(context.Background(), failingUsers{memory.New()}); err == nil {
		t.Fatal("store error swallowed")
	}
}

// Database on a real SQLite file, through `rampart check` itself: W040 with the counts, exit 1;
// --offline does not open the database; a missing file is not created.
func TestDatabaseSQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rampart.db")
	st, err := sqlite.OpenWith(path, sqlite.Options{NoSessionCache: true})
	if err != nil {
		t.Fatal(err)
	}
	legacy := addUsers(t, st, 20)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"RAMPART_SECRET_KEY": goodKey, "RAMPART_ALLOWED_HOSTS": "example.com",
		"RAMPART_HSTS_PRELOAD": "true", "RAMPART_DATABASE_URL": "sqlite://" + path}
	fs := Database(context.Background(), parse(t, env), LiveTimeout)
	if len(fs) != 1 || fs[0].ID != "RAMPART-W040" || !strings.Contains(fs[0].Message, fmt.Sprintf("%d of 20 users", legacy)) {
		t.Fatalf("Database: %v", fs)
	}
	// The command: the finding, exit 1 (runWith with live on, as Main runs it).
	var out, errb strings.Builder
	if code := runWith([]string{"--env-file", ""}, envOf(env), true, &out, &errb); code != 1 ||
		!strings.Contains(out.String(), "RAMPART-W040 (warning) 10 of 20 users") {
		t.Errorf("check: exit %d: %s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := runWith([]string{"--env-file", "", "--offline"}, envOf(env), true, &out, &errb); code != 0 || strings.Contains(out.String(), "W040") {
		t.Errorf("check --offline: exit %d: %s", code, out.String())
	}
	// A database that does not exist yet has no users: nothing reported, nothing created.
	env["RAMPART_DATABASE_URL"] = "sqlite://" + filepath.Join(dir, "absent.db")
	if fs := Database(context.Background(), parse(t, env), LiveTimeout); fs != nil {
		t.Errorf("absent file: %v", fs)
	}
	if _, err := os.Stat(filepath.Join(dir, "absent.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check created the database file: %v", err)
	}
	env["RAMPART_DATABASE_URL"] = "sqlite::memory:"
	if fs := Database(context.Background(), parse(t, env), LiveTimeout); fs != nil {
		t.Errorf("memory: %v", fs)
	}
	// A file that is not a database: W041, and the command still reports the rest.
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	env["RAMPART_DATABASE_URL"] = "sqlite://" + bad
	if fs := Database(context.Background(), parse(t, env), LiveTimeout); len(fs) != 1 || fs[0].ID != "RAMPART-W041" {
		t.Errorf("unreadable database: %v", fs)
	}
}

// Database on PostgreSQL (CI): the same count over the network; an unreachable server is
// W041 and its password never appears in the message.
func TestDatabasePostgres(t *testing.T) {
	u := testbackends.PostgresURL(t)
	schema := testbackends.PostgresSchema(t, u)
	st, err := postgres.Open(context.Background(), u, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	legacy := addUsers(t, st, 30)
	st.Close()
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	env := map[string]string{"RAMPART_SECRET_KEY": goodKey, "RAMPART_ALLOWED_HOSTS": "example.com",
		"RAMPART_DATABASE_URL": u + sep + "search_path=" + schema}
	fs := Database(context.Background(), parse(t, env), LiveTimeout)
	if len(fs) != 1 || fs[0].ID != "RAMPART-W040" || !strings.Contains(fs[0].Message, fmt.Sprintf("%d of 30 users", legacy)) {
		t.Fatalf("Database: %v", fs)
	}
	env["RAMPART_DATABASE_URL"] = "postgres://app:s3cretpw@127.0.0.1:" + closedPort(t) + "/x?sslmode=disable"
	fs = Database(context.Background(), parse(t, env), time.Second)
	if len(fs) != 1 || fs[0].ID != "RAMPART-W041" || strings.Contains(fs[0].Message, "s3cretpw") {
		t.Errorf("unreachable: %v", fs)
	}
}

// TestSuperuserWithoutSecondFactor: an active superuser with neither a TOTP device nor a
// passkey is named (W042); one with TOTP, one with a passkey, an inactive one and a staff
// user are not.
func TestSuperuserWithoutSecondFactor(t *testing.T) {
	ctx := context.Background()
	m := memory.New()
	add := func(name string, f func(*store.User)) store.User {
		u := store.User{Username: name, PasswordHash: "!", IsActive: true, IsSuperuser: true, DateJoined: time.Now()}
		f(&u)
		u, err := m.CreateUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	add("bare", func(*store.User) {})
	add("totp", func(u *store.User) { u.TOTPEnabled = true })
	pk := add("keyed", func(*store.User) {})
	add("gone", func(u *store.User) { u.IsActive = false })
	add("staffer", func(u *store.User) { u.IsSuperuser, u.IsStaff = false, true })
	if err := m.AddPasskey(ctx, store.Passkey{ID: []byte{1, 2, 3}, UserID: pk.ID, Name: "laptop", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c, err := CountHashes(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	fs := c.Findings()
	if len(fs) != 1 || fs[0].ID != "RAMPART-W042" || !strings.Contains(fs[0].Message, ": bare") {
		t.Fatalf("findings %v, want W042 naming only bare", fs)
	}
}
