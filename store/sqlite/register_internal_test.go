package sqlite

import (
	"testing"
	"time"

	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store/internal/registry"
)

// The options a database URL sets reach the store, and a process that serves no sessions
// never caches them.
func TestURLOptions(t *testing.T) {
	tests := []struct {
		url  string
		tool bool
		want Options
	}{
		{"sqlite://r.db", false, Options{}},
		{"sqlite://r.db", true, Options{NoSessionCache: true}},
		{"sqlite://r.db?session_cache=off", false, Options{NoSessionCache: true}},
		{"r.db?session_write_delay=50ms", false, Options{SessionWriteDelay: 50 * time.Millisecond}},
		{"r.db?session_write_delay=0", true, Options{NoSessionCache: true, SyncSessionWrites: true}},
	}
	for _, tc := range tests {
		d, err := settings.ParseDatabaseURL(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		got := urlOptions(registry.Options{Database: d, ServesNoSessions: tc.tool, Timeout: time.Second})
		tc.want.Timeout = time.Second
		if got != tc.want {
			t.Errorf("%s (tool %v): %+v, want %+v", tc.url, tc.tool, got, tc.want)
		}
	}
}
