"""The raw layer: append-only landing of source records, connector state, sync log, quarantine, deletes.

Every source stream lands in `raw.<source>__<stream>` with lineage columns (`_source`, `_stream`,
`_sync_id`, `_row`, `_key`, `_hash`, `_extracted_at`, `_batch`, `_deleted`) and the record as JSON in
`_data`. A record is appended only when it is new or changed (its content hash differs from the
latest version of the same key, kept in `raw._record_index`), so re-reading a source duplicates nothing.

Batches come in two shapes and take one path into the warehouse:
- `RawStore.load_table`: an Arrow table of a bulk source (SQL, files); its key, canonical JSON and
  missing-key checks are computed set-based by an in-process DuckDB, never row by row in Python;
- `RawStore.load`: record dicts of an API connector (nested JSON), serialized in Python.
The content hash (`md5` of the canonical JSON, keys sorted) and the new-or-changed test are SQL in the
warehouse. A batch, its quarantined rows and the connector state that covers it are written in one
transaction, so a crash between them cannot lose or double a record. Each batch gets a number
(`_batch`, from `raw._batches`): staging reads what landed after the last batch it staged.

Deletes are versions too: a tombstone row (`_deleted` true, no data) is appended for a record that a
complete read of a full-refresh stream no longer holds (`raw._seen` collects the keys read), or whose
stream or source left the configuration. History stays; the record index forgets the hash, so a
record that comes back lands again. `MassDeleteRefused` guards against an emptied export.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from warehouse.changes import bump
from warehouse.dialects import arrow_of
from warehouse.engine import Warehouse, value
from warehouse.identifiers import quote, safe_name

RAW_COLUMNS: dict[str, str] = {
    "_sync_id": "text",
    "_row": "integer",
    "_source": "text",
    "_stream": "text",
    "_key": "text",
    "_hash": "text",
    "_extracted_at": "timestamp",
    "_data": "json",
    "_batch": "integer",
    "_deleted": "boolean",
}

CONTROL_TABLES: dict[str, tuple[dict[str, str], list[str] | None]] = {
    "_syncs": ({"sync_id": "text", "source": "text", "started_at": "timestamp", "finished_at": "timestamp",
                "status": "text", "records_read": "integer", "records_loaded": "integer",
                "records_quarantined": "integer", "error": "text", "records_deleted": "integer"}, ["sync_id"]),
    "_state": ({"source": "text", "stream": "text", "state": "json", "sync_id": "text",
                "updated_at": "timestamp"}, ["source", "stream"]),
    # `part`: within its sync, the file (its place in the read order) the version came from; 0 for tables and APIs
    "_record_index": ({"source": "text", "stream": "text", "record_key": "text", "record_hash": "text",
                       "sync_id": "text", "part": "integer"}, ["source", "stream", "record_key"]),
    "_quarantine": ({"source": "text", "stream": "text", "sync_id": "text", "stage": "text",
                     "record_key": "text", "field": "text", "value": "text", "reason": "text",
                     "action": "text", "record": "json", "quarantined_at": "timestamp"}, None),
    "_schema": ({"source": "text", "stream": "text", "columns": "json", "sync_id": "text",
                 "updated_at": "timestamp"}, ["source", "stream"]),
    # One row per committed batch: `_batch` of the raw rows it appended (staging's watermark).
    "_batches": ({"batch_id": "integer", "source": "text", "stream": "text", "sync_id": "text",
                  "loaded": "integer", "deleted": "integer", "landed_at": "timestamp"}, ["batch_id"]),
    # Keys read by the current complete read of a full-refresh stream (deletes are what it did not read).
    "_seen": ({"source": "text", "stream": "text", "record_key": "text"}, None),
    "_meta": ({"key": "text", "value": "text"}, ["key"]),
    # Change tracking between layers (warehouse/changes.py): a version per table, a position per consumer.
    "_versions": ({"table_name": "text", "version": "integer", "changed_at": "timestamp"}, ["table_name"]),
    "_watermarks": ({"consumer": "text", "position": "integer", "detail": "json", "updated_at": "timestamp"},
                    ["consumer"]),
    # The golden IDs each write of the golden customers changed (`version`, from `previous`): the marts keyed
    # by golden ID refresh those rows only (warehouse/changes.py). A row with no golden ID marks a write.
    "_golden_log": ({"version": "integer", "previous": "integer", "golden_id": "text"}, None),
}

QUARANTINE_COLUMNS = list(CONTROL_TABLES["_quarantine"][0])
_QUARANTINE_SCHEMA = pa.schema([(c, pa.timestamp("us") if c == "quarantined_at" else pa.string())
                                for c in QUARANTINE_COLUMNS])
_HASH_VERSION = "md5-of-canonical-json"  # raw._meta 'hash': how `_hash` is computed
_QUARANTINE_KINDS = {c: ("timestamp" if c == "quarantined_at" else "text") for c in QUARANTINE_COLUMNS}


def raw_table(source: str, stream: str) -> str:
    """The raw table name of a stream (both names are validated identifiers)."""
    return f"{safe_name(source, 'source name')}__{safe_name(stream, 'stream name')}"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)  # Decimal and anything else exact as text


_JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_INT64 = (-(2 ** 63), 2 ** 64 - 1)  # (orjson writes unsigned 64-bit integers too)


def dumps(record: Mapping[str, Any]) -> str:
    """Canonical JSON of a record (sorted keys, UTF-8, exact decimals as text, NaN as null, floats in their
    shortest form). Integers beyond 64 bits, which orjson refuses, are written as the exact numbers they are in
    the same canonical form."""
    try:
        return orjson.dumps(record, option=_JSON_OPTIONS, default=_json_default).decode()
    except TypeError:
        marker = f"\ue000{uuid.uuid4().hex}:"
        text = orjson.dumps(_big_ints_marked(record, marker), option=_JSON_OPTIONS, default=_json_default).decode()
        return re.sub(f'"{re.escape(marker)}(-?[0-9]+)"', r"\1", text)


def _big(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]


def _big_ints_marked(value: Any, marker: str) -> Any:
    """`value` with every integer beyond 64 bits as the text `marker` + its digits (nested mappings and lists)."""
    if _big(value):
        return f"{marker}{value}"
    if isinstance(value, Mapping):  # (a key beyond 64 bits is written as its digits, as keys are text)
        return {str(k) if _big(k) else k: _big_ints_marked(v, marker) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_big_ints_marked(v, marker) for v in value]
    return value


def key_of(record: Mapping[str, Any], pk_paths: list[list[str]]) -> tuple[str | None, str | None]:
    """The record's key as text (`a|b` for composite keys), or (None, missing field)."""
    parts = []
    for path in pk_paths:
        value: Any = record
        for p in path:
            value = value.get(p) if isinstance(value, Mapping) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            return None, ".".join(path)
        parts.append(str(value).strip() if isinstance(value, str) else str(value))
    return "|".join(parts), None


