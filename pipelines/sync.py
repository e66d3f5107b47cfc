"""Sync: run a source's airbyte-cdk connector in-process and land its records in `raw`.

Every connector speaks the Airbyte protocol for spec, check, discover and state. How records travel
depends on the kind:
- bulk sources (`sql`, `file`) hand over Arrow batches (`CheckpointedStream.read_batches`): no Python
  object per record, keys, JSON and hashes computed set-based (`RawStore.load_table`); the next batch is
  read by a thread while the current one lands (`pipelines.read_ahead`);
- API connectors stream RECORD and STATE messages; records are buffered per stream and a STATE
  message flushes its stream's buffer.
Either way a batch, the records the connector could not parse (to quarantine) and the state that
covers them commit in one transaction, so after a crash the next sync resumes from the last committed
state and the content-hash check drops whatever is read twice.

A stream read whole (a table without cursor, one file, an API stream without incremental sync) tells
deletes too: when the read completes, records it did not see are tombstoned (`RawStore.delete_unseen`),
unless that is more than the stream's `max_delete_share` (then the stream fails and nothing is deleted,
so an emptied export cannot wipe a CRM; `allow_mass_delete` overrides).
"""

from __future__ import annotations

import functools
import io
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    AirbyteStreamStatus,
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
from airbyte_cdk.sources.streams.core import NO_CURSOR_STATE_KEY
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from connectors.file.source import ERRORS_FIELD
from connectors.python_source import Batch, CheckpointedStream
from connectors.registry import create_source, refused_endpoint
from core import secrets
from core.config import HubConfig, SourceConfig
from pipelines import full_refresh as full_refreshes
from pipelines.errors import trace_text
from pipelines.health import HealthWatch, check_columns, holds_live
from pipelines.progress import Progress, as_progress
from pipelines.read_ahead import read_ahead
from warehouse.engine import Warehouse
from warehouse.raw import (
    LoadStats,
    MassDeleteRefused,
    RawStore,
    dumps,
    key_of,
    quarantine_row,
    raw_table,
    shape_table,
)

log = logging.getLogger("hub.sync")

CONFIG_STREAM_CONNECTORS = {"sql", "file"}  # connectors whose streams are defined by the hub config
_STREAM_KEYS = ("table", "query", "path", "format", "encoding", "sheet", "order", "lookback", "future_tolerance",
                "header_row", "fill_down", "excel_dates")


class SyncError(Exception):
    """A source could not be synced; the message names the source and what went wrong."""


@dataclass
class StreamResult:
    stats: LoadStats = field(default_factory=LoadStats)
    schema_changes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class SyncResult:
    source: str
    sync_id: str
    status: str = "running"
    error: str | None = None
    streams: dict[str, StreamResult] = field(default_factory=dict)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # status "warning": what the health thresholds found

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


def _discover(source: Any, conf: dict[str, Any], result: SyncResult) -> AirbyteCatalog:
    """The catalog of a file source, stream by stream: a stream that cannot be discovered (no file, or one that
    cannot be opened) fails alone, its error in its result, and the others are read. (A database that cannot be
    reached fails the whole source: discovering a SQL source stays one step.)"""
    found = []
    for stream in source.streams(conf):
        try:
            found.append(stream.as_airbyte_stream())
        except AirbyteTracedException as e:
            message = (e.message or str(e)).removeprefix(f"stream {stream.name}: ")  # (named with the source's)
            result.streams.setdefault(stream.name, StreamResult()).error = secrets.mask(message)
    return AirbyteCatalog(streams=found)


def build_catalog(src_name: str, src: SourceConfig, discovered: Any, skip: set[str] | None = None
                  ) -> tuple[ConfiguredAirbyteCatalog, dict[str, list[list[str]]]]:
    """Select the configured streams from the discovered catalog (but those in `skip`, failed already); an unknown
    stream is an error."""
    by_name = {s.name: s for s in discovered.streams}
    wanted = [w for w in (list(src.streams) or list(by_name)) if w not in (skip or set())]
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


