package store

import "time"

// Observer is told of each operation a backend makes against its server (a statement, a
// query, a command, a pipeline), for metrics: backend is "postgres", "redis" or "sqlite", op
// names the kind of operation ("exec", "query", "begin", "batch", "command", "pipeline",
// "tx"), d is how long it took and err how it ended (nil on success; a missing row is a
// success). It is called on the caller's goroutine after the operation, so it must be quick
// and must not call the store. Backends take it in their Options; package metrics
// implements it.
type Observer interface {
	ObserveStore(backend, op string, d time.Duration, err error)
}
