"""Stage: map the latest raw version of every record onto its canonical entity, typed.

For each configured stream with an `entity`, the mapping's JSON paths are extracted in SQL
(set-based, on DuckDB or PostgreSQL), then typed in pandas, a chunk of records at a time. A record
whose required field is missing or cannot be typed is rejected; an optional field that cannot be
typed is set to null. Both are written to `raw._quarantine` (stage `staging`) with the field, the
value and the reason.

Only what landed since the stream was last staged is read: the stream's watermark is the last raw
batch (`_batch`) it staged, and the records of later batches are upserted into staging (a tombstone
or a record flagged by the stream's `soft_delete` column removes it). A changed mapping, entity or
time zone (the stream's fingerprint) stages the stream again whole. Each record staged or removed is
written to `staging._changes`, which matching reads to know what changed. A stream is staged in one
transaction with its watermark, so reruns are idempotent and a crash leaves the previous staging.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from core.config import REFERENCE_SOURCE, HubConfig, MappingValue, StreamConfig
from core.entities import ENTITIES, LINEAGE_COLUMNS, Entity
from pipelines.coerce import (
    DEFAULT_TIMEZONE,
    MAX_TEXT,
    MONEY,
    RATE,
    TYPING_RULES,
    clean_text,
    currency_of,
    money_array,
    parse_date,
    parse_decimal,
    parse_integer,
    parse_rate,
    parse_timestamp,
)
from pipelines.progress import as_progress
from pipelines.transforms import transform_sql
from pipelines.write_behind import write_behind
from warehouse.changes import bump, set_watermark, watermark
from warehouse.engine import Warehouse, value
from warehouse.identifiers import quote
from warehouse.raw import QUARANTINE_COLUMNS, RawStore, raw_table

log = logging.getLogger("hub.stage")

STAGING_EXTRA = {"_sync_id": "text", "_extracted_at": "timestamp"}
# Records of a stream staged or removed, for the steps downstream that read them record by record (matching
# reads the customers'; the marts follow table versions instead).
CHANGE_ENTITIES = ("customer",)
CHANGES_TABLE = {"seq": "integer", "entity": "text", "source_name": "text", "stream": "text", "source_key": "text",
                 "op": "text"}
DELETED_TABLE = {"source_name": "text", "stream": "text", "source_key": "text", "entity": "text"}
"""`staging._deleted`: the records of each staged stream deleted in the source (a tombstone in raw: gone from a complete
read; or flagged by the stream's `soft_delete` column) and not back since: what `marts.data_quality` counts."""
CHUNK = 200_000  # records typed at a time: memory stays bounded whatever the stream's size
# Facts that point at a customer also say which stream of their source holds that customer.
CUSTOMER_STREAM = "customer_stream"
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass
class StageResult:
    source: str
    stream: str
    entity: str
    staged: int = 0          # records staged (new or changed) by this run
    rejected: int = 0
    fields_nulled: int = 0
    deleted: int = 0         # records removed: deleted in the source (tombstone or soft delete)
    total: int = 0           # records of the stream in staging afterwards
    full: bool = True        # the whole stream was staged (first time, or its mapping changed)
    kept: str | None = None  # why a stream no longer configured keeps its staged records (not staged this run)


def staging_columns(entity: Entity) -> dict[str, str]:
    cols = dict.fromkeys(LINEAGE_COLUMNS, "text")
    cols.update({f.name: f.type for f in entity.fields})
    if "customer_key" in entity.field_names:
        cols[CUSTOMER_STREAM] = "text"
    cols.update(STAGING_EXTRA)
    return cols


def ensure_staging(wh: Warehouse, conn: sa.Connection) -> None:
    """Create every `staging.<entity>` table and the change log (idempotent)."""
    RawStore(wh).ensure(conn)
    fresh = ("staging", "_changes") not in wh._ensured
    for entity in ENTITIES.values():
        wh.create_table(conn, "staging", entity.name, staging_columns(entity))
    wh.create_table(conn, "staging", "_changes", CHANGES_TABLE)
    wh.create_table(conn, "staging", "_deleted", DELETED_TABLE)
    if fresh and wh.dialect.name == "postgresql":  # upserts and matching look records up by key
        for entity in ENTITIES.values():
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {quote(entity.name + '__key')} ON "
                                 f"staging.{quote(entity.name)} (source_name, stream, source_key)")
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS _changes__seq ON staging._changes (entity, seq)")


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


