"""Scoring candidate pairs on one thread against `workers` threads, step by step, on a linked warehouse.

`python -m bench.score_threads --config hub.yaml [--steps 8] [--workers 2]` — after a full `hub run`: reads the
standardized records and the active model, blocks the first `--steps` + 1 steps of candidate pairs as a full run
links them (`mdm.blocking.candidate_steps`, about `mdm.customer.pairs_per_step` pairs each), and scores each step
both ways in turn (`mdm.engine.score_pairs`), checking that both give the same frame. The first step is scored but
not counted (it pays the one-off work of the distinct values, whichever way runs first).
"""

from __future__ import annotations

import argparse
import itertools
import time

import pandas as pd

from core.config_file import load_config
from mdm.blocking import candidate_steps
from mdm.engine import _encode, score_pairs
from pipelines.match import RECORDS, fingerprint, link_columns, settings_of, sort_records
from pipelines.match_store import MatchStore
from pipelines.model_store import active_model
from warehouse.engine import Warehouse


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="the hub.yaml of a warehouse after a full run")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    wh = Warehouse.from_config(cfg.warehouse)
    settings = settings_of(cfg.mdm.customer)
    with wh.begin() as conn:
        linked = wh.table_exists(conn, "mdm", "match_model")
    model = active_model(wh, fingerprint(settings)) if linked else None
    if model is None:
        raise SystemExit(f"{args.config}: no model in force; run `hub run -c {args.config}` first")
    t = time.perf_counter()
    columns = ", ".join(f'"{c}"' for c in link_columns(settings, model))
    with wh.begin() as conn:
        recs = sort_records(MatchStore(wh, conn).frame(f"SELECT record_id, {columns} FROM {RECORDS}"))
    enc = _encode(recs, model.specs, settings)
    print(f"{len(recs):,} records read and encoded in {time.perf_counter() - t:.1f} s", flush=True)
    totals = {1: 0.0, args.workers: 0.0}
    steps = itertools.islice(candidate_steps(enc, settings.blocking, cfg.mdm.customer.pairs_per_step), args.steps + 1)
    print("| step | pairs | one thread (s) | " f"{args.workers} threads (s) |\n|---:|---:|---:|---:|")
    for i, cand in enumerate(steps):
        took, frames = {}, {}
        for w in (1, args.workers) if i % 2 else (args.workers, 1):  # (each way first in turn)
            t = time.perf_counter()
            frames[w] = score_pairs(recs, cand.left, cand.right, model, w, encoded=enc)
            took[w] = time.perf_counter() - t
        pd.testing.assert_frame_equal(frames[1], frames[args.workers])
        if i:
            totals = {w: totals[w] + took[w] for w in totals}
        print(f"| {i}{' (not counted)' if not i else ''} | {len(cand):,} | {took[1]:.2f} | {took[args.workers]:.2f} |",
              flush=True)
    print(f"| all counted | | {totals[1]:.2f} | {totals[args.workers]:.2f} |")  # (as the rows: the test sums them)


if __name__ == "__main__":
    main()
