package accountbench

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/store"
)

const timingPassword = "Tz8#mQ2v!Kp5wR1y-timing"

// attempt is one failure path of a login: the username and password tried.
type attempt struct{ name, username, password string }

// failurePaths are the four ways a login fails; an observer must not tell them apart by time.
// "inactive" tries the correct password of a deactivated account, the case Django leaked
// (CVE-2024-39329 covered unusable passwords; #20760 unknown users).
var failurePaths = []attempt{
	{"unknown-user", "nobody-here", timingPassword},
	{"wrong-password", "alice", "not-the-password-1"},
	{"inactive-user", "ivan", timingPassword},
	{"unusable-password", "ursula", timingPassword},
}

// reference is the success path, measured beside them for scale (it is expected to differ:
// a success does more than a failure in the app, not less work in the hasher).
var reference = attempt{"correct-password", "alice", timingPassword}

// timingUsers stores alice (active), ivan (inactive) and ursula (unusable password) in st,
// with a default-cost argon2id hash made by h.
func timingUsers(tb testing.TB, st store.Users, h *auth.Hasher) {
	tb.Helper()
	ctx := context.Background()
	hash, err := h.Hash(ctx, timingPassword)
	if err != nil {
		tb.Fatal(err)
	}
	for _, u := range []store.User{
		{Username: "alice", PasswordHash: hash, IsActive: true},
		{Username: "ivan", PasswordHash: hash, IsActive: false},
		{Username: "ursula", PasswordHash: auth.UnusablePassword(), IsActive: true},
	} {
		u.Email = u.Username + "@example.test"
		u.DateJoined = time.Now()
		if _, err := st.CreateUser(ctx, u); err != nil {
			tb.Fatal(err)
		}
	}
}

// serviceFor returns an auth.Service over a fresh store of be with the timing users.
func serviceFor(tb testing.TB, be backend) *auth.Service {
	tb.Helper()
	st := be.open(tb)
	svc, err := auth.New(st, auth.Options{Keys: [][]byte{bytes.Repeat([]byte("k"), auth.MinKeyLen)}})
	if err != nil {
		tb.Fatal(err)
	}
	timingUsers(tb, st, svc.Hasher())
	return svc
}

// httpTimingApp starts the app (SQLite) with the timing users and a lockout limit out of
// reach, so every attempt reaches Authenticate.
func httpTimingApp(tb testing.TB) http.Handler {
	tb.Helper()
	env, h := newApp(tb, backends[1].open(tb), map[string]string{"RAMPART_LOCKOUT_LIMIT": "1000000000"})
	timingUsers(tb, env.Stack.Store, env.Stack.Accounts.Hasher())
	return h
}

// TestFailurePathsSameWork checks the property the timing benchmark measures, without
// timing: each failure path of Authenticate answers ErrInvalidCredentials and computes
// exactly one default-cost argon2id hash (its allocation, at least one hash's memory and
// less than two), as does a correct password; through HTTP each failure is the same 200
// with the generic message.
func TestFailurePathsSameWork(t *testing.T) {
	svc := serviceFor(t, backends[0])
	ctx := context.Background()
	for _, a := range append(failurePaths[:len(failurePaths):len(failurePaths)], reference) {
		before := heapAllocBytes()
		_, err := svc.Authenticate(ctx, a.username, a.password)
		got := heapAllocBytes() - before
		if a == reference {
			if err != nil {
				t.Fatalf("%s: %v", a.name, err)
			}
		} else if !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("%s: err %v, want ErrInvalidCredentials", a.name, err)
		}
		if got < argon2Bytes || got >= 2*argon2Bytes {
			t.Errorf("%s allocated %d bytes: want exactly one argon2id hash (%d..%d)", a.name, got, argon2Bytes, 2*argon2Bytes)
		}
	}

	h := httpTimingApp(t)
	w := newSink()
	w.body = new(bytes.Buffer)
	for _, a := range failurePaths {
		r, body := loginRequest(a.username, a.password, "10.3.0.1")
		w.reset()
		serveCopy(h, w, r, body)
		if w.code != http.StatusOK || !bytes.Contains(w.body.Bytes(), []byte("Please enter a correct username and password")) {
			t.Errorf("%s over HTTP: status %d, body %.300q", a.name, w.code, w.body.String())
		}
	}
}

