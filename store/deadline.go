package store

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// DefaultTimeout bounds one store operation when the backend's Options.Timeout is zero
// (RAMPART_STORE_TIMEOUT; settings/doc.go says why 2 s). A backend that cannot answer within
// it returns an error wrapping context.DeadlineExceeded, and callers fail closed (503), so a
// frozen database costs a request this long at most per store call instead of hanging it.
const DefaultTimeout = 2 * time.Second

// LogLevel is the level at which to log err, returned by a store call made for the request
// whose context is ctx: slog.LevelDebug when the request was cancelled (the client hung up,
// or the server is shutting down) and err is not a deadline, because the call was cut short
// by the request's end rather than failed by the store; slog.LevelError otherwise. An outage
// is then what operators alert on, and a load test's last disconnects are not.
//
// A store that does not answer in time fails with a deadline (see DefaultTimeout), which is
// always an error. Keep the store timeout below the client's and the proxy's, or a frozen
// store is seen only as cancelled requests.
func LogLevel(ctx context.Context, err error) slog.Level {
	if err != nil && errors.Is(ctx.Err(), context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return slog.LevelDebug
	}
	return slog.LevelError
}
