#!/usr/bin/env bash
# `make coverage`: the test suite with line and branch coverage of our packages (coverage.py through pytest-cov,
# configured in pyproject.toml), on a throw-away PostgreSQL like `make test`; the report goes to stdout and to
# bench/results/coverage-<date>.txt. Not a target to meet: the mutation score (`make mutation`) is the measure
# of the tests; coverage shows what no test runs at all.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hub-coverage-XXXXXX")
chmod 755 "$tmp"
cleanup() { scripts/pg-test-server.sh stop "$tmp/pg" || true; rm -rf "$tmp"; }
trap cleanup EXIT
HUB_TEST_PG_URL=$(scripts/pg-test-server.sh start "$tmp/pg")
export HUB_TEST_PG_URL
chromium_bin=${HUB_CHROMIUM:-$(command -v chromium || true)}
if [ -n "$chromium_bin" ]; then export HUB_CHROMIUM="$chromium_bin"; fi
mkdir -p bench/results
report="bench/results/coverage-$(date +%Y%m%d-%H%M).txt"
status=0
$BIN/python -m pytest -n 2 -p no:cacheprovider -q --cov --cov-report=term:skip-covered "$@" | tee "$tmp/out" \
  || status=$?
sed -n '/^_* coverage: /,/^TOTAL/p' "$tmp/out" > "$report"
tail -n 1 "$tmp/out" >> "$report"
echo "coverage report: $report" >&2
exit "$status"