def extraction_errors(source: str, stream: str, sync_id: str, bad: Sequence[Mapping[str, Any]],
                      pk: list[list[str]]) -> list[dict[str, Any]]:
    """Quarantine rows for records the connector read but could not parse (they carry `_hub_errors`)."""
    return [quarantine_row(source, stream, sync_id, "extract", "; ".join(map(str, b.get(ERRORS_FIELD) or [])),
                           record_key=key_of(b, pk)[0], record={k: v for k, v in b.items() if k != "_hub_row"})
            for b in bad]


@dataclass
class _Sync:
    """What one sync of one source needs while it lands batches."""

    cfg: HubConfig
    store: RawStore
    source: str
    sync_id: str
    result: SyncResult
    pks: dict[str, list[list[str]]]
    progress: Progress
    allow_mass_delete: bool
    watch: HealthWatch

    def shape(self, stream: str, batch: Batch) -> tuple[Batch, pa.Table | None]:
        """A batch with its table shaped for landing (keys, canonical JSON, hashes; `warehouse.raw.shape_table`):
        done in the thread reading ahead, while the batch before it lands."""
        if batch.table is None:
            return batch, None
        return batch, shape_table(self.source, stream, batch.table, [".".join(p) for p in self.pks.get(stream, [])],
                                  batch.first_row, batch.rows)

    def land(self, stream: str, batch: Batch, track_seen: bool, shaped: pa.Table | None = None) -> None:
        self.watch.observe(stream, batch)
        bad = extraction_errors(self.source, stream, self.sync_id, batch.bad, self.pks.get(stream, []))
        if batch.table is not None:
            if shaped is None:
                _, shaped = self.shape(stream, batch)
            # a bulk read (tables and files) notes in raw._seen only the keys it does not land: a read that tells
            # deletes starts in its sync, and the record index tells which keys the sync landed
            stats = self.store.load_shaped(self.source, stream, self.sync_id, shaped, state=batch.state, bad=bad,
                                           track_seen=track_seen, part=batch.part, seen_if_landed=True)
        else:
            stats = self.store.load(self.source, stream, self.sync_id, list(batch.records or []),
                                    self.pks.get(stream, []), batch.first_row, state=batch.state, bad=bad,
                                    track_seen=track_seen, part=batch.part)
        self.result.streams.setdefault(stream, StreamResult()).stats.add(stats)

    def finish_stream(self, stream: str, detect: bool) -> None:
        """A stream read to its end: with delete detection, tombstone what the read did not see: the keys noted in
        raw._seen and those this sync landed (a bulk read notes only the others; an API read notes them all)."""
        if not detect:
            return
        sc = self.cfg.sources[self.source].streams.get(stream)
        share = sc.max_delete_share if sc else 0.5
        sr = self.result.streams.setdefault(stream, StreamResult())
        try:
            sr.stats.deleted += self.store.delete_unseen(self.source, stream, self.sync_id, share,
                                                         self.allow_mass_delete, landed_seen=True)
        except MassDeleteRefused as e:
            sr.error = str(e)
            self.store.reset_state(self.source, stream)  # the next sync reads it whole again and asks again
        if sr.stats.deleted:
            self.progress(f"{self.source}.{stream}: {sr.stats.deleted:,} records deleted in the source")


def _detects_deletes(src: SourceConfig, stream: str) -> bool:
    sc = src.streams.get(stream)
    return True if sc is None or sc.detect_deletes is None else sc.detect_deletes


def _resumes(state: Any) -> bool:
    """A saved state a full read resumes from: one that is not empty, nor the CDK's mark of a full read that ended
    (which the CDK itself reads as no state: the next read starts from the beginning)."""
    return bool(state) and state != {NO_CURSOR_STATE_KEY: True}


