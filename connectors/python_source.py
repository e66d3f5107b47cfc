"""Shared pieces of the hub's Python (non-declarative) airbyte-cdk sources."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from collections.abc import Mapping, MutableMapping
from typing import Any, ClassVar

from airbyte_cdk.models import ConnectorSpecification
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


class CheckpointedStream(Stream, CheckpointMixin):
    """A named stream with a primary key whose state it keeps itself and checkpoints every batch."""

    def __init__(self, name: str, primary_key: str | list[str] | None, batch_size: int):
        self._name, self._pk, self.batch_size = name, primary_key, batch_size
        self._state: MutableMapping[str, Any] = {}

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
