"""Stage: map the latest raw version of every record onto its canonical entity, typed.

For each configured stream with an `entity`, the mapping's JSON paths are extracted in SQL
(set-based, on DuckDB or PostgreSQL), then typed in pandas. A record whose required field is
missing or cannot be typed is rejected; an optional field that cannot be typed is set to
null. Both are written to `raw._quarantine` (stage `staging`) with the field, the value and
the reason. Staging is rebuilt per stream in one transaction, so reruns are idempotent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from hub.config import HubConfig, MappingValue, StreamConfig
from hub.entities import ENTITIES, LINEAGE_COLUMNS, Entity
from pipelines.coerce import (
    DEFAULT_TIMEZONE,
    MAX_TEXT,
    MONEY,
    RATE,
    clean_text,
    currency_of,
    money_array,
    parse_date,
    parse_decimal,
    parse_integer,
    parse_rate,
    parse_timestamp,
)
from warehouse.engine import Warehouse
from warehouse.identifiers import quote
from warehouse.raw import QUARANTINE_COLUMNS, RawStore, raw_table

log = logging.getLogger("hub.stage")

STAGING_EXTRA = {"_sync_id": "text", "_extracted_at": "timestamp"}
# Facts that point at a customer also say which stream of their source holds that customer.
CUSTOMER_STREAM = "customer_stream"
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass
class StageResult:
    source: str
    stream: str
    entity: str
    staged: int = 0
    rejected: int = 0
    fields_nulled: int = 0


def staging_columns(entity: Entity) -> dict[str, str]:
    cols = dict.fromkeys(LINEAGE_COLUMNS, "text")
    cols.update({f.name: f.type for f in entity.fields})
    if "customer_key" in entity.field_names:
        cols[CUSTOMER_STREAM] = "text"
    cols.update(STAGING_EXTRA)
    return cols


def ensure_staging(wh: Warehouse, conn: sa.Connection) -> None:
    """Create every `staging.<entity>` table (idempotent)."""
    RawStore(wh).ensure(conn)
    for entity in ENTITIES.values():
        wh.create_table(conn, "staging", entity.name, staging_columns(entity))


def customer_stream_of(cfg: HubConfig, source: str, stream: str) -> str | None:
    """The stream whose customers a fact's `customer_key` refers to: configured, or the only one."""
    src = cfg.source(source)
    if src.streams[stream].customer_stream:
        return src.streams[stream].customer_stream
    customers = [n for n, s in src.streams.items() if s.entity == "customer"]
    return customers[0] if len(customers) == 1 else None


def json_path(expr: str) -> list[str | int]:
    """`follow_info.remark_mobiles[0]` → `["follow_info", "remark_mobiles", 0]`."""
    return [int(i) if i else k for k, i in _SEGMENT.findall(expr)]


def _path_sql(wh: Warehouse, column: str) -> str:
    literal = wh.dialect.json_text("_data", [column])
    if "." not in column and "[" not in column:
        return f"NULLIF(TRIM({literal}), '')"
    nested = wh.dialect.json_text("_data", json_path(column))
    return f"COALESCE(NULLIF(TRIM({literal}), ''), NULLIF(TRIM({nested}), ''))"


def mapping_sql(wh: Warehouse, value: MappingValue) -> tuple[str, str | None]:
    """SQL text expression for one mapping value, and its strptime format if given."""
    fmt = None
    if isinstance(value, dict):
        fmt = value.get("format")
        default = value.get("default")
        expr = _path_sql(wh, value["path"]) if value.get("path") else "NULL"
        if default is not None:
            lit = str(default).replace("'", "''")
            expr = f"COALESCE({expr}, '{lit}')"
        return expr, fmt
    if isinstance(value, list):
        return "COALESCE(" + ", ".join(_path_sql(wh, v) for v in value) + ")", None
    return _path_sql(wh, value), None


def latest_sql(table: str) -> str:
    """The latest landed version of each key of a raw table."""
    return (f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY _key ORDER BY _sync_id DESC, _row DESC) "
            f"AS _rn FROM raw.{quote(table)}) v WHERE _rn = 1")


def _typed(field_type: str, s: pd.Series, fmt: str | None, tz: str = DEFAULT_TIMEZONE) -> tuple[pd.Series,
                                                                                                  pd.Series]:
    if field_type == "timestamp":
        return parse_timestamp(s, fmt, tz)
    if field_type == "date":
        return parse_date(s, fmt, tz)
    if field_type == "decimal":
        return parse_decimal(s)
    if field_type == "rate":
        return parse_rate(s)
    if field_type == "integer":
        return parse_integer(s)
    return clean_text(s)


