package memory_test

import (
	"testing"

	"github.com/rampart-go/rampart/internal/comments/commentstest"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
	"github.com/rampart-go/rampart/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Log("conformance: memory")
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
	commentstest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}

func BenchmarkLoadSave(b *testing.B) {
	storetest.BenchLoadSave(b, memory.New())
}

func BenchmarkIncr(b *testing.B) {
	storetest.BenchIncr(b, memory.New())
}

// Every backend offers the session package's Updater (UpdateSession), checked at compile time.
var _ storetest.Updater = (*memory.Store)(nil)
