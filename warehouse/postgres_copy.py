"""Reading a PostgreSQL table or query by `COPY (…) TO STDOUT` into Arrow: the `sql` source's PostgreSQL tables
and the PostgreSQL warehouse's own reads (`PostgresDialect.read_arrow`).

A server-side cursor hands every value to Python as an object (a tuple per row, a `Decimal` per amount) before
Arrow takes them back: 139,000 rows/s at best on the project's machine. `COPY` streams the rows as CSV, which
Arrow's reader parses in C, typed from the query's column types. It is used when every column has one of the types
below, which it reads exactly as the driver's objects would arrive in Arrow (so the raw layer's JSON and hashes are
the same either way; tests/connectors/test_sql_source.py compares the two); any other type (time zones, JSON,
arrays, UUIDs…) keeps the cursor.
"""

from __future__ import annotations

import decimal
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

NUMERIC = 1700
# PostgreSQL type OID → the Arrow type of the driver's values for it (`pa.array` of Python ints, floats, …)
ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int64(), 23: pa.int64(),          # bool, int8, int2, int4
    700: pa.float64(), 701: pa.float64(),                                      # float4, float8
    25: pa.string(), 1042: pa.string(), 1043: pa.string(),                     # text, char(n), varchar
    1082: pa.date32(), 1114: pa.timestamp("us"),                               # date, timestamp (no time zone)
    NUMERIC: pa.string(),                                                      # numeric: text, then `decimals`
}
NULL = "\\N"  # COPY writes NULL unquoted as this, and quotes a text equal to it
BLOCK = 8 << 20


class CopyFailed(RuntimeError):
    """The server or the parsing of its rows failed during a COPY (the message is the first line of the cause)."""


def copy_types(description: Sequence[Any]) -> list[int] | None:
    """The type OIDs of a query's columns (psycopg's `cursor.description`) when COPY can read them all, else None."""
    codes = [int(getattr(d, "type_code", -1)) for d in description]
    return codes if codes and all(c in ARROW_TYPES for c in codes) else None


def decimals(col: pa.Array) -> pa.Array:
    """PostgreSQL numeric texts as the Arrow array the driver's `Decimal`s make: a decimal of the batch's widest
    fraction (its text is padded to that scale), null-typed when all are null; with NaN or Infinity, which no Arrow
    decimal holds, each value's `Decimal` text (as the driver path's fallback writes them)."""
    valid = pc.drop_null(col)
    if not len(valid):
        return pa.nulls(len(col))
    if pc.any(pc.or_(pc.match_substring(valid, "N"), pc.match_substring(valid, "I"))).as_py():  # NaN, ±Infinity
        return _decimal_texts(col)
    # Arrow's inference from Decimals: the scale is the widest fraction; a value's whole digits are its digits
    # before the point without leading zeros ("0.5": none; "0": one), and the precision the most whole digits plus
    # the scale. (PostgreSQL writes no leading zero but the one of "0.…" and "0".)
    length, point = pc.utf8_length(valid), pc.find_substring(valid, ".")
    fraction = pc.greater_equal(point, 0)
    scale = int(pc.max(pc.if_else(fraction, pc.subtract(pc.subtract(length, point), 1), 0)).as_py())
    before = pc.subtract(pc.if_else(fraction, point, length), pc.cast(pc.starts_with(valid, "-"), pa.int32()))
    zero = pc.and_(fraction, pc.or_(pc.starts_with(valid, "0."), pc.starts_with(valid, "-0.")))
    whole = int(pc.max(pc.subtract(before, pc.cast(zero, pa.int32()))).as_py())
    precision = max(whole + scale, 1)
    if precision > 76:  # (beyond Arrow's widest decimal)
        return _decimal_texts(col)
    return pc.cast(col, pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale))


def _decimal_texts(col: pa.Array) -> pa.Array:
    """Each value's `Decimal` text: what the driver's path writes for a column no Arrow decimal holds."""
    return pa.array([None if v is None else str(decimal.Decimal(v)) for v in col.to_pylist()], pa.string())


class _CopyReader(io.RawIOBase):
    """The bytes of a psycopg COPY TO (one row per `read()`) as a readable stream: each row copied once, into the
    reader's buffer."""

    def __init__(self, copy: Any, first: bytes = b""):
        self._copy, self._rest = copy, memoryview(first)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        out, read = memoryview(buffer).cast("B"), self._copy.read
        want = len(out)
        pos = min(want, len(self._rest))
        out[:pos], self._rest = self._rest[:pos], self._rest[pos:]
        while pos < want:
            row = read()  # (a new buffer each time: kept as it is, not copied)
            if not row:
                break
            take = min(want - pos, len(row))
            out[pos:pos + take] = row[:take]
            pos += take
            if take < len(row):
                self._rest = memoryview(row)[take:]
        return pos


def read_copy(connection: Any, statement: str, params: Mapping[str, Any] | Sequence[Any] | None, names: list[str],
              types: list[int], batch_size: int) -> Iterator[pa.Table]:
    """The rows of `statement` (the driver's SQL and parameters; None: a statement taken as it is) in tables of
    `batch_size` rows (the last may be shorter; none when there are no rows), through psycopg's COPY on
    `connection`. `names`: the columns' names, unique; `types`: their OIDs (`copy_types`)."""
    column_types = {n: ARROW_TYPES[t] for n, t in zip(names, types, strict=True)}
    numeric = [n for n, t in zip(names, types, strict=True) if t == NUMERIC]
    options = (pacsv.ReadOptions(column_names=names, block_size=BLOCK),
               pacsv.ParseOptions(newlines_in_values=True),
               pacsv.ConvertOptions(column_types=column_types, null_values=[NULL], strings_can_be_null=True,
                                    quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"]))
    import psycopg  # (only PostgreSQL sources need it)

    try:
        # (as untyped literals, as the server types a bound parameter; COPY takes no parameters). Even with none the
        # statement is the driver's, in which `%%` is a `%`, as the cursor reads it: a query's literal `100%` came
        # through COPY as `100%%`
        if params is not None:
            statement = psycopg.ClientCursor(connection).mogrify(statement, params)
        sql = f"COPY ({statement}\n) TO STDOUT (FORMAT csv, NULL '{NULL}')"  # (a last `--` comment ends)
        with connection.cursor() as cur, cur.copy(sql) as copy:
            first = copy.read()
            if not first:  # no row (Arrow's reader refuses an empty stream)
                return
            reader = pacsv.open_csv(io.BufferedReader(_CopyReader(copy, first), 1 << 20), *options)
            pending: list[pa.RecordBatch] = []
            count = 0
            for part in reader:
                pending.append(part)
                count += part.num_rows
                while count >= batch_size:
                    whole = pa.Table.from_batches(pending)
                    yield _typed(whole.slice(0, batch_size), numeric)
                    rest = whole.slice(batch_size)
                    pending, count = rest.to_batches(), rest.num_rows
            if count:
                yield _typed(pa.Table.from_batches(pending), numeric)
    except (psycopg.Error, pa.ArrowInvalid) as e:
        raise CopyFailed((str(e).strip().splitlines() or [type(e).__name__])[0]) from e


def _typed(table: pa.Table, numeric: list[str]) -> pa.Table:
    """`table` typed per batch as the driver's fetches are: numeric columns as `decimals` makes them, and a column
    without a value null-typed (what Arrow makes of a column of `None`s)."""
    table = table.combine_chunks()
    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if col.null_count == len(col) and col.type != pa.null():
            table = table.set_column(i, name, pa.nulls(len(col)))
        elif name in numeric:
            table = table.set_column(i, name, decimals(col.combine_chunks()))
    return table
