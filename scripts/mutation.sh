#!/usr/bin/env bash
# Mutation testing of rampart's security packages with gremlins (issue 19).
#
#   scripts/mutation.sh [-t THRESHOLD] PKG...      e.g. scripts/mutation.sh redirect csrf
#
# Runs gremlins v0.6.0 on each package in turn (never on ./...: one package at a time keeps the CPU
# use to one worker), with the default mutators plus INVERT_LOGICAL (&& <-> ||), in-process tests
# only (the PostgreSQL/Redis/Chromium variables are unset; the shared corpora are used when found),
# and prints one table: killed, lived, not covered, timed out, not viable and the score
# killed/(killed+lived) per package. With -t the script exits 1 when a package scores below
# THRESHOLD percent. The survivors (LIVED lines) of each package are printed after the table and
# kept, with gremlins' JSON report, in $MUTATION_OUT (default: a temporary directory).
#
# Environment: MUTATION_WORKERS (default 1), MUTATION_TIMEOUT_COEFFICIENT (default 10: a mutant's
# test run may take ten times the package's coverage run before it counts as timed out),
# GREMLINS (the binary; default gremlins on PATH or in $(go env GOPATH)/bin).
set -Eeuo pipefail

threshold=""
while getopts "t:h" opt; do
  case $opt in
    t) threshold=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { sed -n '2,17p' "$0"; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
gremlins=${GREMLINS:-$(command -v gremlins || echo "$(go env GOPATH)/bin/gremlins")}
[ -x "$gremlins" ] || {
  echo "gremlins not found: go install github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0" >&2
  exit 2
}
workers=${MUTATION_WORKERS:-1}
coef=${MUTATION_TIMEOUT_COEFFICIENT:-10}
out=${MUTATION_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/rampart-mutation.XXXXXXXX")}
mkdir -p "$out"

# In-process tests only: the tests of the networked backends skip without these.
unset RAMPART_TEST_POSTGRES_URL RAMPART_TEST_REDIS_URL RAMPART_TEST_CHROMIUM
# gremlins runs the tests in a copy of the module under $TMPDIR, where the corpora beside the
# repository are not found: point at them, so the corpus tests run as they do in CI.
if [ -z "${RAMPART_CORPORA:-}" ] && [ -d "$root/../shared/corpora" ]; then
  export RAMPART_CORPORA="$(cd "$root/../shared/corpora" && pwd)"
fi
corpora="absent (corpus tests skip)"
[ -n "${RAMPART_CORPORA:-}" ] && [ -d "$RAMPART_CORPORA" ] && corpora="$RAMPART_CORPORA"

# Files left out of a package's score (auth: the mail and queue plumbing, as in issue 19).
exclude_for() {
  case $1 in
    auth) echo 'auth/(mail|queue)\.go$' ;;
  esac
}

start=$(date +%s)
# The commit the run measures, taken now: gremlins copies the work tree when each package starts.
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git -C "$root" status --porcelain -- '*.go' 2>/dev/null)" ]; then
  commit="$commit + uncommitted changes"
fi
rows=()
fail=0
for pkg in "$@"; do
  pkg=${pkg#./}; pkg=${pkg%/}
  [ -d "$root/$pkg" ] || { echo "no package directory $root/$pkg" >&2; exit 2; }
  args=(unleash --invert-logical --workers "$workers" --timeout-coefficient "$coef"
        -o "$out/$pkg.json")
  ex=$(exclude_for "$pkg")
  [ -n "$ex" ] && args+=(-E "$ex")
  t0=$(date +%s)
  echo "mutation: $pkg ..." >&2
  if ! "$gremlins" "${args[@]}" "$root/$pkg" >"$out/$pkg.txt" 2>&1; then
    cat "$out/$pkg.txt" >&2
    echo "gremlins failed on $pkg" >&2
    exit 2
  fi
  secs=$(( $(date +%s) - t0 ))
  line1=$(grep -E '^Killed: ' "$out/$pkg.txt" || true)
  line2=$(grep -E '^Timed out: ' "$out/$pkg.txt" || true)
  [ -n "$line1" ] && [ -n "$line2" ] || { cat "$out/$pkg.txt" >&2; echo "no result for $pkg" >&2; exit 2; }
  num() { echo "$1" | sed -E "s/.*$2: ([0-9]+).*/\1/"; }
  killed=$(num "$line1" Killed); lived=$(num "$line1" Lived); nc=$(num "$line1" 'Not covered')
  to=$(num "$line2" 'Timed out'); nv=$(num "$line2" 'Not viable')
  if [ $((killed + lived)) -gt 0 ]; then
    score=$(awk -v k="$killed" -v l="$lived" 'BEGIN { printf "%.1f", 100 * k / (k + l) }')
  else
    score="n/a"
  fi
  verdict=""
  if [ -n "$threshold" ] && [ "$score" != "n/a" ] &&
     awk -v s="$score" -v t="$threshold" 'BEGIN { exit !(s < t) }'; then
    verdict=" BELOW $threshold%"
    fail=1
  fi
  rows+=("$(printf '| %-10s | %6s | %5s | %11s | %9s | %10s | %6s | %5ss |%s' \
    "$pkg" "$killed" "$lived" "$nc" "$to" "$nv" "$score%" "$secs" "$verdict")")
done

echo
echo "gremlins $(go version -m "$gremlins" 2>/dev/null | awk '$1 == "mod" { print $3 }'), default mutators + INVERT_LOGICAL, workers $workers, timeout coefficient $coef, $(date -u +%Y-%m-%d), commit $commit"
echo "corpora: $corpora; score = killed / (killed + lived)"
echo
echo "| package    | killed | lived | not covered | timed out | not viable |  score |  time |"
echo "|------------|--------|-------|-------------|-----------|------------|--------|-------|"
printf '%s\n' "${rows[@]}"
echo
echo "total time: $(( $(date +%s) - start ))s; reports in $out"
for pkg in "$@"; do
  pkg=${pkg#./}; pkg=${pkg%/}
  lived=$(grep -E '^ *LIVED ' "$out/$pkg.txt" | sed -E "s/^ *LIVED +//; s/ at / $pkg\//" || true)
  if [ -n "$lived" ]; then
    echo
    echo "survivors in $pkg:"
    echo "$lived" | sed 's/^/  /'
  fi
done
exit $fail