def sync_source(cfg: HubConfig, warehouse: Warehouse, source_name: str, batch_size: int | None = None,
                progress: Callable[[str], None] | None = None, full_refresh: bool = False,
                allow_mass_delete: bool = False) -> SyncResult:
    """Sync one source into `raw`. Never raises for source-level failures: they are in the result."""
    prog = as_progress(progress, log)
    src = cfg.source(source_name)
    store = RawStore(warehouse)
    sync_id = store.start_sync(source_name)
    result = SyncResult(source_name, sync_id)
    started = time.monotonic()
    conf = connector_config(src)
    if batch_size and src.connector in CONFIG_STREAM_CONNECTORS:
        conf["batch_size"] = batch_size
    secrets.install_filter()
    try:
        refused = None if src.connector in CONFIG_STREAM_CONNECTORS else refused_endpoint(conf)
        if refused:
            raise SyncError(f"source {source_name}: cannot connect to {refused[0]} {refused[1]} (connection refused): "
                            "is the server running?")
        source = create_source(src.connector, conf)
        try:
            discovered = _discover(source, conf, result) if src.connector == "file" else source.discover(log, conf)
        except AirbyteTracedException as e:
            raise SyncError(f"source {source_name}: {e.message or e}") from None
        catalog, pks = build_catalog(source_name, src, discovered, skip=set(result.streams))
        problems = check_columns(source_name, src, {s.name: s.json_schema for s in discovered.streams})
        if problems:
            raise SyncError(f"source {source_name}: " + "; ".join(problems))
        detect_schema_changes(store, source_name, sync_id, catalog, result)
        states = {} if full_refresh else store.get_state(source_name)
        whole = full_refreshes.due(warehouse, source_name, src, pks)  # full_refresh_every has passed
        states = {k: v for k, v in states.items() if k in pks and k not in whole}
        unsaved = [s for s in pks if s not in states]  # read whole this time
        run = _Sync(cfg, store, source_name, sync_id, result, pks, prog, allow_mass_delete, HealthWatch(src))
        if src.connector in CONFIG_STREAM_CONNECTORS:
            _read_bulk(run, source, conf, catalog, states, full_refresh)
        else:
            # a declarative source's concurrent streams take their state when the source is built: the one that
            # discovered has none, and read()'s state alone would read every incremental stream from its start
            reader = create_source(src.connector, conf, catalog, _state_messages(states))
            _read_protocol(run, reader, conf, catalog, states, batch_size or 10000)
        failed = [s.error if s.error.startswith((f"{source_name}.{n}:", f"stream {n}:")) else f"{n}: {s.error}"
                  for n, s in result.streams.items() if s.error]  # (the stream named once)
        if failed:
            raise SyncError(f"source {source_name}: " + "; ".join(failed))
        result.status, failures, result.warnings = run.watch.judge(result, holds_live(store, source_name))
        if failures:
            raise SyncError(f"source {source_name}: " + "; ".join(failures + result.warnings))
        full_refreshes.record(warehouse, source_name, src, unsaved)
    except SyncError as e:
        result.status, result.error = "failed", secrets.mask(str(e))
    except AirbyteTracedException as e:
        result.status = "failed"
        result.error = secrets.mask(f"source {source_name}: {trace_text(e)}")
    except Exception as e:
        result.status, result.error = "failed", secrets.mask(f"source {source_name}: {type(e).__name__}: {e}")
        log.debug("sync of %s failed", source_name, exc_info=True)
    finally:
        result.seconds = time.monotonic() - started
        store.finish_sync(sync_id, result.status, result.stats, result.error or "; ".join(result.warnings) or None)
    return result


def _loaded(stats: LoadStats) -> str:
    """A stream's progress line, beside its count of records read."""
    return f"{stats.loaded:,} new or changed"


def _read_and_loaded(stats: LoadStats) -> str:
    """A stream's last progress line, once read."""
    return f"{stats.read:,} read, {_loaded(stats)}"


