"""Whether a sync of a source went well: its configured columns exist, and each stream's health thresholds.

Before reading, `check_columns` compares the primary key, cursor field and mapped columns of every `sql` and
`file` stream with the columns the source offers (a typo or a case difference is an error that says "did you
mean 'CustID'?"). While reading, `HealthWatch.observe` notes per stream the mapped columns missing from a batch
(a later file of a glob that renamed its header) and how many of their values are empty; after reading,
`HealthWatch.judge` turns the stream's `health` thresholds (`core.config.HealthConfig`) into the sync's status:
`succeeded`, `warning` or `failed` (exit codes 0, 5 and 1: `core/exit_codes.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from core.config import HealthConfig, MappingValue, SourceConfig, StreamConfig, did_you_mean

if TYPE_CHECKING:
    from connectors.python_source import Batch
    from pipelines.sync import SyncResult
    from warehouse.raw import RawStore

COLUMN_CHECKED = {"sql", "file"}  # connectors whose discovered columns are every column their records have
_MIN_ROWS_ALL_EMPTY = 10  # a mapped column empty in every one of at least this many rows read is a warning


def mapped_paths(value: MappingValue) -> list[str]:
    """The source paths one mapping value reads (a column, a list of columns, `{path: …}`)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value["path"])] if value.get("path") else []


def mapped_columns(sc: StreamConfig) -> dict[str, str]:
    """Source path → the entity field it is mapped to (the soft-delete column too)."""
    out = {p: f for f, v in sc.mapping.items() for p in mapped_paths(v)}
    if sc.soft_delete:
        out.setdefault(sc.soft_delete.field, "soft_delete")
    return out


def _present(path: str, columns: Iterable[str]) -> bool:
    """A path names a column as it is (a column may hold dots), or its first segment does (a JSON column)."""
    cols = set(columns)
    return path in cols or re.split(r"[.\[]", path, maxsplit=1)[0] in cols


def _listing(columns: list[str]) -> str:
    shown = ", ".join(map(repr, columns[:20]))
    return shown + (f" and {len(columns) - 20} more" if len(columns) > 20 else "")


def check_columns(source: str, src: SourceConfig, schemas: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Problems of the configured columns of `src`'s streams against the discovered JSON schemas (stream →
    schema); empty when all are there. Only for connectors whose schema lists every column (sql, file but
    JSON lines)."""
    if src.connector not in COLUMN_CHECKED:
        return []
    problems = []
    for name, sc in src.streams.items():
        props = list((schemas.get(name) or {}).get("properties") or {})
        fmt = sc.format or src.config.get("format")
        path = str(sc.path or src.config.get("path") or "")
        if not props or fmt == "jsonl" or (fmt is None and path.lower().endswith((".jsonl", ".json"))):
            continue
        keys = [sc.primary_key] if isinstance(sc.primary_key, str) else list(sc.primary_key or [])
        wanted = [("primary_key", k) for k in keys] + [("cursor_field", sc.cursor_field)] * bool(sc.cursor_field)
        wanted += [(f"mapping.{f}", p) for p, f in mapped_columns(sc).items()]
        found = [f"stream {name}: {what} {column!r} is not a column of the source{did_you_mean(column, props)} "
                 f"(its columns: {_listing(props)})" for what, column in wanted
                 if column is not None and not _present(column, props)]
        unnamed = sum(bool(re.fullmatch(r"column_\d+", c)) for c in props)
        if found and src.connector == "file" and (len(props) == 1 or unnamed * 2 >= len(props)):
            found.append(f"stream {name}: the first row looks like a title, not a header: set header_row to the "
                         "row that holds the column names")
        problems += found
    return problems


def _empty_count(column: pa.ChunkedArray) -> int:
    """Nulls, and texts that are empty or blank."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        blank = pc.equal(pc.utf8_trim_whitespace(column), "")
        return int(pc.sum(pc.fill_null(pc.or_kleene(pc.is_null(column), blank), True)).as_py() or 0)
    return column.null_count


@dataclass
class StreamWatch:
    """What one stream's batches showed: empty values per mapped column, and the mapped columns missing from a
    part of the read (column → where)."""

    empty: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)  # column → rows of the batches that had it
    missing: dict[str, list[str]] = field(default_factory=dict)
    others: dict[str, list[str]] = field(default_factory=dict)  # where → the columns it had instead
    notes: list[str] = field(default_factory=list)  # the reader's own warnings


