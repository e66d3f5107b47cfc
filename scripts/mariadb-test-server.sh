#!/usr/bin/env bash
# Start or stop a throw-away MariaDB server on loopback, for the MySQL/MariaDB connector tests.
#   scripts/mariadb-test-server.sh start DIR   → prints the URL (mysql+pymysql://hub@127.0.0.1:PORT/hub)
#   scripts/mariadb-test-server.sh stop DIR
# Needs Debian's mariadb-server (scripts/run-tests.sh installs it as root); exits 1 saying so without it.
# As root the server runs as the `mysql` user.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?folder for the server}
bin() {
  for d in /usr/sbin /usr/bin /usr/local/bin; do [ -x "$d/$1" ] && { echo "$d/$1"; return; }; done
  command -v "$1" 2>/dev/null && return
  echo "error: $1 not found; install MariaDB (Debian: apt-get install -y mariadb-server)" >&2; exit 1
}
case "$cmd" in
start)
  server=$(bin mariadbd) install=$(bin mariadb-install-db) client=$(bin mariadb) admin=$(bin mariadb-admin)
  mkdir -p "$dir"
  user=()
  if [ "$(id -u)" = 0 ]; then chown mysql "$dir"; user=(--user=mysql); fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$install" --no-defaults --datadir="$dir/data" "${user[@]}" --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/install.log" 2>&1
  "$server" --no-defaults --datadir="$dir/data" "${user[@]}" --bind-address=127.0.0.1 --port="$port" \
    --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --skip-log-bin --innodb-buffer-pool-size=32M \
    --innodb-flush-log-at-trx-commit=0 --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    >"$dir/server.log" 2>&1 &
  for _ in $(seq 1 120); do
    "$admin" --no-defaults --socket="$dir/mysqld.sock" -u root ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  "$client" --no-defaults --socket="$dir/mysqld.sock" -u root -e \
    "CREATE DATABASE hub CHARACTER SET utf8mb4; CREATE USER 'hub'@'127.0.0.1'; \
     GRANT ALL ON *.* TO 'hub'@'127.0.0.1' WITH GRANT OPTION;" >/dev/null
  echo "$port" >"$dir/port"
  echo "mysql+pymysql://hub@127.0.0.1:$port/hub"
  ;;
stop)
  if [ -f "$dir/mysqld.pid" ]; then kill "$(cat "$dir/mysqld.pid")" 2>/dev/null || true; fi
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
