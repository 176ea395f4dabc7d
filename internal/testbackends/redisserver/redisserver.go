// Package redisserver starts private redis-server processes for tests that must configure,
// kill or restart the server (persistence, outages): the shared test Redis cannot be taken
// away or reconfigured without disturbing other tests.
//
// redis-server must be on PATH. When it is not, the test is skipped with a message, except
// where RAMPART_TEST_REDIS_URL is set (CI, which installs Redis): there a missing binary fails
// the test, so that these tests cannot silently stop running.
package redisserver

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Binary returns the path of redis-server, skipping the test when it is not installed (or
// failing it when RAMPART_TEST_REDIS_URL is set).
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	if os.Getenv("RAMPART_TEST_REDIS_URL") != "" {
		t.Fatalf("redis-server is not installed, but RAMPART_TEST_REDIS_URL is set (CI): this test starts its own Redis and must run: %v", err)
	}
	t.Skip("redis-server is not installed; this test starts its own Redis (install redis-server to run it)")
	return ""
}

// Server is one redis-server process on a loopback port, with its data directory.
type Server struct {
	Port int
	Dir  string
	bin  string
	args []string
	// conf is the sentinel's configuration file ("" for a data server): sentinels need one
	// they can rewrite, and are ready once they monitor their master.
	conf string

	mu       sync.Mutex
	client   *goredis.Client
	sentinel *goredis.SentinelClient
	cmd      *exec.Cmd
	done     chan struct{}
	logs     bytes.Buffer
}

// Start runs redis-server on a free loopback port with its data in a fresh temporary
// directory, plus args (for example "--appendonly", "yes"; later arguments win over the
// defaults "--save" "" "--appendonly" "no"), waits until it accepts connections, and kills it
// when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s := &Server{Port: freePort(t), Dir: t.TempDir(), bin: Binary(t), args: args}
	s.start(t)
	t.Cleanup(func() { s.Kill(t) })
	return s
}

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0" }

func (s *Server) start(t testing.TB) {
	t.Helper()
	args := append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--dir", s.Dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice", "--logfile", ""}, s.args...)
	readyLine := "Ready to accept connections"
	if s.conf != "" {
		args = append([]string{s.conf, "--sentinel"}, args...)
		readyLine = "+monitor master"
	}
	cmd := exec.Command(s.bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done, ready := make(chan struct{}), make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		closed := false
		for sc.Scan() {
			s.mu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if !closed && strings.Contains(sc.Text(), readyLine) {
				close(ready)
				closed = true
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-ready:
	case <-done:
		t.Fatalf("redis-server exited at start:\n%s", s.Logs())
	case <-time.After(15 * time.Second):
		t.Fatalf("redis-server not ready within 15s:\n%s", s.Logs())
	}
}

// Kill stops the server with SIGKILL, as a crash would (no final snapshot), and waits for it
// to exit. Killing a stopped server does nothing.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	if s.client != nil {
		_ = s.client.Close()
	}
	if s.sentinel != nil {
		_ = s.sentinel.Close()
	}
	s.client, s.sentinel = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("redis-server (pid %d) did not exit within 10s of SIGKILL", cmd.Process.Pid)
	}
}

// Restart kills the server and starts it again on the same port, with the same directory
// and arguments: what it persisted there, and nothing else, is back.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill(t)
	s.start(t)
}

// Logs returns what the server printed so far (for failure messages).
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// freePort asks the kernel for a free loopback port: redis-server cannot report the port it
// picked, so one is chosen for it.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
