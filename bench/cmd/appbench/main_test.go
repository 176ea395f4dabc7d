package main

import (
	"os"
	"testing"
	"time"
)

// wrkOut is wrk 4.1's output with --latency, as the driver reads it.
const wrkOut = `Running 10s test @ http://127.0.0.1:18491/
  2 threads and 128 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    27.10ms   40.12ms 412.40ms   91.18%
    Req/Sec     2.57k   610.10     4.07k    69.00%
  Latency Distribution
     50%   20.27ms
     75%   30.20ms
     90%   50.90ms
     99%  161.33ms
  51501 requests in 10.01s, 71.63MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
  Non-2xx or 3xx responses: 51501
Requests/sec:   5093.30
Transfer/sec:      7.16MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name             string
		out              string
		requests, non2xx int64
		rps              float64
		p50, p99         time.Duration
		errors           string
		wantErr          bool
	}{
		{name: "refusals with socket errors", out: wrkOut, requests: 51501, non2xx: 51501, rps: 5093.30,
			p50: 20270 * time.Microsecond, p99: 161330 * time.Microsecond, errors: "connect 0, read 12, write 0, timeout 3"},
		{name: "seconds and microseconds", out: "  Latency Distribution\n     50%  912.00us\n     99%    2.31s\n  10 requests in 10.00s, 1.00MB read\nRequests/sec:      1.00\n",
			requests: 10, rps: 1, p50: 912 * time.Microsecond, p99: 2310 * time.Millisecond, errors: "none"},
		{name: "nothing completed", out: "  0 requests in 2.06s, 0.00B read\nRequests/sec:      0.00\n", errors: ""},
		{name: "no count", out: "unable to connect to 127.0.0.1:1 Connection refused\n", wantErr: true},
		{name: "no latency distribution", out: "  5 requests in 1.00s, 1.00KB read\nRequests/sec:      5.00\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r result
			err := parseWrk(tt.out, &r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if r.requests != tt.requests || r.non2xx != tt.non2xx || r.rps != tt.rps || r.p50 != tt.p50 || r.p99 != tt.p99 || r.errors != tt.errors {
				t.Errorf("got requests %d non2xx %d rps %v p50 %v p99 %v errors %q, want %d %d %v %v %v %q",
					r.requests, r.non2xx, r.rps, r.p50, r.p99, r.errors, tt.requests, tt.non2xx, tt.rps, tt.p50, tt.p99, tt.errors)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{9, 1, 5}, 5}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestProcReaders reads this test process's own /proc entries: CPU ticks only grow, and the
// peak RSS is at least the current one.
func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	before := cpuTicks([]int{pid})
	if after := cpuTicks([]int{pid}); after < before || before < 0 {
		t.Errorf("cpu ticks %d then %d", before, after)
	}
	if hwm := vmHWM(pid); hwm <= 0 {
		t.Errorf("VmHWM = %d kB", hwm)
	}
	if got := cpuTicks([]int{-1}); got != 0 {
		t.Errorf("ticks of a missing process = %d, want 0", got)
	}
}
