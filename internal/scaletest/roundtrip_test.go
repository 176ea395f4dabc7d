package scaletest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/sqlite"
)

// counting wraps a store.Store and counts calls per method. Every backend answers each call
// with one statement (PostgreSQL) or one command, pipeline or script (Redis), so the count is
// the number of store round trips a request costs (see docs/SCALING.md for the exceptions).
type counting struct {
	store.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *counting) hit(m string) {
	c.mu.Lock()
	c.n[m]++
	c.mu.Unlock()
}

func (c *counting) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

func (c *counting) LoadSession(ctx context.Context, key string, now time.Time) (store.Session, error) {
	c.hit("LoadSession")
	return c.Store.LoadSession(ctx, key, now)
}
func (c *counting) SaveSession(ctx context.Context, s store.Session) error {
	c.hit("SaveSession")
	return c.Store.SaveSession(ctx, s)
}
func (c *counting) UpdateSession(ctx context.Context, s store.Session) error {
	c.hit("UpdateSession")
	return c.Store.(interface {
		UpdateSession(context.Context, store.Session) error
	}).UpdateSession(ctx, s)
}
func (c *counting) DeleteSession(ctx context.Context, key string) error {
	c.hit("DeleteSession")
	return c.Store.DeleteSession(ctx, key)
}
func (c *counting) UserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	c.hit("UserSessions")
	return c.Store.UserSessions(ctx, userID, now)
}
func (c *counting) DeleteUserSessions(ctx context.Context, userID, exceptKey string) (int, error) {
	c.hit("DeleteUserSessions")
	return c.Store.DeleteUserSessions(ctx, userID, exceptKey)
}
func (c *counting) Incr(ctx context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (store.Counter, error) {
	c.hit("Incr")
	return c.Store.Incr(ctx, key, delta, now, ttl, extend)
}
func (c *counting) Reserve(ctx context.Context, key string, limit int64, now time.Time, ttl time.Duration) (store.Counter, bool, error) {
	c.hit("Reserve")
	return c.Store.Reserve(ctx, key, limit, now, ttl)
}
func (c *counting) GetCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	c.hit("GetCounter")
	return c.Store.GetCounter(ctx, key, now)
}
func (c *counting) DeleteCounter(ctx context.Context, key string) error {
	c.hit("DeleteCounter")
	return c.Store.DeleteCounter(ctx, key)
}
func (c *counting) ListCounters(ctx context.Context, prefix string, min int64, now time.Time, limit int) ([]store.Counter, error) {
	c.hit("ListCounters")
	return c.Store.ListCounters(ctx, prefix, min, now, limit)
}
func (c *counting) ClaimStep(ctx context.Context, device string, step int64) (bool, error) {
	c.hit("ClaimStep")
	return c.Store.ClaimStep(ctx, device, step)
}
func (c *counting) ResetSteps(ctx context.Context, device string) error {
	c.hit("ResetSteps")
	return c.Store.ResetSteps(ctx, device)
}
func (c *counting) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	c.hit("CreateUser")
	return c.Store.CreateUser(ctx, u)
}
func (c *counting) UserByID(ctx context.Context, id string) (store.User, error) {
	c.hit("UserByID")
	return c.Store.UserByID(ctx, id)
}
func (c *counting) UserByUsername(ctx context.Context, username string) (store.User, error) {
	c.hit("UserByUsername")
	return c.Store.UserByUsername(ctx, username)
}
func (c *counting) UserByEmail(ctx context.Context, email string) (store.User, error) {
	c.hit("UserByEmail")
	return c.Store.UserByEmail(ctx, email)
}
func (c *counting) UpdateUser(ctx context.Context, u store.User) error {
	c.hit("UpdateUser")
	return c.Store.UpdateUser(ctx, u)
}
func (c *counting) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	c.hit("ListUsers")
	return c.Store.ListUsers(ctx, after, limit)
}
func (c *counting) ReplaceBackupCodes(ctx context.Context, userID string, hashes []string) error {
	c.hit("ReplaceBackupCodes")
	return c.Store.ReplaceBackupCodes(ctx, userID, hashes)
}
func (c *counting) UseBackupCode(ctx context.Context, userID, hash string) (bool, error) {
	c.hit("UseBackupCode")
	return c.Store.UseBackupCode(ctx, userID, hash)
}
func (c *counting) CountBackupCodes(ctx context.Context, userID string) (int, error) {
	c.hit("CountBackupCodes")
	return c.Store.CountBackupCodes(ctx, userID)
}
func (c *counting) AppendEvent(ctx context.Context, e store.Event) error {
	c.hit("AppendEvent")
	return c.Store.AppendEvent(ctx, e)
}
func (c *counting) RecentEvents(ctx context.Context, limit int) ([]store.Event, error) {
	c.hit("RecentEvents")
	return c.Store.RecentEvents(ctx, limit)
}
func (c *counting) AddComment(ctx context.Context, x comments.Comment) (comments.Comment, error) {
	c.hit("AddComment")
	cs, _ := comments.For(c.Store)
	return cs.AddComment(ctx, x)
}
func (c *counting) RecentComments(ctx context.Context, limit int) ([]comments.Comment, error) {
	c.hit("RecentComments")
	cs, _ := comments.For(c.Store)
	return cs.RecentComments(ctx, limit)
}
func (c *counting) Ping(ctx context.Context) error {
	c.hit("Ping")
	return c.Store.Ping(ctx)
}