@dataclass
class LoadStats:
    read: int = 0
    loaded: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0

    def add(self, other: LoadStats) -> None:
        self.read += other.read
        self.loaded += other.loaded
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined
        self.deleted += other.deleted


class MassDeleteRefused(RuntimeError):
    """Applying the deletes would remove more of a stream than allowed; nothing was deleted."""

    def __init__(self, source: str, stream: str, deleting: int, live: int, max_share: float | None, why: str):
        """`max_share` None: a stream removed from the configuration, whose records go only when allowed."""
        self.source, self.stream, self.deleting, self.live, self.max_share = source, stream, deleting, live, max_share
        rule = (f"a run deletes at most {max_share:.0%} of a stream (max_delete_share)" if max_share is not None
                else "a removed source's or stream's records are deleted only when a run is told to")
        super().__init__(
            f"{source}.{stream}: {deleting:,} of {live:,} records ({deleting / max(live, 1):.0%}) would be deleted "
            f"because {why}; {rule}, so none were. If this is intended, run again with --allow-mass-delete "
            "(Dagster: the run config `allow_mass_delete: true` of the source's sync or of raw/removed_sources)")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def quarantine_row(source: str, stream: str, sync_id: str | None, stage: str, reason: str, *,
                   record_key: str | None = None, field: str | None = None, value: Any = None,
                   action: str = "rejected", record: Any = None) -> dict[str, Any]:
    """One quarantine row; `action` is `rejected` (record not staged) or `field_nulled`."""
    return {
        "source": source, "stream": stream, "sync_id": sync_id, "stage": stage, "record_key": record_key,
        "field": field, "value": None if value is None else str(value)[:1000], "reason": reason,
        "action": action, "record": None if record is None else (record if isinstance(record, str) else dumps(record)),
        "quarantined_at": now_utc(),
    }


def quarantine_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=_QUARANTINE_SCHEMA)


# --- bulk batches: key, canonical JSON and checks computed by an in-process DuckDB -----------------------

_LOCAL = threading.local()


def _local_duckdb() -> duckdb.DuckDBPyConnection:
    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET threads TO 2")
        _LOCAL.con = con
    return con


