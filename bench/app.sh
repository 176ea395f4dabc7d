#!/usr/bin/env bash
# Whole app side by side in one run: rampart's reference app (a real `rampart serve` process on
# a temporary SQLite database, production settings behind a trusted proxy on 127.0.0.1), Django
# 3.2 from Debian under gunicorn (bench/django) and a bare net/http hello, the same wrk scenarios
# (bench/app.lua) against each, servers taking turns within every repetition. Writes
# bench/results/app-<time>.md (table + per-run rows). See docs/BENCHMARKS.md, "Whole app".
#
#   bench/app.sh                       # 3 runs x 10 s per scenario and server (~12 min)
#   QUICK=1 bench/app.sh               # 1 run x 3 s (smoke)
#   RUNS=3 DURATION=5s bench/app.sh    # medians of 3 short runs
#   C_PAGE=32 C_POST=32 C_REFUSED=128 C_LOCKED=128 C_LOGIN=8   # connections per scenario
#   WORKERS=5 bench/app.sh             # gunicorn sync workers (default: one per CPU)
#   WARMUP=2s                          # unrecorded wrk run per scenario and server first
#   SERVERS=rampart,django SCENARIOS=a,c bench/app.sh
#
# Needs: go, wrk, Debian's python3-django (3.2), python3-django-axes, python3-argon2, gunicorn.
# Every server listens on 127.0.0.1 only and is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${QUICK:-0}" = 1 ]; then
  RUNS=${RUNS:-1}
  DURATION=${DURATION:-3s}
fi
args=(-runs "${RUNS:-3}" -duration "${DURATION:-10s}" -threads "${THREADS:-2}"
  -c-page "${C_PAGE:-32}" -c-post "${C_POST:-32}" -c-refused "${C_REFUSED:-128}"
  -c-locked "${C_LOCKED:-128}" -c-login "${C_LOGIN:-8}"
  -warmup "${WARMUP:-2s}" -servers "${SERVERS:-rampart,django,bare}" -scenarios "${SCENARIOS:-a,b,c,d,e}")
if [ -n "${WORKERS:-}" ]; then args+=(-workers "$WORKERS"); fi
if [ -n "${PORT:-}" ]; then args+=(-port "$PORT"); fi
if [ "${KEEP:-0}" = 1 ]; then args+=(-keep); fi
mkdir -p .bin results
go build -o .bin/appbench ./cmd/appbench
exec .bin/appbench "${args[@]}"