def _read_bulk(run: _Sync, source: Any, conf: dict[str, Any], catalog: ConfiguredAirbyteCatalog,
               states: dict[str, Any], full_refresh: bool) -> None:
    """Read each stream of a bulk source in Arrow batches and land them; a failing stream does not stop the
    others (its error is in its result)."""
    streams: dict[str, CheckpointedStream] = {s.name: s for s in source.streams(conf)}
    src = run.cfg.sources[run.source]
    for cs in catalog.streams:
        name = cs.stream.name
        stream = streams[name]
        state = states.get(name) or {}
        # (a read resuming a half-read file is not whole: only a read started in this sync tells deletes; a stream
        # holding no live record, read for the first time, has nothing to delete)
        detect = (_detects_deletes(src, name) and stream.can_read_whole(cs.sync_mode, state)
                  and not state.get("current") and holds_live(run.store, run.source)(name))
        sr = run.result.streams.setdefault(name, StreamResult())
        if detect:  # a complete read starts in this sync
            run.store.start_complete_read(run.source, name)
        counter = run.progress.counter(f"{run.source}.{name}", unit="records")
        try:
            with closing(read_ahead(stream.read_batches(cs.sync_mode, state),
                                    functools.partial(run.shape, name))) as batches:
                for batch, shaped in batches:
                    run.land(name, batch, detect, shaped)
                    counter.update(sr.stats.read, _loaded(sr.stats))
            counter.close(_read_and_loaded(sr.stats))
            run.watch.stream_read(name, stream)
        except AirbyteTracedException as e:
            sr.error = secrets.mask(trace_text(e))
            counter.close(f"FAILED after {sr.stats.read:,} records")
            continue
        except KeyError as e:  # a primary key column the data does not have
            sr.error = secrets.mask(str(e.args[0]) if e.args else str(e))
            counter.close("FAILED")
            continue
        if detect and not stream.read_whole:  # e.g. unchanged files were skipped: no deletes can be told
            run.store.start_complete_read(run.source, name)
        run.finish_stream(name, detect and stream.read_whole)
        if sr.stats.loaded > 10_000:
            run.store.wh.refresh_statistics(f"raw.{raw_table(run.source, name)}", "raw._record_index")


class _CdkPrints(io.TextIOBase):
    """Standard output while an API connector reads: airbyte-cdk prints some messages itself instead of yielding
    them (a stream's RATE_LIMITED status, while it backs off); those go to the debug log, not the user's terminal.
    Anything else passes through."""

    def __init__(self, target: Any):
        self.target = target

    def write(self, text: str) -> int:
        if text.lstrip().startswith('{"type":'):
            log.debug("airbyte-cdk printed: %s", secrets.mask(text.strip()))
            return len(text)
        return int(self.target.write(text))

    def flush(self) -> None:
        self.target.flush()


def _state_of(msg: AirbyteMessage) -> tuple[str | None, Any]:
    dumped = AirbyteMessageSerializer.dump(msg)["state"]
    if dumped.get("type") == "STREAM" or dumped.get("stream"):
        stream = dumped["stream"]
        return stream["stream_descriptor"]["name"], stream.get("stream_state") or {}
    return None, dumped.get("data")


