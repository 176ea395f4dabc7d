package accountbench

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps warnings out of the output: the app logs every login failure as a security
// event, thousands of lines in these runs. Errors still show.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(m.Run())
}
