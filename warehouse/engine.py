"""The warehouse: a SQLAlchemy engine plus its backend dialect, and frame I/O on top.

`Warehouse.from_url("duckdb:///path/hub.duckdb")` (the embedded default) or
`Warehouse.from_url("postgresql+psycopg://user@host/db")`. Everything that reads or writes
the warehouse goes through one of these objects.
"""

from __future__ import annotations

import contextlib
import os
import re
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from warehouse.dialects import Dialect, dialect_for
from warehouse.identifiers import quote

SCHEMAS = ("raw", "staging", "mdm", "marts")


def default_memory_limit() -> str:
    """A tenth of the machine's memory, between 1 and 2 GB: DuckDB spills beyond it, and the rest of a run (the
    matching engine's columns, a few hundred MB per million records) has room."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return f"{min(max(total // 10, 1 << 30), 2 << 30) >> 20}MB"


POSTGRES_OPTIONS = "-c jit=off -c random_page_cost=1.1"
"""Settings of the hub's PostgreSQL sessions. JIT compiles every statement the planner costs high, and the hub's are
large, generated and run once: compiling took 3.9 of the 8.2 s of an incremental run's neighbourhood query at 1M
records, and most of the 4.8 s of its survivorship (1.3 s without). A random page costs 1.1 sequential ones (SSDs and
cached data; the default 4 is a spinning disk's, with which the planner scanned 1M records to look up 10,000 changed
records' name keys instead of using their index). A URL with its own `options` keeps the server's."""


def duckdb_path(url: str) -> str | None:
    """The file (or `:memory:`) of a `duckdb:///` URL; None for any other URL."""
    return url[len("duckdb:///"):].split("?", 1)[0] if url.startswith("duckdb:///") else None


def make_engine(url: str, settings: dict[str, Any] | None = None, postgres: dict[str, str] | None = None) -> Engine:
    """A SQLAlchemy engine for a warehouse URL; a DuckDB file's folder is created if missing. `settings`:
    DuckDB's `memory_limit`, `temp_directory`, `threads`; `postgres`: PostgreSQL session settings beside
    `POSTGRES_OPTIONS` (a URL with its own `options` keeps those)."""
    path = duckdb_path(url)
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith(("postgresql:", "postgres:")):
        url = "postgresql+psycopg:" + url.split(":", 1)[1]
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        kwargs["pool_pre_ping"] = True
        if "options=" not in url:  # (a URL's own `options` are the server settings it wants, JIT among them)
            more = "".join(f" -c {name}={value}" for name, value in (postgres or {}).items())
            kwargs["connect_args"] = {"options": POSTGRES_OPTIONS + more}
    if url.startswith("duckdb"):
        # No row-group merging at checkpoints: it rewrote whole tables after bulk builds; the hub compacts tables
        # itself when their dead rows pass a share (warehouse.compaction)
        config = {"memory_limit": default_memory_limit(), "max_vacuum_tasks": 0,
                  **{k: v for k, v in (settings or {}).items() if v}}
        kwargs["connect_args"] = {"config": {k: str(v) for k, v in config.items()}}
    engine = sa.create_engine(url, **kwargs)
    _ENGINES.add(engine)
    return engine


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def dispose_all() -> None:
    """Close the pooled connections of every warehouse engine this process made: a DuckDB file writes its log
    into the file when its last connection closes (for a process about to leave without tearing down,
    `hub.cli.leave`)."""
    for engine in list(_ENGINES):
        engine.dispose()


def value(conn: Connection, sql: str, params: dict[str, Any] | None = None) -> Any:
    """The first column of the first row, reading the whole result.

    (DuckDB 2 refuses the next statement on a connection whose last result was not read to the
    end, which `Result.scalar()` does not do.)
    """
    rows = conn.execute(sa.text(sql), params or {}).fetchall()
    return rows[0][0] if rows else None


def display_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1****@", url)


class Warehouse:
    """An engine and its dialect. Cheap to create; holds a connection pool."""

    def __init__(self, url: str, settings: dict[str, Any] | None = None, postgres: dict[str, str] | None = None):
        self.url = url
        self.dialect: Dialect = dialect_for(url)
        self.engine = make_engine(url, settings, postgres)
        self._settings = settings
        self._ensured: set[tuple[str, str]] = set()
        # DuckDB's buffer pool as configured, exactly (its own display rounds: '1.9 GiB' read back and set again
        # is 1.8 GiB, so a limit restored from it would shrink a little at every lend_memory)
        self.memory_limit = str((settings or {}).get("memory_limit") or default_memory_limit())

    @classmethod
    def from_url(cls, url: str) -> Warehouse:
        return cls(url)

    @classmethod
    def from_config(cls, cfg: Any) -> Warehouse:
        """The warehouse of a `WarehouseConfig` (its URL and DuckDB settings)."""
        return cls(cfg.url, {"memory_limit": cfg.memory_limit, "temp_directory": cfg.temp_directory,
                             "threads": cfg.threads})

    def __repr__(self) -> str:
        return f"Warehouse({display_url(self.url)!r})"

    @property
    def location(self) -> str:
        """Where the data is, for humans: a file path for DuckDB, the masked URL otherwise."""
        if self.dialect.name == "duckdb":
            return duckdb_path(self.url) or ""
        return display_url(self.url)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except BaseException:
            self._ensured.clear()  # tables created in the rolled-back transaction are gone
            raise

    def commit_and_continue(self, conn: Connection) -> None:
        """Commit what the caller's transaction wrote so far and go on in a new transaction on `conn` (inside a
        `begin()` block: the block's end commits the rest, an error rolls back only the rest)."""
        conn.exec_driver_sql("COMMIT")
        conn.exec_driver_sql("BEGIN")

    @contextmanager
    def lend_memory(self, conn: Connection, keep: str = "256MB") -> Iterator[Callable[[], None]]:
        """While Python holds a large working set (the matching engine's columns and pairs), DuckDB's buffer
        pool shrinks to `keep` (its cached pages are dropped, its transaction's data spills to the temporary
        directory), so that the two do not peak together; the configured limit is back afterwards, exactly, also
        when the block fails (whose error is the one raised). The block gets a function that gives the pool back
        early (before work that needs DuckDB's memory more than Python's)."""
        if self.dialect.name != "duckdb":
            yield lambda: None
            return
        limit, lent = self.memory_limit, [True]

        def give_back() -> None:
            if lent[0]:
                conn.exec_driver_sql(f"SET memory_limit = '{limit}'")
                lent[0] = False

        conn.exec_driver_sql(f"SET memory_limit = '{keep}'")
        try:
            yield give_back
        except BaseException:
            try:
                give_back()
            except Exception:  # an aborted transaction refuses it: another connection of the same database (the
                with contextlib.suppress(Exception), self.engine.connect() as other:  # setting is the database's)
                    other.exec_driver_sql(f"SET memory_limit = '{limit}'")
            raise
        give_back()

    def dispose(self) -> None:
        self.engine.dispose()

    def with_postgres_settings(self, **postgres: str) -> Warehouse:
        """The same PostgreSQL warehouse through a pool of its own whose sessions also set `postgres` (a URL with its
        own `options` keeps those); dispose of it after use."""
        assert self.dialect.name == "postgresql", "PostgreSQL session settings of a DuckDB warehouse"
        return Warehouse(self.url, self._settings, postgres)

    def refresh_statistics(self, *tables: str) -> None:
        """After a bulk load: the planner's statistics of these `schema.table`s (PostgreSQL; DuckDB keeps them
        itself). In a transaction of its own, so it sees what was committed."""
        if self.dialect.name != "postgresql" or not tables:
            return
        with self.begin() as conn:
            for t in tables:
                schema, _, name = t.partition(".")
                if self.table_exists(conn, schema, name):
                    conn.exec_driver_sql(f"ANALYZE {quote(schema)}.{quote(name)}")

    # --- schema helpers -------------------------------------------------------------------------------

    def table_exists(self, conn: Connection, schema: str, table: str) -> bool:
        return bool(value(conn, "SELECT count(*) FROM information_schema.tables WHERE table_schema = :s "
                          "AND table_name = :t", {"s": schema, "t": table}))

    def columns(self, conn: Connection, schema: str, table: str) -> list[str]:
        """Column names in order (information_schema: SQLAlchemy's reflection fails on DuckDB)."""
        return [r[0] for r in conn.execute(sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND table_name = :t "
            "ORDER BY ordinal_position"), {"s": schema, "t": table})]

    def create_table(self, conn: Connection, schema: str, table: str, columns: dict[str, str],
                     primary_key: list[str] | None = None) -> None:
        """Create a table with portable type kinds (`text`, `decimal`, …), or add the columns it lacks.

        Checked once per table and Warehouse object, so it is cheap to call before every write.
        """
        if (schema, table) in self._ensured:
            return
        cols = [f"{quote(c)} {self.dialect.type_sql(kind)}" for c, kind in columns.items()]
        if primary_key:
            cols.append(f"PRIMARY KEY ({', '.join(quote(k) for k in primary_key)})")
        if self.table_exists(conn, schema, table):
            have = set(self.columns(conn, schema, table))
            for c, kind in columns.items():
                if c not in have:
                    conn.exec_driver_sql(f"ALTER TABLE {quote(schema)}.{quote(table)} "
                                         f"ADD COLUMN {quote(c)} {self.dialect.type_sql(kind)}")
        else:
            conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table)} ({', '.join(cols)})")
        self._ensured.add((schema, table))

    def recreate_table(self, conn: Connection, schema: str, table: str, columns: dict[str, str]) -> None:
        """Drop and create a table (inside the caller's transaction): for tables whose columns vary."""
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(schema)}.{quote(table)}")
        self._ensured.discard((schema, table))
        self.create_table(conn, schema, table, columns)

    # --- frames ---------------------------------------------------------------------------------------

    def read_arrow(self, sql: str, params: dict[str, Any] | None = None,
                   conn: Connection | None = None) -> pa.Table:
        if conn is not None:
            return self.dialect.read_arrow(conn, sql, params)
        with self.begin() as c:
            return self.dialect.read_arrow(c, sql, params)

    def read_frame(self, sql: str, params: dict[str, Any] | None = None,
                   conn: Connection | None = None, arrow_strings: bool = False) -> pd.DataFrame:
        """A query's result as a frame; `arrow_strings`: text columns stay Arrow-backed (`string[pyarrow]`),
        a fraction of the memory of Python strings and fast for Arrow's string kernels."""
        table = self.read_arrow(sql, params, conn)
        if arrow_strings:
            return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow"),
                                                 pa.large_string(): pd.StringDtype("pyarrow")}.get)
        return table.to_pandas()

    def read_chunks(self, conn: Connection, table: str, columns: str, rows: int, size: int,
                    arrow_strings: bool = False) -> Iterator[pd.DataFrame]:
        """`columns` of a table whose `rows` rows are numbered 1.. in a column `_i` (a temporary table made with
        `ROW_NUMBER() OVER () AS _i`), `size` rows at a time, in order (`read_frame` each)."""
        for lo in range(0, rows, size):
            yield self.read_frame(f"SELECT {columns} FROM {table} WHERE _i > {lo} AND _i <= {lo + size}", conn=conn,
                                  arrow_strings=arrow_strings)

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        with self.begin() as c:
            return value(c, sql, params)

    def insert_frame(self, conn: Connection, schema: str, table: str, df: pd.DataFrame | pa.Table) -> None:
        """Bulk-insert a frame into an existing table, columns matched by name."""
        data = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
        if data.num_rows:
            self.dialect.bulk_insert(conn, f"{quote(schema)}.{quote(table)}", data)

    def replace_rows(self, conn: Connection, schema: str, table: str, df: pd.DataFrame | pa.Table,
                     where: dict[str, Any] | None = None) -> None:
        """Delete the rows matching `where` (all rows if None) and insert `df`, in the caller's transaction."""
        target = f"{quote(schema)}.{quote(table)}"
        if where:
            cond = " AND ".join(f"{quote(k)} = :{k}" for k in where)
            conn.execute(sa.text(f"DELETE FROM {target} WHERE {cond}"), where)
        else:
            conn.exec_driver_sql(f"DELETE FROM {target}")
        self.insert_frame(conn, schema, table, df)

    def replace_table(self, conn: Connection, schema: str, table: str, columns: dict[str, str],
                      primary_key: list[str] | None, df: pd.DataFrame | pa.Table | None = None,
                      select: str | None = None, params: dict[str, Any] | None = None) -> None:
        """All rows of a table replaced by `df` or by the rows of a `select` (the table's columns in order), in the
        caller's transaction. DuckDB gets a new table (deleting a million keys of a primary-key index and
        inserting them again costs it minutes at commit); PostgreSQL keeps the table (and the grants and indexes
        on it) and deletes its rows."""
        target = f"{quote(schema)}.{quote(table)}"
        if self.dialect.name == "duckdb":
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {target}")
            self._ensured.discard((schema, table))
            self.create_table(conn, schema, table, columns, primary_key)
        else:
            self.create_table(conn, schema, table, columns, primary_key)
            conn.exec_driver_sql(f"DELETE FROM {target}")
        if df is not None:
            self.insert_frame(conn, schema, table, df)
        if select is not None:
            conn.execute(sa.text(f"INSERT INTO {target} ({', '.join(quote(c) for c in columns)}) {select}"),
                         params or {})

    def upsert_from(self, conn: Connection, schema: str, table: str, select: str, columns: list[str],
                    key: list[str] | None, params: dict[str, Any] | None = None,
                    unless_same: Sequence[str] = ()) -> None:
        """Insert the rows of `select` (the `columns` in order), replacing the rows with the same `key`: an
        `ON CONFLICT` update on PostgreSQL; on DuckDB the rows are deleted and inserted again (its large tables
        keep no primary-key index: see `drop_primary_key`). `unless_same`: a stored row whose values of these
        columns equal the new row's (nulls equal) is left as it is (with its other columns, such as when it last
        changed): only the rows that differ are written."""
        assert key, f"{schema}.{table}: an upsert needs the key"
        target, cols = f"{quote(schema)}.{quote(table)}", ", ".join(quote(c) for c in columns)
        same = " AND ".join(f"t.{quote(c)} IS NOT DISTINCT FROM r.{quote(c)}" for c in unless_same)
        if self.dialect.name == "duckdb":
            conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_upsert_rows")
            conn.execute(sa.text(f"CREATE TEMPORARY TABLE _hub_upsert_rows AS {select}"), params or {})
            if same:
                on = " AND ".join(f"t.{quote(k)} = r.{quote(k)}" for k in key)
                conn.exec_driver_sql(f"DELETE FROM _hub_upsert_rows r WHERE EXISTS (SELECT 1 FROM {target} t "
                                     f"WHERE {on} AND {same})")
            match = " AND ".join(f"r.{quote(k)} = {target}.{quote(k)}" for k in key)
            conn.exec_driver_sql(f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM _hub_upsert_rows r WHERE {match})")
            conn.exec_driver_sql(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM _hub_upsert_rows")
            conn.exec_driver_sql("DROP TABLE _hub_upsert_rows")
            return
        sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in key)
        differs = ("" if not unless_same else " WHERE NOT (" + " AND ".join(
            f"t.{quote(c)} IS NOT DISTINCT FROM excluded.{quote(c)}" for c in unless_same) + ")")
        conn.execute(sa.text(f"INSERT INTO {target} AS t ({cols}) {select} "
                             f"ON CONFLICT ({', '.join(quote(k) for k in key)}) DO UPDATE SET {sets}{differs}"),
                     params or {})

    def upsert_frame(self, conn: Connection, schema: str, table: str, df: pd.DataFrame | pa.Table,
                     key: list[str], kinds: dict[str, str], unless_same: Sequence[str] = ()) -> None:
        """`upsert_from` for a frame. `kinds`: the table's portable column kinds (for the temporary copy)."""
        data = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
        if not data.num_rows:
            return
        cols = data.column_names
        with self.dialect.arrow_relation(conn, "_hub_upsert", data, kinds) as rel:
            self.upsert_from(conn, schema, table, f"SELECT {', '.join(quote(c) for c in cols)} FROM {rel}", cols, key,
                             unless_same=unless_same)

    def drop_primary_key(self, conn: Connection, schema: str, table: str) -> None:
        """DuckDB: recreate a table that has a primary key without it (DuckDB cannot drop one). Its index makes
        bulk loads of large tables several times slower and deleting keys to insert them again costs minutes at
        commit; the hub keeps such keys unique itself (and its checks verify it)."""
        if self.dialect.name != "duckdb" or not value(
                conn, "SELECT count(*) FROM duckdb_constraints() WHERE schema_name = :s AND table_name = :t "
                      "AND constraint_type = 'PRIMARY KEY'", {"s": schema, "t": table}):
            return
        q, tmp = f"{quote(schema)}.{quote(table)}", f"{table}__nopk"
        conn.exec_driver_sql(f"CREATE TABLE {quote(schema)}.{quote(tmp)} AS SELECT * FROM {q}")
        conn.exec_driver_sql(f"DROP TABLE {q}")
        conn.exec_driver_sql(f"ALTER TABLE {quote(schema)}.{quote(tmp)} RENAME TO {quote(table)}")

    def swap_table(self, conn: Connection, schema: str, table: str, select_sql: str) -> None:
        """Build `schema.table` from a SELECT under a temporary name, then swap it in.

        Runs inside the caller's transaction, so readers see either the old or the new table.
        """
        final, tmp = f"{quote(schema)}.{quote(table)}", quote(f"{table}__building")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(schema)}.{tmp}")
        self.dialect.prepare_table_build(conn)
        conn.exec_driver_sql(self.dialect.driver_sql(f"CREATE TABLE {quote(schema)}.{tmp} AS {select_sql}"))
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {final}")
        conn.exec_driver_sql(f"ALTER TABLE {quote(schema)}.{tmp} RENAME TO {quote(table)}")
