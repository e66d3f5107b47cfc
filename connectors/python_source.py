"""Shared pieces of the hub's Python (non-declarative) airbyte-cdk sources."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from airbyte_cdk.models import ConnectorSpecification, SyncMode
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.core import CheckpointMixin

STREAM_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
KEY = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


class HubPythonSource(AbstractSource):
    """An AbstractSource whose spec is a JSON schema held by the class."""

    connection_schema: ClassVar[dict[str, Any]] = {}

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(connectionSpecification=self.connection_schema,
                                      supportsIncremental=True)


@dataclass
class Batch:
    """Records read together and the stream state that covers them, for landing in one transaction.

    Bulk sources fill `table` (flat columns, read without a Python object per record); others fill
    `records`. `bad` holds records the source could read but not parse (they carry `_hub_errors`) and
    `rows`, when given, the stream position of each row of `table` (it defaults to consecutive rows
    from `first_row`). `part`: which part of the read the batch belongs to (the file of a glob, in read
    order); a key seen again in a later part of the same read is a later version, in the same part a
    duplicate."""

    state: Mapping[str, Any]
    first_row: int = 0
    table: pa.Table | None = None
    records: list[Mapping[str, Any]] | None = None
    bad: list[dict[str, Any]] = field(default_factory=list)
    rows: pa.Array | None = None
    part: int = 0

    def __len__(self) -> int:
        n = self.table.num_rows if self.table is not None else len(self.records or [])
        return n + len(self.bad)


class CheckpointedStream(Stream, CheckpointMixin):
    """A named stream with a primary key whose state it keeps itself and checkpoints every batch.

    Subclasses implement `read_batches`; the hub lands its batches directly (Arrow, in-process), and
    `read_records` serves the same rows to the Airbyte protocol, one record at a time."""

    def __init__(self, name: str, primary_key: str | list[str] | None, batch_size: int):
        self._name, self._pk, self.batch_size = name, primary_key, batch_size
        self._state: MutableMapping[str, Any] = {}
        self.read_whole = False  # set by `read_batches`: the read just finished saw every record the source holds

    @property
    def name(self) -> str:
        return self._name

    @property
    def primary_key(self) -> str | list[str] | None:
        return self._pk

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state_checkpoint_interval(self) -> int:
        return self.batch_size

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._state

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._state = dict(value or {})

    def can_read_whole(self, sync_mode: SyncMode, stream_state: Mapping[str, Any] | None = None) -> bool:
        """Whether this read may see every record the source holds (then its keys are tracked for deletes)."""
        return sync_mode == SyncMode.full_refresh or not self.supports_incremental

    def read_batches(self, sync_mode: SyncMode, stream_state: Mapping[str, Any] | None = None) -> Iterator[Batch]:
        raise NotImplementedError

    def read_records(self, sync_mode: SyncMode, cursor_field: list[str] | None = None,
                     stream_slice: Mapping[str, Any] | None = None,
                     stream_state: Mapping[str, Any] | None = None) -> Iterable[Mapping[str, Any]]:
        for batch in self.read_batches(sync_mode, stream_state or self._state):
            rows = batch_records(batch)
            for i, rec in enumerate(rows):
                if i == len(rows) - 1:  # the CDK checkpoints after a record: the batch's state covers it
                    self._state = dict(batch.state)
                yield rec
            if not rows:
                self._state = dict(batch.state)


def plain(value: Any) -> Any:
    """A JSON-friendly value with nothing lost: exact decimals and dates as ISO text."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex()
    return value


def batch_records(batch: Batch) -> list[Mapping[str, Any]]:
    """A batch's records as dicts in stream order (the Airbyte protocol's view of it); a bad record's
    position is its `_hub_row`."""
    if batch.table is not None:
        recs: list[Mapping[str, Any]] = [{k: plain(v) for k, v in r.items()} for r in batch.table.to_pylist()]
    else:
        recs = list(batch.records or [])
    if not batch.bad:
        return recs
    if batch.rows is not None:
        positions = batch.rows.to_pylist()
    else:
        taken = {b["_hub_row"] for b in batch.bad}
        span = range(batch.first_row, batch.first_row + len(recs) + len(batch.bad))
        positions = [p for p in span if p not in taken][:len(recs)]
    merged = sorted([(p, i, r) for i, (p, r) in enumerate(zip(positions, recs, strict=True))]
                    + [(b["_hub_row"], len(recs) + i, b) for i, b in enumerate(batch.bad)], key=lambda t: t[:2])
    return [r for _, _, r in merged]


def unique_names(raw: list[Any]) -> list[str]:
    """Column names made unique and non-empty (`column_3`, `name_2`), as a header row or a query gives them."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(raw):
        name = str(h).strip() if h is not None and str(h).strip() else f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def rows_to_table(names: list[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """A driver's rows as an Arrow table, transposed by NumPy (one C loop, no Python tuple per column). Rows that
    are not tuples (SQLAlchemy's `Row`) become tuples first: NumPy would probe each one for array attributes, which a
    `Row` answers by raising an exception per probe (seconds for 200,000 rows)."""
    if len(rows) and not isinstance(rows[0], tuple):
        rows = [tuple(r) for r in rows]
    grid = np.array(rows, dtype=object)
    if grid.shape != (len(rows), len(names)):  # a cell holding a sequence: transpose in Python
        return columns_to_table(names, list(zip(*rows, strict=True)))
    return columns_to_table(names, [grid[:, i] for i in range(len(names))])


def columns_to_table(names: list[str], columns: list[Any]) -> pa.Table:
    """Python column values as an Arrow table; a column mixing types becomes text."""
    arrays = []
    for col in columns:
        try:
            arrays.append(pa.array(col))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            arrays.append(pa.array([None if v is None else str(plain(v)) for v in col], pa.string()))
    return pa.table(arrays, names=names)


def json_type(python_type: type | None) -> dict[str, Any]:
    """JSON schema type of a column from its Python type (None when unknown → string)."""
    if python_type is bool:
        return {"type": ["null", "boolean"]}
    if python_type is int:
        return {"type": ["null", "integer"]}
    if python_type is float:
        return {"type": ["null", "number"]}
    if python_type in (dt.datetime,):
        return {"type": ["null", "string"], "format": "date-time"}
    if python_type in (dt.date,):
        return {"type": ["null", "string"], "format": "date"}
    return {"type": ["null", "string"]}


def object_schema(properties: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "additionalProperties": True, "properties": dict(properties)}
