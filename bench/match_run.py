"""Our engine on a records parquet, end to end, in its own process (so its peak memory is its own).

`python -m bench.match_run --input RECORDS.parquet --output RESULT.json [--workers 2]
[--incremental 0.01]` — records in the canonical staging shape (source_name, stream, source_key,
name, short_name, uscc, phone, address, contact_name, owner, updated_at). Times standardize →
block → compare → classify → cluster → golden (IDs and survivorship). With `--incremental F`,
then changes a fraction F of the records, matches again incrementally, rebuilds with the same
model, and checks that both give the same clusters.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.engine import LinkSettings, link
from mdm.golden import assign_ids, survive
from mdm.specs import (
    CUSTOMER_ANCHORS,
    CUSTOMER_BLOCKING,
    CUSTOMER_COMPARISONS,
    CUSTOMER_EXCLUSIVE,
    derive_customer_columns,
)
from mdm.standardize import standardize_customers
from pipelines.match_outputs import DEFAULT_SURVIVORSHIP
from warehouse.contract import GOLDEN_ATTRIBUTES


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def golden(std: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    rid = (std["source_name"] + ":" + std["stream"] + ":" + std["source_key"].astype(str)).to_numpy()
    ids = assign_ids(pd.DataFrame({"record_id": rid, "cluster": labels}), None).ids
    recs = std.assign(record_id=rid, golden_id=ids.set_index("record_id")["golden_id"].reindex(rid).to_numpy(),
                      uscc=std["uscc_std"], uscc_is_valid=std["uscc_valid"].astype(bool))
    attrs = [a for a in GOLDEN_ATTRIBUTES if a in recs]
    return survive(recs, attrs, DEFAULT_SURVIVORSHIP, ["erp", "crm_a", "crm_b"], valid={"uscc": "uscc_is_valid"})


def replace_rows(frame: pd.DataFrame, positions: np.ndarray, rows: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the rows at (sorted) `positions` replaced by `rows`, column by column and types kept:
    Arrow text columns through `replace_with_mask`, others as NumPy copies (`.iloc` assignment would turn
    Arrow-backed text into Python objects and take seconds at 1M rows)."""
    mask = np.zeros(len(frame), bool)
    mask[positions] = True
    cols = {}
    for c in frame.columns:
        col, new = frame[c], rows[c]
        if isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow":
            arr = pa.chunked_array(col.array._pa_array).combine_chunks()
            repl = pa.array(new.astype(col.dtype).array._pa_array.combine_chunks(), arr.type)
            cols[c] = pd.arrays.ArrowStringArray(pa.chunked_array([pc.replace_with_mask(arr, pa.array(mask), repl)]))
        else:
            values = col.to_numpy(copy=True)
            values[positions] = new.to_numpy(dtype=values.dtype)
            cols[c] = values
    return pd.DataFrame(cols, index=frame.index)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Two labelings describe the same clusters when label pairs are one-to-one."""
    pairs = pd.DataFrame({"a": a, "b": b}).drop_duplicates()
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def perturb(recs: pd.DataFrame, fraction: float, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Change `fraction` of the records (a new phone, a name with 有限责任公司) as a day of edits would."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(recs), int(len(recs) * fraction), replace=False))
    out = recs.copy()
    out.loc[idx, "phone"] = "1" + pd.Series(rng.integers(3_000_000_000, 9_999_999_999, len(idx))).astype(str).to_numpy()
    out.loc[idx, "name"] = out.loc[idx, "name"].astype("string").str.replace("有限公司", "有限责任公司", regex=False)
    return out, idx


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--incremental", type=float, default=0.0)
    args = ap.parse_args()
    recs = pd.read_parquet(args.input)
    settings = LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS,
                            workers=args.workers)
    t = {}
    start = time.perf_counter()
    std = derive_customer_columns(standardize_customers(recs))
    t["standardize"] = time.perf_counter() - start
    res = link(std, settings)
    t.update(res.timings)
    t0 = time.perf_counter()
    g = golden(std, res.labels)
    t["golden"] = time.perf_counter() - t0
    wall = time.perf_counter() - start
    out = {"wall_s": wall, "peak_rss_mb": peak_mb(), "candidate_pairs": len(res.pairs), "timings": t,
           "golden_customers": len(g), "stats": {k: v for k, v in res.stats.items() if k != "skipped_blocks"}}
    pd.DataFrame({"rid": np.arange(len(std)), "cluster_id": res.labels}).to_parquet(
        Path(args.output).with_suffix(".labels.parquet"))
    if args.incremental:
        changed_recs, idx = perturb(recs, args.incremental)
        # Timed: standardizing the changed records and the incremental link. Not timed: splicing them into
        # this frame at their old positions (the pipeline reuses stored standardized rows instead).
        t0 = time.perf_counter()
        changed_std = derive_customer_columns(standardize_customers(changed_recs.iloc[idx]))
        inc_wall = time.perf_counter() - t0
        std2 = replace_rows(std, idx, changed_std)
        previous = res.pairs[["left", "right", "rules", *[s.name for s in CUSTOMER_COMPARISONS], "weight", "prob"]]
        t0 = time.perf_counter()
        inc = link(std2, settings, model=res.model, previous=previous, changed=idx)
        inc_wall += time.perf_counter() - t0
        t0 = time.perf_counter()
        std3 = derive_customer_columns(standardize_customers(changed_recs))
        full = link(std3, settings, model=res.model)
        full_wall = time.perf_counter() - t0
        same = same_partition(inc.labels, full.labels)
        out["incremental"] = {"fraction": args.incremental, "changed": len(idx), "incremental_s": inc_wall,
                              "rebuild_same_model_s": full_wall, "same_clusters": bool(same),
                              "new_pairs_compared": int(inc.stats["new_pairs"]), "peak_rss_mb": peak_mb()}
    Path(args.output).write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
