"""What differs between the warehouse backends, in one class per backend.

Everything else in the project writes portable SQL; the few things that cannot be portable
(bulk loading, reading JSON, column type names, reading a result as Arrow) live here.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy.engine import Connection

from warehouse.identifiers import quote, quote_qualified


class Dialect:
    """Base class: the portable defaults."""

    name: ClassVar[str] = "generic"
    types: ClassVar[dict[str, str]] = {
        "text": "TEXT",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "decimal": "DECIMAL(18,2)",
        "rate": "DECIMAL(18,8)",
        "integer": "BIGINT",
        "float": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
        "json": "TEXT",
    }

    def type_sql(self, kind: str) -> str:
        return self.types[kind]

    def driver_sql(self, sql: str) -> str:
        """SQL text as the driver must receive it from `exec_driver_sql` without parameters."""
        return sql

    def prepare_table_build(self, conn: Connection) -> None:
        """Session settings for a `CREATE TABLE … AS SELECT` of the marts, for the rest of the transaction."""

    def json_text(self, column_sql: str, path: list[str | int]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError(f"{self.name}: json_text")

    def parsed_json(self, column_sql: str) -> str | None:
        """SQL parsing a JSON text column once, for a query reading many fields of it (`json_text` of the result);
        None where the dialect reads fields otherwise (`json_list`) or each from the text."""
        return None

    def json_list(self, column_sql: str, paths: list[list[str | int]]) -> str | None:
        """SQL of the list of the texts at `paths` of a JSON text column, read with one parse (1-based items), or
        None where the dialect has no such read."""
        return None

    def bulk_insert(self, conn: Connection, table: str, data: pa.Table) -> None:  # pragma: no cover
        raise NotImplementedError(f"{self.name}: bulk_insert")

    def read_arrow(self, conn: Connection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        result = conn.exec_driver_sql(sql, params or {}) if params else conn.exec_driver_sql(sql)
        df = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        return pa.Table.from_pandas(df, preserve_index=False)

    def analyze(self, conn: Connection, table: str) -> None:
        """Refresh planner statistics of a freshly filled (temporary) table, where the backend needs it."""

    def text_order(self, expr: str) -> str:
        """A text sort key ordered by code point, as Python and Arrow order strings."""
        return expr

    def scanned_columns(self, conn: Connection, sql: str) -> dict[str, set[str]]:
        """`schema.table` → the words (lower case) of each table scan in the backend's plan of `sql`: a superset
        of the names of the columns the query reads of it. Empty where the backend cannot tell."""
        return {}

    def digest_sql(self, table: str, column_sets: list[list[str]]) -> str:  # pragma: no cover - abstract
        """One row: the row count, then for each of `column_sets` the sum of a 64-bit hash of each row's columns, as
        text (equal for equal multisets of rows, whatever their order; what tells a mart its input's columns did not
        change). One scan of the table, whatever the number of sets."""
        raise NotImplementedError(f"{self.name}: digest_sql")

    @contextmanager
    def arrow_relation(self, conn: Connection, name: str, data: pa.Table,
                       types: dict[str, str] | None = None) -> Iterator[str]:
        """Make an Arrow table readable by SQL as `name` for the block: a temporary table filled by the bulk
        loader (with planner statistics). `types`: portable type kinds of its columns (default text)."""
        cols = ", ".join(f"{quote(c)} {self.type_sql((types or {}).get(c, 'text'))}" for c in data.column_names)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {quote(name)} ({cols})")
        self.bulk_insert(conn, quote(name), data)
        self.analyze(conn, quote(name))
        try:
            yield quote(name)
        finally:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")


class DuckDBDialect(Dialect):
    name = "duckdb"
    types: ClassVar[dict[str, str]] = {**Dialect.types, "text": "VARCHAR", "float": "DOUBLE"}

    _explaining = threading.Lock()

    def scanned_columns(self, conn: Connection, sql: str) -> dict[str, set[str]]:
        # Without statistics propagation: a filter the data at hand proves always true must still count. The
        # setting is the database's, not the session's: one plan at a time (marts are published at once)
        with self._explaining:
            conn.exec_driver_sql("SET disabled_optimizers = 'statistics_propagation'")
            try:
                rows = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").fetchall()
            finally:
                conn.exec_driver_sql("RESET disabled_optimizers")
        out: dict[str, set[str]] = {}
        for plan in (json.loads(r[1]) for r in rows):
            for node in _plan_nodes(plan, "children"):
                info = node.get("extra_info")
                if isinstance(info, dict) and isinstance(info.get("Table"), str):
                    words = [v for k, v in info.items() if k != "Table"]
                    out.setdefault(".".join(info["Table"].split(".")[-2:]), set()).update(_words(words))
        return out

    def digest_sql(self, table: str, column_sets: list[list[str]]) -> str:
        sums = ", ".join(f"CAST(COALESCE(sum(CAST(hash({', '.join(quote(c) for c in cols)}) AS HUGEINT)), 0) "
                         "AS VARCHAR)" for cols in column_sets)
        return f"SELECT count(*), {sums} FROM {table}"

    def json_text(self, column_sql: str, path: list[str | int]) -> str:
        return f"json_extract_string({column_sql}, {_duck_path(path)})"

    def json_list(self, column_sql: str, paths: list[list[str | int]]) -> str | None:
        return f"json_extract_string({column_sql}, [{', '.join(_duck_path(p) for p in paths)}])"

    def bulk_insert(self, conn: Connection, table: str, data: pa.Table) -> None:
        """Insert an Arrow table by name, through DuckDB's zero-copy Arrow scan."""
        raw: Any = conn.connection.driver_connection  # the driver's own connection (DuckDB or psycopg)
        view = "_hub_bulk_" + str(abs(hash((table, id(data)))))
        raw.register(view, data)
        try:
            conn.exec_driver_sql(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
        finally:
            raw.unregister(view)

    @contextmanager
    def arrow_relation(self, conn: Connection, name: str, data: pa.Table,
                       types: dict[str, str] | None = None) -> Iterator[str]:
        """DuckDB scans the Arrow table in place (no copy) under `name`."""
        raw: Any = conn.connection.driver_connection  # the driver's own connection (DuckDB or psycopg)
        raw.register(name, data)
        try:
            yield quote(name)
        except BaseException:
            with contextlib.suppress(Exception):  # (an aborted transaction refuses it: the error is the one raised)
                raw.unregister(name)
            raise
        raw.unregister(name)

    def read_arrow(self, conn: Connection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        raw: Any = conn.connection.driver_connection  # the driver's own connection (DuckDB or psycopg)
        if params:
            # DuckDB takes $name parameters; our portable SQL uses :name.
            import re

            names = set(re.findall(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)", sql))
            sql = re.sub(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)", r"$\1", sql)
            return arrow_of(raw.sql(sql, params={k: v for k, v in params.items() if k in names}))
        return arrow_of(raw.sql(sql))


MATERIALIZED = "AS /* materialized */ ("
"""How a mart's SQL asks for a common table expression computed once (`PostgresDialect.driver_sql`)."""


class PostgresDialect(Dialect):
    name = "postgresql"

    def driver_sql(self, sql: str) -> str:
        """psycopg reads `%` as a placeholder even when no parameters are passed: double it (`LIKE 'a%'`). A mart's
        `AS /* materialized */ (` common table expression is computed once (`AS MATERIALIZED`): PostgreSQL folds a
        CTE read once into its reader, repeating each of its expressions wherever a column of it is named
        (`marts.customer_record_quality` computed its USCC code 18 times a record: 34 against 18 s at 1M)."""
        return sql.replace("%", "%%").replace(MATERIALIZED, "AS MATERIALIZED (")

    def prepare_table_build(self, conn: Connection) -> None:
        """No JIT: compiling a one-off analytic query costs seconds (4 s of 5 for marts.data_quality on b2b_dev)
        and saves nothing."""
        conn.exec_driver_sql("SET LOCAL jit = off")

    def analyze(self, conn: Connection, table: str) -> None:
        conn.exec_driver_sql(f"ANALYZE {table}")  # temp tables have no statistics: joins go nested-loop

    def scanned_columns(self, conn: Connection, sql: str) -> dict[str, set[str]]:
        rows = conn.exec_driver_sql(self.driver_sql(f"EXPLAIN (VERBOSE, FORMAT JSON) {sql}")).fetchall()
        plans = rows[0][0] if not isinstance(rows[0][0], str) else json.loads(rows[0][0])
        out: dict[str, set[str]] = {}
        for node in _plan_nodes([p["Plan"] for p in plans], "Plans"):
            if "Relation Name" in node and "Schema" in node:
                words = [v for k, v in node.items() if k not in ("Plans", "Relation Name", "Schema", "Alias")]
                out.setdefault(f"{node['Schema']}.{node['Relation Name']}", set()).update(_words(words))
        return out

    def digest_sql(self, table: str, column_sets: list[list[str]]) -> str:
        # (each column as text: every type has a text form, not every type a hash (json); hashing the record of
        # texts takes half the time of hashing the record's text form, 0.5 against 1.0 s for 1M staged customers.
        # The sum of the bigint hashes is exact as it is, a numeric summed in 128-bit integers: no cast to numeric
        # before it, which summed in numeric arithmetic, 20% slower for the same total)
        sums = ", ".join(f"CAST(COALESCE(sum(hash_record_extended(ROW("
                         f"{', '.join(f'CAST({quote(c)} AS text)' for c in cols)}), 0)), 0) AS text)"
                         for cols in column_sets)
        return f"SELECT count(*), {sums} FROM {table}"

    def text_order(self, expr: str) -> str:
        return f'{expr} COLLATE "C"'  # the database's collation would order by language rules

    def parsed_json(self, column_sql: str) -> str | None:
        # (`json_text` casts its column to jsonb: of the text, a parse per field; of a jsonb, nothing)
        return f"({column_sql})::jsonb"

    def json_text(self, column_sql: str, path: list[str | int]) -> str:
        parts = ",".join('"' + str(p).replace('"', '\\"') + '"' for p in path)
        return f"(({column_sql})::jsonb #>> '{{" + parts.replace("'", "''") + "}')"

    def bulk_insert(self, conn: Connection, table: str, data: pa.Table) -> None:
        """COPY the Arrow table in as CSV (quoted empty string ≠ NULL)."""
        if data.num_rows == 0:
            return
        cols = [f.name for f in data.schema]
        converted = []
        for col in data.columns:
            if pa.types.is_timestamp(col.type):
                col = col.cast(pa.timestamp("us"))
            converted.append(col)
        data = pa.table(converted, names=cols)
        buf = io.BytesIO()
        pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        raw: Any = conn.connection.driver_connection  # the driver's own connection (DuckDB or psycopg)
        collist = ", ".join(quote(c) for c in cols)
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({collist}) FROM STDIN WITH (FORMAT csv)") as cp:
            cp.write(buf.getvalue())

    def read_arrow(self, conn: Connection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """A query's rows as Arrow: by `COPY (query) TO STDOUT` parsed by Arrow (`warehouse.postgres_copy`; 100,000
        rows of 40 columns in 0.5 s against 2.7 s through the cursor) when every column's type reads so, else
        `READ_CHUNK` rows at a time from a server-side cursor (a query, not a command): Python holds one chunk's
        objects, not the whole result's (1M rows of 9 text columns: 1.7 GB at once)."""
        if _QUERY.match(sql) and not any(
                isinstance(v, list | tuple | set | dict) for v in (params or {}).values()):
            copied = _read_by_copy(conn, sql, params or {})
            if copied is not None:
                return copied
        stmt = _text(sql)
        if _QUERY.match(sql):
            stmt = stmt.execution_options(stream_results=True, max_row_buffer=READ_CHUNK)
        result = conn.execute(stmt, params or {})
        names = list(result.keys())
        parts = []
        while rows := result.fetchmany(READ_CHUNK):
            parts.append(pa.Table.from_pandas(pd.DataFrame(rows, columns=names), preserve_index=False))
        if len(parts) <= 1:
            return parts[0] if parts else pa.Table.from_pandas(pd.DataFrame([], columns=names), preserve_index=False)
        # (a column empty in one chunk, or integers with a gap in one, reads as the whole result would)
        return pa.concat_tables(parts, promote_options="permissive")


def arrow_of(result: Any) -> pa.Table:
    """A DuckDB relation as an Arrow table (`to_arrow_table` in DuckDB 2, `arrow` before)."""
    if result is None:
        return pa.table({})
    fetch = getattr(result, "to_arrow_table", None) or result.arrow
    return fetch()


READ_CHUNK = 100_000
_QUERY = re.compile(r"\s*(SELECT|WITH|\()", re.IGNORECASE)


def _read_by_copy(conn: Connection, sql: str, params: dict[str, Any]) -> pa.Table | None:
    """A PostgreSQL query's rows through `COPY`, or None (having run nothing but its description) when a column's
    type does not read so or two columns share a name. The parameters become literals, as the server types them."""
    from warehouse.postgres_copy import copy_types, read_copy

    sql = sql.strip().rstrip(";")
    described = conn.execute(_text(f"SELECT * FROM ({sql}\n) _hub_q LIMIT 0"), params)  # (a last `--` comment ends)
    description = described.cursor.description if described.cursor is not None else None
    described.close()
    names = [str(d[0]) for d in description or []]
    types = copy_types(description or [])
    if types is None or len(set(names)) != len(names):
        return None
    compiled = _text(sql).compile(dialect=conn.dialect)  # (the driver's SQL and parameters: read_copy inlines them)
    parts = list(read_copy(conn.connection.driver_connection, compiled.string, compiled.construct_params(params),
                           names, types, READ_CHUNK))
    if not parts:  # (as the cursor's path makes an empty result)
        return pa.Table.from_pandas(pd.DataFrame([], columns=names), preserve_index=False)
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="permissive")


def _duck_path(path: list[str | int]) -> str:
    """A JSON path as DuckDB's `'$."a"[0]'` literal."""
    parts = "".join(f"[{p}]" if isinstance(p, int) else '."' + p.replace('"', '\\"') + '"' for p in path)
    return "'$" + parts.replace("'", "''") + "'"


def _text(sql: str) -> Any:
    from sqlalchemy import text

    return text(sql)


def dialect_for(url: str) -> Dialect:
    """The dialect of a warehouse URL; an unsupported backend is an error naming it."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme == "duckdb":
        return DuckDBDialect()
    if scheme in ("postgresql", "postgres"):
        return PostgresDialect()
    raise ValueError(f"unsupported warehouse backend {scheme!r}: use duckdb:///FILE or postgresql+psycopg://…")


__all__ = ["Dialect", "DuckDBDialect", "PostgresDialect", "dialect_for", "quote", "quote_qualified"]


def _plan_nodes(nodes: Any, children: str) -> Iterator[dict[str, Any]]:
    """Every node of a JSON query plan (a node or a list of them; `children`: the key of its sub-plans)."""
    stack = list(nodes) if isinstance(nodes, list) else [nodes]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.get(children) or [])


def _words(value: Any) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", json.dumps(value, ensure_ascii=False))}