def _reason(field_type: str, fmt: str | None) -> str:
    return {
        "timestamp": f"not a date-time{f' in format {fmt}' if fmt else ''}",
        "date": f"not a valid date{f' in format {fmt}' if fmt else ''}",
        "decimal": "not a number",
        "rate": "not a rate above 0",
        "integer": "not an integer",
        "text": f"text longer than {MAX_TEXT} characters",
    }[field_type]


def to_arrow(df: pd.DataFrame, columns: dict[str, str]) -> pa.Table:
    """A frame as Arrow with the column kinds of a staging table (dates as date32)."""
    arrays, names = [], []
    for name, kind in columns.items():
        s = df[name] if name in df else pd.Series([None] * len(df), index=df.index, dtype=object)
        if kind in ("timestamp", "date"):
            values = pd.to_datetime(s, errors="coerce").to_numpy(dtype="datetime64[us]")
            arr = pa.array(values, pa.timestamp("us"), mask=np.isnat(values))
            if kind == "date":
                arr = arr.cast(pa.date32())
        elif kind in ("decimal", "rate"):
            arr = money_array(s, RATE if kind == "rate" else MONEY)  # decimal128(18, 2 or 8), exact: no float step
        elif kind == "integer":
            arr = pa.array(pd.to_numeric(s, errors="coerce").astype("Int64"), pa.int64(), from_pandas=True)
        elif kind == "boolean":
            arr = pa.array(s, pa.bool_(), from_pandas=True)
        elif kind == "float":
            arr = pa.array(pd.to_numeric(s, errors="coerce"), pa.float64(), from_pandas=True)
        else:
            arr = pa.array(s.astype(object).where(s.notna(), None), pa.string(), from_pandas=True)
        arrays.append(arr)
        names.append(name)
    return pa.table(arrays, names=names)


def stage_stream(cfg: HubConfig, wh: Warehouse, source: str, stream: str) -> StageResult | None:
    """Rebuild the staging rows of one stream; None when the stream has no entity or no raw data."""
    sc: StreamConfig = cfg.source(source).streams[stream]
    if not sc.entity:
        return None
    entity = ENTITIES[sc.entity]
    table = raw_table(source, stream)
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        if not wh.table_exists(conn, "raw", table):
            return None
    selects, formats = ["_key AS source_key", "_sync_id", "_extracted_at"], {}
    for fname, value in sc.mapping.items():
        expr, fmt = mapping_sql(wh, value)
        selects.append(f"{expr} AS {quote('f_' + fname)}")
        formats[fname] = fmt
    raw = wh.read_frame(f"SELECT {', '.join(selects)} FROM ({latest_sql(table)}) r")
    staged, quarantine = type_records(source, stream, entity, raw, formats, cfg.timezone)
    if "customer_key" in entity.field_names:
        staged[CUSTOMER_STREAM] = customer_stream_of(cfg, source, stream)
    if len(quarantine):
        quarantine = _attach_records(wh, table, quarantine)
    return write_staged(wh, source, stream, entity, staged, quarantine)


