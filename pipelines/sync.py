"""Sync: run a source's airbyte-cdk connector in-process and land its records in `raw`.

The connector speaks the Airbyte protocol (RECORD, STATE, TRACE, LOG messages). Records are
buffered per stream; a STATE message flushes the buffer of its stream and saves the state in
the same transaction (`RawStore.load`), so after a crash the next sync resumes from the last
committed state and the content-hash check drops whatever is read twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteStream,
    DestinationSyncMode,
    Level,
    StreamDescriptor,
    SyncMode,
    TraceType,
    Type,
)
from airbyte_cdk.models.airbyte_protocol_serializers import AirbyteMessageSerializer
from airbyte_cdk.utils.airbyte_secrets_utils import update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from connectors.file.source import ERRORS_FIELD
from connectors.registry import create_source, refused_endpoint
from hub import secrets
from hub.config import HubConfig, SourceConfig
from warehouse.engine import Warehouse
from warehouse.raw import LoadStats, RawStore, dumps, key_of, quarantine_row

log = logging.getLogger("hub.sync")

CONFIG_STREAM_CONNECTORS = {"sql", "file"}  # connectors whose streams are defined by the hub config
_STREAM_KEYS = ("table", "query", "path", "format", "encoding", "sheet")


class SyncError(Exception):
    """A source could not be synced; the message names the source and what went wrong."""


@dataclass
class StreamResult:
    stats: LoadStats = field(default_factory=LoadStats)
    schema_changes: list[str] = field(default_factory=list)


@dataclass
class SyncResult:
    source: str
    sync_id: str
    status: str = "running"
    error: str | None = None
    streams: dict[str, StreamResult] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def stats(self) -> LoadStats:
        total = LoadStats()
        for s in self.streams.values():
            total.add(s.stats)
        return total


def connector_config(src: SourceConfig) -> dict[str, Any]:
    """The config handed to the connector: the source's `config`, plus its streams for sql/file."""
    cfg = dict(src.config)
    if src.connector in CONFIG_STREAM_CONNECTORS:
        streams = []
        for name, s in src.streams.items():
            entry: dict[str, Any] = {"name": name}
            for k in _STREAM_KEYS:
                if getattr(s, k, None):
                    entry[k] = getattr(s, k)
            if s.primary_key:
                entry["primary_key"] = s.primary_key
            if s.cursor_field:
                entry["cursor_field"] = s.cursor_field
            streams.append(entry)
        cfg["streams"] = streams
    return cfg


def _state_messages(states: Mapping[str, Any]) -> list[AirbyteStateMessage]:
    return [AirbyteStateMessage(type=AirbyteStateType.STREAM, stream=AirbyteStreamState(
        stream_descriptor=StreamDescriptor(name=name), stream_state=AirbyteStateBlob(state)))
        for name, state in states.items()]


def _pk_paths(pk: Any) -> list[list[str]]:
    if not pk:
        return []
    if isinstance(pk, str):
        return [pk.split(".")]
    out = []
    for part in pk:
        out.append(list(part) if isinstance(part, list) else str(part).split("."))
    return out


def build_catalog(src_name: str, src: SourceConfig, discovered: Any) -> tuple[ConfiguredAirbyteCatalog,
                                                                             dict[str, list[list[str]]]]:
    """Select the configured streams from the discovered catalog; an unknown stream is an error."""
    by_name = {s.name: s for s in discovered.streams}
    wanted = list(src.streams) or list(by_name)
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise SyncError(f"source {src_name}: stream(s) {', '.join(unknown)} not offered by connector "
                        f"{src.connector}; it offers: {', '.join(by_name)}")
    streams, pks = [], {}
    for name in wanted:
        stream = by_name[name]
        sc = src.streams.get(name)
        pk = sc.primary_key_paths() if sc and sc.primary_key else _pk_paths(stream.source_defined_primary_key)
        pks[name] = pk
        incremental = SyncMode.incremental in (stream.supported_sync_modes or [])
        streams.append(ConfiguredAirbyteStream(
            stream=stream, sync_mode=SyncMode.incremental if incremental else SyncMode.full_refresh,
            destination_sync_mode=DestinationSyncMode.append,
            cursor_field=(stream.default_cursor_field or []) if incremental else None,
            primary_key=pk or None))
    return ConfiguredAirbyteCatalog(streams=streams), pks


