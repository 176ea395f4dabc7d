package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/rampart-go/rampart/store"
)

func TestLogLevel(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(live)
	cancel()
	expired, cancel2 := context.WithDeadline(live, time.Now().Add(-time.Second))
	defer cancel2()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want slog.Level
	}{
		{"client gone", cancelled, fmt.Errorf("postgres: %w", context.Canceled), slog.LevelDebug},
		{"client gone, driver's own error", cancelled, errors.New("sqlite: interrupted (9)"), slog.LevelDebug},
		{"store deadline in a request since cancelled", cancelled, fmt.Errorf("redis store: %w", context.DeadlineExceeded), slog.LevelError},
		{"store deadline", live, fmt.Errorf("postgres: %w", context.DeadlineExceeded), slog.LevelError},
		{"request deadline", expired, fmt.Errorf("postgres: %w", context.DeadlineExceeded), slog.LevelError},
		{"outage", live, errors.New("dial tcp: connection refused"), slog.LevelError},
		{"cancel error from a live request", live, context.Canceled, slog.LevelError},
	} {
		if got := store.LogLevel(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: LogLevel = %v, want %v", tc.name, got, tc.want)
		}
	}
}