def _path_sql(wh: Warehouse, column: str, fields: JsonFields | None = None) -> str:
    read = fields or JsonFields(wh, each=True)
    literal = read([column])
    if "." not in column and "[" not in column:
        return f"NULLIF(TRIM({literal}), '')"
    nested = read(json_path(column))
    return f"COALESCE(NULLIF(TRIM({literal}), ''), NULLIF(TRIM({nested}), ''))"


class JsonFields:
    """The fields a query reads of each raw record's JSON (`_data`), read with one parse of it: `fields(path)` is the
    SQL of one field's text and, once every field is asked, `fields.records(relation_sql)` the records with what
    those expressions read. DuckDB reads the list of fields in one `json_extract_string` (0.6–0.7 against 1.0 s for
    400,000 records of 7 fields read one by one); PostgreSQL casts the text to jsonb once, where each field read of
    the text parsed the whole record (2.7 against 7.1 s; `OFFSET 0` keeps its planner from folding the cast back
    into each field). `each`: each field read from the text (no `records` needed)."""

    PARSED = "_hub_doc"

    def __init__(self, wh: Warehouse, each: bool = False):
        d = wh.dialect
        self.wh = wh
        self.paths: list[list[str | int]] = []
        self.mode = ("each" if each else "list" if d.json_list("_data", []) is not None
                     else "parse" if d.parsed_json("_data") is not None else "each")

    def __call__(self, path: list[str | int]) -> str:
        if self.mode == "list":
            if path not in self.paths:
                self.paths.append(path)
            return f"{self.PARSED}[{self.paths.index(path) + 1}]"
        return self.wh.dialect.json_text(self.PARSED if self.mode == "parse" else "_data", path)

    def records(self, relation_sql: str) -> str:
        d = self.wh.dialect
        if self.mode == "list" and self.paths:
            return f"SELECT r.*, {d.json_list('r._data', self.paths)} AS {self.PARSED} FROM ({relation_sql}) r"
        if self.mode == "parse":
            return f"SELECT r.*, {d.parsed_json('r._data')} AS {self.PARSED} FROM ({relation_sql}) r OFFSET 0"
        return relation_sql


def mapping_sql(wh: Warehouse, value: MappingValue, fields: JsonFields | None = None) -> tuple[str, str | None]:
    """SQL text expression for one mapping value, and its strptime format if given; `fields`: how it reads the
    record's JSON (`JsonFields`; default: each field from the text)."""
    fmt = None
    if isinstance(value, dict):
        fmt = value.get("format")
        default = value.get("default")
        expr = _path_sql(wh, value["path"], fields) if value.get("path") else "NULL"
        expr = transform_sql(wh.dialect.name, expr, value)  # strip, replace, regex, split (pipelines/transforms.py)
        if default is not None:
            lit = str(default).replace("'", "''")
            expr = f"COALESCE({expr}, '{lit}')"
        return expr, fmt
    if isinstance(value, list):
        return "COALESCE(" + ", ".join(_path_sql(wh, v, fields) for v in value) + ")", None
    return _path_sql(wh, value, fields), None


def latest_sql(table: str, after_batch: int | None = None) -> str:
    """The latest landed version of each key of a raw table (of the keys landed after batch `after_batch`)."""
    where = "" if after_batch is None else f" WHERE _batch > {int(after_batch)}"
    return (f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY _key ORDER BY COALESCE(_batch, 0) DESC, "
            f"_sync_id DESC, _row DESC) AS _rn FROM raw.{quote(table)}{where}) v WHERE _rn = 1")


