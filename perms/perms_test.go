package perms_test

import (
	"context"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/perms"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
)

const (
	testKey  = "perms-test-4f9c2b7e1d8a6035-rampart-secret-key-for-tests-xyz"
	password = "correct horse battery staple 9"
)

// counting is a real memory store that counts the permission loads, so tests can see the
// cache at work.
type counting struct {
	*memory.Store
	loads atomic.Int64
}

func (c *counting) UserGrants(ctx context.Context, id string) (store.Grants, error) {
	c.loads.Add(1)
	return c.Store.UserGrants(ctx, id)
}

// site is an application with the default stack, accounts, and pages behind the guards.
type site struct {
	srv   *httptest.Server
	stack *rampart.Stack
	ck    *perms.Checker
}

// note is an object of the application's own for the object-level rule.
type note struct{ owner string }

func newSite(t testing.TB, st store.Store) *site {
	t.Helper()
	env := map[string]string{"RAMPART_SECRET_KEY": testKey, "RAMPART_INSECURE_DEV": "1", "RAMPART_ALLOWED_HOSTS": "127.0.0.1",
		"RAMPART_RATE": "1000000000/s"}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	stack, err := rampart.New(context.Background(), s, rampart.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	stack.Accounts.Hasher().Argon2.MemoryKiB = 64
	stack.Accounts.Hasher().Argon2.Time = 1
	acc, err := accounts.New(stack, accounts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := perms.New(stack, perms.Options{Accounts: acc, Rules: []perms.Rule{ownNotes}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.Handle("GET /delete", ck.RequirePermission("comments.delete")(ok))
	mux.Handle("GET /both", ck.RequirePermission("comments.delete", "admin.view")(ok))
	tpl := template.Must(template.New("t").Funcs(ck.FuncMap()).Parse(`{{if hasPerm . "comments.delete"}}can{{else}}cannot{{end}}`))
	mux.HandleFunc("GET /tpl", func(w http.ResponseWriter, r *http.Request) { _ = tpl.Execute(w, r) })
	// Several checks in one request: the store is asked once at most.
	mux.HandleFunc("GET /many", func(w http.ResponseWriter, r *http.Request) {
		for range 5 {
			ck.Can(r, "comments.delete")
			ck.Can(r, "admin.view")
		}
	})
	srv := httptest.NewServer(stack.Handler(acc.Handler(mux)))
	t.Cleanup(srv.Close)
	return &site{srv: srv, stack: stack, ck: ck}
}

func ownNotes(_ context.Context, u *store.User, perm string, obj any) (bool, error) {
	n, ok := obj.(note)
	return ok && perm == "notes.edit" && n.owner == u.ID, nil
}

func (s *site) user(t testing.TB, name string) store.User {
	t.Helper()
	u, err := s.stack.Accounts.CreateUser(context.Background(), name, "", password, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func (s *site) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: s.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// on is the same browser (its cookies) talking to another instance.
func (b *browser) on(s *site) *browser { return &browser{t: b.t, base: s.srv.URL, c: b.c} }

func (b *browser) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

func (b *browser) login(name string) {
	b.t.Helper()
	resp, body := b.do("POST", "/accounts/login", url.Values{"username": {name}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login %s: %d\n%s", name, resp.StatusCode, body)
	}
}

func cli() perms.Actor { return perms.Actor{Name: "cli:test"} }

// TestRequirePermission: the guard's answers as Django's permission_required gives them:
// the login redirect for anonymous pages, 401 for anonymous JSON, 403 (page or JSON) for a
// logged-in user without the permission, and the page for one who holds it, directly, through
// a group, or as a superuser.
func TestRequirePermission(t *testing.T) {
	ctx := context.Background()
	s := newSite(t, memory.New())
	anon := s.browser(t)
	if resp, _ := anon.do("GET", "/delete", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/accounts/login?next=%2Fdelete" {
		t.Fatalf("anonymous page: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := anon.do("GET", "/delete", nil, "Accept", "application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous JSON: %d", resp.StatusCode)
	}
	ann := s.user(t, "ann")
	b := s.browser(t)
	b.login("ann")
	if resp, body := b.do("GET", "/delete", nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("no permission, page: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp, body := b.do("GET", "/delete", nil, "Accept", "application/json"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"error"`) ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("no permission, JSON: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if _, body := b.do("GET", "/tpl", nil); body != "cannot" {
		t.Fatalf("template before the grant: %q", body)
	}
	must(t, s.ck.GrantUser(ctx, cli(), ann, "comments.delete"))
	if resp, body := b.do("GET", "/delete", nil); resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("granted: %d %q", resp.StatusCode, body)
	}
	if _, body := b.do("GET", "/tpl", nil); body != "can" {
		t.Fatalf("template after the grant: %q", body)
	}
	if resp, _ := b.do("GET", "/both", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("one of two permissions: %d", resp.StatusCode)
	}
	must(t, s.ck.CreateGroup(ctx, cli(), "auditors"))
	must(t, s.ck.GrantGroup(ctx, cli(), "auditors", "admin.view"))
	must(t, s.ck.AddToGroup(ctx, cli(), ann, "auditors"))
	if resp, _ := b.do("GET", "/both", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("both, one through a group: %d", resp.StatusCode)
	}
	if _, err := s.ck.RevokeGroup(ctx, cli(), "auditors", "admin.view"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.do("GET", "/both", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after the group's revoke: %d", resp.StatusCode)
	}
	if _, err := s.ck.RevokeUser(ctx, cli(), ann, "comments.delete"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.do("GET", "/delete", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after the revoke: %d", resp.StatusCode)
	}
	// A superuser holds every permission without a grant.
	s.user(t, "root")
	root, err := s.stack.Store.UserByUsername(ctx, "root")
	must(t, err)
	if _, err := s.ck.SetSuperuser(ctx, cli(), root.ID, true); err != nil {
		t.Fatal(err)
	}
	rb := s.browser(t)
	rb.login("root")
	if resp, _ := rb.do("GET", "/both", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("superuser: %d", resp.StatusCode)
	}
	// Deactivated: the session ends (accounts), so the guard sends the user to log in.
	root.IsSuperuser, root.IsActive = true, false
	must(t, s.stack.Store.UpdateUser(ctx, root))
	if resp, _ := rb.do("GET", "/both", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deactivated superuser: %d", resp.StatusCode)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestHasPerm: superusers hold everything, inactive users nothing (superuser or not), and the
// object-level rule allows an owner what the permission allows everyone who holds it.
func TestHasPerm(t *testing.T) {
	ctx := context.Background()
	s := newSite(t, memory.New())
	ann, bob := s.user(t, "ann"), s.user(t, "bob")
	must(t, s.ck.GrantUser(ctx, cli(), bob, "notes.edit"))
	bob, _ = s.stack.Store.UserByID(ctx, bob.ID)
	super := store.User{ID: "999", IsActive: true, IsSuperuser: true}
	inactiveSuper := store.User{ID: "998", IsSuperuser: true}
	inactiveBob := bob
	inactiveBob.IsActive = false
	annNote, bobNote := note{owner: ann.ID}, note{owner: bob.ID}
	cases := []struct {
		name  string
		u     *store.User
		perm  string
		obj   any
		want  bool
		isObj bool
	}{
		{"nil user", nil, "notes.edit", nil, false, false},
		{"no grant", &ann, "notes.edit", nil, false, false},
		{"granted", &bob, "notes.edit", nil, true, false},
		{"other perm", &bob, "notes.delete", nil, false, false},
		{"superuser", &super, "anything.at_all", nil, true, false},
		{"inactive superuser", &inactiveSuper, "notes.edit", nil, false, false},
		{"inactive with grant", &inactiveBob, "notes.edit", nil, false, false},
		{"owner by rule", &ann, "notes.edit", annNote, true, true},
		{"owner, other perm", &ann, "notes.delete", annNote, false, true},
		{"not the owner", &ann, "notes.edit", bobNote, false, true},
		{"granted, any object", &bob, "notes.edit", annNote, true, true},
		{"inactive owner", &inactiveBob, "notes.edit", bobNote, false, true},
		{"rule ignores other types", &ann, "notes.edit", "a string", false, true},
	}
	for _, tc := range cases {
		var got bool
		var err error
		if tc.isObj {
			got, err = s.ck.HasObjectPerm(ctx, tc.u, tc.perm, tc.obj)
		} else {
			got, err = s.ck.HasPerm(ctx, tc.u, tc.perm)
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if ok, _ := s.ck.HasPerms(ctx, &bob, "notes.edit", "notes.delete"); ok {
		t.Error("HasPerms with one of two = true")
	}
}

// TestRuleErrorFailsClosed: a rule that cannot answer denies, with its error.
func TestRuleErrorFailsClosed(t *testing.T) {
	s := newSite(t, memory.New())
	boom := errors.New("boom")
	ck, err := perms.New(s.stack, perms.Options{Rules: []perms.Rule{
		func(context.Context, *store.User, string, any) (bool, error) { return false, boom },
		func(context.Context, *store.User, string, any) (bool, error) { return true, nil },
	}})
	must(t, err)
	u := s.user(t, "ann")
	if ok, err := ck.HasObjectPerm(context.Background(), &u, "notes.edit", note{}); ok || !errors.Is(err, boom) {
		t.Fatalf("HasObjectPerm with a failing rule = %v, %v", ok, err)
	}
}

// TestRoundTrips: the effective permissions are loaded once per change, not per check or per
// request: a request that checks ten times loads at most once, the next request not at all,
// and a grant (which moves the user's PermsVersion) makes the next request load once again.
func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	st := &counting{Store: memory.New()}
	s := newSite(t, st)
	ann := s.user(t, "ann")
	b := s.browser(t)
	b.login("ann")
	steps := []struct {
		name   string
		before func()
		want   int64
	}{
		{"first request", nil, 1},
		{"second request", nil, 0},
		{"third request", nil, 0},
		{"after a grant", func() { must(t, s.ck.GrantUser(ctx, cli(), ann, "comments.delete")) }, 1},
		{"then", nil, 0},
	}
	for _, step := range steps {
		if step.before != nil {
			step.before()
		}
		n := st.loads.Load()
		if resp, _ := b.do("GET", "/many", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", step.name, resp.StatusCode)
		}
		if got := st.loads.Load() - n; got != step.want {
			t.Fatalf("%s: %d permission loads, want %d", step.name, got, step.want)
		}
	}
}

// TestTwoInstances: two application instances share a store (two connection pools, two
// caches). A revoke made through one is enforced by the other at its next request, whatever
// the other had cached. Runs on SQLite always, and on PostgreSQL and Redis when configured.
func TestTwoInstances(t *testing.T) {
	pairs := map[string]func(t *testing.T) (store.Store, store.Store){
		"sqlite": func(t *testing.T) (store.Store, store.Store) { a, b := testbackends.SQLitePair(t); return a, b },
		"postgres": func(t *testing.T) (store.Store, store.Store) {
			a, b := testbackends.PostgresPair(t, postgres.Options{})
			return a, b
		},
		"redis": func(t *testing.T) (store.Store, store.Store) {
			a, b := testbackends.RedisPair(t, redis.Options{})
			return a, b
		},
	}
	for name, pair := range pairs {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sa, sb := pair(t)
			a, b := newSite(t, sa), newSite(t, sb)
			ann := a.user(t, "ann")
			must(t, a.ck.CreateGroup(ctx, cli(), "editors"))
			must(t, a.ck.GrantGroup(ctx, cli(), "editors", "comments.delete"))
			must(t, a.ck.AddToGroup(ctx, cli(), ann, "editors"))
			onA := a.browser(t)
			onA.login("ann")
			onB := onA.on(b)
			for range 2 { // the second answer comes from B's cache
				if resp, _ := onB.do("GET", "/delete", nil); resp.StatusCode != http.StatusOK {
					t.Fatalf("on B before the revoke: %d", resp.StatusCode)
				}
			}
			if _, err := a.ck.RevokeGroup(ctx, cli(), "editors", "comments.delete"); err != nil {
				t.Fatal(err)
			}
			if resp, _ := onB.do("GET", "/delete", nil); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("on B right after a revoke on A: %d, want 403", resp.StatusCode)
			}
			// And back: a grant on B is seen by A.
			must(t, b.ck.GrantUser(ctx, cli(), ann, "comments.delete"))
			if resp, _ := onA.do("GET", "/delete", nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("on A after a grant on B: %d", resp.StatusCode)
			}
			if _, err := b.ck.RemoveFromGroup(ctx, cli(), ann, "editors"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.ck.RevokeUser(ctx, cli(), ann, "comments.delete"); err != nil {
				t.Fatal(err)
			}
			if resp, _ := onA.do("GET", "/delete", nil); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("on A after a revoke on B: %d", resp.StatusCode)
			}
		})
	}
}

// TestChangesAudited: every change is in the audit trail with who made it; only superusers
// give the superuser flag; bad names are refused before the store sees them.
func TestChangesAudited(t *testing.T) {
	ctx := context.Background()
	s := newSite(t, memory.New())
	ann, boss := s.user(t, "ann"), s.user(t, "boss")
	boss.IsStaff = true
	must(t, s.stack.Store.UpdateUser(ctx, boss))
	byBoss := perms.Actor{User: &boss, IP: "192.0.2.7"}
	must(t, s.ck.CreateGroup(ctx, byBoss, "editors"))
	must(t, s.ck.GrantGroup(ctx, byBoss, "editors", "comments.delete"))
	must(t, s.ck.AddToGroup(ctx, byBoss, ann, "editors"))
	must(t, s.ck.GrantUser(ctx, cli(), ann, "admin.view"))
	if _, err := s.ck.SetSuperuser(ctx, byBoss, ann.ID, true); !errors.Is(err, perms.ErrForbidden) {
		t.Fatalf("staff gives superuser: %v, want ErrForbidden", err)
	}
	if _, err := s.ck.SetStaff(ctx, byBoss, ann.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "delete", "Comments.delete", "comments..delete", "comments.delete ", "comments.dél", strings.Repeat("a.", 60)} {
		if err := s.ck.GrantUser(ctx, byBoss, ann, bad); err == nil {
			t.Errorf("GrantUser(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", " lead", "trail ", "tab\there", "nul\x00", "\xff", strings.Repeat("g", 81)} {
		if err := s.ck.CreateGroup(ctx, byBoss, bad); err == nil {
			t.Errorf("CreateGroup(%q) accepted", bad)
		}
	}
	events, err := s.stack.Audit.Recent(ctx, 20)
	must(t, err)
	var got []string
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if strings.Contains(e.Kind, ".") && (strings.HasPrefix(e.Kind, "perm.") || strings.HasPrefix(e.Kind, "group.") || e.Kind == perms.KindStaff || e.Kind == perms.KindSuperuser) {
			got = append(got, e.Kind+" by "+e.Username+" from "+e.IP+": "+e.Detail)
		}
	}
	want := []string{
		"group.create by boss from 192.0.2.7: group editors",
		"perm.grant by boss from 192.0.2.7: group editors: comments.delete",
		"group.add_user by boss from 192.0.2.7: user ann (id " + ann.ID + ") to group editors",
		"perm.grant by cli:test from : user ann (id " + ann.ID + "): admin.view",
		"user.staff by boss from 192.0.2.7: user ann (id " + ann.ID + "): true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func FuzzValidPerm(f *testing.F) {
	for _, s := range []string{"comments.delete", "a.b.c", "", ".", "a..b", "A.b", "a.b\x00", "é.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if perms.ValidPerm(p) != nil {
			return
		}
		if len(p) > perms.MaxPermLen || !strings.Contains(p, ".") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..") {
			t.Fatalf("accepted %q", p)
		}
		for _, r := range p {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
				t.Fatalf("accepted %q", p)
			}
		}
	})
}

func FuzzValidGroup(f *testing.F) {
	for _, s := range []string{"editors", "Équipe rédaction", "", " x", "x\n", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, g string) {
		if perms.ValidGroup(g) != nil {
			return
		}
		if g == "" || len(g) > perms.MaxGroupLen || strings.TrimSpace(g) != g || strings.ContainsAny(g, "\x00\n\r\t") {
			t.Fatalf("accepted %q", g)
		}
	})
}

// bare is a store of an application's own that wraps a backend and knows nothing of
// permissions.
type bare struct{ store.Store }

// TestStoreWithoutPermissions: the Checker fails closed: superusers pass, nobody else, and
// changes are refused.
func TestStoreWithoutPermissions(t *testing.T) {
	ctx := context.Background()
	s := newSite(t, bare{memory.New()})
	u := s.user(t, "ann")
	if err := s.ck.GrantUser(ctx, cli(), u, "comments.delete"); !errors.Is(err, perms.ErrNoPermissions) {
		t.Fatalf("GrantUser = %v, want ErrNoPermissions", err)
	}
	if ok, err := s.ck.HasPerm(ctx, &u, "comments.delete"); ok || err != nil {
		t.Fatalf("HasPerm = %v, %v", ok, err)
	}
	super := store.User{ID: u.ID, IsActive: true, IsSuperuser: true}
	if ok, err := s.ck.HasPerm(ctx, &super, "comments.delete"); !ok || err != nil {
		t.Fatalf("superuser HasPerm = %v, %v", ok, err)
	}
}
