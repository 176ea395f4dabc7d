package redis_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/testbackends/redisserver"
	"github.com/rampart-go/rampart/store/redis"
)

// TestProbePersistence starts real redis-servers configured each way and checks what the probe
// reports, through a URL (as `rampart check` asks) and through an open Store (as rampart.New
// could). CONFIG renamed away and an ACL user allowed nothing but PING stand in for managed
// services that hide the configuration.
func TestProbePersistence(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		user   string // URL user:password of an ACL user, "" for the default user
		want   redis.Durability
		source string
		fsync  string
		save   string
		lone   time.Duration // LoneWrite, 0 when none
		detail string        // substring of Detail
	}{
		{name: "aof everysec", args: []string{"--appendonly", "yes", "--appendfsync", "everysec"},
			want: redis.DurabilityAOF, source: "CONFIG GET", fsync: "everysec"},
		{name: "aof always with snapshots", args: []string{"--appendonly", "yes", "--appendfsync", "always", "--save", "60 1"},
			want: redis.DurabilityAOF, source: "CONFIG GET", fsync: "always", save: "60 1", lone: time.Minute},
		{name: "nothing (as CI runs Redis)", want: redis.DurabilityNone, source: "CONFIG GET", fsync: "everysec"},
		{name: "default snapshot rules", args: []string{"--save", "3600 1 300 100 60 10000"},
			want: redis.DurabilitySnapshots, source: "CONFIG GET", fsync: "everysec", save: "3600 1 300 100 60 10000", lone: time.Hour},
		{name: "snapshots that skip a lone change", args: []string{"--save", "300 100"},
			want: redis.DurabilitySnapshots, source: "CONFIG GET", fsync: "everysec", save: "300 100"},
		{name: "CONFIG renamed, aof on", args: []string{"--rename-command", "CONFIG", "", "--appendonly", "yes"},
			want: redis.DurabilityAOF, source: "INFO persistence", detail: "CONFIG GET refused"},
		{name: "CONFIG renamed, aof off", args: []string{"--rename-command", "CONFIG", "", "--save", "60 1"},
			want: redis.DurabilityUnknown, source: "INFO persistence", detail: "aof_enabled:0"},
		{name: "ACL allows only PING", args: []string{"--user", "probe", "on", ">probe-pass-1", "+@connection"}, user: "probe:probe-pass-1",
			want: redis.DurabilityUnknown, detail: "INFO persistence refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := redisserver.Start(t, tc.args...)
			u := srv.URL()
			if tc.user != "" {
				u = strings.Replace(u, "redis://", "redis://"+tc.user+"@", 1)
			}
			ctx := context.Background()
			p, err := redis.ProbeURL(ctx, u, 3*time.Second)
			if err != nil {
				t.Fatalf("ProbeURL: %v\n%s", err, srv.Logs())
			}
			t.Logf("%s: %v", tc.name, p)
			if p.Durability != tc.want || p.Source != tc.source || p.AppendFsync != tc.fsync || p.Save != tc.save {
				t.Errorf("got %+v, want durability %v source %q fsync %q save %q", p, tc.want, tc.source, tc.fsync, tc.save)
			}
			if lone, ok := p.LoneWrite(); lone != tc.lone || ok != (tc.lone != 0) {
				t.Errorf("LoneWrite = %v, %v; want %v", lone, ok, tc.lone)
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("Detail %q does not mention %q", p.Detail, tc.detail)
			}
			if tc.user != "" {
				return // the store itself needs more than PING
			}
			s, err := redis.Open(ctx, u, redis.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if q, err := s.Persistence(ctx); err != nil || q != p {
				t.Errorf("Store.Persistence = %+v, %v; ProbeURL said %+v", q, err, p)
			}
		})
	}
}

// A server that cannot be reached is an error (the caller reports "could not connect"), not
// a durability, and it comes back within the timeout rather than after retries.
func TestProbePersistenceUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	for _, u := range []string{"redis://127.0.0.1:" + strconv.Itoa(port) + "/0", "redis://:pw-in-url@[::1"} {
		p, err := redis.ProbeURL(context.Background(), u, time.Second)
		if err == nil {
			t.Errorf("%s: no error, got %+v", u, p)
		} else if strings.Contains(err.Error(), "pw-in-url") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	// Wrong credentials are an error too: the server could not be asked.
	srv := redisserver.Start(t, "--requirepass", "right-pass-2")
	u := strings.Replace(srv.URL(), "redis://", "redis://:wrong-pass@", 1)
	if p, err := redis.ProbeURL(context.Background(), u, time.Second); err == nil {
		t.Errorf("wrong password: no error, got %+v", p)
	}
}

func TestLoneWrite(t *testing.T) {
	for _, tc := range []struct {
		save string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3600 1 300 100 60 10000", time.Hour, true},
		{"900 1 60 1", time.Minute, true},
		{"60 0", time.Minute, true},
		{"300 100", 0, false},
		{"3600", 0, false},
		{"x 1", 0, false},
		{"-5 1", 0, false},
		{"99999999999 1", 0, false},
	} {
		got, ok := redis.Persistence{Save: tc.save}.LoneWrite()
		if got != tc.want || ok != tc.ok {
			t.Errorf("LoneWrite(%q) = %v, %v; want %v, %v", tc.save, got, ok, tc.want, tc.ok)
		}
	}
}
