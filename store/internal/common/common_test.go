package common

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/store"
)

func TestSweepLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var calls []time.Time
		var errs int
		start := time.Now()
		done := make(chan struct{})
		go func() {
			SweepLoop(ctx, time.Minute, nil, func(_ context.Context, now time.Time) error {
				calls = append(calls, now)
				if len(calls) == 2 {
					return errors.New("down")
				}
				return nil
			}, func(error) { errs++ })
			close(done)
		}()
		time.Sleep(3*time.Minute + time.Second) // fake clock inside the bubble
		synctest.Wait()
		cancel()
		<-done
		if len(calls) != 3 || errs != 1 {
			t.Fatalf("calls = %d, errs = %d; want 3 and 1", len(calls), errs)
		}
		if got := calls[0].Sub(start); got != time.Minute {
			t.Fatalf("first sweep after %v, want 1m", got)
		}
	})
}

func TestSortSessionsAndMicros(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	s := []store.Session{
		{Key: "b", LastSeen: now},
		{Key: "c", LastSeen: now.Add(time.Second)},
		{Key: "a", LastSeen: now},
	}
	SortSessions(s)
	if s[0].Key != "c" || s[1].Key != "a" || s[2].Key != "b" {
		t.Fatalf("order %v", s)
	}
	if !FromMicros(Micros(time.Time{})).IsZero() {
		t.Fatal("zero time does not survive")
	}
	if got := FromMicros(Micros(now)); !got.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("round trip %v", got)
	}
	if FoldKey("ÉMILE") != "émile" {
		t.Fatal("FoldKey")
	}
}

func TestTimeout(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, store.DefaultTimeout}, {-1, 0}, {250 * time.Millisecond, 250 * time.Millisecond},
	} {
		if got := Timeout(tc.in); got != tc.want {
			t.Errorf("Timeout(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// WithTimeout adds a deadline only when the caller's context would allow more.
func TestWithTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bg := context.Background()
		ctx, cancel := WithTimeout(bg, time.Second)
		defer cancel()
		if dl, ok := ctx.Deadline(); !ok || dl != time.Now().Add(time.Second) {
			t.Errorf("no caller deadline: got %v %v, want now+1s", dl, ok)
		}
		soon, c1 := context.WithTimeout(bg, 100*time.Millisecond)
		defer c1()
		if ctx, cancel := WithTimeout(soon, time.Second); ctx != soon {
			t.Error("an earlier caller deadline was replaced")
		} else {
			cancel()
		}
		late, c2 := context.WithTimeout(bg, time.Hour)
		defer c2()
		ctx2, cancel2 := WithTimeout(late, time.Second)
		defer cancel2()
		if dl, _ := ctx2.Deadline(); dl != time.Now().Add(time.Second) {
			t.Errorf("a later caller deadline was kept: %v", dl)
		}
		if ctx, _ := WithTimeout(bg, 0); ctx != bg {
			t.Error("no limit (0) still added a deadline")
		}
		start := time.Now()
		<-ctx.Done()
		if took := time.Since(start); took != time.Second || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("ended after %v with %v, want 1s and a deadline", took, ctx.Err())
		}
	})
}

// Each sweep runs under its own bound, so a frozen store cannot hold the sweeper forever.
func TestSweepLoopBoundsEachSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		got := make(chan error, 1)
		go SweepLoop(ctx, time.Minute, nil, func(sctx context.Context, _ time.Time) error {
			dl, ok := sctx.Deadline()
			if !ok || dl != time.Now().Add(SweepTimeout) {
				got <- fmt.Errorf("sweep deadline %v %v, want now+%v", dl, ok, SweepTimeout)
			} else {
				<-sctx.Done() // a frozen store: the sweep returns when its bound ends
				got <- sctx.Err()
			}
			cancel()
			return nil
		}, nil)
		time.Sleep(time.Minute)
		if err := <-got; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
	})
}
