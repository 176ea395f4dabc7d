package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSlowBodyLoad is the measurement behind docs/SCALING.md's "Slow clients" section, not a
// regression test: it starts `rampart serve` as its own process, opens N connections that
// each send a login POST's headers and then one body byte every 2 s, and reports how long the
// server held them and its resident memory. It runs only when asked:
//
//	RAMPART_TEST_SLOWBODY_CONNS=2000 [RAMPART_TEST_SLOWBODY_IPS=20] [RAMPART_TEST_RAMPART_BIN=/path/to/old/rampart] \
//	  go test -count=1 -run TestSlowBodyLoad -v ./cmd/rampart
//
// Extra RAMPART_TEST_SLOWBODY_ENV="RAMPART_MAX_CONNS_PER_IP=0 RAMPART_BODY_TIMEOUT=30s" passes
// settings to the server (here: both limits off). Connections are spread over IPS source
// addresses 127.0.0.1, 127.0.0.2, ... (all loopback on Linux). The run is bounded: at most
// 20,000 connections, each given up after 60 s.
func TestSlowBodyLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RAMPART_TEST_SLOWBODY_CONNS"))
	if n <= 0 {
		t.Skip("set RAMPART_TEST_SLOWBODY_CONNS=2000 to measure slow-body connections (docs/SCALING.md)")
	}
	if n > 20000 {
		t.Fatalf("RAMPART_TEST_SLOWBODY_CONNS=%d: at most 20000", n)
	}
	ips, _ := strconv.Atoi(os.Getenv("RAMPART_TEST_SLOWBODY_IPS"))
	ips = max(1, min(ips, 250))
	const giveUp = 60 * time.Second

	bin := os.Getenv("RAMPART_TEST_RAMPART_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "rampart")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "RAMPART_INSECURE_DEV=1", "RAMPART_ADDR=127.0.0.1:0"}
	cmd.Env = append(cmd.Env, strings.Fields(os.Getenv("RAMPART_TEST_SLOWBODY_ENV"))...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	banner, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no banner: %v", err)
	}
	m := regexp.MustCompile(`:(\d+)/ `).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no port in %q", banner)
	}
	addr := "127.0.0.1:" + m[1]
	pid := cmd.Process.Pid
	base := rss(t, pid)

	// Sample the server's RSS until told to stop.
	var mu sync.Mutex
	peak := base
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if r := rss(t, pid); r > 0 {
					mu.Lock()
					peak = max(peak, r)
					mu.Unlock()
				}
			}
		}
	}()

	held := make([]time.Duration, n)
	refused := make([]bool, n)
	answered := make([]string, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%ips))}
			d := net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				refused[i] = true
				return
			}
			defer c.Close()
			t0 := time.Now()
			fmt.Fprintf(c, "POST /accounts/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 64\r\n\r\n")
			buf := make([]byte, 512)
			for time.Since(t0) < giveUp {
				if _, err := c.Write([]byte("u")); err != nil {
					break // closed by the server
				}
				c.SetReadDeadline(time.Now().Add(2 * time.Second)) // the pace: one byte every 2 s
				k, err := c.Read(buf)
				if k > 0 && answered[i] == "" {
					// An attacker ignores the answer (a 429 from the rate limit, a 403 from
					// CSRF) and keeps trickling until the server closes the connection.
					answered[i], _, _ = strings.Cut(string(buf[:k]), "\r\n")
				}
				if ne, ok := err.(net.Error); err != nil && (!ok || !ne.Timeout()) {
					break // EOF or reset: closed by the server
				}
			}
			held[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	total := time.Since(start)
	close(stop)
	<-sampled

	// Memory after the load, once the runtime has had a moment to return what it can.
	time.Sleep(5 * time.Second)
	after := rss(t, pid)
	hwm := status(t, pid, "VmHWM:")

	// Refused connections are closed without an answer, when accepted (which may be a moment
	// after the client's connect completes, in the listen backlog); the others are answered
	// (408, or 429/403 from the handlers before this change) and closed when their body is cut off.
	var unanswered, answeredN int
	var maxUnanswered time.Duration
	statuses := map[string]int{}
	var durs []time.Duration
	for i := range n {
		switch {
		case refused[i]:
		case answered[i] == "":
			unanswered++
			maxUnanswered = max(maxUnanswered, held[i])
		default:
			answeredN++
			durs = append(durs, held[i])
			statuses[answered[i]]++
		}
	}
	slices.Sort(durs)
	pct := func(p float64) time.Duration {
		if len(durs) == 0 {
			return 0
		}
		return durs[int(p*float64(len(durs)-1))].Round(100 * time.Millisecond)
	}
	t.Logf("slow-body load: %d connections from %d address(es), server %s %s", n, ips, filepath.Base(bin), os.Getenv("RAMPART_TEST_SLOWBODY_ENV"))
	t.Logf("  connect failed %d; closed unanswered %d (within %v); answered %d, held until closed: median %v, max %v; answers %v",
		count(refused), unanswered, maxUnanswered.Round(100*time.Millisecond), answeredN, pct(0.5), pct(1), statuses)
	mu.Lock()
	t.Logf("  server RSS: before %.0f MiB, peak sampled %.0f MiB (VmHWM %.0f MiB), 5 s after the last connection %.0f MiB; run %v",
		mib(base), mib(peak), mib(hwm), mib(after), total.Round(time.Second))
	mu.Unlock()
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func rss(t *testing.T, pid int) int64 { return status(t, pid, "VmRSS:") }

// status reads one kB field of /proc/PID/status.
func status(t *testing.T, pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}
