package sqlite_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/sqlite"
)

// BenchmarkSyncWriteTail measures the latency of synchronous writes (a session save, as a
// login does, each its own commit on the single writer) one after another, and reports
// their p50, p99, p99.9 and max: a commit that runs a WAL checkpoint (SQLite's default
// every 1000 pages) copies the WAL back and fsyncs on the writer, and that commit, with
// every write queued behind it, is the tail (issue 18 item 2). Disk-bound, so it moves less
// with the machine's CPU load than wrk does.
//
//	go test -run '^$' -bench BenchmarkSyncWriteTail -benchtime 20000x ./store/sqlite
func BenchmarkSyncWriteTail(b *testing.B) {
	s, err := sqlite.OpenWith(b.TempDir()+"/tail.db", sqlite.Options{NoSessionCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	data := make([]byte, 2000) // a session of a few values: about half a page
	lat := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		x := store.Session{Key: "k" + strconv.Itoa(i%5000), UserID: "1", Data: data, IP: "203.0.113.7",
			UserAgent: "bench", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		i++
		t0 := time.Now()
		if err := s.SaveSession(ctx, x); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(q(0.999), "p99.9-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
