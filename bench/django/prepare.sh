#!/bin/sh
# Creates the Django side's database for bench/app.sh (bench/cmd/appbench sets the variables):
# the schema (Django's, axes', the comments table) and two users with argon2id hashes at
# rampart's cost: one to log in, one the driver locks with wrong passwords, and
# BENCH_LOGIN_USERS (login1, login2, ...) with BENCH_PASSWORD for the login scenario.
#
#   BENCH_DJANGO_SECRET=... BENCH_DJANGO_DB=/tmp/x.sqlite3 BENCH_USER=bench BENCH_PASSWORD=... \
#   BENCH_LOCKED_USER=locked BENCH_LOCKED_PASSWORD=... sh prepare.sh
set -eu
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1
/usr/bin/python3 manage.py migrate --noinput >/dev/null
/usr/bin/python3 manage.py shell -c '
import os
from django.contrib.auth.models import User
users = [(os.environ["BENCH_USER"], os.environ["BENCH_PASSWORD"]),
         (os.environ["BENCH_LOCKED_USER"], os.environ["BENCH_LOCKED_PASSWORD"])]
users += [("login%d" % i, os.environ["BENCH_PASSWORD"]) for i in range(1, int(os.environ.get("BENCH_LOGIN_USERS", "0")) + 1)]
for name, pw in users:
    u = User.objects.create_user(name, password=pw)
    assert u.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$"), u.password
print("created users; hash prefix argon2$argon2id$v=19$m=19456,t=2,p=1")
'