class _Buffers:
    """Per-stream record buffers that flush into the raw store."""

    def __init__(self, store: RawStore, source: str, sync_id: str, pks: dict[str, list[list[str]]],
                 result: SyncResult, batch_size: int, progress: Callable[[str], None]):
        self.store, self.source, self.sync_id, self.pks = store, source, sync_id, pks
        self.result, self.batch_size, self.progress = result, batch_size, progress
        self.records: dict[str, list[Mapping[str, Any]]] = {}
        self.rows: dict[str, int] = {}
        self.bad: list[dict[str, Any]] = []

    def add(self, stream: str, data: Mapping[str, Any]) -> None:
        if ERRORS_FIELD in data:
            key, _ = key_of(data, self.pks.get(stream, []))
            self.bad.append(quarantine_row(self.source, stream, self.sync_id, "extract",
                                           "; ".join(map(str, data[ERRORS_FIELD])), record_key=key, record=data))
            self.result.streams.setdefault(stream, StreamResult())
            return
        buf = self.records.setdefault(stream, [])
        buf.append(data)
        if len(buf) >= self.batch_size:
            self.flush(stream)

    def flush(self, stream: str, state: Any = None) -> None:
        records = self.records.pop(stream, [])
        if not records and state is None and not self.bad:
            return
        first = self.rows.get(stream, 0)
        self.rows[stream] = first + len(records)
        stats = self.store.load(self.source, stream, self.sync_id, records, self.pks.get(stream, []),
                                first, state=state)
        bad = [b for b in self.bad if b["stream"] == stream]
        if bad:
            self.bad = [b for b in self.bad if b["stream"] != stream]
            stats.quarantined += self.store.quarantine(bad)
            stats.read += len(bad)
        sr = self.result.streams.setdefault(stream, StreamResult())
        sr.stats.add(stats)
        if records:
            self.progress(f"{self.source}.{stream}: {sr.stats.read:,} read, {sr.stats.loaded:,} new or changed")

    def flush_all(self) -> None:
        for stream in list(self.records) + sorted({b["stream"] for b in self.bad}):
            self.flush(stream)


def _state_of(msg: AirbyteMessage) -> tuple[str | None, Any]:
    dumped = AirbyteMessageSerializer.dump(msg)["state"]
    if dumped.get("type") == "STREAM" or dumped.get("stream"):
        stream = dumped["stream"]
        return stream["stream_descriptor"]["name"], stream.get("stream_state") or {}
    return None, dumped.get("data")


