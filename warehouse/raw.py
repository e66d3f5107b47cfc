"""The raw layer: append-only landing of source records, connector state, sync log, quarantine.

Every source stream lands in `raw.<source>__<stream>` with lineage columns (`_source`,
`_stream`, `_sync_id`, `_row`, `_key`, `_hash`, `_extracted_at`) and the record as JSON in
`_data`. A record is appended only when it is new or changed (its content hash differs from
the latest version of the same key), so re-reading a source duplicates nothing.

A batch of records and the connector state that covers it are written in one transaction
(`RawStore.load`), so a crash between them cannot lose or double a record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

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
}
_RAW_SCHEMA = pa.schema([
    ("_sync_id", pa.string()), ("_row", pa.int64()), ("_source", pa.string()), ("_stream", pa.string()),
    ("_key", pa.string()), ("_hash", pa.string()), ("_extracted_at", pa.timestamp("us")), ("_data", pa.string()),
])

CONTROL_TABLES: dict[str, tuple[dict[str, str], list[str] | None]] = {
    "_syncs": ({"sync_id": "text", "source": "text", "started_at": "timestamp", "finished_at": "timestamp",
                "status": "text", "records_read": "integer", "records_loaded": "integer",
                "records_quarantined": "integer", "error": "text"}, ["sync_id"]),
    "_state": ({"source": "text", "stream": "text", "state": "json", "sync_id": "text",
                "updated_at": "timestamp"}, ["source", "stream"]),
    "_record_index": ({"source": "text", "stream": "text", "record_key": "text", "record_hash": "text",
                       "sync_id": "text"}, ["source", "stream", "record_key"]),
    "_quarantine": ({"source": "text", "stream": "text", "sync_id": "text", "stage": "text",
                     "record_key": "text", "field": "text", "value": "text", "reason": "text",
                     "action": "text", "record": "json", "quarantined_at": "timestamp"}, None),
    "_schema": ({"source": "text", "stream": "text", "columns": "json", "sync_id": "text",
                 "updated_at": "timestamp"}, ["source", "stream"]),
}

QUARANTINE_COLUMNS = list(CONTROL_TABLES["_quarantine"][0])


def raw_table(source: str, stream: str) -> str:
    """The raw table name of a stream (both names are validated identifiers)."""
    return f"{safe_name(source, 'source name')}__{safe_name(stream, 'stream name')}"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)  # Decimal and anything else exact as text


def dumps(record: Mapping[str, Any]) -> str:
    """Canonical JSON of a record (sorted keys, UTF-8, exact decimals as text)."""
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
                            default=_json_default).decode()
    except TypeError:  # e.g. integers beyond 64 bits
        return json.dumps(record, ensure_ascii=False, sort_keys=True, default=_json_default)


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

    def add(self, other: LoadStats) -> None:
        self.read += other.read
        self.loaded += other.loaded
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined


def quarantine_row(source: str, stream: str, sync_id: str | None, stage: str, reason: str, *,
                   record_key: str | None = None, field: str | None = None, value: Any = None,
                   action: str = "rejected", record: Any = None) -> dict[str, Any]:
    """One quarantine row; `action` is `rejected` (record not staged) or `field_nulled`."""
    return {
        "source": source, "stream": stream, "sync_id": sync_id, "stage": stage, "record_key": record_key,
        "field": field, "value": None if value is None else str(value)[:1000], "reason": reason,
        "action": action, "record": None if record is None else (record if isinstance(record, str) else dumps(record)),
        "quarantined_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }


class RawStore:
    """Reads and writes the raw layer of one warehouse."""

    def __init__(self, warehouse: Warehouse):
        self.wh = warehouse
        self.duplicates = pd.DataFrame()

    def ensure(self, conn: Connection) -> None:
        for schema in ("raw", "staging", "mdm", "marts"):
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table, (cols, pk) in CONTROL_TABLES.items():
            self.wh.create_table(conn, "raw", table, cols, pk)

    def ensure_stream(self, conn: Connection, source: str, stream: str) -> str:
        table = raw_table(source, stream)
        self.wh.create_table(conn, "raw", table, RAW_COLUMNS)
        return table

    # --- syncs and state -----------------------------------------------------------------------------

    def start_sync(self, source: str) -> str:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        sync_id = now.strftime("%Y%m%dT%H%M%S%f") + "-" + hashlib.blake2b(
            f"{source}{now.timestamp()}".encode(), digest_size=3).hexdigest()
        with self.wh.begin() as conn:
            self.ensure(conn)
            conn.execute(sa.text("INSERT INTO raw._syncs (sync_id, source, started_at, status, records_read, "
                                 "records_loaded, records_quarantined) VALUES (:i, :s, :t, 'running', 0, 0, 0)"),
                         {"i": sync_id, "s": source, "t": now})
        return sync_id

    def finish_sync(self, sync_id: str, status: str, stats: LoadStats, error: str | None = None) -> None:
        with self.wh.begin() as conn:
            conn.execute(sa.text(
                "UPDATE raw._syncs SET finished_at = :t, status = :st, records_read = :r, records_loaded = :l, "
                "records_quarantined = :q, error = :e WHERE sync_id = :i"),
                {"t": dt.datetime.now(dt.UTC).replace(tzinfo=None), "st": status, "r": stats.read,
                 "l": stats.loaded, "q": stats.quarantined, "e": error, "i": sync_id})

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
                  "i": sync_id, "u": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
        conn.execute(sa.text("DELETE FROM raw._state WHERE source = :s AND stream = :t"), params)
        conn.execute(sa.text("INSERT INTO raw._state (source, stream, state, sync_id, updated_at) "
                             "VALUES (:s, :t, :st, :i, :u)"), params)

    # --- loading -------------------------------------------------------------------------------------

    def load(self, source: str, stream: str, sync_id: str, records: list[Mapping[str, Any]],
             pk_paths: list[list[str]], first_row: int, state: Any = None,
             extracted_at: dt.datetime | None = None) -> LoadStats:
        """Append the new or changed records of a batch and save `state`, in one transaction."""
        stats = LoadStats(read=len(records))
        extracted_at = extracted_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        keys: list[str] = []
        hashes: list[str] = []
        datas: list[str] = []
        rows: list[int] = []
        bad: list[dict[str, Any]] = []
        for i, rec in enumerate(records):
            data = dumps(rec)
            key, missing = key_of(rec, pk_paths) if pk_paths else (str(first_row + i), None)
            if key is None:
                bad.append(quarantine_row(source, stream, sync_id, "load",
                                          f"primary key field {missing!r} is missing or empty",
                                          field=missing, record=data))
                continue
            keys.append(key)
            datas.append(data)
            hashes.append(hashlib.blake2b(data.encode(), digest_size=16).hexdigest())
            rows.append(first_row + i)
        n = len(keys)
        batch = pa.table([
            pa.array([sync_id] * n, pa.string()), pa.array(rows, pa.int64()),
            pa.array([source] * n, pa.string()), pa.array([stream] * n, pa.string()),
            pa.array(keys, pa.string()), pa.array(hashes, pa.string()),
            pa.array([extracted_at] * n, pa.timestamp("us")), pa.array(datas, pa.string()),
        ], schema=_RAW_SCHEMA)
        with self.wh.begin() as conn:
            table = self.ensure_stream(conn, source, stream)
            if n:
                stats.loaded = self._append_changed(conn, table, source, stream, batch)
                for d in self.duplicates.itertuples():
                    bad.append(quarantine_row(source, stream, sync_id, "load",
                                              f"duplicate primary key {d._1!r}: read again in this sync with "
                                              "different values (the first version was kept)",
                                              record_key=d._1, record=d._3))
            stats.unchanged = n - stats.loaded - len(self.duplicates)
            if bad:
                self.wh.insert_frame(conn, "raw", "_quarantine", pa.Table.from_pylist(bad))
                stats.quarantined = len(bad)
            if state is not None:
                self._save_state(conn, source, stream, state, sync_id)
        return stats

    def _append_changed(self, conn: Connection, table: str, source: str, stream: str, batch: pa.Table) -> int:
        wh = self.wh
        conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_batch")
        cols = ", ".join(f"{quote(c)} {wh.dialect.type_sql(k)}" for c, k in RAW_COLUMNS.items())
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_batch ({cols})")
        wh.dialect.bulk_insert(conn, "_hub_batch", batch)
        wh.dialect.analyze(conn, "_hub_batch")
        params = {"source": source, "stream": stream, "sync": batch.column("_sync_id")[0].as_py()}
        # A key read twice in one sync with different content is a duplicate primary key: the first
        # version lands, the others go to quarantine. (The same content twice is simply dropped.)
        ranked = (
            "SELECT b.*, ROW_NUMBER() OVER (PARTITION BY _key ORDER BY _row) AS _rn, "
            "FIRST_VALUE(_hash) OVER (PARTITION BY _key ORDER BY _row) AS _first_hash, "
            "i.record_hash AS _landed_hash, i.sync_id AS _landed_sync "
            "FROM _hub_batch b LEFT JOIN raw._record_index i ON i.source = :source AND i.stream = :stream "
            "AND i.record_key = b._key"
        )
        conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_ranked")
        conn.execute(sa.text(f"CREATE TEMPORARY TABLE _hub_ranked AS {ranked}"), params)
        dup = ("((_rn > 1 AND _hash <> _first_hash) OR "
               "(_rn = 1 AND COALESCE(_landed_sync = :sync AND _landed_hash <> _hash, FALSE)))")
        self.duplicates = wh.read_frame(
            f"SELECT _key, _row, _data FROM _hub_ranked WHERE {dup} ORDER BY _row", params, conn=conn)
        changed = (f"SELECT * FROM _hub_ranked WHERE _rn = 1 AND NOT ({dup}) "
                   "AND (_landed_hash IS NULL OR _landed_hash <> _hash)")
        conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_changed")
        conn.execute(sa.text(f"CREATE TEMPORARY TABLE _hub_changed AS {changed}"), params)
        wh.dialect.analyze(conn, "_hub_changed")
        collist = ", ".join(quote(c) for c in RAW_COLUMNS)
        conn.exec_driver_sql(f"INSERT INTO raw.{quote(table)} ({collist}) SELECT {collist} FROM _hub_changed")
        loaded = value(conn, "SELECT count(*) FROM _hub_changed") or 0
        conn.execute(sa.text(
            "INSERT INTO raw._record_index (source, stream, record_key, record_hash, sync_id) "
            "SELECT :source, :stream, _key, _hash, _sync_id FROM _hub_changed "
            "ON CONFLICT (source, stream, record_key) DO UPDATE SET record_hash = excluded.record_hash, "
            "sync_id = excluded.sync_id"), params)
        conn.exec_driver_sql("DROP TABLE _hub_changed")
        conn.exec_driver_sql("DROP TABLE _hub_ranked")
        conn.exec_driver_sql("DROP TABLE _hub_batch")
        return int(loaded)

    def save_state(self, source: str, stream: str, sync_id: str, state: Any) -> None:
        with self.wh.begin() as conn:
            self.ensure(conn)
            self._save_state(conn, source, stream, state, sync_id)

    def quarantine(self, rows: Iterable[dict[str, Any]]) -> int:
        rows = list(rows)
        if rows:
            with self.wh.begin() as conn:
                self.ensure(conn)
                self.wh.insert_frame(conn, "raw", "_quarantine", pa.Table.from_pylist(rows))
        return len(rows)
