#!/usr/bin/env bash
# Runs rampart's benchmarks beside the anchor libraries, then wrk against loopback servers
# (bare net/http, rampart stack, anchor chain), and writes docs/BENCHMARKS.md.
#
#   bench/run.sh                 # full run: -count 6 -benchtime 1s, wrk 2 x 10 s per mode (~15 min)
#   COUNT=3 BENCHTIME=200ms WRK_DURATION=3s bench/run.sh    # quick smoke run
#   RAMPART_TEST_REDIS_URL=redis://127.0.0.1:6379/0 bench/run.sh   # adds the scs redisstore row
#   PROFILE=1 bench/run.sh       # also CPU profiles of rampart's full-stack valid POST and layers
#
# Every server it starts listens on 127.0.0.1 only and is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")"
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
WRK_DURATION=${WRK_DURATION:-10s}
PORT=${PORT:-18471}
BENCH=${BENCH:-.}
mkdir -p .bin results
rm -f results/wrk-*.txt results/wrk-*.lua

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

{
  echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit:      $(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C .. diff --quiet 2>/dev/null || echo ' (+ uncommitted changes in the tree)')"
  echo "cpu:         $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) CPUs online, flags: $(grep -m1 -o -w -E 'aes|sha_ni|avx2|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ' || true))"
  echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel:      $(uname -sr)"
  echo "go:          $(go version | cut -d' ' -f3-)"
  echo "wrk:         $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; uptime: $(uptime | sed 's/^ *//'))"
} > results/env.txt

# benchstat from the Go module proxy into bench/.bin (optional).
if [ ! -x .bin/benchstat ]; then
  GOBIN="$PWD/.bin" timeout 300 go install golang.org/x/perf/cmd/benchstat@latest >/dev/null 2>&1 ||
    echo "benchstat did not install; continuing without it" >&2
fi

echo "== go test -bench (count $COUNT, benchtime $BENCHTIME)" >&2
go test -c -o .bin/bench.test .
.bin/bench.test -test.run '^$' -test.bench "$BENCH" -test.benchtime "$BENCHTIME" -test.count "$COUNT" \
  -test.timeout 90m | tee results/bench.txt >&2
if [ -x .bin/benchstat ]; then .bin/benchstat results/bench.txt > results/benchstat.txt || true; fi

if [ "${PROFILE:-0}" = 1 ]; then
  for b in 'Stack/POST-valid/rampart$' 'CSRF/POST-same-origin-Sec-Fetch-Site/rampart$' \
           'Headers/GET-all-headers\+CSP-nonce/rampart$' 'Session/load\+modify\+save/rampart-memory$'; do
    f=results/profile-$(echo "$b" | tr -c 'A-Za-z0-9\n' '_' | sed 's/_*$//').txt
    .bin/bench.test -test.run '^$' -test.bench "^Benchmark$b" -test.benchtime 3s \
      -test.cpuprofile results/cpu.prof > /dev/null
    go tool pprof -top -nodecount 30 .bin/bench.test results/cpu.prof > "$f" 2>/dev/null || true
  done
fi

echo "== wrk -t2 -c50 -d$WRK_DURATION" >&2
go build -o .bin/benchserver ./cmd/benchserver
for mode in bare rampart rampart-sqlite anchor; do
  .bin/benchserver -mode "$mode" -addr "127.0.0.1:$PORT" -lua "results/wrk-$mode.lua" 2> "results/server-$mode.log" &
  pid=$!
  pids+=("$pid")
  up=0
  for _ in $(seq 1 50); do
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then up=1; break; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if [ "$up" != 1 ]; then cat "results/server-$mode.log" >&2; echo "server $mode did not start" >&2; exit 1; fi
  for run in 1 2; do
    timeout 60 wrk -t2 -c50 -d"$WRK_DURATION" --latency -s "results/wrk-$mode.lua" "http://127.0.0.1:$PORT/" \
      > "results/wrk-$mode-$run.txt"
    grep -E 'Requests/sec|Non-2xx' "results/wrk-$mode-$run.txt" | sed "s/^/$mode run $run: /" >&2
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; uptime: $(uptime | sed 's/^ *//'))" >> results/env.txt

cmd="bench/run.sh"
if [ "$COUNT" != 6 ] || [ "$BENCHTIME" != 1s ] || [ "$WRK_DURATION" != 10s ]; then
  cmd="COUNT=$COUNT BENCHTIME=$BENCHTIME WRK_DURATION=$WRK_DURATION $cmd"
fi
if [ "${PROFILE:-0}" = 1 ]; then cmd="PROFILE=1 $cmd"; fi
if [ -n "${RAMPART_TEST_REDIS_URL:-}" ]; then cmd="RAMPART_TEST_REDIS_URL=$RAMPART_TEST_REDIS_URL $cmd"; fi
mkdir -p ../docs
# Sections others added after the marker line (or under their own headings) are kept.
go run ./cmd/report -bench results/bench.txt -wrk results -env results/env.txt -keep ../docs/BENCHMARKS.md \
  -count "$COUNT" -benchtime "$BENCHTIME" -wrkdur "$WRK_DURATION" -cmd "$cmd" > results/BENCHMARKS.md.new
mv results/BENCHMARKS.md.new ../docs/BENCHMARKS.md
echo "wrote docs/BENCHMARKS.md" >&2
