package accountbench

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/ratelimit"
)

const (
	victim         = "victim"
	victimPassword = "Vq7#pL2m!xR9zT4w-correct"
	// userLockAfter is the lockout's UserFailureLimit under the app's defaults (4 x
	// RAMPART_LOCKOUT_LIMIT 5): that many failures from different addresses lock the account
	// for everyone, which is what a botnet guessing one account runs into.
	userLockAfter = 20
	// argon2Bytes is what one argon2id computation at the default cost allocates
	// (x/crypto/argon2 makes m KiB of blocks per call): a run that allocates less than this
	// in total cannot have computed a hash.
	argon2Bytes = auth.DefaultArgon2MemoryKiB * 1024
)

// floodEnv starts the app over a fresh store of b and locks the victim account through the
// HTTP handler: userLockAfter wrong passwords from as many addresses.
func floodEnv(tb testing.TB, be backend) (*apptest.Env, http.Handler) {
	tb.Helper()
	env, h := newApp(tb, be.open(tb), nil)
	env.CreateUser(tb, victim, victimPassword, false)
	w := newSink()
	for i := 1; i <= userLockAfter; i++ {
		r, body := loginRequest(victim, "wrong-guess", fmt.Sprintf("10.0.0.%d", i))
		w.reset()
		serveCopy(h, w, r, body)
		want := http.StatusOK // the login form again, with the generic error
		if i == userLockAfter {
			want = http.StatusTooManyRequests
		}
		if w.code != want {
			tb.Fatalf("locking %s: attempt %d: status %d, want %d", be.name, i, w.code, want)
		}
	}
	return env, h
}

// attackers returns n prebuilt wrong-password requests against the victim, each from its own
// client address (n == 1: one address).
func attackers(n int) ([]*http.Request, []byte) {
	reqs := make([]*http.Request, n)
	var body []byte
	for i := range reqs {
		ip := "10.0.0.1"
		if n > 1 {
			ip = fmt.Sprintf("10.1.%d.%d", i/256, i%256)
		}
		reqs[i], body = loginRequest(victim, "another-guess", ip)
	}
	return reqs, body
}

func heapAllocBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestFloodLockedRejects checks what the flood benchmark counts: every attempt on the locked
// account, from one address or from thousands, is a 429 with Retry-After and the lockout
// message, and the whole flood allocates less than a single argon2 hash would — so no
// password hash was computed (the lockout check runs first). A control attempt on an
// unlocked account shows the allocation probe does see a hash.
func TestFloodLockedRejects(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			_, h := floodEnv(t, be)

			// Control: one wrong password for an unlocked (unknown) user from a fresh address
			// computes a hash, and the probe sees it.
			r, body := loginRequest("someone-else", "wrong", "10.9.9.9")
			w := newSink()
			before := heapAllocBytes()
			serveCopy(h, w, r, body)
			if got := heapAllocBytes() - before; w.code != http.StatusOK || got < argon2Bytes {
				t.Fatalf("control: status %d, allocated %d bytes; want 200 and >= %d (one hash)", w.code, got, argon2Bytes)
			}

			for _, n := range []int{1, 1024} {
				reqs, body := attackers(n)
				const perWorker, workers = 250, 8
				var bad atomic.Int64
				var firstBad atomic.Pointer[string]
				var wg sync.WaitGroup
				for g := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						w := newSink()
						w.body = new(bytes.Buffer)
						for i := range perWorker {
							w.reset()
							serveCopy(h, w, reqs[(g*perWorker+i)%len(reqs)], body)
							if w.code != http.StatusTooManyRequests || w.h.Get("Retry-After") == "" ||
								!strings.Contains(w.body.String(), "Too many failed login attempts") {
								if bad.Add(1) == 1 {
									msg := fmt.Sprintf("status %d, Retry-After %q, body %.200q", w.code, w.h.Get("Retry-After"), w.body.String())
									firstBad.Store(&msg)
								}
							}
						}
					}()
				}
				wg.Wait()
				if b := bad.Load(); b > 0 {
					t.Fatalf("%d addresses: %d of %d attempts were not lockout 429s; first: %s", n, b, workers*perWorker, *firstBad.Load())
				}
				// One request at a time, so each allocation delta belongs to one request:
				// none may come near the memory of one hash.
				var most uint64
				for i := range 500 {
					w.reset()
					before := heapAllocBytes()
					serveCopy(h, w, reqs[i%len(reqs)], body)
					got := heapAllocBytes() - before
					if w.code != http.StatusTooManyRequests {
						t.Fatalf("%d addresses: sequential attempt %d: status %d", n, i, w.code)
					}
					if got >= argon2Bytes/2 {
						t.Fatalf("%d addresses: reject %d allocated %d bytes, half an argon2 hash (%d): a hash ran before the lockout check",
							n, i, got, argon2Bytes)
					}
					most = max(most, got)
				}
				t.Logf("%s, %d addresses: %d concurrent + 500 sequential rejects, all 429; largest allocation of one reject %d bytes (one hash: %d)",
					be.name, n, workers*perWorker, most, argon2Bytes)
			}
		})
	}
}

// BenchmarkFloodLocked measures refused login attempts per second on a locked account
// through the whole default stack and the reference app's login handler (client IP, hosts,
// headers, CSP, rate limits, session, CSRF, lockout check, 429 page), with 32 concurrent
// requests per CPU. The per-IP limiters are set out of reach, so each request still pays the
// login limiter's store round trips; one-ip repeats one client address, rotating-ip spreads
// the flood over 4096 (a botnet), rotating-ip-memory-login-limiter does the same with the
// login limiter in process, leaving the lockout check as the only store-facing step.
// Every response is checked to be a 429.
func BenchmarkFloodLocked(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			env, h := floodEnv(b, be)
			for _, mode := range []struct {
				name     string
				n        int
				memLimit bool
			}{{"one-ip", 1, false}, {"rotating-ip", 4096, false}, {"rotating-ip-memory-login-limiter", 4096, true}} {
				b.Run(mode.name, func(b *testing.B) {
					if mode.memLimit {
						// Isolates the lockout check: the per-IP login limiter, which the app
						// consults before the lockout (one store read and one increment per
						// request), is swapped for an in-process one for this sub-benchmark.
						saved := env.Stack.LoginLimiter
						env.Stack.LoginLimiter = ratelimit.NewMemory(ratelimit.Rate{N: 1000000000, Per: time.Second}, ratelimit.MemoryOptions{})
						defer func() { env.Stack.LoginLimiter = saved }()
					}
					reqs, body := attackers(mode.n)
					var next atomic.Int64
					var bad atomic.Int64
					b.ReportAllocs()
					b.SetParallelism(32)
					b.ResetTimer()
					cpu0 := cpuTime()
					b.RunParallel(func(pb *testing.PB) {
						w := newSink()
						i := int(next.Add(7919))
						for pb.Next() {
							w.reset()
							serveCopy(h, w, reqs[i%len(reqs)], body)
							if w.code != http.StatusTooManyRequests {
								bad.Add(1)
							}
							i++
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rejects/s")
					// CPU time of the whole process per reject: unlike wall time it does not
					// shrink when other processes share the cores, so nproc x 1e9 / cpu-ns is
					// what an otherwise idle machine would sustain.
					b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
					if n := bad.Load(); n > 0 {
						b.Fatalf("%d of %d responses were not 429", n, b.N)
					}
				})
			}
		})
	}
}
