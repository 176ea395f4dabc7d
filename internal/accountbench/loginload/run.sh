#!/bin/bash
# Correct-login load against a real `rampart serve` process (issue 18 item 4):
#   internal/accountbench/loginload/run.sh RAMPART_BINARY PORT USERS CONCURRENCY DURATION [VAR=value ...]
# creates USERS users on a fresh SQLite database in a temporary directory, serves the reference
# app on 127.0.0.1:PORT (RAMPART_INSECURE_DEV=1, per-IP rate limits out of reach, extra
# variables such as GOMEMLIMIT=96MiB passed to the server), runs loginload against it and
# stops it. Build the two programs first:
#   go build -o /tmp/rampart ./cmd/rampart && go build -o /tmp/loginload ./internal/accountbench/loginload
set -euo pipefail
BIN=$1 PORT=$2 NU=$3 C=$4 D=$5
shift 5
LOADER=${LOADER:-/tmp/loginload}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/login-run.XXXX")
trap 'rm -rf "$DIR"' EXIT
cd "$DIR"
export RAMPART_INSECURE_DEV=1 RAMPART_DATABASE_URL="sqlite://$DIR/r.db" RAMPART_ADDR="127.0.0.1:$PORT" \
	RAMPART_LOGIN_RATE=100000/s RAMPART_RATE=100000/s RAMPART_ALLOWED_HOSTS=127.0.0.1
PW='Rk4!wQ9z#Lm2pV7x-login'
USERS=""
for i in $(seq 0 $((NU - 1))); do
	echo "$PW" | "$BIN" createuser --username "user$i" --email "user$i@example.test" --password-stdin >/dev/null
	USERS="$USERS${USERS:+,}user$i"
done
env "$@" "$BIN" serve >serve.log 2>&1 &
SPID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/accounts/login" && break; sleep 0.1; done
"$LOADER" -url "http://127.0.0.1:$PORT" -users "$USERS" -password "$PW" -c "$C" -d "$D" -pid "$SPID"
kill "$SPID"
wait "$SPID" 2>/dev/null || true
