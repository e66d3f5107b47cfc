"""The `file` source: CSV (any Python encoding; UTF-8 with or without BOM, GBK, ...), XLSX, JSONL.

Config: `{"path": "exports/*.csv", "format": "csv", "encoding": "gbk", "delimiter": ",",
"streams": [{"name", "path", "format", "encoding", "sheet", "primary_key"}]}` (stream values
override the source's). A path may be a glob; files are read in name order.

Incremental by file: the state remembers the SHA-256 of every file read completely, so an
unchanged file is not read again; a file being read is checkpointed every `batch_size` rows
(`{"current": {"file", "sha256", "rows"}}`) and a resumed sync skips the rows already read.

Records are emitted as text exactly as written (no type guessing, so codes keep their
leading zeros). A row that cannot be decoded in the file's encoding, a row with more cells
than the header, or a line that is not JSON is emitted with a `_hub_errors` list; the hub
quarantines such records with that reason instead of losing them.
"""

from __future__ import annotations

import csv
import functools
import glob
import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from airbyte_cdk.models import ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException, FailureType

from connectors.python_source import KEY, STREAM_NAME, CheckpointedStream, HubPythonSource, object_schema, plain

ERRORS_FIELD = "_hub_errors"
FILE_CURSOR = "_hub_file"
_SURROGATE = re.compile(r"[\udc80-\udcff]+")
_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}

_FILE_PROPS: dict[str, Any] = {
    "path": {"type": "string", "description": "a file path or glob"},
    "format": {"type": "string", "enum": ["csv", "xlsx", "jsonl"], "description": "default: from the extension"},
    "encoding": {"type": "string", "description": "CSV/JSONL encoding (any Python codec); default utf-8 (BOM ok)"},
    "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
    "sheet": {"type": "string", "description": "XLSX sheet name; default the first"},
}
SPEC: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "File source",
    "type": "object",
    "required": ["streams"],
    "additionalProperties": False,
    "properties": {
        **_FILE_PROPS,
        "batch_size": {"type": "integer", "minimum": 1, "default": 10000},
        "streams": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": STREAM_NAME, "primary_key": KEY, **_FILE_PROPS}}},
    },
}


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _unique_headers(raw: list[Any]) -> list[str]:
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


def _undecodable(value: str, encoding: str) -> str:
    return _SURROGATE.sub(lambda m: "<" + m.group(0).encode("utf-8", "surrogateescape").hex(" ") + ">", value)


class FileReader:
    """Reads one file's rows as dicts of text, whatever the format."""

    def __init__(self, path: str, fmt: str, encoding: str, delimiter: str, sheet: str | None):
        self.path, self.fmt, self.encoding, self.delimiter, self.sheet = path, fmt, encoding, delimiter, sheet

    def header(self) -> list[str]:
        for _ in self.rows(header_only=True):
            pass
        return self._header

    def rows(self, header_only: bool = False) -> Iterator[dict[str, Any]]:
        self._header: list[str] = []
        if self.fmt == "csv":
            yield from self._csv(header_only)
        elif self.fmt == "xlsx":
            yield from self._xlsx(header_only)
        else:
            yield from self._jsonl(header_only)

    def _csv(self, header_only: bool) -> Iterator[dict[str, Any]]:
        enc = self.encoding
        if enc.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
            enc = "utf-8-sig"
        with open(self.path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding=enc, errors="surrogateescape", newline="")
            reader = csv.reader(text, delimiter=self.delimiter)
            try:
                first = next(reader)
            except StopIteration:
                return
            self._header = _unique_headers([_undecodable(h, enc) for h in first])
            if header_only:
                return
            width = len(self._header)
            for line_no, cells in enumerate(reader, start=2):
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                errors = []
                if len(cells) > width:
                    errors.append(f"line {line_no}: {len(cells)} cells but the header has {width}")
                rec: dict[str, Any] = {}
                for i, h in enumerate(self._header):
                    v = cells[i] if i < len(cells) else None
                    if v is not None and _SURROGATE.search(v):
                        errors.append(f"line {line_no}, field {h!r}: bytes not valid in {self.encoding}")
                        v = _undecodable(v, enc)
                    rec[h] = v
                if errors:
                    rec[ERRORS_FIELD] = errors
                    rec["_hub_line"] = line_no
                yield rec

    def _xlsx(self, header_only: bool) -> Iterator[dict[str, Any]]:
        from openpyxl import load_workbook

        wb = load_workbook(self.path, read_only=True, data_only=True)
        try:
            ws = wb[self.sheet] if self.sheet else wb.worksheets[0]
            it = ws.iter_rows(values_only=True)
            try:
                first = next(it)
            except StopIteration:
                return
            self._header = _unique_headers(list(first))
            if header_only:
                return
            for values in it:
                if values is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                rec = {}
                for h, v in zip(self._header, values, strict=False):
                    if isinstance(v, float) and v.is_integer():
                        v = int(v)
                    rec[h] = None if v is None else str(plain(v))
                yield rec
        except KeyError:
            raise AirbyteTracedException(message=f"{self.path}: no sheet named {self.sheet!r}",
                                         failure_type=FailureType.config_error) from None
        finally:
            wb.close()

    def _jsonl(self, header_only: bool) -> Iterator[dict[str, Any]]:
        keys: dict[str, None] = {}
        with open(self.path, encoding=self.encoding if self.encoding != "utf-8" else "utf-8-sig",
                  errors="surrogateescape") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    if not isinstance(rec, dict):
                        raise ValueError("a line must hold a JSON object")
                except ValueError as e:
                    rec = {ERRORS_FIELD: [f"line {line_no}: not a JSON object ({e})"],
                           "_hub_line": line_no, "_hub_text": _undecodable(line.strip()[:2000], self.encoding)}
                keys.update(dict.fromkeys(k for k in rec if not k.startswith("_hub")))
                if header_only:
                    if line_no >= 100:
                        break
                    continue
                yield rec
        self._header = list(keys)


