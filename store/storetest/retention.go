package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

// RunRetention checks that a store opened to keep maxEvents events (below 6) keeps exactly
// the newest events as they are appended, before any Sweep (a burst between sweeps must not
// grow the trail), and still exactly the newest once Sweep has run, and that a second Sweep
// changes nothing.
func RunRetention(t *testing.T, s store.Store, maxEvents int) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 6 {
		must(t, s.AppendEvent(ctx, store.Event{Kind: fmt.Sprint("k", i), Time: now}))
	}
	want := newest("k", maxEvents)
	ev, err := s.RecentEvents(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if kinds := eventKinds(ev); !slices.Equal(kinds, want) {
		t.Fatalf("before any sweep: events %v, want %v", kinds, want)
	}
	for round := range 2 {
		must(t, s.Sweep(ctx, now))
		ev, err := s.RecentEvents(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if kinds := eventKinds(ev); !slices.Equal(kinds, want) {
			t.Fatalf("after sweep %d: events %v; want %v", round+1, kinds, want)
		}
	}
}

// newest names the last n of the six items RunRetention adds, newest first.
func newest(prefix string, n int) []string {
	var w []string
	for i := 5; i > 5-n; i-- {
		w = append(w, fmt.Sprint(prefix, i))
	}
	return w
}

func eventKinds(ev []store.Event) []string {
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}
