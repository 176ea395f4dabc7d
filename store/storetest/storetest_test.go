package storetest_test

import (
	"testing"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/storetest"
)

// sessionsOnly is a backend that implements sessions and nothing else: the struct hides every
// other method of the memory store, so it is not a store.Store (nor an Updater).
type sessionsOnly struct{ store.Sessions }

// countersOnly is a backend that implements counters and nothing else.
type countersOnly struct{ store.Counters }

func fresh(t *testing.T) *memory.Store {
	s := memory.New()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestPerKind: a backend that implements one kind of state is checked by that kind's suite
// alone, without the whole store.Store.
func TestPerKind(t *testing.T) {
	var _ store.Sessions = sessionsOnly{}
	if _, ok := any(sessionsOnly{}).(store.Store); ok {
		t.Fatal("sessionsOnly must not be a whole store")
	}
	t.Run("SessionsOnly", func(t *testing.T) {
		storetest.RunSessions(t, func(t *testing.T) store.Sessions { return sessionsOnly{fresh(t)} })
	})
	t.Run("CountersOnly", func(t *testing.T) {
		storetest.RunCounters(t, func(t *testing.T) store.Counters { return countersOnly{fresh(t)} })
	})
}
