// Command loginload measures correct-password logins against a running `rampart serve`: each
// of -c workers loops for -d, and every iteration is a new browser (empty cookie jar) that
// GETs the login page for its CSRF cookie and token, then POSTs the correct password and
// expects the 303 of a completed login. It prints the rate and the POST's latency
// percentiles, and with -pid the server's peak RSS (VmHWM, reset at the start when the
// kernel allows it). Issue 18 item 4; docs/ACCOUNTS-BENCH.md has the commands.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tokenRE finds the CSRF field: rampart's default name, or Django's when configured.
var tokenRE = regexp.MustCompile(`name="(csrf_token|csrfmiddlewaretoken)" value="([^"]+)"`)

func main() {
	base := flag.String("url", "http://127.0.0.1:8089", "server base URL")
	users := flag.String("users", "user0", "comma-separated usernames; worker i logs in as users[i mod len]")
	pw := flag.String("password", "", "their password")
	c := flag.Int("c", 8, "concurrent workers")
	d := flag.Duration("d", 15*time.Second, "duration")
	pid := flag.Int("pid", 0, "server process id, to report its peak RSS (VmHWM)")
	flag.Parse()
	names := strings.Split(*users, ",")
	if *pid > 0 {
		// "5" resets VmHWM to the current RSS (Linux); without it the peak covers the server's
		// whole life, which includes startup only.
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", *pid), []byte("5"), 0)
	}
	rss0 := status(*pid, "VmRSS")
	cpu0 := cpuTime(*pid)
	tr := &http.Transport{MaxIdleConnsPerHost: *c}
	var mu sync.Mutex
	var lat []time.Duration
	codes := map[int]int{}
	errs := 0
	deadline := time.Now().Add(*d)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range *c {
		wg.Go(func() {
			name := names[i%len(names)]
			for time.Now().Before(deadline) {
				took, code, err := login(tr, *base, name, *pw)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					codes[code]++
					if code == http.StatusSeeOther {
						lat = append(lat, took)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	el := time.Since(t0)
	slices.Sort(lat)
	pct := func(p float64) string {
		if len(lat) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1fms", float64(lat[min(len(lat)-1, int(p*float64(len(lat))))])/1e6)
	}
	fmt.Printf("logins %d in %.1fs = %.1f/s; POST latency p50 %s p90 %s p99 %s max %s; statuses %v; errors %d\n",
		len(lat), el.Seconds(), float64(len(lat))/el.Seconds(), pct(.5), pct(.9), pct(.99), pct(1), codes, errs)
	if *pid > 0 {
		cpu := cpuTime(*pid) - cpu0
		fmt.Printf("server RSS before %.1f MiB, peak (VmHWM) %.1f MiB; server CPU %.1f ms per login\n",
			rss0, status(*pid, "VmHWM"), float64(cpu)/float64(time.Millisecond)/float64(max(len(lat), 1)))
	}
}

// login is one new browser's login; it returns the POST's latency and status.
func login(tr http.RoundTripper, base, user, pw string) (time.Duration, int, error) {
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Transport: tr, Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(base + "/accounts/login")
	if err != nil {
		return 0, 0, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := tokenRE.FindSubmatch(body)
	if m == nil {
		return 0, 0, fmt.Errorf("no CSRF token (status %d)", resp.StatusCode)
	}
	form := url.Values{string(m[1]): {string(m[2])}, "username": {user}, "password": {pw}}
	req, _ := http.NewRequest(http.MethodPost, base+"/accounts/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Referer", base+"/accounts/login")
	t := time.Now()
	resp, err = cl.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(t), resp.StatusCode, nil
}

// status reads a kB field of /proc/PID/status in MiB (0 when unavailable).
func status(pid int, field string) float64 {
	if pid <= 0 {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return n / 1024
		}
	}
	return 0
}

// cpuTime is the user+system CPU time of process pid (/proc/PID/stat fields 14 and 15, in
// clock ticks of 10 ms), 0 when unavailable.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
