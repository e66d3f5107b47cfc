#!/usr/bin/env bash
# The demo as `make demo` runs it: generates the legacy sources into demo/data, starts the fake WeCom,
# DingTalk, Fxiaoke and Kingdee servers in the background, runs every source of demo/hub.yaml into
# warehouse/demo.duckdb and shows a few golden customers. The fakes are stopped on exit, always.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
CONFIG=demo/hub.yaml
DATA=demo/data
ENV_FILE=$DATA/fakes.env
ENTITIES=${DEMO_ENTITIES:-2000}   # the legacy sources and the fakes share one universe of companies:
SEED=${DEMO_SEED:-7}              # same size and seed for both

"$BIN/hub" demo generate --out "$DATA" --entities "$ENTITIES" --seed "$SEED"

rm -f "$ENV_FILE"
"$BIN/hub" fakes serve-all --env-file "$ENV_FILE" --entities "$ENTITIES" --seed "$SEED" >"$DATA/fakes.log" 2>&1 &
fakes=$!
stop_fakes() { kill "$fakes" 2>/dev/null && wait "$fakes" 2>/dev/null || true; }
trap stop_fakes EXIT
# serve-all writes the file once all four listen: seconds on a quiet machine, more on a loaded one (each fake
# builds its share of the 2,000 companies first); DEMO_FAKES_WAIT (seconds) sets how long to wait.
WAIT=${DEMO_FAKES_WAIT:-180}
for _ in $(seq $((WAIT * 10))); do
  [ -s "$ENV_FILE" ] && break
  kill -0 "$fakes" 2>/dev/null || { echo "the fake API servers did not start:" >&2; cat "$DATA/fakes.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$ENV_FILE" ] || { echo "the fake API servers did not start within $WAIT s (see $DATA/fakes.log; DEMO_FAKES_WAIT=600 waits longer)" >&2; exit 1; }
echo "fake API servers (variables in $ENV_FILE):"
grep -v '^export\|^#' "$DATA/fakes.log" | sed 's/^/  /'
# shellcheck disable=SC1090
. "$ENV_FILE"

"$BIN/hub" run -c "$CONFIG"

echo
echo "marts.dim_customer (first rows):"
"$BIN/hub" show -c "$CONFIG" marts.dim_customer --limit 8
echo
echo "Warehouse: $PWD/warehouse/demo.duckdb  (schemas raw, staging, mdm, marts)"
echo "Look inside: $BIN/hub show -c $CONFIG marts.fct_sales_orders   or any DuckDB client."
echo "Run it yourself: $BIN/hub fakes serve-all --env-file $ENV_FILE   (in another terminal), then"
echo "                 . $ENV_FILE && $BIN/hub run -c $CONFIG"
