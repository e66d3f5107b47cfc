"""The `file` source: CSV (any Python encoding; UTF-8 with or without BOM, GBK, ...), XLSX, JSONL.

Config: `{"path": "exports/*.csv", "format": "csv", "encoding": "gbk", "delimiter": ",",
"order": "name", "streams": [{"name", "path", "format", "encoding", "sheet", "primary_key"}]}`
(stream values override the source's). A path may be a glob; its files are read in name order
(`order: mtime`: by modification time), and a record in a later file supersedes the same key in
an earlier one (the daily export of the 2nd holds the newer version of what the 1st held).

Incremental by file: the state remembers the SHA-256 of every file read completely, so an
unchanged file is not read again. A new or changed file is read, and so is every file after it
in the order (they may hold newer versions of its records; the raw layer drops what did not
change); a file being read is checkpointed every `batch_size` rows (`{"current": {"file",
"sha256", "rows"}}`) and a resumed sync skips the rows already read.

Records are emitted as text exactly as written (no type guessing, so codes keep their
leading zeros). A row that cannot be decoded in the file's encoding, a row with more cells
than the header or fewer (trailing unnamed header columns, `a,b,c,`, may be left out), or a
line that is not JSON is emitted with a `_hub_errors` list; the hub quarantines such records
with that reason instead of losing them or landing them with empty fields. A CSV file in which a
quoted value is never closed (the rest of the file would be that one value, and its records
missing) fails the stream, naming the line, before anything of it is read; so does one whose quoted
value closes inside a value or runs over lines that read like rows (a stray quote), before anything
from that value on is read.
"""

from __future__ import annotations

import codecs
import csv
import functools
import glob
import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from airbyte_cdk.models import ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException, FailureType

from connectors.file.excel import FileOptions, xlsx_rows
from connectors.python_source import (
    KEY,
    STREAM_NAME,
    Batch,
    CheckpointedStream,
    HubPythonSource,
    object_schema,
    unique_names,
)

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
    "sheet": {"type": ["string", "array"], "description": "XLSX sheet name, a list of names or * (every sheet, "
                                                          "one header); default the first"},
    "header_row": {"type": "integer", "minimum": 1, "description": "CSV/XLSX: the row holding the header (title "
                                                                   "rows above it are skipped); default 1"},
    "fill_down": {"type": "array", "items": {"type": "string"},
                  "description": "XLSX: columns whose empty cells take the value above (merged cells)"},
    "excel_dates": {"type": "array", "items": {"type": "string"},
                    "description": "XLSX: columns whose numbers are Excel serial dates (45292 → 2024-01-01)"},
    "order": {"type": "string", "enum": ["name", "mtime"],
              "description": "order of a glob's files, later superseding earlier: by name (default) or by "
                             "modification time"},
}
SPEC: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "File source",
    "type": "object",
    "required": ["streams"],
    "additionalProperties": False,
    "properties": {
        **_FILE_PROPS,
        "batch_size": {"type": "integer", "minimum": 1, "default": 200000},
        "streams": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": STREAM_NAME, "primary_key": KEY, **_FILE_PROPS}}},
    },
}


def sha256_file(path: str) -> str:
    return scan_file(path, None)[0]


def scan_file(path: str, encoding: str | None) -> tuple[str, bool, bool]:
    """The file's SHA-256 and, for an `encoding` (a CSV file), whether all of it decodes in that encoding and whether
    it holds an even number of quote characters (one pass; an odd number: a quoted value may run to the end of the
    file, `unclosed_quote_line` tells)."""
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(_codec(encoding))() if encoding else None
    clean = decoder is not None
    counted = encoding is not None and _ascii_quotes(encoding)
    quotes = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            if counted:
                quotes += chunk.count(b'"')
            if decoder is not None and clean:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    clean = False
    if decoder is not None and clean:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            clean = False
    return h.hexdigest(), clean, quotes % 2 == 0


def _ascii_quotes(encoding: str) -> bool:
    """Whether a quote character is the byte `"` and that byte is never part of another character in `encoding`:
    UTF-8, GBK, GB 18030, Big5, Shift JIS, Latin-1 (their multi-byte characters use bytes from 0x30 up), not UTF-16
    or the 7-bit ISO 2022 and HZ encodings."""
    try:
        name = codecs.lookup(_codec(encoding)).name
    except LookupError:
        return False
    return 'a"'.encode(name.removesuffix("-sig")) == b'a"' and not name.startswith(("iso2022", "hz", "utf-7"))


