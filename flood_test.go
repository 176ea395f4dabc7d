package rampart_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/internal/app"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/sqlite"
)

// floodObserver counts what the stack reports to metrics: every event by kind, and the
// requests refused by the per-client rate limit and by a lock.
type floodObserver struct {
	mu      sync.Mutex
	events  map[string]int64
	limited int64
	locked  int64
}

func (o *floodObserver) ObserveStore(string, string, time.Duration, error) {}
func (o *floodObserver) ObserveCSPReport(string)                           {}
func (o *floodObserver) ObserveEvent(e store.Event) {
	o.mu.Lock()
	o.events[e.Kind]++
	o.mu.Unlock()
}
func (o *floodObserver) ObserveRequestLimited() { o.mu.Lock(); o.limited++; o.mu.Unlock() }
func (o *floodObserver) ObserveLockoutRefusal(string) {
	o.mu.Lock()
	o.locked++
	o.mu.Unlock()
}

// logCounter counts log records by message (and writes none).
type logCounter struct {
	mu  sync.Mutex
	msg map[string]int64
}

func (c *logCounter) total() (n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.msg {
		n += v
	}
	return n
}

func (c *logCounter) reset() { c.mu.Lock(); clear(c.msg); c.mu.Unlock() }

type countingHandler struct{ c *logCounter }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.c.mu.Lock()
	h.c.msg[r.Message]++
	h.c.mu.Unlock()
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// floodStack starts the reference app on the SQLite file at db with a fixed clock (so the
// whole flood falls in one counting window, the worst case for rows kept in full), logging
// to a counter.
func floodStack(t *testing.T, db string, now time.Time, obs rampart.Observer, logs *logCounter) (*rampart.Stack, http.Handler) {
	t.Helper()
	env := map[string]string{
		"RAMPART_SECRET_KEY":    "rampart-test-key-flood-7c1e9a3b5d2f4860-for-the-refusal-flood-test",
		"RAMPART_INSECURE_DEV":  "1",
		"RAMPART_ALLOWED_HOSTS": "127.0.0.1",
		"RAMPART_DATABASE_URL":  "sqlite://" + db,
		// One wrong password locks, one login a minute per client: three password hashes in
		// all (they dominate the test's time under -race).
		"RAMPART_LOCKOUT_LIMIT": "1",
		"RAMPART_LOGIN_RATE":    "1/m",
	}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	opts := rampart.Options{Now: func() time.Time { return now }, Observer: obs, Logger: slog.New(countingHandler{logs})}
	st, err := rampart.New(context.Background(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(st, app.Options{Now: opts.Now})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, st.Handler(a)
}

// dbBytes is the size of the database's files (main, WAL, shared memory).
func dbBytes(t *testing.T, db string) int64 {
	t.Helper()
	var n int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(db + suffix)
		if err == nil {
			n += fi.Size()
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return n
}

var floodToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestRefusalFloodCostsNoDisk floods the real stack on SQLite with refused requests of every
// kind — cross-site POSTs from 500 clients (more than the audit logger counts apiece), a
// foreign Host, one client over the request rate, logins over the login rate and logins
// for a locked account — and checks that the database files grow by at most 1 MB and the
// events table by a bounded number of rows, while the stored events (each summary counted
// as the refusals it stands for) add up exactly to the refusals metrics saw.
func TestRefusalFloodCostsNoDisk(t *testing.T) {
	total := 100_000
	if raceEnabled || testing.Short() {
		// The race detector makes each request 30× dearer; the login floods (1,199 requests)
		// and the client over the request rate stay whole, the others shrink.
		total = 6_000
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "app.db")
	now := time.Date(2026, 12, 6, 10, 0, 10, 0, time.UTC)

	// Set up, then measure the files at rest.
	logs := &logCounter{msg: map[string]int64{}}
	st, _ := floodStack(t, db, now, nil, logs)
	if _, err := st.Accounts.CreateUser(t.Context(), "victim", "victim@example.test", "a long unusual passphrase 42", false); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	before := dbBytes(t, db)

	obs := &floodObserver{events: map[string]int64{}}
	st, h := floodStack(t, db, now, obs, logs)
	serve := func(r *http.Request, ip string) int {
		r.RemoteAddr = ip + ":40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// A browser session for the login forms: its cookies and token, valid on every post.
	get := httptest.NewRequest("GET", "http://127.0.0.1/accounts/login", nil)
	get.RemoteAddr = "192.0.2.99:40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, get)
	m := floodToken.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no CSRF token on the login page: %d", w.Code)
	}
	cookies := w.Result().Cookies()
	login := func(ip, username, password string) int {
		form := url.Values{"username": {username}, "password": {password}, "csrf_token": {m[1]}}
		r := httptest.NewRequest("POST", "http://127.0.0.1/accounts/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", "http://127.0.0.1")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		for _, c := range cookies {
			r.AddCookie(c)
		}
		return serve(r, ip)
	}
	// Lock the victim's account from one address: a wrong password trips the lock.
	login("192.0.2.40", "victim", "wrong")
	if obs.events[audit.KindLockout] != 1 {
		t.Fatalf("lockout events %d after a failure, want 1", obs.events[audit.KindLockout])
	}
	logs.reset()

	var status sync.Map // scenario -> map[int]int (guarded by its goroutine until Wait)
	scenarios := map[string]func(i int) int{
		"csrf": func(i int) int { // a cross-site form post from one of 500 clients
			r := httptest.NewRequest("POST", "http://127.0.0.1/comments", strings.NewReader("body=hi"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return serve(r, fmt.Sprintf("198.18.%d.%d", i%500/250, i%250+1))
		},
		"host": func(int) int {
			r := httptest.NewRequest("GET", "http://evil.example/", nil)
			return serve(r, "192.0.2.10")
		},
		"rate": func(int) int { // one client over RAMPART_RATE (600/m): refused before any layer that stores
			return serve(httptest.NewRequest("GET", "http://127.0.0.1/missing", nil), "192.0.2.20")
		},
		// The login floods are bounded per client by RAMPART_RATE too: 600 a minute each.
		"login-rate": func(i int) int { // new usernames from one client: over RAMPART_LOGIN_RATE (1/m) after one
			return login("192.0.2.30", fmt.Sprintf("nobody%d", i), "wrong")
		},
		"locked": func(int) int { // the right password, from the client that tripped the lock
			return login("192.0.2.40", "victim", "a long unusual passphrase 42")
		},
	}
	share := map[string]int{"login-rate": 600, "locked": 599, "rate": 600 + total/10}
	share["csrf"] = (total - share["login-rate"] - share["locked"] - share["rate"]) / 2
	share["host"] = total - share["login-rate"] - share["locked"] - share["rate"] - share["csrf"]
	start := time.Now()
	var wg sync.WaitGroup
	for name, f := range scenarios {
		wg.Go(func() {
			codes := map[int]int{}
			for i := range share[name] {
				codes[f(i)]++
			}
			status.Store(name, codes)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	codes := func(name string) map[int]int { v, _ := status.Load(name); return v.(map[int]int) }
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	after := dbBytes(t, db)

	// Every request was refused as its scenario says: all but the rate scenario's first 600
	// (RAMPART_RATE); the login-rate scenario's first attempt was a wrong password, which
	// locked its username at once (429 too), the rest were over the login rate.
	refused := map[string]int{
		"csrf": codes("csrf")[http.StatusForbidden], "host": codes("host")[http.StatusBadRequest],
		"rate": codes("rate")[http.StatusTooManyRequests], "login-rate": codes("login-rate")[http.StatusTooManyRequests],
		"locked": codes("locked")[http.StatusTooManyRequests],
	}
	if refused["csrf"] != share["csrf"] || refused["host"] != share["host"] || refused["locked"] != share["locked"] ||
		refused["rate"] != share["rate"]-600 || refused["login-rate"] != share["login-rate"] {
		t.Fatalf("refusals per scenario %v of %v (status codes: csrf %v host %v rate %v login-rate %v locked %v)", refused, share,
			codes("csrf"), codes("host"), codes("rate"), codes("login-rate"), codes("locked"))
	}
	if obs.events[audit.KindCSRFReject] != int64(refused["csrf"]) || obs.events[audit.KindHostReject] != int64(refused["host"]) ||
		obs.events[audit.KindRateLimited] != int64(refused["login-rate"]-1) || obs.events[audit.KindLockout] != 2 || obs.events[audit.KindLoginLocked] != int64(refused["locked"]) ||
		obs.limited != int64(refused["rate"]) || obs.locked != int64(refused["locked"]) {
		t.Fatalf("metrics saw %v, %d rate limited, %d locked; want every refusal of %v", obs.events, obs.limited, obs.locked, refused)
	}

	// The stored trail adds up to exactly what metrics saw, in a bounded number of rows.
	s, err := sqlite.OpenWith(db, sqlite.Options{NoSessionCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev, err := s.RecentEvents(context.Background(), 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int64{}
	for _, e := range ev {
		stored[e.Kind] += audit.Count(e)
	}
	for _, k := range []string{audit.KindCSRFReject, audit.KindHostReject, audit.KindRateLimited, audit.KindLoginLocked, audit.KindLoginFailure, audit.KindLockout} {
		if stored[k] != obs.events[k] {
			t.Errorf("%s: stored events count %d, metrics %d", k, stored[k], obs.events[k])
		}
	}
	// One window: per kind at most 100 clients counted apiece (3 rows and a summary each),
	// one summary of the rest, and the real events (2 failed logins, one lockout). The log
	// has a line per row and one per kind whose clients went over the cap.
	maxRows := 4*(audit.DefaultMaxKeys*(audit.DefaultDetailed+1)+1) + 3
	if len(ev) > maxRows {
		t.Errorf("%d event rows for %d refusals, want at most %d", len(ev), total, maxRows)
	}
	if n := logs.total(); n > int64(maxRows+4) {
		t.Errorf("%d log records for %d refusals, want at most %d: %v", n, total, maxRows+4, logs.msg)
	}
	growth := after - before
	t.Logf("%d requests in %v (%.0f/s): %d event rows, %d log records, database files %d → %d bytes (+%d)",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), len(ev), logs.total(), before, after, growth)
	if growth > 1<<20 {
		t.Errorf("database files grew by %d bytes for %d refusals, want at most 1 MiB", growth, total)
	}
}