def _read_protocol(run: _Sync, source: Any, conf: dict[str, Any], catalog: ConfiguredAirbyteCatalog,
                   states: dict[str, Any], batch_size: int) -> None:
    """Read an API connector through the Airbyte protocol, landing each stream's records at every STATE
    message (and every `batch_size` records)."""
    src = run.cfg.sources[run.source]
    full = {cs.stream.name for cs in catalog.streams if cs.sync_mode == SyncMode.full_refresh}
    detect = {name: _detects_deletes(src, name) for name in full}
    for name in full:
        if detect[name] and not _resumes(states.get(name)):  # a fresh full read of the stream
            run.store.start_complete_read(run.source, name)
    buffers: dict[str, Batch] = {}
    rows: dict[str, int] = {}
    counters: dict[str, Any] = {}  # (a stream's progress: a line every few seconds, not one per time slice)

    def flush(stream: str, state: Any = None) -> None:
        batch = buffers.pop(stream, None) or Batch(state={}, records=[])
        if not batch.records and not batch.bad and state is None:
            return
        batch.state = state
        batch.first_row = rows.get(stream, 0)
        rows[stream] = batch.first_row + len(batch)
        run.land(stream, batch, detect.get(stream, False))
        sr = run.result.streams[stream]
        if batch.records:
            if stream not in counters:
                counters[stream] = run.progress.counter(f"{run.source}.{stream}", unit="records")
            counters[stream].update(sr.stats.read, _loaded(sr.stats))

    errors: list[str] = []
    completed: list[str] = []
    with redirect_stdout(_CdkPrints(sys.stdout)):  # (what airbyte-cdk prints itself: to the debug log)
        try:
            for msg in source.read(log, conf, catalog, _state_messages(states)):
                if msg.type == Type.RECORD:
                    stream, data = msg.record.stream, msg.record.data
                    batch = buffers.setdefault(stream, Batch(state={}, records=[]))
                    run.result.streams.setdefault(stream, StreamResult())
                    (batch.bad if ERRORS_FIELD in data else batch.records).append(data)  # type: ignore[union-attr]  # records: None only in Arrow batches, this one has a list
                    if len(batch) >= batch_size:
                        flush(stream)
                elif msg.type == Type.STATE:
                    stream, state = _state_of(msg)
                    if stream:
                        flush(stream, state)
                elif msg.type == Type.TRACE and msg.trace.type == TraceType.ERROR:
                    errors.append(secrets.mask(trace_text(msg.trace.error)))
                elif msg.type == Type.TRACE and msg.trace.type == TraceType.STREAM_STATUS:
                    status = msg.trace.stream_status
                    if status.status == AirbyteStreamStatus.COMPLETE:
                        completed.append(status.stream_descriptor.name)
                elif msg.type == Type.LOG:
                    level = {Level.ERROR: logging.ERROR, Level.WARN: logging.WARNING,
                             Level.FATAL: logging.ERROR}.get(msg.log.level, logging.DEBUG)
                    log.log(level, "%s: %s", run.source, secrets.mask(msg.log.message))
        finally:
            for stream in list(buffers):  # what was read is kept, also on failure; its state was not advanced
                flush(stream)
            for stream, counter in counters.items():
                counter.close(_read_and_loaded(run.result.streams[stream].stats))
    if errors:
        raise SyncError(f"source {run.source}: " + "; ".join(dict.fromkeys(errors)))
    for stream in completed:
        if stream in full:
            run.finish_stream(stream, detect[stream])


def forget_removed(cfg: HubConfig, wh: Warehouse, allow_mass_delete: bool = False,
                   progress: Callable[[str], None] | None = None) -> list[SyncResult]:
    """Tombstone the records of sources and streams that left the configuration (a disabled source keeps its
    records). Each is reported as a sync of its source; more than a stream's `max_delete_share` needs
    `allow_mass_delete`, so a removal is deliberate."""
    store = RawStore(wh)
    gone: dict[str, list[str]] = {}
    for source, stream in store.landed_streams():
        src = cfg.sources.get(source)
        if src is None or (src.streams and stream not in src.streams):  # (no `streams`: the connector's all)
            gone.setdefault(source, []).append(stream)
    results = []
    for source, streams in gone.items():
        sync_id = store.start_sync(source)
        res = SyncResult(source, sync_id)
        why = ("the source is no longer in the configuration" if source not in cfg.sources
               else "the stream is no longer in the configuration")
        for stream in streams:
            sr = res.streams.setdefault(stream, StreamResult())
            try:
                sr.stats.deleted = store.delete_stream(source, stream, sync_id, allow_mass_delete=allow_mass_delete,
                                                       why=why)
            except MassDeleteRefused as e:
                sr.error = str(e)
        errors = [s.error for s in res.streams.values() if s.error]  # (each names its source.stream)
        res.status = "failed" if errors else "succeeded"
        res.error = "; ".join(errors) or None
        store.finish_sync(sync_id, res.status, res.stats, res.error)
        if progress:
            progress(f"{source}: {res.stats.deleted:,} records deleted ({why})" if not errors else
                     f"{source}: {res.error}")
        results.append(res)
    return results


def detect_schema_changes(store: RawStore, source: str, sync_id: str, catalog: ConfiguredAirbyteCatalog,
                          result: SyncResult) -> None:
    """Compare each stream's columns with the last sync's and report added or dropped ones."""
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


__all__ = ["SyncError", "SyncResult", "build_catalog", "connector_config", "dumps", "forget_removed", "sync_source"]
