"""The records a vendor fake serves: named objects, keyed and time-stamped, safe to read and upsert from
several threads; the vendors' time formats."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

TZ = timezone(timedelta(hours=8))
"""All vendors run on China time."""
DATA_START = datetime(2019, 1, 1, tzinfo=TZ)
AS_OF = datetime(2026, 9, 30, 18, 0, tzinfo=TZ)
"""Generated data lies between DATA_START and AS_OF; upserts are stamped later than any record."""

Path = tuple[str, ...]


def get_path(record: Mapping[str, Any], path: Path) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def set_path(record: dict[str, Any], path: Path, value: Any) -> None:
    for part in path[:-1]:
        record = record.setdefault(part, {})
    record[path[-1]] = value


def deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied; nested mappings merge, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def format_time(moment: datetime, fmt: str) -> int | str:
    """``ms``/``s`` epoch numbers, else a strftime pattern in China time."""
    if fmt == "ms":
        return int(moment.timestamp() * 1000)
    if fmt == "s":
        return int(moment.timestamp())
    return moment.astimezone(TZ).strftime(fmt)


def parse_time(value: Any, fmt: str) -> datetime | None:
    """Inverse of :func:`format_time`; None when the value doesn't parse."""
    try:
        if fmt == "ms":
            return datetime.fromtimestamp(int(value) / 1000, TZ)
        if fmt == "s":
            return datetime.fromtimestamp(int(value), TZ)
        return datetime.strptime(str(value), fmt).replace(tzinfo=TZ)
    except (TypeError, ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class ObjectSpec:
    """How a dataset object is keyed and time-stamped.

    ``keys`` are the paths whose values identify a record (several for a composite key);
    ``new_key`` makes a key for a record upserted without one (single-path keys only).
    """

    keys: tuple[Path, ...]
    modified: Path | None = None
    created: Path | None = None
    time_format: str = "ms"
    new_key: Callable[[Table], Any] | None = None

    def key_of(self, record: Mapping[str, Any]) -> Hashable | None:
        values = tuple(get_path(record, path) for path in self.keys)
        if any(v is None for v in values):
            return None
        return values[0] if len(values) == 1 else values


@dataclass
class Table:
    spec: ObjectSpec
    records: dict[Hashable, dict[str, Any]] = field(default_factory=dict)


class Dataset:
    """Named objects of records, safe to read and mutate from several threads.

    Records are replaced, never mutated in place, so a snapshot stays consistent.
    """

    def __init__(
        self, specs: Mapping[str, ObjectSpec], records: Mapping[str, Iterable[dict[str, Any]]]
    ) -> None:
        self.lock = threading.RLock()
        self.version = 0
        """Bumped by every upsert: a cache key for derived views."""
        self.tables = {name: Table(spec) for name, spec in specs.items()}
        for name, rows in records.items():
            table = self.tables[name]
            for row in rows:
                key = table.spec.key_of(row)
                if key is None:
                    raise ValueError(f"{name}: record without a key: {row}")
                table.records[key] = row

    def names(self) -> list[str]:
        return list(self.tables)

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {name: len(table.records) for name, table in self.tables.items()}

    def records(self, name: str) -> list[dict[str, Any]]:
        """A snapshot of one object's records in insertion order (do not mutate them)."""
        with self.lock:
            return list(self.tables[name].records.values())

    def get(self, name: str, key: Hashable) -> dict[str, Any] | None:
        with self.lock:
            record = self.tables[name].records.get(key)
            return copy.deepcopy(record) if record is not None else None

    def upsert(self, name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Insert or merge ``record``; returns the stored record.

        A record without its modified-time field is stamped later than every record of the
        object (and, when new, gets the same created time), so incremental reads see it.
        """
        with self.lock:
            if name not in self.tables:
                raise KeyError(f"unknown object {name!r}; known: {self.names()}")
            table = self.tables[name]
            spec = table.spec
            changes = copy.deepcopy(dict(record))
            key = spec.key_of(changes)
            if key is None:
                if spec.new_key is None or len(spec.keys) != 1:
                    raise ValueError(f"{name}: record needs its key {spec.keys}")
                set_path(changes, spec.keys[0], spec.new_key(table))
                key = spec.key_of(changes)
            old = table.records.get(key)
            merged = deep_merge(old, changes) if old is not None else changes
            stamp = self._next_stamp(table)
            if spec.modified is not None and get_path(changes, spec.modified) is None:
                set_path(merged, spec.modified, format_time(stamp, spec.time_format))
            if old is None and spec.created is not None and get_path(changes, spec.created) is None:
                set_path(merged, spec.created, format_time(stamp, spec.time_format))
            table.records[key] = merged
            self.version += 1
            return copy.deepcopy(merged)

    def delete(self, name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Remove the record with the key fields of ``record`` (as the vendor's list no longer shows a record
        deleted in it); returns the removed record. KeyError for an unknown object or key."""
        with self.lock:
            if name not in self.tables:
                raise KeyError(f"unknown object {name!r}; known: {self.names()}")
            table = self.tables[name]
            key = table.spec.key_of(record)
            if key is None or key not in table.records:
                raise KeyError(f"{name}: no record with key {table.spec.keys} = {key!r}")
            removed = table.records.pop(key)
            self.version += 1
            return copy.deepcopy(removed)

    @staticmethod
    def _next_stamp(table: Table) -> datetime:
        spec = table.spec
        unit = timedelta(milliseconds=1) if spec.time_format == "ms" else timedelta(seconds=1)
        latest = datetime.now(TZ)
        for path in (spec.modified, spec.created):
            if path is None:
                continue
            for row in table.records.values():
                moment = parse_time(get_path(row, path), spec.time_format)
                if moment is not None and moment + unit > latest:
                    latest = moment + unit
        return latest
