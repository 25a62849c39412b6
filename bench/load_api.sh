#!/usr/bin/env bash
# Load test: the API under gunicorn as in production (3 workers, DEBUG off, PostgreSQL with the
# demo data), `ab -c 8 -t 30` with a token on costs/summary and jobs; prints req/s and p95.
#
# BENCH_DATABASE_URL picks the database (default postgres://postgres@127.0.0.1:5432/heliox_bench);
# `seed_demo --if-empty` fills it. LOAD_SECONDS, LOAD_CONCURRENCY change the ab run; LOAD_RUNS
# repeats each endpoint (the machine is shared: compare runs of one session). The user throttle
# is raised so that the load measures the endpoints (the throttle itself still runs, in the
# database cache unless CACHE_URL or REDIS_URL is set). Needs ab (apt-get install apache2-utils).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
GUNICORN="${GUNICORN:-.venv/bin/gunicorn}"
export DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/heliox_bench}"
export DEBUG=off ALLOWED_HOSTS=127.0.0.1 USE_X_FORWARDED_PROTO=on API_THROTTLE_USER=1000000/minute
SECRET_KEY="$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')"
export SECRET_KEY
seconds="${LOAD_SECONDS:-30}" concurrency="${LOAD_CONCURRENCY:-8}" runs="${LOAD_RUNS:-1}"
command -v ab >/dev/null || { echo "needs ab: apt-get install apache2-utils" >&2; exit 2; }

work="$(mktemp -d)"
gunicorn_pid=""
cleanup() {
    if [ -n "$gunicorn_pid" ] && kill -0 "$gunicorn_pid" 2>/dev/null; then
        kill -TERM "$gunicorn_pid"
        wait "$gunicorn_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

$PY - "$DATABASE_URL" <<'EOF'
import sys

import psycopg

admin_url, name = sys.argv[1].rsplit("/", 1)
with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as connection:
    if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        connection.execute(f'CREATE DATABASE "{name}"')
EOF
$PY manage.py migrate --noinput --verbosity 0
$PY manage.py seed_demo --if-empty --no-progress >/dev/null
$PY manage.py shell -c "
from django.contrib.auth import get_user_model
get_user_model().objects.update_or_create(username='load-test', defaults={'is_staff': True, 'is_superuser': True})
" >/dev/null 2>&1
token="$($PY manage.py create_api_token load-test --expires 1 2>/dev/null)"

port="$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
$GUNICORN heliox.wsgi:application --bind "127.0.0.1:$port" --workers 3 --no-control-socket \
    --error-logfile "$work/error.log" 2>>"$work/error.log" &
gunicorn_pid=$!
for _ in $(seq 1 60); do curl -sf -o /dev/null "http://127.0.0.1:$port/health/" && break; sleep 0.5; done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
for endpoint in "costs/summary?group_by=team" "jobs/"; do
    url="http://127.0.0.1:$port/api/v1/$endpoint"
    status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token $token" -H 'X-Forwarded-Proto: https' "$url")"
    [ "$status" = 200 ] || { echo "GET $url answered $status" >&2; exit 1; }
    for run in $(seq 1 "$runs"); do
        ab -q -c "$concurrency" -t "$seconds" -n 1000000 -H "Authorization: Token $token" \
            -H 'X-Forwarded-Proto: https' "$url" >"$work/ab.txt" 2>&1
        rate="$(awk '/^Requests per second/ {print $4}' "$work/ab.txt")"
        p95="$(awk '$1 == "95%" {print $2}' "$work/ab.txt")"
        failed="$(awk '/^Failed requests/ {print $3}' "$work/ab.txt")"
        non2xx="$(awk '/^Non-2xx responses/ {print $3}' "$work/ab.txt")"
        echo "$endpoint run $run: ${rate} req/s, p95 ${p95} ms, failed ${failed}, non-2xx ${non2xx:-0}" \
            "(load average $(cut -d' ' -f1 /proc/loadavg))"
    done
done