def fingerprint(cfg: HubConfig, source: str, stream: str) -> str:
    """What staging a stream depends on besides its raw records: when it changes, the stream is staged whole."""
    sc = cfg.source(source).streams[stream]
    entity = ENTITIES[sc.entity] if sc.entity else None
    text = json.dumps({"typing": TYPING_RULES, "entity": sc.entity,
                       "fields": [(f.name, f.type, f.required) for f in entity.fields]
                       if entity else None, "mapping": sc.mapping, "tz": cfg.timezone,
                       "soft_delete": sc.soft_delete.model_dump() if sc.soft_delete else None,
                       "customer_stream": customer_stream_of(cfg, source, stream) if entity else None,
                       "columns": list(staging_columns(entity)) if entity else None},
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


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
        elif isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
            arr = pa.array(s.array).cast(pa.string())  # Arrow-backed text: no Python strings
        else:
            arr = pa.array(s.astype(object).where(s.notna(), None), pa.string(), from_pandas=True)
        arrays.append(arr)
        names.append(name)
    return pa.table(arrays, names=names)


def stage_stream(cfg: HubConfig, wh: Warehouse, source: str, stream: str,
                 progress: Callable[[str], None] | None = None) -> StageResult | None:
    """Stage what landed in one stream since it was last staged (the whole stream when its fingerprint
    changed); None when the stream has no entity or no raw data."""
    sc: StreamConfig = cfg.source(source).streams[stream]
    if not sc.entity:
        return None
    entity = ENTITIES[sc.entity]
    table = raw_table(source, stream)
    consumer = f"stage:{source}.{stream}"
    fp = fingerprint(cfg, source, stream)
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        if not wh.table_exists(conn, "raw", table):
            return None
        RawStore(wh).ensure_stream(conn, source, stream)
        mark = watermark(conn, consumer)
        top = int(value(conn, f"SELECT COALESCE(MAX(_batch), 0) FROM raw.{quote(table)}") or 0)
    full = mark is None or mark[1].get("fingerprint") != fp
    result = StageResult(source, stream, entity.name, full=full)
    if not full and mark is not None and top <= mark[0]:
        return _count(wh, result)  # nothing landed since
    selects, formats = ["_key AS source_key", "_sync_id", "_extracted_at",
                        "COALESCE(_deleted, FALSE) AS _deleted"], {}
    after = None if full else (mark[0] if mark else 0)
    fields = JsonFields(wh)
    for fname, value_ in sc.mapping.items():
        expr, fmt = mapping_sql(wh, value_, fields)
        selects.append(f"{expr} AS {quote('f_' + fname)}")
        formats[fname] = fmt
    if sc.soft_delete:
        selects.append(f"{_path_sql(wh, sc.soft_delete.field, fields)} AS _soft_delete")
    records = fields.records(latest_sql(table, after))
    prog = as_progress(progress, log)
    with wh.begin() as conn:
        seq = _next_seq(conn)
        if full:  # the stream's earlier staging rows may be of another entity or mapping: start over
            conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_was_staged")  # (what it held: `removed` counts those)
            conn.execute(sa.text(f"CREATE TEMPORARY TABLE _hub_was_staged AS SELECT source_key FROM "
                                 f"staging.{quote(entity.name)} WHERE source_name = :s AND stream = :t"),
                         {"s": source, "t": stream})
            _remove_stream(conn, source, stream, seq)
        conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_stage_src")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_stage_src AS SELECT ROW_NUMBER() OVER () AS _i, "
                             f"{', '.join(selects)}, _data FROM ({records}) r")
        n = int(value(conn, "SELECT count(*) FROM _hub_stage_src") or 0)
        counter = prog.counter(f"staging {source}.{stream}", total=n)

        def write(chunk: _TypedChunk) -> None:
            _write_chunk(wh, conn, source, stream, entity, chunk, result, full)
            counter.add(chunk.rows)

        # (a chunk written while the next is typed: the warehouse's insert runs outside the GIL)
        write_behind(wh.read_chunks(conn, "_hub_stage_src", ", ".join(_alias(x) for x in selects), n, CHUNK,
                                    arrow_strings=True),
                     lambda raw: _type_chunk(cfg, source, stream, entity, sc, raw, formats, seq), write)
        conn.exec_driver_sql("DROP TABLE _hub_stage_src")
        conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_was_staged")
        set_watermark(conn, consumer, top, {"fingerprint": fp, "entity": entity.name})
        if n or full:
            bump(conn, f"staging.{entity.name}")
        counter.close(f"{result.staged:,} staged, {result.deleted:,} removed" + (" (whole stream)" if full else ""))
    if n > 10_000:
        wh.refresh_statistics(f"staging.{entity.name}", "staging._changes")
    return _count(wh, result)