class FileStream(CheckpointedStream):
    """All files matching one path or glob, as one stream."""

    def __init__(self, name: str, path: str, fmt: str | None, encoding: str, delimiter: str,
                 sheet: str | None, primary_key: str | list[str] | None, batch_size: int):
        super().__init__(name, primary_key, batch_size)
        self._path, self._fmt = path, fmt
        self._encoding, self._delimiter, self._sheet = encoding, delimiter, sheet

    @property
    def cursor_field(self) -> str:
        # A virtual cursor: progress is by file (content hash) and row, kept in `state`.
        return FILE_CURSOR

    def files(self) -> list[str]:
        """The files of this stream, in name order; none is an error naming the path."""
        if glob.has_magic(self._path):
            found = sorted(p for p in glob.glob(self._path, recursive=True) if os.path.isfile(p))
            if not found:
                raise AirbyteTracedException(message=f"stream {self._name}: no file matches {self._path}",
                                             failure_type=FailureType.config_error)
            return found
        if not os.path.isfile(self._path):
            raise AirbyteTracedException(message=f"stream {self._name}: file not found: {self._path}",
                                         failure_type=FailureType.config_error)
        return [self._path]

    def reader(self, path: str) -> FileReader:
        fmt = self._fmt or _FORMATS.get(Path(path).suffix.lower())
        if fmt is None:
            raise AirbyteTracedException(
                message=f"stream {self._name}: cannot tell the format of {path}; set format: csv|xlsx|jsonl",
                failure_type=FailureType.config_error)
        return FileReader(path, fmt, self._encoding, self._delimiter, self._sheet)

    @functools.cache  # noqa: B019 - the CDK asks once per record; streams are few and short-lived
    def get_json_schema(self) -> Mapping[str, Any]:
        files = self.files()
        header = self.reader(files[0]).header()
        return object_schema({h: {"type": ["null", "string"]} for h in header})

    def read_records(self, sync_mode: SyncMode, cursor_field: list[str] | None = None,
                     stream_slice: Mapping[str, Any] | None = None,
                     stream_state: Mapping[str, Any] | None = None) -> Iterable[Mapping[str, Any]]:
        incremental = sync_mode == SyncMode.incremental
        done: dict[str, str] = dict(self._state.get("files", {})) if incremental else {}
        current = self._state.get("current") if incremental else None
        for path in self.files():
            key = os.path.relpath(path, os.path.dirname(self._path) or ".")
            sha = sha256_file(path)
            if done.get(key) == sha:
                continue
            skip = current["rows"] if current and current.get("file") == key and current.get("sha256") == sha else 0
            n = 0
            try:
                for rec in self.reader(path).rows():
                    n += 1
                    if n <= skip:
                        continue
                    self._state = {"files": done, "current": {"file": key, "sha256": sha, "rows": n}}
                    yield rec
            except (OSError, LookupError) as e:
                raise AirbyteTracedException(message=f"stream {self._name}: {path}: {e}",
                                             failure_type=FailureType.config_error) from None
            done[key] = sha
            self._state = {"files": dict(done)}
        if not self._state:
            self._state = {"files": done}


class FileSource(HubPythonSource):
    """Airbyte source over local files."""

    connection_schema: ClassVar[dict[str, Any]] = SPEC

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        try:
            for stream in self.streams(config):
                assert isinstance(stream, FileStream)
                for path in stream.files():
                    stream.reader(path).header()
            return True, None
        except AirbyteTracedException as e:
            return False, e.message
        except (OSError, LookupError, ValueError) as e:
            return False, str(e)

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        out: list[Stream] = []
        for s in config.get("streams", []):
            path = s.get("path") or config.get("path")
            if not path:
                raise AirbyteTracedException(message=f"stream {s['name']}: no path",
                                             failure_type=FailureType.config_error)
            out.append(FileStream(
                s["name"], path, s.get("format") or config.get("format"),
                s.get("encoding") or config.get("encoding") or "utf-8",
                s.get("delimiter") or config.get("delimiter") or ",",
                s.get("sheet") or config.get("sheet"), s.get("primary_key"),
                int(config.get("batch_size", 10000))))
        return out


def create_source(config: Mapping[str, Any] | None = None, catalog: ConfiguredAirbyteCatalog | None = None,
                  state: list[Any] | None = None) -> FileSource:
    return FileSource()
