"""Match: resolve staged customers into golden customers and write `mdm.xref` / `mdm.golden_customer`."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from hub.config import HubConfig
from mdm.exact import exact_clusters, normalize_uscc
from mdm.golden import assign_ids, id_number, survive
from pipelines.stage import ensure_staging, to_arrow
from warehouse.contract import GOLDEN_ATTRIBUTES, MDM_TABLES, ensure_mdm
from warehouse.engine import Warehouse

log = logging.getLogger("hub.match")


@dataclass
class MatchResult:
    records: int
    golden: int
    merged_ids: int
    new_ids: int


def record_ids(df: pd.DataFrame) -> pd.Series:
    return df["source_name"] + ":" + df["stream"] + ":" + df["source_key"].astype(str)


def load_customers(wh: Warehouse) -> pd.DataFrame:
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
    df = wh.read_frame("SELECT * FROM staging.customer ORDER BY source_name, stream, source_key")
    df["record_id"] = record_ids(df)
    return df


def next_id_number(wh: Warehouse) -> int:
    ids = wh.read_frame("SELECT golden_id AS g FROM mdm.xref UNION SELECT retired_id FROM mdm.golden_id_history "
                        "UNION SELECT survivor_id FROM mdm.golden_id_history")
    ids = ids["g"].dropna()
    return int(id_number(ids).max()) + 1 if len(ids) else 1


def run_match(cfg: HubConfig, wh: Warehouse, progress: Callable[[str], None] | None = None) -> MatchResult:
    """Match all staged customers and replace the xref and golden records (one transaction)."""
    progress = progress or log.info
    df = load_customers(wh)
    prev = wh.read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    prev["record_id"] = record_ids(prev) if len(prev) else pd.Series(dtype=str)
    clusters = exact_clusters(df[["record_id", "name", "uscc"]])
    assignment = assign_ids(clusters, prev[["record_id", "golden_id"]], next_id_number(wh))
    df = df.merge(assignment.ids, on="record_id").merge(clusters[["record_id", "matched_by"]], on="record_id")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    xref = df[["source_name", "stream", "source_key", "golden_id", "matched_by"]]
    xref = xref.assign(match_score=1.0, updated_at=now)
    mcfg = cfg.mdm.customer
    df["uscc"] = normalize_uscc(df["uscc"]).fillna(df["uscc"])
    golden = survive(df, GOLDEN_ATTRIBUTES, {k: [v] if isinstance(v, str) else v for k, v in mcfg.survivorship.items()},
                     mcfg.source_priority or list(cfg.sources))
    stats = df.groupby("golden_id").agg(source_count=("record_id", "size"), system_count=("source_name", "nunique"),
                                        first_seen=("created_at", "min"), last_seen=("updated_at", "max"))
    golden = golden.join(stats, on="golden_id").assign(updated_at=now)
    history = assignment.history.assign(run_id=now.strftime("%Y%m%dT%H%M%S"), retired_at=now)
    with wh.begin() as conn:
        wh.replace_rows(conn, "mdm", "xref", to_arrow(xref, MDM_TABLES["xref"][0]))
        wh.replace_rows(conn, "mdm", "golden_customer", to_arrow(golden, MDM_TABLES["golden_customer"][0]))
        if len(history):
            wh.insert_frame(conn, "mdm", "golden_id_history", to_arrow(history, MDM_TABLES["golden_id_history"][0]))
    new_ids = int((~df["golden_id"].isin(prev["golden_id"])).groupby(df["golden_id"]).any().sum())
    result = MatchResult(len(df), golden["golden_id"].nunique(), int((history["reason"] == "merged").sum()), new_ids)
    progress(f"matched {result.records:,} customer records into {result.golden:,} golden customers")
    return result
