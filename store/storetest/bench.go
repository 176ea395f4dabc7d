package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

// BenchLoadSave measures one request's session work: load an existing session, then save it
// with a new LastSeen, on 64 rotating keys (a realistic session of 200 bytes of data).
func BenchLoadSave(b *testing.B, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	const keys = 64
	for i := range keys {
		x := session("bench"+strconv.Itoa(i), "u"+strconv.Itoa(i%8), now, time.Hour)
		x.Data = make([]byte, 200)
		if err := s.SaveSession(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
	names := make([]string, keys)
	for i := range names {
		names[i] = "bench" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		x, err := s.LoadSession(ctx, names[i%keys], now)
		if err != nil {
			b.Fatal(err)
		}
		x.LastSeen = now.Add(time.Duration(i) * time.Microsecond)
		if err := s.SaveSession(ctx, x); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchIncr measures one rate-limit hit on 64 rotating keys.
func BenchIncr(b *testing.B, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	names := make([]string, 64)
	for i := range names {
		names[i] = "rl:ip:192.0.2." + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Incr(ctx, names[i%len(names)], 1, now, time.Minute, false); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
