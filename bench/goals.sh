#!/usr/bin/env bash
# The layer goals of docs/BENCHMARKS.md's goal table (issue 18, item 5: headers + CSP nonce
# ≤ 0.5 µs, header-only CSRF ≤ 0.3 µs, the token paths and the session load+save rows), without
# the whole suite: runs the harness baselines and rampart's CSRF, header and session layers
# (memory and SQLite stores), then prints the goal table
# (rows of benchmarks not run read "not measured"). Judge the verdicts on a quiet machine.
#
#   bench/goals.sh                     # -count 6 -benchtime 1s
#   COUNT=3 BENCHTIME=200ms bench/goals.sh
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p results
go test -run '^$' -bench '^Benchmark(Baseline|CSRF|Headers)$/^(GET|POST-unparsed|POST-parsed|POST-same-origin-Sec-Fetch-Site|POST-token-in-header|POST-token-in-form|GET-new-visitor-issues-token|GET-all-headers\+CSP-nonce)$' \
  -benchmem -count "${COUNT:-6}" -benchtime "${BENCHTIME:-1s}" . > results/goals-bench.txt
# The session rows of the goal table (memory and SQLite stores; the Redis rows need a server).
go test -run '^$' -bench '^BenchmarkSession$/^load\+modify\+save(-1000-sessions)?$/^rampart-(memory|sqlite)$' \
  -benchmem -count "${COUNT:-6}" -benchtime "${BENCHTIME:-1s}" . >> results/goals-bench.txt
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
go run ./cmd/report -goals -bench results/goals-bench.txt -wrk /nonexistent -env /dev/null