def type_records(source: str, stream: str, entity: Entity, raw: pd.DataFrame,
                 formats: dict[str, str | None], tz: str = DEFAULT_TIMEZONE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type the mapped values of `raw` (columns `source_key`, `_sync_id`, `_extracted_at`, `f_<field>` for each
    field in `formats`) as the entity's fields: (staged rows, quarantine rows without their `record`)."""
    out = pd.DataFrame({"source_name": source, "stream": stream, "source_key": raw["source_key"]}, index=raw.index)
    out["_sync_id"] = raw["_sync_id"]
    out["_extracted_at"] = raw["_extracted_at"]
    rejected = pd.Series(False, index=raw.index)
    issues: list[pd.DataFrame] = []
    for f in entity.fields:
        if f.name not in formats:
            out[f.name] = None
            continue
        col = raw["f_" + f.name]
        values, bad = _typed(f.type, col, formats.get(f.name), tz)
        out[f.name] = values
        missing = values.isna() & ~bad
        if f.required:
            rejected |= bad | missing
            if missing.any():
                issues.append(_issues(source, stream, raw, missing, f.name, col,
                                      "required field is empty or missing", "rejected"))
        if bad.any():
            issues.append(_issues(source, stream, raw, bad, f.name, col, _reason(f.type, formats.get(f.name)),
                                  "rejected" if f.required else "field_nulled"))
    if "currency" in entity.field_names and "amount" in formats:  # `$250.00` is USD; beside a CNY field, a clash
        out["currency"], clash = currency_of(raw["f_amount"], out["currency"])
        if clash.any():
            rejected |= clash
            issues.append(_issues(source, stream, raw, clash, "currency", raw["f_amount"],
                                  "the amount names another currency than the currency field", "rejected"))
    quarantine = pd.concat(issues, ignore_index=True) if issues else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    return out[~rejected].copy(), quarantine


def write_staged(wh: Warehouse, source: str, stream: str, entity: Entity, staged: pd.DataFrame,
                 quarantine: pd.DataFrame) -> StageResult:
    """Replace the staging rows and staging quarantine of one stream, in one transaction."""
    result = StageResult(source, stream, entity.name, staged=len(staged),
                         rejected=int(quarantine.loc[quarantine["action"] == "rejected", "record_key"].nunique()),
                         fields_nulled=int((quarantine["action"] == "field_nulled").sum()))
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        wh.replace_rows(conn, "staging", entity.name, to_arrow(staged, staging_columns(entity)),
                        {"source_name": source, "stream": stream})
        conn.execute(sa.text("DELETE FROM raw._quarantine WHERE source = :s AND stream = :t AND stage = 'staging'"),
                     {"s": source, "t": stream})
        if len(quarantine):
            wh.insert_frame(conn, "raw", "_quarantine", to_arrow(quarantine, _QUARANTINE_KINDS))
    return result


_QUARANTINE_KINDS = {c: ("timestamp" if c == "quarantined_at" else "text") for c in QUARANTINE_COLUMNS}


def _issues(source: str, stream: str, raw: pd.DataFrame, mask: pd.Series, field: str, values: pd.Series,
            reason: str, action: str) -> pd.DataFrame:
    n = int(mask.sum())
    return pd.DataFrame({
        "source": source, "stream": stream, "sync_id": raw.loc[mask, "_sync_id"].to_numpy(), "stage": "staging",
        "record_key": raw.loc[mask, "source_key"].to_numpy(), "field": field,
        "value": values[mask].astype("string").str.slice(0, 1000).to_numpy(), "reason": reason, "action": action,
        "record": None, "quarantined_at": pd.Timestamp.now("UTC").tz_localize(None),
    }, index=range(n))


def _attach_records(wh: Warehouse, table: str, quarantine: pd.DataFrame) -> pd.DataFrame:
    """Fill the `record` column with the raw JSON of each quarantined record."""
    keys = pd.DataFrame({"k": quarantine["record_key"].unique()})
    with wh.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_qkeys")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_qkeys (k {wh.dialect.type_sql('text')})")
        wh.dialect.bulk_insert(conn, "_hub_qkeys", pa.Table.from_pandas(keys, preserve_index=False))
        recs = wh.read_frame(f"SELECT _key, _data FROM ({latest_sql(table)}) r "
                             "WHERE _key IN (SELECT k FROM _hub_qkeys)", conn=conn)
        conn.exec_driver_sql("DROP TABLE _hub_qkeys")
    quarantine["record"] = quarantine["record_key"].map(dict(zip(recs["_key"], recs["_data"], strict=True)))
    return quarantine


def stage_all(cfg: HubConfig, wh: Warehouse, sources: list[str] | None = None,
              progress: Callable[[str], None] | None = None, entity: str | None = None) -> list[StageResult]:
    """Stage every configured stream that has an entity (of the given sources, of the given entity)."""
    progress = progress or log.info
    results = []
    for name, src in cfg.sources.items():
        if sources is not None and name not in sources:
            continue
        for stream, sc in src.streams.items():
            if entity is not None and sc.entity != entity:
                continue
            r = stage_stream(cfg, wh, name, stream)
            if r is not None:
                results.append(r)
                msg = f"staged {name}.{stream} → staging.{r.entity}: {r.staged:,} records"
                if r.rejected or r.fields_nulled:
                    msg += f" ({r.rejected:,} rejected, {r.fields_nulled:,} fields nulled: see raw._quarantine)"
                progress(msg)
    return results
