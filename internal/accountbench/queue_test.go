package accountbench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

// oneUser starts the app over the memory store with one active user (password loginPassword,
// default argon2id cost) and lets configure set the app's hasher before its first use.
func oneUser(t *testing.T, configure func(maxConcurrent *int, maxWait *time.Duration)) (http.Handler, func() uint64, func(context.Context) (context.Context, func(), error)) {
	t.Helper()
	env, h := newApp(t, memory.New(), nil)
	hasher := env.Stack.Accounts.Hasher()
	configure(&hasher.MaxConcurrent, &hasher.MaxQueueWait)
	hash, err := hasher.Hash(context.Background(), loginPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Stack.Store.CreateUser(context.Background(), store.User{Username: "ann", Email: "ann@example.test",
		PasswordHash: hash, IsActive: true, DateJoined: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return h, hasher.Computations, hasher.Admit
}

// Concurrent correct logins of one account from one address all succeed. The lockout reserves
// a slot of the (username, address) pair per check in flight, and the pair has
// lockout.DefaultFailureLimit (5) slots: were the slot reserved before the login waited for
// its turn in the hashing queue, 16 logins queued behind 2 hashing slots would fill the pair's
// slots and be refused as locked (429). The turn comes first (auth.Hasher.Admit), so at most
// MaxConcurrent (2 here, below the pair limit) reservations are ever in flight.
func TestConcurrentLoginsOneAccount(t *testing.T) {
	// The queue wait is left unbounded: this is about the lockout, and under -race on a loaded
	// machine a hash takes long enough for the 16th login's predicted wait to pass the default.
	h, computations, _ := oneUser(t, func(n *int, wait *time.Duration) { *n, *wait = 2, -1 })
	before := computations()
	const logins = 16
	codes := make([]int, logins)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range logins {
		wg.Go(func() {
			r, body := loginRequest("ann", loginPassword, "10.9.0.1")
			w := newSink()
			<-start
			serveCopy(h, w, r, body)
			codes[i] = w.code
		})
	}
	close(start)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusSeeOther {
			t.Errorf("login %d: status %d, want 303", i, c)
		}
	}
	if got := computations() - before; got != logins {
		t.Errorf("%d hash computations, want %d", got, logins)
	}
}

// A login that cannot get a hashing slot within the hasher's MaxQueueWait is answered 503 with
// Retry-After, without a hash and without counting as a failure: once the slot is free the
// same login succeeds.
func TestLoginQueueWaitBound(t *testing.T) {
	h, computations, admit := oneUser(t, func(n *int, wait *time.Duration) { *n, *wait = 1, 20*time.Millisecond })
	// Hold the only slot for the whole attempt: the login waits out the bound and gives up.
	_, done, err := admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := computations()
	for i := range 6 { // more than the lockout's pair limit: none of them may count
		r, body := loginRequest("ann", loginPassword, "10.9.0.2")
		w := newSink()
		serveCopy(h, w, r, body)
		if w.code != http.StatusServiceUnavailable || w.h.Get("Retry-After") == "" {
			t.Fatalf("attempt %d with the slot taken: status %d, Retry-After %q; want 503 with Retry-After", i, w.code, w.h.Get("Retry-After"))
		}
	}
	if got := computations() - before; got != 0 {
		t.Errorf("%d hashes computed while refusing", got)
	}
	done()
	r, body := loginRequest("ann", loginPassword, "10.9.0.2")
	w := newSink()
	serveCopy(h, w, r, body)
	if w.code != http.StatusSeeOther {
		t.Errorf("after the slot was freed: status %d, want 303 (%s)", w.code, fmt.Sprint(w.h))
	}
}