def _alias(select: str) -> str:
    """The name a select list item gives its column (`expr AS name`, or a plain column)."""
    return select.rsplit(" AS ", 1)[-1]


@dataclass
class _TypedChunk:
    """One chunk of latest versions typed for staging (`_type_chunk`), not written yet."""

    rows: int  # the chunk's latest versions, deleted ones too
    keys: pa.Table  # the source keys of every row (their staging and quarantine rows are replaced)
    staged: pa.Table
    quarantine: pd.DataFrame  # without the raw records (`_attach_records` reads them when written)
    changes: pa.Table | None  # the change log's rows, for entities that log changes
    gone: pa.Table  # the source keys of the rows deleted in the source (tombstones, soft deletes)


def _type_chunk(cfg: HubConfig, source: str, stream: str, entity: Entity, sc: StreamConfig, raw: pd.DataFrame,
                formats: dict[str, str | None], seq: int) -> _TypedChunk:
    """Type one chunk of latest versions (no warehouse: it runs while the chunk before it is written)."""
    gone = raw["_deleted"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    if sc.soft_delete is not None:
        flags = {v.strip().lower() for v in sc.soft_delete.values}
        gone |= raw["_soft_delete"].astype("string").str.strip().str.lower().isin(flags).fillna(False).to_numpy(bool)
    live = raw[~gone]
    staged, quarantine = type_records(source, stream, entity, live, formats, cfg.timezone)
    if "customer_key" in entity.field_names:
        staged[CUSTOMER_STREAM] = customer_stream_of(cfg, source, stream)
    all_keys = raw["source_key"].astype(str)
    changes = None
    if entity.name in CHANGE_ENTITIES:
        staged_now = all_keys.isin(set(staged["source_key"].astype(str))).to_numpy()
        changes = to_arrow(pd.DataFrame({"seq": seq, "entity": entity.name, "source_name": source, "stream": stream,
                                         "source_key": all_keys.to_numpy(),
                                         "op": np.where(staged_now, "upsert", "delete")}), CHANGES_TABLE)
    return _TypedChunk(len(raw), pa.table({"k": pa.array(all_keys.to_numpy(), pa.string())}),
                       to_arrow(staged, staging_columns(entity)), quarantine, changes,
                       to_arrow(pd.DataFrame({"source_name": source, "stream": stream,
                                              "source_key": all_keys.to_numpy()[gone], "entity": entity.name}),
                                DELETED_TABLE))


def _write_chunk(wh: Warehouse, conn: sa.Connection, source: str, stream: str, entity: Entity, chunk: _TypedChunk,
                 result: StageResult, full: bool = False) -> None:
    """Upsert one typed chunk: staging rows, staging quarantine, change log, deleted records; counted in `result`
    (`removed`: the deleted records that were staged, in `_hub_was_staged` when the stream is `full`y staged
    again)."""
    quarantine = chunk.quarantine
    if len(quarantine):
        quarantine = _attach_records(wh, conn, quarantine)
    params = {"s": source, "t": stream}
    # statistics that count this transaction's rows: planned as empty, PostgreSQL would loop over both sides
    wh.dialect.analyze(conn, f"staging.{quote(entity.name)}")
    with wh.dialect.arrow_relation(conn, "_hub_stage_keys", chunk.keys) as k:
        if chunk.gone.num_rows:
            held = "_hub_was_staged" if full else (f"staging.{quote(entity.name)} WHERE source_name = :s "
                                                   "AND stream = :t")
            with wh.dialect.arrow_relation(conn, "_hub_gone_keys", chunk.gone.select(["source_key"])) as g:
                result.deleted += int(value(conn, f"SELECT count(*) FROM (SELECT source_key FROM {held}) h "
                                                  f"WHERE source_key IN (SELECT source_key FROM {g})", params) or 0)
        conn.execute(sa.text(f"DELETE FROM staging.{quote(entity.name)} WHERE source_name = :s AND stream = :t "
                             f"AND source_key IN (SELECT k FROM {k})"), params)
        conn.execute(sa.text("DELETE FROM raw._quarantine WHERE source = :s AND stream = :t AND stage = 'staging' "
                             f"AND record_key IN (SELECT k FROM {k})"), params)
        were = int(value(conn, "SELECT count(*) FROM staging._deleted WHERE source_name = :s AND stream = :t "
                               f"AND source_key IN (SELECT k FROM {k})", params) or 0)
        if were:
            conn.execute(sa.text("DELETE FROM staging._deleted WHERE source_name = :s AND stream = :t "
                                 f"AND source_key IN (SELECT k FROM {k})"), params)
    if were or chunk.gone.num_rows:
        wh.insert_frame(conn, "staging", "_deleted", chunk.gone)
        bump(conn, "staging._deleted")
    wh.insert_frame(conn, "staging", entity.name, chunk.staged)
    if len(quarantine):
        wh.insert_frame(conn, "raw", "_quarantine", to_arrow(quarantine, _QUARANTINE_KINDS))
    bump(conn, "raw._quarantine")  # (rows of these records may also have left it)
    if chunk.changes is not None:
        wh.insert_frame(conn, "staging", "_changes", chunk.changes)
    result.staged += chunk.staged.num_rows
    result.rejected += int(quarantine.loc[quarantine["action"] == "rejected", "record_key"].nunique()) \
        if len(quarantine) else 0
    result.fields_nulled += int((quarantine["action"] == "field_nulled").sum()) if len(quarantine) else 0


def _next_seq(conn: sa.Connection) -> int:
    """A new number for the change log (from the warehouse's one version sequence: it never goes back, also
    after matching has trimmed the log)."""
    return bump(conn, "staging._changes")


def _remove_stream(conn: sa.Connection, source: str, stream: str, seq: int | None = None,
                   deleted: bool = False) -> None:
    """Remove a stream's rows from every staging table (and its staging quarantine), logging each removal (under
    change number `seq`, or a new one when there is something to log). Its records in `staging._deleted` go too,
    unless the stream is removed because its records were `deleted` (a source or stream gone from the config):
    then those it still staged join them."""
    params: dict[str, object] = {"s": source, "t": stream, "q": seq}
    for entity in ENTITIES.values():
        t = f"staging.{quote(entity.name)}"
        n = int(value(conn, f"SELECT count(*) FROM {t} WHERE source_name = :s AND stream = :t", params) or 0)
        if not n:
            continue
        if deleted:
            conn.execute(sa.text(f"INSERT INTO staging._deleted (source_name, stream, source_key, entity) SELECT "
                                 f"source_name, stream, source_key, '{entity.name}' FROM {t} WHERE source_name = :s "
                                 "AND stream = :t AND source_key NOT IN (SELECT source_key FROM staging._deleted "
                                 "WHERE source_name = :s AND stream = :t)"), params)
            bump(conn, "staging._deleted")
        if entity.name in CHANGE_ENTITIES:
            params["q"] = params["q"] if params["q"] is not None else _next_seq(conn)
            conn.execute(sa.text("INSERT INTO staging._changes (seq, entity, source_name, stream, source_key, op) "
                                 f"SELECT :q, '{entity.name}', source_name, stream, source_key, 'delete' FROM {t} "
                                 "WHERE source_name = :s AND stream = :t"), params)
        conn.execute(sa.text(f"DELETE FROM {t} WHERE source_name = :s AND stream = :t"), params)
        bump(conn, f"staging.{entity.name}")
    if not deleted and value(conn, "SELECT count(*) FROM staging._deleted WHERE source_name = :s AND stream = :t",
                             params):
        conn.execute(sa.text("DELETE FROM staging._deleted WHERE source_name = :s AND stream = :t"), params)
        bump(conn, "staging._deleted")
    if value(conn, "SELECT count(*) FROM raw._quarantine WHERE source = :s AND stream = :t AND stage = 'staging'",
             params):
        conn.execute(sa.text("DELETE FROM raw._quarantine WHERE source = :s AND stream = :t AND stage = 'staging'"),
                     params)
        bump(conn, "raw._quarantine")


def _count(wh: Warehouse, result: StageResult) -> StageResult:
    result.total = int(wh.scalar(f"SELECT count(*) FROM staging.{quote(result.entity)} WHERE source_name = :s "
                                 "AND stream = :t", {"s": result.source, "t": result.stream}) or 0)
    return result


def unstage_removed(cfg: HubConfig, wh: Warehouse) -> list[StageResult]:
    """Remove from staging the streams that are no longer staged: a stream that lost its entity, and a stream or
    source gone from the config once its raw records are deleted (`pipelines.sync.forget_removed`, which the
    mass-delete guard may refuse: such a stream is reported with its records, `kept`). A disabled source keeps its
    staged records."""
    from warehouse.changes import clear_watermarks

    staged = {(n, t) for n, s in cfg.sources.items() for t, sc in s.streams.items() if sc.entity}
    out = []
    store = RawStore(wh)
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        present: set[tuple[str, str, str]] = set()
        for kind in ENTITIES.values():
            rows = conn.execute(sa.text(f"SELECT DISTINCT source_name, stream FROM staging.{quote(kind.name)}"))
            present |= {(r[0], r[1], kind.name) for r in rows.fetchall()}
        for source, stream, entity in sorted(present):
            src = cfg.sources.get(source)
            if source == REFERENCE_SOURCE or (source, stream) in staged:
                continue
            configured = src is not None and (stream in src.streams or not src.streams)
            n = int(value(conn, f"SELECT count(*) FROM staging.{quote(entity)} WHERE source_name = :s AND stream = :t",
                          {"s": source, "t": stream}) or 0)
            if not configured and store.holds_live(conn, source, stream):  # (its deletion was refused)
                out.append(StageResult(source, stream, entity, total=n, full=False,
                                       kept="no longer configured: kept until a run allows deleting its records"))
                continue
            _remove_stream(conn, source, stream, deleted=not configured)
            clear_watermarks(conn, f"stage:{source}.{stream}")
            out.append(StageResult(source, stream, entity, deleted=n, full=True))
    return out


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
    """Replace the staging rows and staging quarantine of one stream, in one transaction (reference files)."""
    result = StageResult(source, stream, entity.name, staged=len(staged),
                         rejected=int(quarantine.loc[quarantine["action"] == "rejected", "record_key"].nunique()),
                         fields_nulled=int((quarantine["action"] == "field_nulled").sum()))
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        _remove_stream(conn, source, stream)
        wh.insert_frame(conn, "staging", entity.name, to_arrow(staged, staging_columns(entity)))
        if len(quarantine):
            wh.insert_frame(conn, "raw", "_quarantine", to_arrow(quarantine, _QUARANTINE_KINDS))
            bump(conn, "raw._quarantine")
        if len(staged):
            bump(conn, f"staging.{entity.name}")
    result.total = len(staged)
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


def _attach_records(wh: Warehouse, conn: sa.Connection, quarantine: pd.DataFrame) -> pd.DataFrame:
    """Fill the `record` column with the raw JSON of each quarantined record (from the staging source table)."""
    keys = pa.table({"k": pa.array(quarantine["record_key"].astype(str).unique(), pa.string())})
    with wh.dialect.arrow_relation(conn, "_hub_qkeys", keys) as k:
        recs = wh.read_frame(f"SELECT source_key, _data FROM _hub_stage_src WHERE source_key IN (SELECT k FROM {k})",
                             conn=conn)
    quarantine["record"] = quarantine["record_key"].map(dict(zip(recs["source_key"], recs["_data"], strict=True)))
    return quarantine


def stage_all(cfg: HubConfig, wh: Warehouse, sources: list[str] | None = None,
              progress: Callable[[str], None] | None = None, entity: str | None = None) -> list[StageResult]:
    """Stage every enabled stream that has an entity (of the given sources, of the given entity); streams no
    longer staged leave staging."""
    prog = as_progress(progress, log)
    results = [] if sources is not None or entity is not None else unstage_removed(cfg, wh)
    for gone in (r for r in results if not r.kept):
        prog(f"removed {gone.source}.{gone.stream} from staging.{gone.entity}: {gone.deleted:,} records (no longer "
             "configured)")
    for name, src in cfg.sources.items():
        if (sources is not None and name not in sources) or not src.enabled:
            continue
        for stream, sc in src.streams.items():
            if entity is not None and sc.entity != entity:
                continue
            r = stage_stream(cfg, wh, name, stream, progress=prog)
            if r is not None:
                results.append(r)
                if r.rejected or r.fields_nulled:
                    prog(f"{name}.{stream}: {r.rejected:,} rejected, {r.fields_nulled:,} fields nulled: "
                         "see raw._quarantine")
    return results