// BenchmarkAuthenticate measures each failure path of auth.Service.Authenticate (and the
// success path for scale) over the memory and SQLite stores, one case per sub-benchmark.
func BenchmarkAuthenticate(b *testing.B) {
	for _, be := range backends[:2] {
		b.Run(be.name, func(b *testing.B) {
			svc := serviceFor(b, be)
			ctx := context.Background()
			for _, a := range append(failurePaths[:len(failurePaths):len(failurePaths)], reference) {
				b.Run(a.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						_, err := svc.Authenticate(ctx, a.username, a.password)
						if (a == reference) != (err == nil) {
							b.Fatalf("%s: %v", a.name, err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkLoginFailureHTTP measures each failure path as POST /accounts/login through the
// whole stack (lockout check, Authenticate, failure count, audit event, form re-rendered).
func BenchmarkLoginFailureHTTP(b *testing.B) {
	h := httpTimingApp(b)
	for _, a := range failurePaths {
		b.Run(a.name, func(b *testing.B) {
			r, body := loginRequest(a.username, a.password, "10.3.0.2")
			w := newSink()
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				serveCopy(h, w, r, body)
				if w.code != http.StatusOK {
					b.Fatalf("%s: status %d", a.name, w.code)
				}
			}
		})
	}
}

// BenchmarkTimingInterleaved runs the four failure paths round-robin within one loop (the
// order rotating each iteration), so a change in machine load hits every path alike, and
// reports each path's mean time and its ratio to wrong-password (known user, wrong password).
// The target is every ratio within 0.8–1.25; it is reported, not asserted.
func BenchmarkTimingInterleaved(b *testing.B) {
	ctx := context.Background()
	svc := serviceFor(b, backends[0])
	h := httpTimingApp(b)
	levels := []struct {
		name string
		run  func(b *testing.B, a attempt)
	}{
		{"service", func(b *testing.B, a attempt) {
			if _, err := svc.Authenticate(ctx, a.username, a.password); !errors.Is(err, auth.ErrInvalidCredentials) {
				b.Fatalf("%s: %v", a.name, err)
			}
		}},
		{"http", func() func(b *testing.B, a attempt) {
			w := newSink()
			return func(b *testing.B, a attempt) {
				r, body := loginRequest(a.username, a.password, "10.3.0.3")
				w.reset()
				serveCopy(h, w, r, body)
				if w.code != http.StatusOK {
					b.Fatalf("%s: status %d", a.name, w.code)
				}
			}
		}()},
	}
	for _, lv := range levels {
		b.Run(lv.name, func(b *testing.B) {
			// Beside wall time, the process's CPU time per attempt: nothing else runs in the
			// process meanwhile (argon2 computes on goroutines of its own, so the calling
			// thread's time would miss it), and unlike wall time it does not grow when the
			// shared machine deschedules the benchmark.
			wall := make([][]time.Duration, len(failurePaths))
			cpu := make([][]time.Duration, len(failurePaths))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for k := range failurePaths {
					j := (i + k) % len(failurePaths)
					t0, c0 := time.Now(), cpuTime()
					lv.run(b, failurePaths[j])
					cpu[j] = append(cpu[j], cpuTime()-c0)
					wall[j] = append(wall[j], time.Since(t0))
				}
				i++
			}
			// Medians: on a shared machine a descheduled attempt adds a long outlier to
			// whichever path it hit; the median keeps the typical cost of each path.
			refWall, refCPU := float64(median(wall[1])), float64(median(cpu[1]))
			for j, a := range failurePaths {
				w, c := float64(median(wall[j])), float64(median(cpu[j]))
				b.ReportMetric(w, a.name+"-ns")
				b.ReportMetric(c, a.name+"-cpu-ns")
				if j != 1 {
					b.ReportMetric(w/refWall, a.name+"/wrong-password")
					b.ReportMetric(c/refCPU, a.name+"/wrong-password-cpu")
				}
			}
		})
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