def _jsonable(table: pa.Table) -> pa.Table:
    """Columns whose JSON would not be exact or readable as text: decimals and times become ISO/exact text,
    binary becomes UTF-8 text where it decodes (hex otherwise)."""
    cols = []
    for col in table.columns:
        t = col.type
        if pa.types.is_decimal(t) or pa.types.is_temporal(t):
            col = pc.cast(col, pa.string())
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            try:
                col = pc.cast(col, pa.string())
            except pa.ArrowInvalid:
                col = pa.chunked_array([pa.array([None if v is None else v.hex() for v in col.to_pylist()],
                                                 pa.string())])
        elif pa.types.is_null(t):
            col = col.cast(pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def resolve_key_columns(columns: Sequence[str], pk: Sequence[str], where: str) -> list[str]:
    """The batch's columns holding the key; a missing one is an error that suggests a near name."""
    out = []
    for k in pk:
        if k in columns:
            out.append(k)
            continue
        near = [c for c in columns if c.lower() == k.lower()]
        hint = f"; did you mean {near[0]!r}?" if near else f"; the columns are: {', '.join(columns)}"
        raise KeyError(f"{where}: primary_key column {k!r} is not in the data{hint}")
    return out


def shape_batch(table: pa.Table, pk: Sequence[str], first_row: int, rows: pa.Array | None = None) -> pa.Table:
    """`_row`, `_key` (`a|b` for composite keys; null when a part is missing or blank), `_missing` (the first
    missing key column) and `_data` (canonical JSON, keys sorted) of a bulk batch, set-based. `rows`: each
    row's position in the stream when not consecutive from `first_row`."""
    con = _local_duckdb()
    data = _jsonable(table)
    names = sorted(data.column_names)
    if rows is not None:
        data = data.append_column("_hub_pos", rows)
    con.register("_hub_in", data)
    try:
        packed = ", ".join(f"{quote(c)} := {quote(c)}" for c in names) or "_empty := NULL"
        parts = [f"NULLIF(TRIM(CAST({quote(k)} AS VARCHAR)), '')" for k in pk]
        if parts:
            key = f"CASE WHEN {' OR '.join(f'{p} IS NULL' for p in parts)} THEN NULL ELSE " \
                  f"concat_ws('|', {', '.join(parts)}) END"
            missing = "CASE " + " ".join(f"WHEN {p} IS NULL THEN '{k.replace(chr(39), chr(39) * 2)}'"
                                         for p, k in zip(parts, pk, strict=True)) + " END"
        else:  # no key: the row number is the key
            key, missing = f"CAST(_n + {int(first_row)} AS VARCHAR)", "NULL"
        data_sql = f"to_json(struct_pack({packed}))" if names else "'{}'"
        row = "_hub_pos" if rows is not None else f"_n + {int(first_row)}"
        sql = (f"SELECT _row, _key, _missing, _data, md5(_data) AS _hash FROM (SELECT {row} AS _row, {key} AS _key, "
               f"{missing} AS _missing, CAST({data_sql} AS VARCHAR) AS _data "
               "FROM (SELECT *, row_number() OVER () - 1 AS _n FROM _hub_in))")
        out = arrow_of(con.sql(sql))
    finally:
        con.unregister("_hub_in")
    return out


def shape_table(source: str, stream: str, table: pa.Table, pk_columns: Sequence[str], first_row: int,
                rows: pa.Array | None = None) -> pa.Table:
    """`shape_batch` of a bulk source's batch, its key columns found by name (a missing one: KeyError); touches no
    warehouse, so it can run in another thread than the landing."""
    pk = resolve_key_columns(table.column_names, pk_columns, f"{source}.{stream}") if pk_columns else []
    return shape_batch(table, pk, first_row, rows)


def shape_records(records: Sequence[Mapping[str, Any]], pk_paths: list[list[str]], first_row: int) -> pa.Table:
    """The same columns as `shape_batch` for record dicts (API connectors: nested JSON, dotted key paths)."""
    keys, missing, datas = [], [], []
    for rec in records:
        key, miss = key_of(rec, pk_paths) if pk_paths else (None, None)
        keys.append(key)
        missing.append(miss)
        datas.append(dumps(rec))
    rows = pa.array(range(first_row, first_row + len(records)), pa.int64())
    if not pk_paths:
        keys = [str(r) for r in range(first_row, first_row + len(records))]
    data = pa.array(datas, pa.string())
    return pa.table({"_row": rows, "_key": pa.array(keys, pa.string()), "_missing": pa.array(missing, pa.string()),
                     "_data": data, "_hash": md5_hex(data)})


def md5_hex(texts: pa.Array) -> pa.Array:
    """The md5 of each text as hex (the warehouse's `md5()`), computed by the in-process DuckDB."""
    con = _local_duckdb()
    con.register("_hub_texts", pa.table({"t": texts}))
    try:
        return arrow_of(con.sql("SELECT md5(t) AS h FROM _hub_texts")).column("h").combine_chunks()
    finally:
        con.unregister("_hub_texts")


class RawStore:
    """Reads and writes the raw layer of one warehouse."""

    def __init__(self, warehouse: Warehouse):
        self.wh = warehouse

    def ensure(self, conn: Connection) -> None:
        for schema in ("raw", "staging", "mdm", "marts"):
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        fresh = ("raw", "_meta") not in self.wh._ensured
        duck = self.wh.dialect.name == "duckdb"
        for table, (cols, pk) in CONTROL_TABLES.items():
            # DuckDB: a primary-key index on the record index costs three times its load; keys stay unique
            # because every write deletes a key's row before inserting it (`_index_landed`)
            self.wh.create_table(conn, "raw", table, cols, None if duck and table == "_record_index" else pk)
        if fresh and duck:
            self.wh.drop_primary_key(conn, "raw", "_record_index")
        if fresh:
            self._migrate_hashes(conn)
            if self.wh.dialect.name == "postgresql":
                conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS _seen_key ON raw._seen (source, stream, record_key)")

    def _migrate_hashes(self, conn: Connection) -> None:
        """Warehouses written before hashes were computed in SQL: recompute `_hash` of every landed version and
        the record index as md5 of the canonical JSON, once, so that unchanged records are not landed again."""
        done = value(conn, "SELECT value FROM raw._meta WHERE key = 'hash'")
        if done == _HASH_VERSION:
            return
        streams = conn.execute(sa.text("SELECT DISTINCT source, stream FROM raw._record_index")).fetchall()
        for source, stream in streams:
            table = f"raw.{quote(raw_table(source, stream))}"
            if not self.wh.table_exists(conn, "raw", raw_table(source, stream)):
                continue
            conn.exec_driver_sql(f"UPDATE {table} SET _hash = md5(_data) WHERE _data IS NOT NULL")
            conn.execute(sa.text(
                "UPDATE raw._record_index AS i SET record_hash = v.h FROM (SELECT _key, md5(_data) AS h FROM "
                f"(SELECT _key, _data, ROW_NUMBER() OVER (PARTITION BY _key ORDER BY _sync_id DESC, _row DESC) AS rn "
                f"FROM {table}) l WHERE rn = 1) v WHERE i.source = :s AND i.stream = :t "
                "AND i.record_key = v._key AND i.record_hash IS NOT NULL"),
                {"s": source, "t": stream})
        conn.exec_driver_sql("DELETE FROM raw._meta WHERE key = 'hash'")
        conn.execute(sa.text("INSERT INTO raw._meta (key, value) VALUES ('hash', :v)"), {"v": _HASH_VERSION})

    def ensure_stream(self, conn: Connection, source: str, stream: str) -> str:
        table = raw_table(source, stream)
        created = ("raw", table) not in self.wh._ensured
        self.wh.create_table(conn, "raw", table, RAW_COLUMNS)
        if created and self.wh.dialect.name == "postgresql":  # staging reads by batch, deletes look keys up
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {quote(table + '__batch')} ON raw.{quote(table)} "
                                 "USING brin (_batch)")
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {quote(table + '__key')} ON raw.{quote(table)} (_key)")
        return table

    # --- syncs and state -----------------------------------------------------------------------------

    def start_sync(self, source: str) -> str:
        now = now_utc()
        sync_id = now.strftime("%Y%m%dT%H%M%S%f") + "-" + hashlib.blake2b(
            f"{source}{now.timestamp()}".encode(), digest_size=3).hexdigest()
        with self.wh.begin() as conn:
            self.ensure(conn)
            # a sync of this source still `running` was cut off (killed, the warehouse lost): one writer at a time
            conn.execute(sa.text("UPDATE raw._syncs SET status = 'interrupted', finished_at = :t, error = "
                                 "'stopped before it finished; a later sync went on from its last checkpoint' "
                                 "WHERE source = :s AND status = 'running'"), {"s": source, "t": now})
            conn.execute(sa.text("INSERT INTO raw._syncs (sync_id, source, started_at, status, records_read, "
                                 "records_loaded, records_quarantined, records_deleted) "
                                 "VALUES (:i, :s, :t, 'running', 0, 0, 0, 0)"),
                         {"i": sync_id, "s": source, "t": now})
        return sync_id

    def finish_sync(self, sync_id: str, status: str, stats: LoadStats, error: str | None = None) -> None:
        with self.wh.begin() as conn:
            conn.execute(sa.text(
                "UPDATE raw._syncs SET finished_at = :t, status = :st, records_read = :r, records_loaded = :l, "
                "records_quarantined = :q, records_deleted = :d, error = :e WHERE sync_id = :i"),
                {"t": now_utc(), "st": status, "r": stats.read, "l": stats.loaded, "q": stats.quarantined,
                 "d": stats.deleted, "e": error, "i": sync_id})

    def get_state(self, source: str) -> dict[str, Any]:
        """The saved state of each stream of a source: `{stream: state}`."""
        with self.wh.begin() as conn:
            self.ensure(conn)
            rows = conn.execute(sa.text("SELECT stream, state FROM raw._state WHERE source = :s"),
                                {"s": source}).fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}

    def reset_state(self, source: str, stream: str | None = None) -> None:
        with self.wh.begin() as conn:
            self.ensure(conn)
            if stream:
                conn.execute(sa.text("DELETE FROM raw._state WHERE source = :s AND stream = :t"),
                             {"s": source, "t": stream})
            else:
                conn.execute(sa.text("DELETE FROM raw._state WHERE source = :s"), {"s": source})

    def _save_state(self, conn: Connection, source: str, stream: str, state: Any, sync_id: str) -> None:
        params = {"s": source, "t": stream, "st": json.dumps(state, ensure_ascii=False, default=str),
                  "i": sync_id, "u": now_utc()}
        conn.execute(sa.text("DELETE FROM raw._state WHERE source = :s AND stream = :t"), params)
        conn.execute(sa.text("INSERT INTO raw._state (source, stream, state, sync_id, updated_at) "
                             "VALUES (:s, :t, :st, :i, :u)"), params)

    def save_state(self, source: str, stream: str, sync_id: str, state: Any) -> None:
        with self.wh.begin() as conn:
            self.ensure(conn)
            self._save_state(conn, source, stream, state, sync_id)

    # --- loading -------------------------------------------------------------------------------------

    def load(self, source: str, stream: str, sync_id: str, records: list[Mapping[str, Any]],
             pk_paths: list[list[str]], first_row: int, state: Any = None,
             extracted_at: dt.datetime | None = None, bad: Sequence[Mapping[str, Any]] = (),
             track_seen: bool = False, part: int = 0) -> LoadStats:
        """Land record dicts (an API connector's batch) and save `state`, in one transaction; `bad` are
        quarantine rows of records the connector could not extract, written in the same transaction."""
        return self._land(source, stream, sync_id, shape_records(records, pk_paths, first_row), state,
                          extracted_at, bad, track_seen, part)

    def load_table(self, source: str, stream: str, sync_id: str, table: pa.Table, pk_columns: Sequence[str],
                   first_row: int, state: Any = None, extracted_at: dt.datetime | None = None,
                   bad: Sequence[Mapping[str, Any]] = (), track_seen: bool = False,
                   rows: pa.Array | None = None, part: int = 0) -> LoadStats:
        """Land an Arrow table of a bulk source (flat columns) and save `state`, in one transaction. `part`: the
        file of the read the batch comes from (see `_append_changed`)."""
        shaped = shape_table(source, stream, table, pk_columns, first_row, rows)
        return self.load_shaped(source, stream, sync_id, shaped, state, extracted_at, bad, track_seen, part)

    def load_shaped(self, source: str, stream: str, sync_id: str, shaped: pa.Table, state: Any = None,
                    extracted_at: dt.datetime | None = None, bad: Sequence[Mapping[str, Any]] = (),
                    track_seen: bool = False, part: int = 0, seen_if_landed: bool = False) -> LoadStats:
        """`load_table` of a table `shape_table` has shaped already (e.g. in the thread reading the next batch).
        `seen_if_landed`: the keys that land are not noted in `raw._seen` (the record index says they landed in this
        sync, and `delete_unseen(landed_seen=True)` counts them seen: for a complete read started in this sync)."""
        return self._land(source, stream, sync_id, shaped, state, extracted_at, bad, track_seen, part, seen_if_landed)

    def _land(self, source: str, stream: str, sync_id: str, shaped: pa.Table, state: Any,
              extracted_at: dt.datetime | None, bad: Sequence[Mapping[str, Any]], track_seen: bool,
              part: int = 0, seen_if_landed: bool = False) -> LoadStats:
        extracted_at = extracted_at or now_utc()
        stats = LoadStats(read=shaped.num_rows + len(bad))
        no_key = pc.is_null(shaped.column("_key"))
        quarantine = list(bad)
        if pc.any(no_key).as_py():
            missing = shaped.filter(no_key)
            quarantine += [quarantine_row(source, stream, sync_id, "load",
                                          f"primary key field {m!r} is missing or empty", field=m, record=d)
                           for m, d in zip(missing.column("_missing").to_pylist(), missing.column("_data").to_pylist(),
                                           strict=True)]
            shaped = shaped.filter(pc.invert(no_key))
        with self.wh.begin() as conn:
            self.ensure(conn)
            table = self.ensure_stream(conn, source, stream)
            if shaped.num_rows:
                loaded, unchanged, dups = self._append_changed(conn, table, source, stream, sync_id, shaped,
                                                               extracted_at, track_seen, part, seen_if_landed)
                stats.loaded, stats.unchanged = loaded, unchanged
                quarantine += [quarantine_row(source, stream, sync_id, "load",
                                              f"duplicate primary key {k!r}: read again in this sync with "
                                              "different values (the first version was kept)",
                                              record_key=k, record=d) for k, d in dups]
            stats.quarantined = len(quarantine)
            self._quarantine_new(conn, quarantine)
            if track_seen:  # a record read but malformed (its key known) is still in the source: not deleted
                malformed = sorted({str(q["record_key"]) for q in bad if q.get("record_key")})
                if malformed:
                    self.wh.dialect.bulk_insert(conn, "raw._seen", pa.table({
                        "source": [source] * len(malformed), "stream": [stream] * len(malformed),
                        "record_key": malformed}))
            if state is not None:
                self._save_state(conn, source, stream, state, sync_id)
        return stats

    def _next_batch(self, conn: Connection, source: str, stream: str, sync_id: str) -> int:
        batch = int(value(conn, "SELECT COALESCE(MAX(batch_id), 0) + 1 FROM raw._batches") or 1)
        conn.execute(sa.text("INSERT INTO raw._batches (batch_id, source, stream, sync_id, loaded, deleted, landed_at) "
                             "VALUES (:b, :s, :t, :i, 0, 0, :n)"),
                     {"b": batch, "s": source, "t": stream, "i": sync_id, "n": now_utc()})
        bump(conn, f"raw.{raw_table(source, stream)}")  # a mart or check reading the raw table follows
        return batch

    def _append_changed(self, conn: Connection, table: str, source: str, stream: str, sync_id: str,
                        shaped: pa.Table, extracted_at: dt.datetime, track_seen: bool, part: int = 0,
                        seen_if_landed: bool = False) -> tuple[int, int, list[tuple[str, str]]]:
        """Append the new or changed rows of a shaped batch; (loaded, unchanged, duplicate keys with their JSON).
        `track_seen`: note the batch's keys in `raw._seen` (with `seen_if_landed`, those that did not land)."""
        params = {"source": source, "stream": stream, "sync": sync_id, "part": int(part)}
        batch_cols = shaped.select(["_row", "_key", "_data", "_hash"])
        dup = "(_rn > 1 OR COALESCE(_landed_sync = :sync AND _landed_part = :part, FALSE))"
        with self.wh.dialect.arrow_relation(conn, "_hub_batch", batch_cols, {"_row": "integer"}) as batch:
            # A key read twice in one part of one sync (one table, one file) with different content is a
            # duplicate primary key: the first version lands, the others go to quarantine. (The same content
            # twice is simply dropped.) A later part of the same sync (the next file of a glob) is a later
            # version: it lands when it differs, so later files supersede earlier ones. Only the keys of rows
            # that land or are duplicates are kept: an unchanged re-read costs one join, and the JSON is copied
            # once, from the batch into the raw table.
            # (A batch whose keys are all distinct, as most are, needs no ranking: each row is its key's first.)
            distinct = pc.count_distinct(batch_cols.column("_key"), mode="all").as_py() == batch_cols.num_rows
            rank = ("1 AS _rn, b._hash AS _first_hash" if distinct else
                    "ROW_NUMBER() OVER (PARTITION BY b._key ORDER BY b._row) AS _rn, "
                    "FIRST_VALUE(b._hash) OVER (PARTITION BY b._key ORDER BY b._row) AS _first_hash")
            conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_ranked")
            conn.execute(sa.text(
                f"CREATE TEMPORARY TABLE _hub_ranked AS SELECT * FROM (SELECT b._row, b._key, b._hash, {rank}, "
                "i.record_hash AS _landed_hash, i.sync_id AS _landed_sync, COALESCE(i.part, 0) AS _landed_part "
                f"FROM {batch} b LEFT JOIN raw._record_index i ON i.source = :source AND i.stream = :stream "
                "AND i.record_key = b._key) r "
                "WHERE CASE WHEN _rn = 1 THEN _landed_hash IS NULL OR _landed_hash <> _hash "
                "ELSE _hash <> _first_hash END"), params)
            dups = conn.execute(sa.text(f"SELECT r._key, b._data FROM _hub_ranked r JOIN {batch} b ON b._row = r._row "
                                        f"WHERE {dup} ORDER BY r._row"), params).fetchall()
            loaded = int(value(conn, f"SELECT count(*) FROM _hub_ranked WHERE NOT {dup}", params) or 0)
            if loaded:
                batch_id = self._next_batch(conn, source, stream, sync_id)
                # every row lands (a first read, a whole new batch): straight from the batch, without the join
                whole = loaded == batch_cols.num_rows
                landing = f"{batch} b" if whole else f"_hub_ranked r JOIN {batch} b ON b._row = r._row WHERE NOT {dup}"
                conn.execute(sa.text(
                    f"INSERT INTO raw.{quote(table)} (_sync_id, _row, _source, _stream, _key, _hash, _extracted_at, "
                    "_data, _batch, _deleted) SELECT :sync, b._row, :source, :stream, b._key, b._hash, :at, b._data, "
                    f":batch, FALSE FROM {landing}"),
                    {**params, "at": extracted_at, "batch": batch_id})
                conn.execute(sa.text("UPDATE raw._batches SET loaded = :n WHERE batch_id = :b"),
                             {"n": loaded, "b": batch_id})
                self._index_landed(conn, params, f"SELECT _key, _hash FROM {batch}" if whole
                                   else f"SELECT _key, _hash FROM _hub_ranked WHERE NOT {dup}")
            if track_seen:
                landed = f" WHERE _row NOT IN (SELECT _row FROM _hub_ranked WHERE NOT {dup})" if seen_if_landed else ""
                conn.execute(sa.text("INSERT INTO raw._seen (source, stream, record_key) "
                                     f"SELECT {'' if distinct else 'DISTINCT '}:source, :stream, _key FROM {batch}"
                                     f"{landed}"), params)
        conn.exec_driver_sql("DROP TABLE _hub_ranked")
        unchanged = shaped.num_rows - loaded - len(dups)  # identical repeats inside the batch count as unchanged
        return loaded, unchanged, [(str(k), str(d)) for k, d in dups]

    def _index_landed(self, conn: Connection, params: dict[str, Any], landed_sql: str) -> None:
        """Point the record index at the versions just landed (`landed_sql`: _key, _hash)."""
        self.wh.upsert_from(conn, "raw", "_record_index",
                            f"SELECT :source AS source, :stream AS stream, _key AS record_key, _hash AS record_hash, "
                            f":sync AS sync_id, CAST(:part AS INTEGER) AS part FROM ({landed_sql}) l",
                            ["source", "stream", "record_key", "record_hash", "sync_id", "part"],
                            ["source", "stream", "record_key"], params)

    def _quarantine_new(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Quarantine rows of the landing (unreadable records, missing or duplicate keys), except those already
        there with the same stream, stage, key, reason and record: a file read again (changed, or a full
        refresh) does not count its bad rows again."""
        if not rows:
            return
        fresh = quarantine_table(rows)
        with self.wh.dialect.arrow_relation(conn, "_hub_quarantine", fresh, _QUARANTINE_KINDS) as q:
            same = " AND ".join(f"x.{c} IS NOT DISTINCT FROM n.{c}" for c in ("source", "stream", "stage", "record_key",
                                                                             "reason"))
            record = "CAST(x.record AS TEXT) = CAST(n.record AS TEXT)" if self.wh.dialect.name == "postgresql" \
                else "x.record = n.record"
            new = (f"FROM {q} n WHERE NOT EXISTS (SELECT 1 FROM raw._quarantine x WHERE {same} AND "
                   f"({record} OR (x.record IS NULL AND n.record IS NULL)))")
            if int(value(conn, f"SELECT count(*) {new}") or 0):
                conn.execute(sa.text(f"INSERT INTO raw._quarantine ({', '.join(QUARANTINE_COLUMNS)}) "
                                     f"SELECT {', '.join('n.' + c for c in QUARANTINE_COLUMNS)} {new}"))
                bump(conn, "raw._quarantine")

    # --- deletes -------------------------------------------------------------------------------------

    def start_complete_read(self, source: str, stream: str) -> None:
        """Forget the keys of an earlier, unfinished read: a new complete read of the stream starts."""
        with self.wh.begin() as conn:
            self.ensure(conn)
            conn.execute(sa.text("DELETE FROM raw._seen WHERE source = :s AND stream = :t"),
                         {"s": source, "t": stream})

    def live_keys(self, conn: Connection, source: str, stream: str) -> int:
        return int(value(conn, "SELECT count(*) FROM raw._record_index WHERE source = :s AND stream = :t "
                               "AND record_hash IS NOT NULL", {"s": source, "t": stream}) or 0)

    def holds_live(self, conn: Connection, source: str, stream: str) -> bool:
        """Whether a stream holds any live record (its first one found, not all counted: 1 s at 1M on PostgreSQL)."""
        return value(conn, "SELECT 1 FROM raw._record_index WHERE source = :s AND stream = :t "
                           "AND record_hash IS NOT NULL LIMIT 1", {"s": source, "t": stream}) is not None

    def delete_unseen(self, source: str, stream: str, sync_id: str, max_share: float = 0.5,
                      allow_mass_delete: bool = False, landed_seen: bool = False) -> int:
        """After a complete read of a full-refresh stream: tombstone every live record it did not read (noted in
        `raw._seen`; with `landed_seen`, also those sync `sync_id` landed: the read was all this sync landed of the
        stream, and it noted only the keys that did not land, see `load_shaped`). Raises `MassDeleteRefused` (and
        deletes nothing) when that is more than `max_share` of the stream."""
        landed = " AND i.sync_id IS DISTINCT FROM :sync" if landed_seen else ""
        unseen = ("SELECT i.record_key FROM raw._record_index i WHERE i.source = :s AND i.stream = :t "
                  f"AND i.record_hash IS NOT NULL{landed} AND NOT EXISTS (SELECT 1 FROM raw._seen x WHERE "
                  "x.source = :s AND x.stream = :t AND x.record_key = i.record_key)")
        with self.wh.begin() as conn:
            self.ensure(conn)
            # fresh statistics of the keys just read: planned blind, PostgreSQL's anti-join loops over both
            self.wh.dialect.analyze(conn, "raw._seen")
            self.wh.dialect.analyze(conn, "raw._record_index")
            n = self._tombstone(conn, source, stream, sync_id, unseen, max_share, allow_mass_delete,
                                "they are missing from a complete read of the source")
            conn.execute(sa.text("DELETE FROM raw._seen WHERE source = :s AND stream = :t"),
                         {"s": source, "t": stream})
        return n

    def delete_stream(self, source: str, stream: str, sync_id: str, max_share: float | None = None,
                      allow_mass_delete: bool = False, why: str = "the stream left the configuration") -> int:
        """Tombstone every live record of a stream (its stream or source was removed from the config): only with
        `allow_mass_delete` (or, given a `max_share`, up to that share of it)."""
        every = ("SELECT i.record_key FROM raw._record_index i WHERE i.source = :s AND i.stream = :t "
                 "AND i.record_hash IS NOT NULL")
        with self.wh.begin() as conn:
            self.ensure(conn)
            n = self._tombstone(conn, source, stream, sync_id, every, max_share, allow_mass_delete, why)
            conn.execute(sa.text("DELETE FROM raw._state WHERE source = :s AND stream = :t"),
                         {"s": source, "t": stream})
        return n

    def _tombstone(self, conn: Connection, source: str, stream: str, sync_id: str, keys_sql: str,
                   max_share: float | None, allow: bool, why: str) -> int:
        params = {"s": source, "t": stream, "sync": sync_id}
        n = int(value(conn, f"SELECT count(*) FROM ({keys_sql}) k", params) or 0)
        if not n:
            return 0
        live = self.live_keys(conn, source, stream)
        if not allow and (max_share is None or n > max_share * live):
            raise MassDeleteRefused(source, stream, n, live, max_share, why)
        table = self.ensure_stream(conn, source, stream)
        batch = self._next_batch(conn, source, stream, sync_id)
        conn.execute(sa.text(
            f"INSERT INTO raw.{quote(table)} (_sync_id, _row, _source, _stream, _key, _hash, _extracted_at, _data, "
            "_batch, _deleted) SELECT :sync, -1, :s, :t, record_key, NULL, :at, NULL, :batch, TRUE "
            f"FROM ({keys_sql}) k"),
            {**params, "at": now_utc(), "batch": batch})
        conn.execute(sa.text(f"UPDATE raw._record_index SET record_hash = NULL, sync_id = :sync WHERE source = :s "
                             f"AND stream = :t AND record_key IN (SELECT _key FROM raw.{quote(table)} "
                             "WHERE _batch = :batch)"), {**params, "batch": batch})
        conn.execute(sa.text("UPDATE raw._batches SET deleted = :n WHERE batch_id = :b"), {"n": n, "b": batch})
        bump(conn, "raw._batches")
        return n

    def landed_streams(self) -> list[tuple[str, str]]:
        """(source, stream) of every stream with live records."""
        with self.wh.begin() as conn:
            self.ensure(conn)
            rows = conn.execute(sa.text("SELECT DISTINCT source, stream FROM raw._record_index "
                                        "WHERE record_hash IS NOT NULL ORDER BY 1, 2")).fetchall()
        return [(r[0], r[1]) for r in rows]

    def quarantine(self, rows: Iterable[Mapping[str, Any]]) -> int:
        rows = list(rows)
        if rows:
            with self.wh.begin() as conn:
                self.ensure(conn)
                self.wh.insert_frame(conn, "raw", "_quarantine", quarantine_table(rows))
                bump(conn, "raw._quarantine")
        return len(rows)

