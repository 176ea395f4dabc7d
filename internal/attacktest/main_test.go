package attacktest

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/internal/corpora"
	"github.com/rampart-go/rampart/internal/testbackends"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/postgres"
	"github.com/rampart-go/rampart/store/redis"
)

// counts records how many payloads or attempts each category tried; TestMain prints them so
// CI logs show the suite's coverage even without -v.
var counts = struct {
	sync.Mutex
	m map[string]int
}{m: map[string]int{}}

func count(category string, n int) {
	counts.Lock()
	counts.m[category] += n
	counts.Unlock()
}

func TestMain(m *testing.M) {
	// The app logs every security event at Info; thousands of attack requests would bury
	// the test output, so only warnings and errors are shown.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	code := m.Run()
	counts.Lock()
	names := make([]string, 0, len(counts.m))
	for k := range counts.m {
		names = append(names, k)
	}
	sort.Strings(names)
	total := 0
	fmt.Println("attack suite: payloads / attempts tried per category")
	for _, k := range names {
		fmt.Printf("  %-48s %6d\n", k, counts.m[k])
		total += counts.m[k]
	}
	fmt.Printf("  %-48s %6d\n", "total", total)
	counts.Unlock()
	os.Exit(code)
}

const (
	alicePW = "correct horse battery staple 9"
	bobPW   = "tr0ub4dor and 3 more words"
)

// corpusLines reads the non-empty lines of a corpus file (path relative to shared/corpora).
func corpusLines(t *testing.T, rel string) []string {
	t.Helper()
	f, err := os.Open(corpora.File(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("corpus %s is empty", rel)
	}
	return out
}

// corpusDir lists the files of a corpus directory.
func corpusDir(t *testing.T, sub string) []string {
	t.Helper()
	dir := corpora.Dir(t, sub)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".txt") {
			out = append(out, filepath.Join(sub, e.Name()))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no .txt files in corpus %s", sub)
	}
	return out
}

// cheapHashing lowers the argon2id cost of env's new hashes (and so of the users created
// after it) to the minimum. Only for tests about redirects and injection that need hundreds
// of successful logins: at the real cost (~100 ms each under -race) they would dominate the
// suite, and they test nothing about hashing. Call it before the first hash is computed.
func cheapHashing(env *apptest.Env) {
	env.Stack.Accounts.Hasher().Argon2 = auth.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
}

// loggedIn reports whether c's session is authenticated: a login-only page answers 200
// instead of redirecting to the login form.
func loggedIn(t *testing.T, c *apptest.Client) bool {
	t.Helper()
	r := c.Get("/accounts/sessions")
	switch r.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		if !strings.HasPrefix(apptest.Path(r.Header.Get("Location")), "/accounts/login") {
			t.Fatalf("anonymous /accounts/sessions redirected to %q", r.Header.Get("Location"))
		}
		return false
	}
	t.Fatalf("/accounts/sessions: unexpected status %d", r.StatusCode)
	return false
}

// postRaw sends a POST without touching c.Last's token logic: headers as given, cookies
// from c's jar. Used where a case needs exact control of Origin, Sec-Fetch-Site and token.
func postRaw(t *testing.T, c *apptest.Client, base, path string, form url.Values, hdr map[string]string) *apptest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.Do(req)
}

// cookieValue returns the value of the named cookie c's jar would send to u.
func cookieValue(c *apptest.Client, u, name string) string {
	pu, _ := url.Parse(u)
	for _, ck := range c.HTTP.Jar.Cookies(pu) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// setCookie plants a cookie in c's jar as if the site had set it.
func setCookie(c *apptest.Client, u, name, value string) {
	pu, _ := url.Parse(u)
	c.HTTP.Jar.SetCookies(pu, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// sharedBackend opens two independent handles on one backend, as two application instances
// would: state written through one must be seen (and raced) through the other.
type sharedBackend struct {
	name string
	open func(t *testing.T) (a, b store.Store)
}

// sharedBackends lists SQLite (always) and PostgreSQL / Redis when their test URLs are set.
func sharedBackends() []sharedBackend {
	return []sharedBackend{
		{"sqlite", func(t *testing.T) (store.Store, store.Store) { return testbackends.SQLitePair(t) }},
		{"postgres", func(t *testing.T) (store.Store, store.Store) {
			return testbackends.PostgresPair(t, postgres.Options{})
		}},
		{"redis", func(t *testing.T) (store.Store, store.Store) { return testbackends.RedisPair(t, redis.Options{}) }},
	}
}

// drain reads and closes a response body.
func drain(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	return string(b)
}