@dataclass
class HealthWatch:
    """Watches the batches of one source's sync, then judges it."""

    src: SourceConfig
    streams: dict[str, StreamWatch] = field(default_factory=dict)

    def observe(self, stream: str, batch: Batch) -> None:
        """Note the mapped columns of a bulk batch: missing ones and their empty values (Arrow, no row loop)."""
        sc = self.src.streams.get(stream)
        if batch.table is None or sc is None or self.src.connector not in COLUMN_CHECKED:
            return
        w = self.streams.setdefault(stream, StreamWatch())
        table = batch.table
        current = (batch.state or {}).get("current") or {}
        where = str(current.get("file") or stream)
        for path in mapped_columns(sc):
            if path in table.column_names:
                w.empty[path] = w.empty.get(path, 0) + _empty_count(table.column(path))
                w.seen[path] = w.seen.get(path, 0) + table.num_rows
            elif (not _present(path, table.column_names) and table.num_rows
                  and where not in w.missing.setdefault(path, [])):
                w.missing[path].append(where)
                w.others[where] = table.column_names

    def stream_read(self, stream: str, reader: Any) -> None:
        """A stream read to its end: the warnings its reader has (cursor values in the future)."""
        notes = list(getattr(reader, "warnings", None) or [])
        if notes:
            self.streams.setdefault(stream, StreamWatch()).notes += notes

    def judge(self, result: SyncResult, holds_live: Callable[[str], bool]) -> tuple[str, list[str], list[str]]:
        """(status, failures, warnings) of the sync by each stream's health thresholds; `holds_live(stream)`:
        whether the stream holds any record after the sync."""
        failures: list[str] = []
        warnings: list[str] = []
        for name, sr in result.streams.items():
            sc = self.src.streams.get(name)
            h = sc.health if sc else HealthConfig()
            st = sr.stats
            if st.read and st.quarantined:
                share = st.quarantined / st.read
                text = (f"{name}: {st.quarantined:,} of {st.read:,} rows read were quarantined ({share:.0%}; see "
                        "raw._quarantine)")
                if share > h.max_quarantined_share:
                    failures.append(f"{text}, more than max_quarantined_share {h.max_quarantined_share:.0%}")
                elif share > h.warn_quarantined_share:
                    warnings.append(f"{text}, more than warn_quarantined_share {h.warn_quarantined_share:.0%}")
            w = self.streams.get(name) or StreamWatch()
            fields = mapped_columns(sc) if sc else {}
            for path, places in w.missing.items():
                had = w.others.get(places[0], [])
                text = (f"{name}: mapped column {path!r} ({fields.get(path)}) is missing from "
                        f"{', '.join(places)}{did_you_mean(path, had)} (its columns: {_listing(had)}); its records "
                        f"have no {fields.get(path)}")
                (failures if h.missing_column == "fail" else warnings).append(text)
            for path, empty in w.empty.items():
                seen = w.seen.get(path, 0)
                share = empty / seen if seen else 0.0
                over = (share > h.max_empty_share if h.max_empty_share is not None
                        else seen >= _MIN_ROWS_ALL_EMPTY and empty == seen and not w.missing.get(path))
                if over:
                    warnings.append(f"{name}: mapped column {path!r} ({fields.get(path)}) is empty in {empty:,} of "
                                    f"{seen:,} rows read ({share:.0%})")
            warnings += [f"{name}: {n}" for n in w.notes]
            # (a stream emptied by deletes the run was allowed to make is no surprise)
            if h.zero_rows != "ignore" and not sr.error and not st.deleted and not holds_live(name):
                text = f"{name}: the stream holds no record after the sync"
                (failures if h.zero_rows == "fail" else warnings).append(text)
        status = "failed" if failures else "warning" if warnings else "succeeded"
        return status, failures, warnings


def holds_live(store: RawStore, source: str) -> Callable[[str], bool]:
    """stream → whether the raw layer holds any live record of it."""
    def holds(stream: str) -> bool:
        with store.wh.begin() as conn:
            return store.holds_live(conn, source, stream)
    return holds