def unclosed_quote_line(path: str, encoding: str, delimiter: str) -> int | None:
    """The line on which the file's last record starts when a quoted value of it is never closed (the rest of the
    file would be read as that one value), else None. Only asked when `scan_file` counted an odd number of quotes
    (a quote inside an unquoted value, `12" pipe`, is text and closes nothing)."""
    with open(path, encoding=_codec(encoding), errors="surrogateescape", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        start = end = 0
        for _ in reader:
            start, end = end + 1, reader.line_num
        if end - start < 1:  # (the last record is one line: its quotes closed or it is text)
            return None
        f.seek(0)
        tail = "".join(line for n, line in enumerate(f, start=1) if n >= start)
    try:
        for _ in csv.reader(io.StringIO(tail, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as e:
        return start if "unexpected end of data" in str(e) else None
    return None


class StrayQuote(ValueError):
    """A CSV file in which a quoted value runs over lines it should not hold (`quote_trouble`)."""


def quote_trouble(path: str, encoding: str, delimiter: str, cells: int) -> str | None:
    """Why a CSV file that holds values over several lines cannot be trusted, naming the lines, or None: a quoted
    value whose closing quote stands inside a value (`…"s shop`: the quote that opened it was a stray one), or one
    whose later lines read like rows of their own (as many delimiters as a row of `cells` cells, for files of four
    cells or more). Such a value swallows the records on its lines, which a complete read would then delete. One
    pass of Python's csv (strict) over the file: asked only when a value read holds a line break."""
    with open(path, encoding=_codec(encoding), errors="surrogateescape", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, strict=True)
        end = 0
        while True:
            start = end + 1
            try:
                row = next(reader, None)
            except csv.Error:
                if reader.line_num > start:  # (on one line, `"abc"def` reads as abcdef and swallows nothing)
                    return (f"lines {start}–{reader.line_num}: a quoted value opens on line {start} and a quote inside "
                            f"a value on line {reader.line_num} closes it (a stray quote?)")
                end = reader.line_num
                continue
            if row is None:
                return None
            end = reader.line_num
            if end > start and cells >= 4 and any(
                    line.count(delimiter) >= cells - 1 for v in row if "\n" in v for line in v.splitlines()[1:]):
                return (f"lines {start}–{end}: a quoted value opens on line {start} and runs to line {end} over lines "
                        "that read like rows of their own (a stray quote?)")


def _codec(encoding: str | None) -> str:
    """utf-8 (any spelling) reads with or without a BOM."""
    enc = encoding or "utf-8"
    return "utf-8-sig" if enc.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig") else enc


def _undecodable(value: str, encoding: str) -> str:
    return _SURROGATE.sub(lambda m: "<" + m.group(0).encode("utf-8", "surrogateescape").hex(" ") + ">", value)


class FileReader:
    """Reads one file's rows as dicts of text, whatever the format."""

    def __init__(self, path: str, fmt: str, encoding: str, delimiter: str, sheet: str | list[str] | None,
                 options: FileOptions | None = None):
        self.path, self.fmt, self.encoding, self.delimiter, self.sheet = path, fmt, encoding, delimiter, sheet
        self.options = options or FileOptions()  # header_row, fill_down, excel_dates (connectors/file/excel.py)

    def header(self) -> list[str]:
        for _ in self.rows(header_only=True):
            pass
        return self._header

    def rows(self, header_only: bool = False) -> Iterator[dict[str, Any]]:
        """The file's rows one at a time (XLSX, JSON Lines, and CSV that does not decode cleanly)."""
        self._header: list[str] = []
        if self.fmt == "csv":
            yield from self._csv(header_only)
        elif self.fmt == "xlsx":
            yield from self._xlsx(header_only)
        else:
            yield from self._jsonl(header_only)

    def csv_tables(self, batch_size: int) -> Iterator[tuple[pa.Table, np.ndarray, list[dict[str, Any]], int]]:
        """A CSV file that decodes cleanly, parsed by Arrow in batches of about `batch_size` rows: (table of
        text columns, each row's ordinal among the file's data rows (1-based), records to quarantine with
        their `_hub_errors`, ordinals consumed so far). Rows with more cells than the header, or fewer than its
        named columns (`_named_width`), are quarantined; rows leaving out trailing unnamed columns are kept with
        those cells empty (null); blank rows are skipped."""
        header = self.header()
        invalid: list[tuple[int, int, str]] = []

        def on_invalid(row: Any) -> str:
            invalid.append((int(row.number) - self.options.header_row, int(row.actual_columns), row.text))
            return "skip"

        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(encoding=_codec(self.encoding), column_names=header,
                                           skip_rows=self.options.header_row,
                                           use_threads=False, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
        next_ordinal = 1
        pending: list[tuple[int, int, str]] = []  # rows Arrow refused that the batches have not reached yet
        parts = _rebatch(reader, batch_size)
        checked = False
        while True:
            part = next(parts, None)
            if part is not None and not checked and any(pc.any(pc.match_substring(c, "\n")).as_py()
                                                         for c in part.columns):
                checked = True  # (a value over several lines: is the file's quoting sound?)
                self._check_quotes(_named_width(header))
            pending += invalid
            invalid.clear()
            pending.sort()
            if part is None:
                if pending:  # refused rows after the last accepted one
                    yield self._with_refused(_empty(header), np.zeros(0, np.int64), pending, header)
                return
            inv = np.array([o for o, _, _ in pending], dtype=np.int64)
            cand = np.arange(next_ordinal, next_ordinal + part.num_rows + len(inv), dtype=np.int64)
            ordinals = cand[~np.isin(cand, inv)][:part.num_rows]
            last = int(ordinals[-1]) if len(ordinals) else next_ordinal - 1
            mine = [p for p in pending if p[0] <= last]
            pending = [p for p in pending if p[0] > last]
            next_ordinal = last + 1
            yield self._with_refused(pa.Table.from_batches([part]), ordinals, mine, header)

    def _check_quotes(self, cells: int) -> None:
        trouble = quote_trouble(self.path, self.encoding, self.delimiter, cells)
        if trouble:
            raise StrayQuote(f"{trouble}; the records on those lines would be lost, so nothing from there on was read "
                             "(write a quote inside a quoted value as \"\")")

    def _with_refused(self, table: pa.Table, ordinals: np.ndarray, refused: list[tuple[int, int, str]],
                      header: list[str]) -> tuple[pa.Table, np.ndarray, list[dict[str, Any]], int]:
        """A batch with the rows Arrow refused inside its range: rows leaving out only trailing unnamed columns
        join the table (those cells null), longer or shorter rows become records to quarantine, blank rows are
        dropped."""
        width, named = len(header), _named_width(header)
        extra_rows, extra_ord, bad = [], [], []
        for ordinal, cells_n, text in refused:
            if cells_n <= 1 and not text.strip():
                continue  # a blank row
            cells = next(csv.reader([text], delimiter=self.delimiter), [])
            if len(cells) > width or len(cells) < named:
                rec: dict[str, Any] = dict(zip(header, cells, strict=False))
                line = ordinal + self.options.header_row
                rec[ERRORS_FIELD] = [f"line {line}: {len(cells)} cells but the header has {width}"]
                rec["_hub_line"] = line
                rec["_hub_row"] = ordinal
                bad.append(rec)
            else:
                extra_rows.append({h: (cells[i] if i < len(cells) else None) for i, h in enumerate(header)})
                extra_ord.append(ordinal)
        if extra_rows:
            table = pa.concat_tables([table, pa.Table.from_pylist(extra_rows, schema=table.schema)])
            ordinals = np.concatenate([ordinals, np.array(extra_ord, dtype=np.int64)])
        consumed = max([int(ordinals.max()) if len(ordinals) else 0, *[o for o, _, _ in refused]])
        return table, ordinals, bad, consumed


    def _csv(self, header_only: bool) -> Iterator[dict[str, Any]]:
        enc = _codec(self.encoding)
        with open(self.path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding=enc, errors="surrogateescape", newline="")
            reader = csv.reader(text, delimiter=self.delimiter)
            try:
                for _ in range(self.options.header_row - 1):  # title rows above the header
                    next(reader)
                first = next(reader)
            except StopIteration:
                return
            self._header = unique_names([_undecodable(h, enc) for h in first])
            if header_only:
                return
            width, named = len(self._header), _named_width(self._header)
            checked = False
            for line_no, cells in enumerate(reader, start=self.options.header_row + 1):
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                if not checked and any("\n" in c for c in cells):
                    checked = True
                    self._check_quotes(named)
                errors = []
                if len(cells) > width or len(cells) < named:
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
        rows = xlsx_rows(self.path, self.sheet, self.options, header_only)
        self._header = list(next(rows, []))
        for row in rows:  # (after the header, every row is a dict)
            if isinstance(row, dict):
                yield row

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


def _named_width(header: list[str]) -> int:
    """The cells a CSV row must have: up to the header's last named column (a header ending in empty cells,
    `a,b,c,`, gets unnamed `column_4`...: rows may leave those out)."""
    named = [i for i, h in enumerate(header) if h != f"column_{i + 1}"]
    return named[-1] + 1 if named else 0


def _empty(header: list[str]) -> pa.Table:
    return pa.table({h: pa.array([], pa.string()) for h in header})


class FileStream(CheckpointedStream):
    """All files matching one path or glob, as one stream."""

    def __init__(self, name: str, path: str, fmt: str | None, encoding: str, delimiter: str,
                 sheet: str | list[str] | None, primary_key: str | list[str] | None, batch_size: int,
                 order: str = "name", options: FileOptions | None = None):
        super().__init__(name, primary_key, batch_size)
        self._path, self._fmt = path, fmt
        self._encoding, self._delimiter, self._sheet, self._order = encoding, delimiter, sheet, order
        self._options = options

    @property
    def cursor_field(self) -> str:
        # A virtual cursor: progress is by file (content hash) and row, kept in `state`.
        return FILE_CURSOR

    def files(self) -> list[str]:
        """The files of this stream, in read order (name, or modification time then name); none is an error
        naming the path."""
        if glob.has_magic(self._path):
            found = sorted(p for p in glob.glob(self._path, recursive=True) if os.path.isfile(p))
            if not found:
                raise AirbyteTracedException(message=f"stream {self._name}: no file matches {self._path}",
                                             failure_type=FailureType.config_error)
            if self._order == "mtime":
                found.sort(key=lambda p: os.stat(p).st_mtime_ns)  # stable: name order among equal times
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
        return FileReader(path, fmt, self._encoding, self._delimiter, self._sheet, self._options)

    @functools.cache  # noqa: B019 - the CDK asks once per record; streams are few and short-lived
    def get_json_schema(self) -> Mapping[str, Any]:
        files = self.files()
        header = self.reader(files[0]).header()
        return object_schema({h: {"type": ["null", "string"]} for h in header})

    def can_read_whole(self, sync_mode: SyncMode, stream_state: Mapping[str, Any] | None = None) -> bool:
        """A fresh read (not resuming a half-read file) may read every file anew."""
        return sync_mode == SyncMode.full_refresh or not (stream_state or {}).get("current")

    def read_batches(self, sync_mode: SyncMode, stream_state: Mapping[str, Any] | None = None) -> Iterator[Batch]:
        """Every new or changed file, and every file after one, in read order, in batches of about `batch_size`
        rows; each batch's state says how far into which file it goes, and a file read to its end is remembered
        by its SHA-256. Each file is its own `part`: its records supersede those of the files before it."""
        incremental = sync_mode == SyncMode.incremental
        state = dict(stream_state or {}) if incremental else {}
        done: dict[str, str] = dict(state.get("files", {}))
        current = state.get("current")
        position = 0
        self._state = state
        self.read_whole = False
        whole = not current  # every file read from its start to its end, none skipped as unchanged
        files = self.files()
        keys = [os.path.relpath(path, os.path.dirname(self._path) or ".") for path in files]
        reading = False  # a file was read: every later one is read too
        for part, (path, key) in enumerate(zip(files, keys, strict=True)):
            reader = self.reader(path)
            sha, clean, balanced = scan_file(path, reader.encoding if reader.fmt == "csv" else None)
            if done.get(key) == sha and not reading:
                whole = False
                continue
            unclosed = None if balanced else unclosed_quote_line(path, reader.encoding, reader.delimiter)
            if unclosed is not None:  # (read, the records after it would be missing: deleted from a complete read)
                raise AirbyteTracedException(
                    message=f"stream {self._name}: {path}: line {unclosed}: a quoted value opens on this line and is "
                            "never closed, so the rest of the file would be read as that one value; nothing of the "
                            "file was read (close the quote, or write a quote inside a quoted value as \"\")",
                    failure_type=FailureType.config_error)
            if not reading:  # the files from here on are read again: a crash now must not leave them as done
                reading = True
                for later in keys[part:]:
                    done.pop(later, None)
            skip = current["rows"] if current and current.get("file") == key and current.get("sha256") == sha else 0
            consumed = skip
            try:
                parts = (_csv_batches(reader, self.batch_size, skip) if clean
                         else _row_batches(reader, self.batch_size, skip))
                for table, ordinals, records, bad, consumed in parts:
                    self._state = {"files": dict(done), "current": {"file": key, "sha256": sha, "rows": consumed}}
                    rows = None if ordinals is None else pa.array(position + ordinals - 1, pa.int64())
                    for b in bad:
                        b["_hub_row"] = position + b["_hub_row"] - 1
                        b["_hub_file"] = key
                    first = position + (int(ordinals.min()) - 1 if ordinals is not None and len(ordinals)
                                        else consumed - len(records or []) - len(bad))
                    yield Batch(state=dict(self._state), first_row=first, table=table, records=records, bad=bad,
                                rows=rows, part=part)
            except (OSError, LookupError, pa.ArrowInvalid, StrayQuote) as e:
                raise AirbyteTracedException(message=f"stream {self._name}: {path}: {e}",
                                             failure_type=FailureType.config_error) from None
            position += consumed
            done[key] = sha
            current = None
            self._state = {"files": dict(done)}
            yield Batch(state=dict(self._state), first_row=position, records=[], part=part)
        self.read_whole = whole  # then a record in none of the files is gone from the source
        final = {"files": done}
        if final != self._state:  # nothing read (e.g. a first read of unchanged files), or a vanished half-read file
            self._state = final
            yield Batch(state=dict(final), first_row=position, records=[])


Part = tuple[pa.Table | None, np.ndarray | None, list[Mapping[str, Any]] | None, list[dict[str, Any]], int]


def _csv_batches(reader: FileReader, batch_size: int, skip: int) -> Iterator[Part]:
    for table, ordinals, bad, consumed in reader.csv_tables(batch_size):
        if consumed <= skip:
            continue
        if skip:  # a resumed read: what an earlier sync landed is dropped
            keep = ordinals > skip
            table, ordinals = table.filter(pa.array(keep)), ordinals[keep]
            bad = [b for b in bad if b["_hub_row"] > skip]
        yield table, ordinals, None, bad, consumed


def _row_batches(reader: FileReader, batch_size: int, skip: int) -> Iterator[Part]:
    """Rows read one at a time (XLSX, JSON Lines, CSV with undecodable bytes), gathered into batches."""
    records: list[Mapping[str, Any]] = []
    bad: list[dict[str, Any]] = []
    n = 0
    for rec in reader.rows():
        n += 1
        if n <= skip:
            continue
        if ERRORS_FIELD in rec:
            rec["_hub_row"] = n
            bad.append(rec)
        else:
            records.append(rec)
        if len(records) + len(bad) >= batch_size:
            yield None, None, records, bad, n
            records, bad = [], []
    if records or bad:
        yield None, None, records, bad, n


def _rebatch(reader: Any, rows: int) -> Iterator[pa.RecordBatch]:
    """Arrow's CSV blocks regrouped into batches of `rows` rows (the last may be smaller)."""
    pending: list[pa.RecordBatch] = []
    n = 0
    for block in reader:
        offset = 0
        while offset < block.num_rows:
            part = block.slice(offset, rows - n)
            offset += part.num_rows
            pending.append(part)
            n += part.num_rows
            if n >= rows:
                yield pa.concat_batches(pending) if len(pending) > 1 else pending[0]
                pending, n = [], 0
    if pending:
        yield pa.concat_batches(pending) if len(pending) > 1 else pending[0]


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
                int(config.get("batch_size", 200000)), s.get("order") or config.get("order") or "name",
                FileOptions.of({k: s.get(k) or config.get(k) for k in ("header_row", "fill_down", "excel_dates")})))
        return out


def create_source(config: Mapping[str, Any] | None = None, catalog: ConfiguredAirbyteCatalog | None = None,
                  state: list[Any] | None = None) -> FileSource:
    return FileSource()
