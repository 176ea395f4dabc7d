package common

import (
	"context"
	"errors"
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
