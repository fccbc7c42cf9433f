#!/usr/bin/env bash
# Start a PostgreSQL server on loopback for the shared-study sweep test and print its URL.
# Everything it says goes to stderr; stdout carries the URL only.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
pg_lsclusters -h | grep -q "^${version} *main" || pg_createcluster "$version" main >&2
pg_ctlcluster "$version" main start >&2 2>&1 || true
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
as_postgres() { su postgres -c "$1"; }
as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='babysit'\"" | grep -q 1 \
  || as_postgres "psql -qc \"CREATE ROLE babysit LOGIN PASSWORD 'babysit'\"" >&2
as_postgres "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='babysit_test'\"" | grep -q 1 \
  || as_postgres "createdb -O babysit babysit_test" >&2
echo "postgresql://babysit:babysit@127.0.0.1:5432/babysit_test"
