"""History: the earlier versions of rep-list records and of customers' owners, from the versions raw keeps.

Raw lands a new version of a record whenever its content changes, and keeps the old ones. Staging holds
the latest version only; this step writes what came before, so the marts can attribute a fact to the
rep's team and region, and the customer's owner, as they were on the fact's date:

- `staging.sales_rep_history`: each earlier version of a rep-list record (name, team, region, …), with
  `valid_from` / `valid_to`;
- `staging.customer_owner_history`: each earlier owner of a customer record.

A version begins when the source says it changed (its `updated_at`), else when it was landed; the first
version of a record is valid from the beginning (`valid_from` empty). Consecutive versions that agree on
what is tracked are one. Only records with more than one landed version are read and typed, and of those
only the ones with a version landed since the history was last written (the others' rows stay as they are).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from core.config import HubConfig
from core.entities import ENTITIES
from pipelines.stage import (
    JsonFields,
    ensure_staging,
    fingerprint,
    mapping_sql,
    staging_columns,
    to_arrow,
    type_records,
)
from warehouse.changes import bump, set_watermark, watermark
from warehouse.engine import Warehouse, value
from warehouse.identifiers import quote
from warehouse.raw import raw_table

log = logging.getLogger("hub.history")

# entity staged from raw → (its history entity, the fields whose change opens a new version)
TRACKED: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_rep": ("sales_rep_history", ("name", "team", "region", "email", "mobile", "userid")),
    "customer": ("customer_owner_history", ("owner",)),
}


def stream_history(cfg: HubConfig, wh: Warehouse, source: str, stream: str) -> int:
    """Write the history rows of one stream's records that landed versions since it was last written (all of
    them the first time, or when the stream's mapping changed; none when nothing landed); returns how many
    earlier versions the stream has."""
    sc = cfg.source(source).streams[stream]
    assert sc.entity is not None  # (only streams with a tracked entity come here: `build_history`)
    history, tracked = TRACKED[sc.entity]
    entity = ENTITIES[sc.entity]
    table = raw_table(source, stream)
    consumer = f"history:{source}.{stream}"
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        exists = wh.table_exists(conn, "raw", table)
        top = int(value(conn, f"SELECT COALESCE(MAX(_batch), 0) FROM raw.{quote(table)}") or 0) if exists else 0
        mark = watermark(conn, consumer)
    fp = fingerprint(cfg, source, stream)
    if exists and mark is not None and mark[0] == top and mark[1].get("fingerprint") == fp:
        return int(mark[1].get("rows", 0))  # nothing landed since: the history stands
    since = mark[0] if exists and mark is not None and mark[1].get("fingerprint") == fp and mark[0] < top else None
    versions = _versions(wh, table, sc.mapping, entity.name, source, stream, since) if exists else pd.DataFrame()
    rows = _earlier(versions, tracked) if len(versions) else pd.DataFrame()
    out = pd.DataFrame({"source_name": source, "stream": stream, **{c: rows.get(c) for c in (
        "source_key", *ENTITIES[history].field_names)}}) if len(rows) else pd.DataFrame(columns=["source_key"])
    data = to_arrow(out, staging_columns(ENTITIES[history]))
    where = {"source_name": source, "stream": stream}
    with wh.begin() as conn:
        if since is None:
            wh.replace_rows(conn, "staging", history, data, where)
        else:  # the records that landed a version since: their history replaced, the others' kept
            conn.execute(sa.text(f"DELETE FROM staging.{quote(history)} WHERE source_name = :source_name AND "
                                 f"stream = :stream AND source_key IN ({_landed_since(table)})"),
                         {**where, "since": since})
            wh.insert_frame(conn, "staging", history, data)
        total = int(value(conn, f"SELECT count(*) FROM staging.{quote(history)} WHERE source_name = :source_name "
                                "AND stream = :stream", where) or 0)
        set_watermark(conn, consumer, top, {"fingerprint": fp, "rows": total})
        bump(conn, f"staging.{history}")
    return total


def _landed_since(table: str) -> str:
    """The keys of `raw.<table>` with a version landed after batch `:since`."""
    return f"SELECT _key FROM raw.{quote(table)} WHERE _batch > :since"


def _versions(wh: Warehouse, table: str, mapping: dict, entity: str, source: str, stream: str,
              since: int | None = None) -> pd.DataFrame:
    """Every landed version of the records with more than one (of those with a version landed after batch `since`,
    if given), typed (versions that fail typing are left out)."""
    raw_t = f"raw.{quote(table)}"
    selects, formats = ["_key AS source_key", "_sync_id", "_row", "_extracted_at"], {}
    landed = "" if since is None else f" AND _key IN ({_landed_since(table)})"
    fields = JsonFields(wh)
    for field, path in mapping.items():
        expr, fmt = mapping_sql(wh, path, fields)
        selects.append(f"{expr} AS {quote('f_' + field)}")
        formats[field] = fmt
    records = fields.records(f"SELECT * FROM {raw_t} WHERE NOT COALESCE(_deleted, FALSE) AND _key IN (SELECT _key "
                             f"FROM {raw_t} WHERE NOT COALESCE(_deleted, FALSE){landed} GROUP BY _key "
                             "HAVING COUNT(*) > 1)")
    raw = wh.read_frame(f"SELECT {', '.join(selects)} FROM ({records}) r", None if since is None else {"since": since})
    if not len(raw):
        return raw
    typed, _ = type_records(source, stream, ENTITIES[entity], raw, formats)
    typed["_row"] = raw.loc[typed.index, "_row"]
    return typed


def _earlier(versions: pd.DataFrame, tracked: tuple[str, ...]) -> pd.DataFrame:
    """The versions before each record's latest, consecutive equal ones merged, with valid_from and valid_to."""
    v = versions.sort_values(["source_key", "_sync_id", "_row"], kind="stable").reset_index(drop=True)
    extracted = pd.to_datetime(v["_extracted_at"])
    # (typed first: an `updated_at` of no value at all is an object column, which fillna would downcast)
    v["began"] = pd.to_datetime(v["updated_at"]).fillna(extracted) if "updated_at" in v else extracted
    same_key = v["source_key"].eq(v["source_key"].shift())
    cols = [v[c].astype("string").fillna("\x00") for c in tracked]
    state = cols[0].str.cat(cols[1:], sep="\x1f") if len(cols) > 1 else cols[0]
    v = v[~(same_key & state.eq(state.shift()))].reset_index(drop=True)  # a change of something not tracked
    same_key = v["source_key"].eq(v["source_key"].shift())
    v["valid_from"] = v["began"].where(same_key)
    v["valid_to"] = v.groupby("source_key", sort=False)["began"].shift(-1)
    return v[v["valid_to"].notna()]


def stage_history(cfg: HubConfig, wh: Warehouse, progress: Callable[[str], None] | None = None,
                  entity: str | None = None) -> int:
    """The history of every stream filling `sales_rep` or `customer` (or only `entity`); earlier versions written."""
    progress = progress or log.info
    total = 0
    for name, src in cfg.sources.items():
        for stream, sc in src.streams.items():
            if sc.entity in TRACKED and (entity is None or sc.entity == entity):
                total += stream_history(cfg, wh, name, stream)
    progress(f"history: {total:,} earlier versions of rep-list records and customer owners")
    return total
