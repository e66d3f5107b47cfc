#!/usr/bin/env bash
# The test suite as `make test` runs it: starts a throw-away PostgreSQL server on loopback for the
# warehouse tests and a MariaDB server for the MySQL connector tests (both stopped again on exit), installs Debian's chromium and a CJK font (fonts-wqy-microhei)
# for the browser tests when they are missing (as root), then runs ruff, the import contracts, mypy, builds the docs site, pytest on two workers, the short
# chaos suite and pip-audit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hub-test-XXXXXX")
chmod 755 "$tmp"
cleanup() {
  scripts/pg-test-server.sh stop "$tmp/pg" || true
  scripts/mariadb-test-server.sh stop "$tmp/mariadb" || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing PostgreSQL from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
fi
# The console's browser tests drive Debian's chromium through Playwright (never a downloaded browser).
chromium_bin=${HUB_CHROMIUM:-$(command -v chromium || true)}
if [ -z "$chromium_bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Chromium from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  chromium_bin=$(command -v chromium || true)
fi
if [ -n "$chromium_bin" ]; then export HUB_CHROMIUM="$chromium_bin"; fi
# A font with Chinese glyphs, so that the console's pages (and screenshots) show Chinese, not boxes.
if ! fc-list :lang=zh 2>/dev/null | grep -q . && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing a CJK font (fonts-wqy-microhei) from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei fontconfig >/dev/null
fi
export HUB_REQUIRE_BROWSER=1
HUB_TEST_PG_URL=$(scripts/pg-test-server.sh start "$tmp/pg")
export HUB_TEST_PG_URL HUB_REQUIRE_PG=1
echo "PostgreSQL for the tests: $HUB_TEST_PG_URL" >&2
# MariaDB for the MySQL/MariaDB connector tests (Debian's mariadb-server); where it cannot be installed or
# started, those tests are skipped and say why.
if [ ! -x /usr/sbin/mariadbd ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing MariaDB from Debian's packages" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null) \
    || echo "MariaDB could not be installed" >&2
fi
if HUB_TEST_MYSQL_URL=$(scripts/mariadb-test-server.sh start "$tmp/mariadb" 2>"$tmp/mariadb.err"); then
  export HUB_TEST_MYSQL_URL
  echo "MariaDB for the tests: $HUB_TEST_MYSQL_URL" >&2
else
  export HUB_TEST_MYSQL_SKIP="no MariaDB server for the MySQL connector tests: $(tail -n 1 "$tmp/mariadb.err")"
  echo "$HUB_TEST_MYSQL_SKIP" >&2
fi
$BIN/ruff check .
# Imports point down (the contracts in pyproject.toml: the engine pure, no Dagster in core code, no face below).
$BIN/lint-imports --no-cache
# Types of the core packages ([tool.mypy] in pyproject.toml).
$BIN/mypy
# The docs site: a broken link or anchor, or a page left out of mkdocs.yml's nav, fails the build.
$BIN/mkdocs build --strict --quiet --site-dir "$tmp/site"
# loadscope: a module's tests run on one worker, so a module fixture (the Spark demo build) is built once
# (xdist 3.8's loadgroup did not keep a group together under pytest 9: the Spark demo was built on both workers).
# --no-loadscope-reorder: modules are handed out in collection order, the longest first (LONGEST_FIRST in
# tests/conftest.py); xdist's own order (most tests first) left the 3-test Spark module, the longest, for last.
$BIN/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder -p no:cacheprovider "$@"
# The fault-injection suite, short form: kills, faulty APIs, PostgreSQL restarts; nothing lost.
$BIN/python -m bench.chaos --quick
# Known vulnerabilities in the pinned dependencies (needs a vulnerability service; where this
# machine cannot reach one, pip-audit skips each package and says so, which is reported, not hidden).
scripts/audit.sh