// fastOps are the operations open.Split sends to Redis when RAMPART_REDIS_URL is set.
var fastOps = map[string]bool{"LoadSession": true, "SaveSession": true, "UpdateSession": true, "DeleteSession": true,
	"UserSessions": true, "DeleteUserSessions": true, "Incr": true, "Reserve": true, "GetCounter": true, "DeleteCounter": true, "ListCounters": true}

// TestStoreRoundTrips counts the store calls of each kind of request through the real
// default stack and reference app (in process, SQLite underneath), so docs/SCALING.md can
// say what a request costs on each backend. The expectations pin the shape: the static and
// anonymous paths touch no store, and nothing costs more than a handful of round trips.
func TestStoreRoundTrips(t *testing.T) {
	sq, err := sqlite.Open(t.TempDir() + "/rt.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	cs := &counting{Store: sq, n: map[string]int{}}
	env := apptest.New(t, apptest.Options{Store: cs, Env: map[string]string{"RAMPART_TRUSTED_PROXIES": "127.0.0.1/32"}})
	const pw = "Round trip pass 8c1e"
	env.CreateUser(t, "rt", pw, false)
	env.CreateUser(t, "rt2fa", pw, false)

	type row struct {
		name  string
		total int
		fast  int
		calls map[string]int
	}
	var rows []row
	measure := func(name string, max int, do func() *apptest.Response, want int) {
		t.Helper()
		cs.take()
		r := do()
		n := cs.take()
		if r.StatusCode != want {
			t.Fatalf("%s: status %d, want %d", name, r.StatusCode, want)
		}
		total, fast := 0, 0
		for m, k := range n {
			total += k
			if fastOps[m] {
				fast += k
			}
		}
		if total > max {
			t.Errorf("%s: %d store calls %v, want at most %d", name, total, n, max)
		}
		rows = append(rows, row{name, total, fast, n})
	}
	post := func(c *apptest.Client, path string, form url.Values) func() *apptest.Response {
		return func() *apptest.Response {
			form.Set("csrf_token", c.Token())
			return c.Post("", path, form)
		}
	}

	anon := env.Client(t)
	anon.IP = "192.0.2.1"
	measure("anonymous GET / (no cookie)", 0, func() *apptest.Response { return anon.Get("/") }, http.StatusOK)
	measure("GET /accounts/login (form)", 0, func() *apptest.Response { return anon.Get("/accounts/login") }, http.StatusOK)
	measure("GET /static/ asset", 0, func() *apptest.Response { return anon.Get("/static/app.css") }, http.StatusOK)
	measure("GET /healthz", 1, func() *apptest.Response { return anon.Get("/healthz") }, http.StatusOK)
	anon.Get("/accounts/login")
	measure("POST /accounts/login, wrong password", 10, post(anon, "/accounts/login", url.Values{"username": {"rt"}, "password": {"nope"}}), http.StatusOK)
	user := env.Client(t)
	user.IP = "192.0.2.2"
	user.Get("/accounts/login")
	// Three more than before lockout slots were reserved: the slots are given back (user, IP)
	// or cleared with their failure count (pair) after the hash.
	measure("POST /accounts/login, success", 13, post(user, "/accounts/login", url.Values{"username": {"rt"}, "password": {pw}}), http.StatusSeeOther)
	measure("logged-in GET / (session + user)", 2, func() *apptest.Response { return user.Get("/") }, http.StatusOK)
	measure("logged-in GET /accounts/sessions", 3, func() *apptest.Response { return user.Get("/accounts/sessions") }, http.StatusOK)
	user.Get("/comments")
	measure("logged-in POST /comments", 3, post(user, "/comments", url.Values{"body": {"hello"}}), http.StatusSeeOther)
	user.Get("/accounts/sessions")
	measure("POST /accounts/logout", 4, post(user, "/accounts/logout", url.Values{}), http.StatusSeeOther)

	// TOTP login: enroll, then time the second step.
	tf := env.Client(t)
	tf.IP = "192.0.2.3"
	tf.Login("rt2fa", pw)
	page := tf.Get("/accounts/2fa")
	secret := apptest.SecretFrom(page.Body)
	now := env.Clock.Now()
	if r := tf.Post("", "/accounts/2fa", url.Values{"csrf_token": {tf.Token()}, "action": {"enable"}, "code": {apptest.TOTP(t, secret, now)}}); r.StatusCode != http.StatusOK {
		t.Fatalf("enable 2FA: %d", r.StatusCode)
	}
	tf2 := env.Client(t)
	tf2.IP = "192.0.2.4"
	tf2.Get("/accounts/login")
	if r := tf2.Post("", "/accounts/login", url.Values{"csrf_token": {tf2.Token()}, "username": {"rt2fa"}, "password": {pw}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("password step: %d", r.StatusCode)
	}
	tf2.Get("/accounts/login/2fa")
	// Two more than before one code per user was checked at a time: taking and freeing the slot.
	measure("POST /accounts/login/2fa (TOTP)", 12, post(tf2, "/accounts/login/2fa", url.Values{"code": {apptest.TOTP(t, secret, now.Add(30*time.Second))}}), http.StatusSeeOther)

	for _, r := range rows {
		names := make([]string, 0, len(r.calls))
		for m, k := range r.calls {
			names = append(names, fmt.Sprintf("%s×%d", m, k))
		}
		sort.Strings(names)
		report(t, "round trips | %-36s | total %2d | sessions+counters %2d | durable %2d | %s", r.name, r.total, r.fast, r.total-r.fast, strings.Join(names, " "))
	}
}
