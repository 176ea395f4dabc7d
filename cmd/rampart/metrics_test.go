package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestServeMetrics: with RAMPART_METRICS_ADDR, `rampart serve` counts the reference app's
// refusals and serves them on a listener of its own, in a format promtool accepts; the
// application's listener does not serve them. promtool is required when
// RAMPART_TEST_PROMTOOL is set (CI) and skipped otherwise when missing.
func TestServeMetrics(t *testing.T) {
	newUserDir(t)
	t.Setenv("RAMPART_INSECURE_DEV", "1")
	t.Setenv("RAMPART_ADDR", "127.0.0.1:0")
	t.Setenv("RAMPART_METRICS_ADDR", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		code := serveContext(ctx, nil, pw, &stderr)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewReader(pr)
	var out string
	for range 2 {
		l, err := lines.ReadString('\n')
		if err != nil {
			cancel()
			t.Fatalf("serve printed %q then %v (exit %d)\n%s", out, err, <-done, stderr.String())
		}
		out += l
	}
	go func() { _, _ = io.Copy(io.Discard, lines) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d\n%s", code, stderr.String())
		}
	})
	base := regexp.MustCompile(`(https?://\S+?)/ `).FindStringSubmatch(out)
	murl := regexp.MustCompile(`(http://127\.0\.0\.1:\d+/metrics)`).FindStringSubmatch(out)
	if base == nil || murl == nil {
		t.Fatalf("banner %q", out)
	}

	// A forged cross-site POST, refused by CSRF.
	req, _ := http.NewRequest(http.MethodPost, base[1]+"/accounts/login", strings.NewReader("username=a&password=b"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged POST: %d", resp.StatusCode)
	}

	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get(murl[1])
	if code != http.StatusOK || !strings.Contains(body, `rampart_csrf_rejections_total{reason="bad_origin"} 1`) ||
		!strings.Contains(body, `rampart_security_events_total{kind="csrf.reject"} 1`) || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics: %d\n%s", code, body)
	}
	if code, app := get(base[1] + "/metrics"); strings.Contains(app, "rampart_csrf_rejections_total") {
		t.Fatalf("the application's listener serves the metrics (%d)", code)
	}

	tool := os.Getenv("RAMPART_TEST_PROMTOOL")
	if tool == "" {
		if tool, err = exec.LookPath("promtool"); err != nil {
			t.Skip("promtool not installed (Debian: apt-get install prometheus); set RAMPART_TEST_PROMTOOL to require it")
		}
	}
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("promtool check metrics on the reference app's /metrics: %v\n%s", err, out)
	}
}
