"""Splink 5 from the source files, end to end, in its own process: the reference row of the scale benchmark.

Reads the three generated sources the way a Splink user would (the SQLite tables with sqlite3, the GBK CSV
with Arrow), maps them to the canonical customer columns (as `bench/scale.py`'s hub.yaml does), standardizes
them with this project's standardizer (Splink has none for Chinese company data) and runs the tuned Splink
set-up of `bench/splink_run.py` (train, block, predict, cluster). Wall time and peak memory cover all of it.

    python -m bench.splink_files --data DIR --output RESULT.json [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bench import splink_run
from mdm.specs import derive_customer_columns
from mdm.standardize import standardize_customers

COLUMNS = ["source_name", "stream", "source_key", "name", "short_name", "uscc", "phone", "address", "contact_name"]


def load(data: Path) -> pd.DataFrame:
    """The customer records of the three generated sources, in canonical columns."""
    with sqlite3.connect(data / "crm_a.sqlite") as con:
        a = pd.read_sql("SELECT cust_id AS source_key, cust_name AS name, tax_code AS uscc, tel AS phone, address, "
                        "contact_name FROM t_customer", con)
    with sqlite3.connect(data / "erp.sqlite") as con:
        e = pd.read_sql("SELECT FCUSTID AS source_key, FNAME AS name, FSHORTNAME AS short_name, "
                        "FTAXREGISTERCODE AS uscc, FTEL AS phone, FADDRESS AS address FROM T_BD_CUSTOMER", con)
    b = pacsv.read_csv(data / "crm_b_export.csv", read_options=pacsv.ReadOptions(encoding="gbk"),
                       convert_options=pacsv.ConvertOptions(strings_can_be_null=True)).to_pandas()
    b = b.rename(columns={"客户编号": "source_key", "客户名称": "name", "统一社会信用代码": "uscc", "联系电话": "phone",
                          "详细地址": "address", "联系人": "contact_name"})
    parts = [a.assign(source_name="crm_a"), b.assign(source_name="crm_b"), e.assign(source_name="erp")]
    recs = pd.concat([p.assign(stream="customers").reindex(columns=COLUMNS) for p in parts], ignore_index=True)
    recs["source_key"] = recs["source_key"].astype(str)
    return recs.replace("", None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="folder with crm_a.sqlite, crm_b_export.csv, erp.sqlite")
    ap.add_argument("--output", type=Path, required=True, help="result JSON (labels next to it, by record id)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    recs = load(args.data)
    loaded = time.perf_counter()
    std = derive_customer_columns(standardize_customers(recs))
    standardized = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hub-splink-") as d:
        path = Path(d) / "std.parquet"
        std[list(splink_run.COLUMNS[1:])].assign(rid=range(len(std))).to_parquet(path)
        result, labels = splink_run.run(path, 0.5, args.threads)
    ids = (recs["source_name"] + ":" + recs["stream"] + ":" + recs["source_key"]).to_numpy()
    out = labels.to_pandas().assign(record_id=lambda f: ids[f["rid"].to_numpy()])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(out[["record_id", "cluster_id"]], preserve_index=False),
                   args.output.with_suffix(".labels.parquet"))
    result.update({"wall_s": round(time.perf_counter() - t0, 3), "load_s": round(loaded - t0, 3),
                   "standardize_s": round(standardized - loaded, 3),
                   "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
