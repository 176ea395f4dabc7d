package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/comments/commentstest"
	"github.com/rampart-go/rampart/internal/testbackends/redisserver"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/redis"
	"github.com/rampart-go/rampart/store/storetest"
)

// openSentinel opens a store on the group's redis+sentinel:// URL under a fresh prefix. The
// group's servers are private to the test, so its keys need no cleanup.
func openSentinel(t testing.TB, g *redisserver.Group, opt redis.Options) *redis.Store {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	opt.KeyPrefix = "rampart-test:" + hex.EncodeToString(b) + ":"
	s, err := redis.Open(context.Background(), g.URL(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The whole conformance suite passes through the failover client (scripts and MULTI/EXEC on
// the master the sentinels name).
func TestSentinelConformance(t *testing.T) {
	g := redisserver.StartGroup(t, "rampart", 1, 1, 1)
	t.Log("conformance: redis over Sentinel (" + g.URL() + ")")
	newStore := func(t *testing.T) store.Store { return openSentinel(t, g, redis.Options{}) }
	storetest.Run(t, newStore)
	commentstest.Run(t, newStore)
}

// failoverTimeout bounds each store operation in TestSentinelFailover: while no master
// answers, an operation must fail within about this long (a 503 for the request), not hang.
const failoverTimeout = 500 * time.Millisecond

// TestSentinelFailover kills the master with SIGKILL under a running store and checks that the
// store fails closed while the sentinels elect a new master, then works again on the promoted
// replica with the sessions and lockout counters written before the crash. Those survive
// because each write was acknowledged by the replica (WAIT 1) before the crash; Redis
// replication is asynchronous, so a write the master acknowledged but had not yet sent to the
// replica would be lost in the failover (see docs/SCALING.md).
func TestSentinelFailover(t *testing.T) {
	g := redisserver.StartGroup(t, "rampart", 1, 3, 2, "--appendonly", "yes")
	s := openSentinel(t, g, redis.Options{Timeout: failoverTimeout})
	ctx := context.Background()
	now := time.Now().Truncate(time.Microsecond)

	for i := range 20 {
		k := "sess" + strconv.Itoa(i)
		if err := s.SaveSession(ctx, store.Session{Key: k, UserID: "u" + strconv.Itoa(i), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Incr(ctx, "lockout:user:u"+strconv.Itoa(i), int64(i+1), now, time.Hour, false); err != nil {
			t.Fatal(err)
		}
	}
	// A signed-in browser: its session goes through the session middleware, which answers 503
	// when the store cannot.
	mgr := session.NewManager(s, session.Options{InsecureNoSecureCookie: true, Logger: slog.New(slog.DiscardHandler)})
	app := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			if err := mgr.Login(r, "ann", "h"); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
			return
		}
		_, _ = io.WriteString(w, "user="+session.FromRequest(r).UserID())
	}))
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusOK || len(cookies) == 0 {
		t.Fatalf("login: %d %v", rec.Code, cookies)
	}
	page := func() (int, string) {
		r := httptest.NewRequest("GET", "/", nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, r)
		return rec.Code, rec.Body.String()
	}
	if code, body := page(); code != http.StatusOK || body != "user=ann" {
		t.Fatalf("page before the failover: %d %q", code, body)
	}

	if n, err := g.Master.Client().Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d replicas acknowledged, %v", n, err)
	}

	oldPort := g.Master.Port
	killed := time.Now()
	g.Master.Kill(t)

	// Until a new master answers, every operation fails (never a false success: no rate-limit
	// slot granted, no session found missing) and returns within the store's timeout.
	// Each round is a page request by the signed-in browser (503 while no master answers, its
	// page again after) and a rate-limit reservation (an error, never a granted slot).
	var failures, ops, unavailable int
	var slowest time.Duration
	var recovered time.Duration
	deadline := killed.Add(60 * time.Second)
	for {
		ops++
		start := time.Now()
		code, body := page()
		switch {
		case code == http.StatusServiceUnavailable:
			unavailable++
		case code != http.StatusOK || body != "user=ann":
			t.Fatalf("page during the failover: %d %q; want 503 or the signed-in page", code, body)
		}
		_, ok, err := s.Reserve(ctx, "rate:during", 1000, now, time.Hour)
		took := time.Since(start)
		slowest = max(slowest, took)
		if err == nil && code == http.StatusOK {
			if !ok {
				t.Fatal("Reserve refused a slot on an empty window after the failover")
			}
			recovered = time.Since(killed)
			break
		}
		if err == nil {
			continue // the master is back between the two calls
		}
		failures++
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			t.Fatalf("during the failover Reserve returned %v, which a caller takes for an answer", err)
		}
		// A hang would be unbounded; the bound is the store's timeout, with room for a loaded
		// machine (it is not a performance figure).
		if took > 2*failoverTimeout+5*time.Second {
			t.Fatalf("an operation during the failover took %s; the store timeout is %s", took, failoverTimeout)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new master within 60s of killing the old one (last error: %v)", err)
		}
	}
	// The store found the new master through a sentinel that knew it; the others learn it from
	// the leader's announcement shortly after.
	redisserver.WaitFor(t, 30*time.Second, "every sentinel names the promoted replica", func(ctx context.Context) (bool, error) {
		for _, sn := range g.Sentinels {
			a, err := sn.SentinelClient().GetMasterAddrByName(ctx, g.Name).Result()
			if err != nil || a[1] != strconv.Itoa(g.Replicas[0].Port) || a[1] == strconv.Itoa(oldPort) {
				return false, err
			}
		}
		return true, nil
	})
	if unavailable == 0 {
		t.Error("no page request got 503 while no master answered")
	}
	t.Logf("failover figures: master killed; of %d rounds while no master answered, %d page requests got 503 and %d "+
		"rate-limit reservations failed (none granted); slowest round %s (store timeout %s per operation); "+
		"store working again %s after the kill",
		ops, unavailable, failures, slowest.Round(time.Millisecond), failoverTimeout, recovered.Round(time.Millisecond))

	for i := range 20 {
		k := "sess" + strconv.Itoa(i)
		x, err := s.LoadSession(ctx, k, now)
		if err != nil || x.UserID != "u"+strconv.Itoa(i) {
			t.Errorf("session %s after failover: %+v, %v", k, x, err)
		}
		c, err := s.GetCounter(ctx, "lockout:user:u"+strconv.Itoa(i), now)
		if err != nil || c.N != int64(i+1) {
			t.Errorf("lockout counter u%d after failover: %+v, %v; want %d", i, c, err, i+1)
		}
	}
	// Writes go to the new master.
	if err := s.SaveSession(ctx, store.Session{Key: "after", UserID: "v", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "lockout:user:v", 1, now, time.Hour, false); err != nil {
		t.Fatal(err)
	}
}

// ProbeURL on a Sentinel URL probes the current master: after a failover it reports the
// promoted replica's persistence, not the dead master's.
func TestSentinelProbeFollowsMaster(t *testing.T) {
	g := redisserver.StartGroup(t, "rampart", 1, 1, 1, "--appendonly", "yes")
	ctx := context.Background()
	if err := g.Replicas[0].Client().ConfigSet(ctx, "appendonly", "no").Err(); err != nil {
		t.Fatal(err)
	}
	p, err := redis.ProbeURL(ctx, g.URL(), 3*time.Second)
	if err != nil || p.Durability != redis.DurabilityAOF {
		t.Fatalf("before failover: %v, %v; want the master's aof", p, err)
	}
	g.Master.Kill(t)
	redisserver.WaitFor(t, 60*time.Second, "replica promoted", func(ctx context.Context) (bool, error) {
		port, err := g.MasterPort(ctx)
		return port == g.Replicas[0].Port, err
	})
	redisserver.WaitFor(t, 30*time.Second, "probe of the new master", func(ctx context.Context) (bool, error) {
		p, err = redis.ProbeURL(ctx, g.URL(), time.Second)
		return err == nil, err
	})
	if p.Durability != redis.DurabilityNone {
		t.Fatalf("after failover: %v; want the promoted replica's none", p)
	}
}
