#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL server on loopback for the test suite.
#   scripts/pg-test-server.sh start DIR   → prints the URL (postgresql+psycopg://hub@127.0.0.1:PORT/hub)
#   scripts/pg-test-server.sh stop DIR      (immediate: what a crash looks like to clients)
#   scripts/pg-test-server.sh resume DIR    (start the stopped cluster again on its port)
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?folder for the cluster}
pgbin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/$1" ] && { echo "$d/$1"; return; }; done
  echo "error: $1 not found; install PostgreSQL (Debian: apt-get install -y postgresql)" >&2; exit 1
}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$(pgbin initdb)" -D "$dir/data" -U hub --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || as_pg "$(pgbin initdb)" -D "$dir/data" -U hub --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
  as_pg "$(pgbin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off" start >/dev/null
  as_pg "$(pgbin createdb)" -h 127.0.0.1 -p "$port" -U hub hub 2>/dev/null \
    || as_pg psql -h 127.0.0.1 -p "$port" -U hub -d postgres -c 'CREATE DATABASE hub' >/dev/null
  echo "$port" >"$dir/port"
  echo "postgresql+psycopg://hub@127.0.0.1:$port/hub"
  ;;
stop)
  [ -d "$dir/data" ] && as_pg "$(pgbin pg_ctl)" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  ;;
resume)  # start a stopped cluster again on its port (the chaos suite's PostgreSQL restarts)
  port=$(cat "$dir/port")
  as_pg "$(pgbin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off" start >/dev/null
  ;;
*) echo "usage: $0 start|stop|resume DIR" >&2; exit 2 ;;
esac
