// Package scaletest holds rampart's multi-instance tests: real `rampart serve` processes
// sharing one PostgreSQL and one Redis (login flood, brute force across instances, sessions
// and TOTP replay state seen alike by every instance, peak memory), a store-outage test (503
// while the store is gone, recovery without restart), a frozen-store test (a private
// PostgreSQL and Redis stopped with SIGSTOP: 503 within the store deadline), a full-disk test
// on SQLite (root only: a small tmpfs), a count of store round trips per request, and a
// graceful restart on SQLite that must keep a deferred session write. The figures feed
// docs/SCALING.md.
//
// The tests need RAMPART_TEST_POSTGRES_URL and RAMPART_TEST_REDIS_URL (the outage test also
// starts its own redis-server, the frozen-store test its own PostgreSQL and redis-server) and
// skip with a message when they are unset. Nothing here is imported by rampart itself.
package scaletest
