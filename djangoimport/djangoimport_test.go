package djangoimport_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/djangoimport"
	"github.com/rampart-go/rampart/internal/djangotest"
	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/sqlite"
	"github.com/rampart-go/rampart/twofactor"
)

var testKey = []byte("djangoimport-test-key-0123456789abcdef-0123456789")

// backend is one place a Django site and a rampart store live for a test.
type backend struct {
	djangoDB  map[string]string // Django's DATABASES["default"]
	djangoURL string            // the same database as rampart reads it
	store     store.Store
}

func sqliteBackend(t *testing.T) backend {
	dir := t.TempDir()
	djangoPath := filepath.Join(dir, "django.sqlite3")
	st, err := sqlite.OpenWith(filepath.Join(dir, "rampart.db"), sqlite.Options{NoSessionCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return backend{djangotest.DatabaseSettings(t, djangoPath, ""), "sqlite://" + djangoPath, st}
}

func postgresBackend(t *testing.T) backend {
	base := testbackends.PostgresURL(t)
	djangoURL := testbackends.PostgresDatabase(t, base)
	schema := testbackends.PostgresSchema(t, base)
	st, err := postgres.Open(context.Background(), base, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return backend{djangotest.DatabaseSettings(t, "", djangoURL), djangoURL, st}
}

func TestImportSQLite(t *testing.T) { testImport(t, sqliteBackend) }

func TestImportPostgres(t *testing.T) { testImport(t, postgresBackend) }

// snapshot is everything an import writes, to compare two states of the store.
type snapshot struct {
	Users  []store.User
	Grants map[string]store.Grants
	Groups []store.Group
	Codes  map[string]int
}

func snap(t *testing.T, st store.Store) snapshot {
	t.Helper()
	ctx := context.Background()
	users, err := st.ListUsers(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ps := st.(store.Permissions)
	s := snapshot{Users: users, Grants: map[string]store.Grants{}, Codes: map[string]int{}}
	for i := range s.Users {
		u := &s.Users[i]
		if s.Grants[u.Username], err = ps.UserGrants(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if s.Codes[u.Username], err = st.CountBackupCodes(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		u.TOTPSecret = nil // sealed with a random nonce: compared through TOTPEnabled
	}
	if s.Groups, err = ps.Groups(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func load(t *testing.T, st store.Store, username string) store.User {
	t.Helper()
	u, err := st.UserByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func testImport(t *testing.T, open func(*testing.T) backend) {
	python := djangotest.Python(t, djangotest.SiteModules...)
	b := open(t)
	site := djangotest.BuildSite(t, python, b.djangoDB)
	ctx := context.Background()
	src, err := djangoimport.Open(ctx, b.djangoURL)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	clock := time.Now()
	tf, err := twofactor.New(b.store.(twofactor.Store), twofactor.Options{Keys: [][]byte{testKey}, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	empty := snap(t, b.store)

	// A dry run reports the real run's figures and writes nothing.
	dry, err := djangoimport.Import(ctx, src, b.store, tf, djangoimport.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if after := snap(t, b.store); !reflect.DeepEqual(after, empty) {
		t.Fatalf("dry run wrote to the store: %+v", after)
	}
	rep, err := djangoimport.Import(ctx, src, b.store, tf, djangoimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.WriteText(&out)
	t.Logf("report:\n%s", out.String())
	dry.DryRun = false
	if !reflect.DeepEqual(dry, rep) {
		t.Errorf("dry run reported\n%+v\nthe real run\n%+v", dry, rep)
	}

	wantTOTP, wantCodes := 0, 0
	for _, u := range site.Users {
		if u.TOTP {
			wantTOTP++
		}
		wantCodes += len(u.StaticTokens)
	}
	if rep.Users != len(site.Users) || rep.Created != len(site.Users) || rep.Existing != 0 {
		t.Errorf("users: read %d created %d existing %d, want %d created", rep.Users, rep.Created, rep.Existing, len(site.Users))
	}
	if rep.TOTPDevices != wantTOTP || rep.ReplayStates != 1 || rep.BackupCodes != wantCodes {
		t.Errorf("TOTP %d (replay %d), backup codes %d; want %d (1), %d", rep.TOTPDevices, rep.ReplayStates, rep.BackupCodes, wantTOTP, wantCodes)
	}
	if rep.Groups != site.Groups || rep.GroupsCreated != site.Groups || rep.GroupPermsAdded != 3 {
		t.Errorf("groups: %d read, %d created, %d perms; want %d, %d, 3", rep.Groups, rep.GroupsCreated, rep.GroupPermsAdded, site.Groups, site.Groups)
	}
	skipped := map[string]bool{}
	for _, s := range rep.Skipped {
		skipped[s.Reason] = true
		switch {
		case strings.Contains(s.Reason, "not confirmed"):
			skipped["unconfirmed"] = true
		case strings.Contains(s.Reason, "8-digit"):
			skipped["8"] = true
		case strings.HasPrefix(s.Item, "table otp_hotp_hotpdevice"):
			skipped["hotp"] = true
		}
	}
	for _, k := range []string{"unconfirmed", "8", "hotp"} {
		if !skipped[k] {
			t.Errorf("report does not list the %s device as skipped: %+v", k, rep.Skipped)
		}
	}
	if want := []string{"u_pbkdf2_sha1", "u_bcrypt"}; !reflect.DeepEqual(rep.Unprotected, want) {
		t.Errorf("users whose second factor was lost: %v, want %v", rep.Unprotected, want)
	}

	// What each account holds.
	full := snap(t, b.store)
	byName := map[string]store.User{}
	for _, u := range full.Users {
		byName[u.Username] = u
	}
	for _, su := range site.Users {
		u, ok := byName[su.Username]
		if !ok {
			t.Errorf("user %s not in the store", su.Username)
			continue
		}
		if u.TOTPEnabled != su.TOTP {
			t.Errorf("%s: TOTPEnabled %v, want %v", su.Username, u.TOTPEnabled, su.TOTP)
		}
		prefix := map[string]string{"unsalted_sha1": "sha1$$", "unsalted_md5": ""}[su.Hasher]
		if prefix == "" && su.Hasher != "unsalted_md5" {
			prefix = su.Hasher + "$"
		}
		if !strings.HasPrefix(u.PasswordHash, prefix) || len(u.PasswordHash) < 20 {
			t.Errorf("%s: hash %q is not Django's %s hash", su.Username, u.PasswordHash, su.Hasher)
		}
	}
	if b := byName["Boss"]; !b.IsSuperuser || !b.IsStaff || !b.IsActive || b.Email != "boss@example.com" || b.DateJoined.IsZero() {
		t.Errorf("superuser imported as %+v", b)
	}
	if g := full.Grants["u_md5"]; !slices.Contains(g.Perms, "auth.delete_user") || !slices.Contains(g.Effective, "auth.change_user") {
		t.Errorf("u_md5 holds %+v, want auth.delete_user directly and editors' auth.change_user", g)
	}
	wantGroups := []store.Group{
		{Name: "Site moderators", Perms: []string{"otp_totp.view_totpdevice"}},
		{Name: "editors", Perms: []string{"auth.change_user", "auth.view_user"}},
	}
	if !reflect.DeepEqual(full.Groups, wantGroups) {
		t.Errorf("groups %+v, want %+v", full.Groups, wantGroups)
	}

	// Idempotent: a second run creates nothing and changes nothing.
	again, err := djangoimport.Import(ctx, src, b.store, tf, djangoimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Created != 0 || again.Existing != len(site.Users) || again.GroupsCreated != 0 || again.GroupPermsAdded != 0 {
		t.Errorf("second run: %+v", again)
	}
	if after := snap(t, b.store); !reflect.DeepEqual(after, full) {
		t.Errorf("second run changed the store:\n%+v\nwas\n%+v", after, full)
	}

	// The replay state: the code django-otp accepted is refused, the next one is taken.
	var replay djangotest.SiteUser
	for _, su := range site.Users {
		if su.ReplayToken != "" {
			replay = su
		}
	}
	u := load(t, b.store, replay.Username)
	clock = time.Unix(replay.AcceptedAt, 0)
	if _, err := tf.Verify(ctx, u, replay.ReplayToken); !errors.Is(err, twofactor.ErrReplay) {
		t.Errorf("the code Django accepted (step %d): %v, want ErrReplay", replay.LastT, err)
	}
	clock = clock.Add(31 * time.Second) // past the throttle of that failure, one step on
	next := djangotest.TOTPTokens(t, python, b.djangoDB, clock, replay.Username)[replay.Username]
	if next.T != replay.LastT+1 && next.T != replay.LastT+2 {
		t.Fatalf("django-otp's next step %d after %d", next.T, replay.LastT)
	}
	if m, err := tf.Verify(ctx, u, next.Token); err != nil || m != twofactor.MethodTOTP {
		t.Errorf("the next code: %v %v", m, err)
	}

	// A static token is a single-use backup code.
	for _, su := range site.Users {
		for i, tok := range su.StaticTokens {
			clock = clock.Add(time.Minute)
			m, err := tf.Verify(ctx, load(t, b.store, su.Username), tok)
			if err != nil || m != twofactor.MethodBackup {
				t.Errorf("%s static token %d: %v %v", su.Username, i, m, err)
			}
			clock = clock.Add(time.Minute)
			if _, err := tf.Verify(ctx, load(t, b.store, su.Username), tok); !errors.Is(err, twofactor.ErrInvalidCode) {
				t.Errorf("%s static token %d used twice: %v", su.Username, i, err)
			}
		}
	}
}

// TestImportAtomic makes the store fail midway through an import (a trigger refuses one
// user) and checks that nothing at all was written.
func TestImportAtomic(t *testing.T) {
	python := djangotest.Python(t, djangotest.SiteModules...)
	dir := t.TempDir()
	djangoPath, storePath := filepath.Join(dir, "django.sqlite3"), filepath.Join(dir, "rampart.db")
	djangotest.BuildSite(t, python, djangotest.DatabaseSettings(t, djangoPath, ""))
	st, err := sqlite.OpenWith(storePath, sqlite.Options{NoSessionCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", storePath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON users WHEN NEW.username = 'u_sha1'
		BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ctx := context.Background()
	src, err := djangoimport.Open(ctx, djangoPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tf, err := twofactor.New(st, twofactor.Options{Keys: [][]byte{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	empty := snap(t, st)
	_, err = djangoimport.Import(ctx, src, st, tf, djangoimport.Options{})
	if err == nil || !strings.Contains(err.Error(), "refused by the test") {
		t.Fatalf("import: %v, want the trigger's refusal", err)
	}
	if after := snap(t, st); !reflect.DeepEqual(after, empty) {
		t.Fatalf("a failed import left %+v", after)
	}
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "nope.sqlite3")
	for _, u := range []string{missing, "sqlite::memory:", "redis://127.0.0.1:6379/0", "mysql://x"} {
		if src, err := djangoimport.Open(ctx, u); err == nil {
			src.Close()
			t.Errorf("Open(%q) accepted", u)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created %s", missing)
	}
}

func TestImportBesideExistingSQLite(t *testing.T) { testImportBesideExisting(t, sqliteBackend) }

func TestImportBesideExistingPostgres(t *testing.T) { testImportBesideExisting(t, postgresBackend) }

// testImportBesideExisting imports into a store that has accounts and groups already: a
// rampart user with a Django user's name is left as it is, one with a Django user's e-mail
// keeps it (the Django user comes without), and an existing group gains Django's permissions,
// which moves its members' PermsVersion so no cached permission set survives.
func testImportBesideExisting(t *testing.T, open func(*testing.T) backend) {
	python := djangotest.Python(t, djangotest.SiteModules...)
	b := open(t)
	djangotest.BuildSite(t, python, b.djangoDB)
	ctx := context.Background()
	ps := b.store.(store.Permissions)
	mine, err := b.store.CreateUser(ctx, store.User{Username: "U_MD5", Email: "mine@example.com", PasswordHash: "argon2$mine", IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := b.store.CreateUser(ctx, store.User{Username: "carol", Email: "SHA1@example.com", PasswordHash: "argon2$carol", IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.CreateGroup(ctx, "editors"); err != nil {
		t.Fatal(err)
	}
	if err := ps.GrantGroupPerm(ctx, "editors", "comments.delete"); err != nil {
		t.Fatal(err)
	}
	if err := ps.AddUserToGroup(ctx, holder.ID, "editors"); err != nil {
		t.Fatal(err)
	}
	before := load(t, b.store, "carol").PermsVersion

	src, err := djangoimport.Open(ctx, b.djangoURL)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tf, err := twofactor.New(b.store.(twofactor.Store), twofactor.Options{Keys: [][]byte{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := djangoimport.Import(ctx, src, b.store, tf, djangoimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Existing != 1 || rep.Created != rep.Users-1 || rep.GroupsCreated != 1 || rep.GroupPermsAdded != 3 {
		t.Errorf("report %+v", rep)
	}
	if u := load(t, b.store, "u_md5"); u.ID != mine.ID || u.PasswordHash != "argon2$mine" || u.Email != "mine@example.com" {
		t.Errorf("the existing user was changed: %+v", u)
	}
	if g, _ := ps.UserGrants(ctx, mine.ID); len(g.Groups)+len(g.Perms) != 0 {
		t.Errorf("the existing user got Django's grants: %+v", g)
	}
	if u := load(t, b.store, "u_sha1"); u.Email != "" || !strings.HasPrefix(u.PasswordHash, "sha1$") {
		t.Errorf("u_sha1 imported as %+v, want no e-mail", u)
	}
	if u := load(t, b.store, "carol"); u.Email != "SHA1@example.com" || u.PermsVersion <= before {
		t.Errorf("carol: %+v (PermsVersion was %d)", u, before)
	}
	groups, err := ps.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if g.Name == "editors" && !reflect.DeepEqual(g.Perms, []string{"auth.change_user", "auth.view_user", "comments.delete"}) {
			t.Errorf("editors hold %v", g.Perms)
		}
	}
	var notes strings.Builder
	rep.WriteText(&notes)
	if !strings.Contains(notes.String(), "user u_sha1: imported without e-mail") || !strings.Contains(notes.String(), "left unchanged") {
		t.Errorf("the report does not tell:\n%s", notes.String())
	}
}