def sync_source(cfg: HubConfig, warehouse: Warehouse, source_name: str, batch_size: int = 10000,
                progress: Callable[[str], None] | None = None, full_refresh: bool = False) -> SyncResult:
    """Sync one source into `raw`. Never raises for source-level failures: they are in the result."""
    progress = progress or log.info
    src = cfg.source(source_name)
    store = RawStore(warehouse)
    sync_id = store.start_sync(source_name)
    result = SyncResult(source_name, sync_id)
    started = time.monotonic()
    conf = connector_config(src)
    update_secrets(sorted(cfg.secret_values))
    secrets.install_filter()
    buffers: _Buffers | None = None
    try:
        refused = None if src.connector in CONFIG_STREAM_CONNECTORS else refused_endpoint(conf)
        if refused:
            raise SyncError(f"source {source_name}: cannot connect to {refused[0]} {refused[1]} (connection refused): "
                            "is the server running?")
        source = create_source(src.connector, conf)
        try:
            discovered = source.discover(log, conf)
        except AirbyteTracedException as e:
            raise SyncError(f"source {source_name}: {e.message or e}") from None
        catalog, pks = build_catalog(source_name, src, discovered)
        detect_schema_changes(store, source_name, sync_id, catalog, result)
        states = {} if full_refresh else store.get_state(source_name)
        states = {k: v for k, v in states.items() if k in pks}
        buffers = _Buffers(store, source_name, sync_id, pks, result, batch_size, progress)
        source = create_source(src.connector, conf, catalog, _state_messages(states))
        errors: list[str] = []
        for msg in source.read(log, conf, catalog, _state_messages(states)):
            if msg.type == Type.RECORD:
                buffers.add(msg.record.stream, msg.record.data)
            elif msg.type == Type.STATE:
                stream, state = _state_of(msg)
                if stream:
                    buffers.flush(stream, state)
            elif msg.type == Type.TRACE and msg.trace.type == TraceType.ERROR:
                errors.append(secrets.mask(msg.trace.error.message or "error"))
            elif msg.type == Type.LOG:
                level = {Level.ERROR: logging.ERROR, Level.WARN: logging.WARNING,
                         Level.FATAL: logging.ERROR}.get(msg.log.level, logging.DEBUG)
                log.log(level, "%s: %s", source_name, secrets.mask(msg.log.message))
        buffers.flush_all()
        if errors:
            raise SyncError(f"source {source_name}: " + "; ".join(dict.fromkeys(errors)))
        result.status = "succeeded"
    except SyncError as e:
        result.status, result.error = "failed", secrets.mask(str(e))
    except AirbyteTracedException as e:
        result.status = "failed"
        result.error = secrets.mask(f"source {source_name}: {e.message or e.internal_message or e}")
    except Exception as e:
        result.status, result.error = "failed", secrets.mask(f"source {source_name}: {type(e).__name__}: {e}")
        log.debug("sync of %s failed", source_name, exc_info=True)
    finally:
        if buffers is not None and result.status != "succeeded":
            try:
                buffers.flush_all()  # what was read is kept; its state was not advanced
            except Exception:
                log.debug("could not flush after failure", exc_info=True)
        result.seconds = time.monotonic() - started
        store.finish_sync(sync_id, result.status, result.stats, result.error)
    return result


def detect_schema_changes(store: RawStore, source: str, sync_id: str, catalog: ConfiguredAirbyteCatalog,
                          result: SyncResult) -> None:
    """Compare each stream's columns with the last sync's and report added or dropped ones."""
    import json

    import sqlalchemy as sa

    with store.wh.begin() as conn:
        store.ensure(conn)
        known = {r[0]: json.loads(r[1]) for r in conn.execute(
            sa.text("SELECT stream, columns FROM raw._schema WHERE source = :s"), {"s": source})}
        for cs in catalog.streams:
            name = cs.stream.name
            cols = sorted((cs.stream.json_schema or {}).get("properties", {}))
            old = known.get(name)
            sr = result.streams.setdefault(name, StreamResult())
            if old is not None and cols and old != cols:
                added, dropped = sorted(set(cols) - set(old)), sorted(set(old) - set(cols))
                if added:
                    sr.schema_changes.append(f"new column(s): {', '.join(added)}")
                if dropped:
                    sr.schema_changes.append(f"dropped column(s): {', '.join(dropped)}")
                log.warning("%s.%s: schema changed: %s", source, name, "; ".join(sr.schema_changes))
            if cols and old != cols:
                params = {"s": source, "t": name, "c": json.dumps(cols, ensure_ascii=False), "i": sync_id}
                conn.execute(sa.text("DELETE FROM raw._schema WHERE source = :s AND stream = :t"), params)
                conn.execute(sa.text("INSERT INTO raw._schema (source, stream, columns, sync_id, updated_at) "
                                     "VALUES (:s, :t, :c, :i, CURRENT_TIMESTAMP)"), params)


__all__ = ["SyncError", "SyncResult", "build_catalog", "connector_config", "dumps", "sync_source"]
