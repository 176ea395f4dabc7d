package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

// RunRetention checks that a store opened to keep maxEvents events and maxComments comments
// (both below 6) keeps exactly the newest events as they are appended, before any Sweep (a
// burst between sweeps must not grow the trail), and exactly the newest of both once Sweep
// has run, and that a second Sweep changes nothing. Comments may be trimmed at Sweep only.
func RunRetention(t *testing.T, s store.Store, maxEvents, maxComments int) {
	t.Helper()
	ctx := context.Background()
	cs, ok := s.(store.Comments)
	if !ok {
		t.Fatal("store has no comments")
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 6 {
		must(t, s.AppendEvent(ctx, store.Event{Kind: fmt.Sprint("k", i), Time: now}))
		if _, err := cs.AddComment(ctx, store.Comment{UserID: "u", Username: "u", Body: fmt.Sprint("c", i), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	wantEvents, wantComments := newest("k", maxEvents), newest("c", maxComments)
	ev, err := s.RecentEvents(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if kinds := eventKinds(ev); !slices.Equal(kinds, wantEvents) {
		t.Fatalf("before any sweep: events %v, want %v", kinds, wantEvents)
	}
	for round := range 2 {
		must(t, s.Sweep(ctx, now))
		ev, err := s.RecentEvents(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		kinds := eventKinds(ev)
		cm, err := cs.RecentComments(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, c := range cm {
			bodies = append(bodies, c.Body)
		}
		if !slices.Equal(kinds, wantEvents) || !slices.Equal(bodies, wantComments) {
			t.Fatalf("after sweep %d: events %v, comments %v; want %v and %v", round+1, kinds, bodies, wantEvents, wantComments)
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
