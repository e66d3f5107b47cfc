"""The lakehouse: the warehouse's tables as Parquet directories under one location, `<location>/<schema>/<table>/`.

Every table is written whole under a temporary name and swapped in by renaming directories, so a reader (Spark,
DuckDB's `read_parquet`, a BI tool) sees the old table or the new one, never a half-written one, and a crashed
write leaves only a temporary directory that the next write removes. The location must be a file system every
Spark executor and every reader sees (a local disk in local mode; NFS, a mounted volume or HDFS-fuse on a cluster).

`lakehouse.duckdb` in the location (`Lakehouse.reader_catalog`) holds a DuckDB view per table, so the console,
`hub show` and any DuckDB client read the lakehouse like a warehouse: `duckdb:///<location>/lakehouse.duckdb`.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from warehouse.engine import SCHEMAS, Warehouse
from warehouse.identifiers import quote

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

STATE_FILE = "_hub_state.json"
READER_CATALOG = "lakehouse.duckdb"
CHECKPOINTS = "_checkpoints"  # Spark's checkpoints of a run (the label propagation's rounds, the record order)


class Lakehouse:
    """Parquet tables under `location`: written whole and swapped in, listed, registered with Spark and DuckDB."""

    def __init__(self, location: str | Path):
        self.root = Path(location)

    def path(self, schema: str, table: str) -> Path:
        return self.root / schema / table

    def _staging_path(self, schema: str, table: str) -> Path:
        return self.root / schema / "_building" / f"{table}-{uuid.uuid4().hex[:12]}"

    def tables(self, schema: str) -> list[str]:
        """The tables of a schema (directories holding Parquet), sorted."""
        base = self.root / schema
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and p.name != "_building")

    def exists(self, schema: str, table: str) -> bool:
        return self.path(schema, table).is_dir()

    def swap_in(self, built: Path, schema: str, table: str) -> None:
        """Replace `schema.table` with the directory `built` (two renames; the old copy is deleted after)."""
        final = self.path(schema, table)
        old = self.root / schema / "_building" / f"{table}-old-{uuid.uuid4().hex[:12]}"
        if final.exists():
            os.replace(final, old)
        os.replace(built, final)
        shutil.rmtree(old, ignore_errors=True)

    def clean(self) -> None:
        """Remove what crashed writes left behind (the `_building` directories) and the last run's checkpoints."""
        for schema in SCHEMAS:
            shutil.rmtree(self.root / schema / "_building", ignore_errors=True)
        shutil.rmtree(self.root / CHECKPOINTS, ignore_errors=True)

    # --- writers -----------------------------------------------------------------------------------------------

    def write_spark(self, df: DataFrame, schema: str, table: str) -> None:
        """Write a Spark DataFrame as `schema.table` (whole, swapped in)."""
        built = self._staging_path(schema, table)
        built.parent.mkdir(parents=True, exist_ok=True)
        df.write.mode("error").parquet(built.as_uri())
        self.swap_in(built, schema, table)

    def export_warehouse_table(self, wh: Warehouse, schema: str, table: str) -> None:
        """Copy a table of the warehouse to `schema.table` (DuckDB writes the Parquet itself; PostgreSQL's rows go
        through Arrow)."""
        built = self._staging_path(schema, table)
        built.mkdir(parents=True, exist_ok=True)
        target = built / "part-0.parquet"
        if wh.dialect.name == "duckdb":
            with wh.begin() as conn:
                conn.exec_driver_sql(f"COPY (SELECT * FROM {quote(schema)}.{quote(table)}) TO "
                                     f"'{_sql_text(str(target))}' (FORMAT parquet)")
        else:
            import pyarrow.parquet as pq

            pq.write_table(wh.read_arrow(f"SELECT * FROM {quote(schema)}.{quote(table)}"), target)
        self.swap_in(built, schema, table)

    def append_warehouse_rows(self, wh: Warehouse, schema: str, table: str, where: str, part: str) -> None:
        """Add the rows of a warehouse table matching `where` to `schema.table` as one more Parquet file
        (`part-<part>.parquet`, renamed into place: readers see the table without it or with all of it)."""
        final = self.path(schema, table) / f"part-{part}.parquet"
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
        select = f"SELECT * FROM {quote(schema)}.{quote(table)} WHERE {where}"
        if wh.dialect.name == "duckdb":
            with wh.begin() as conn:
                conn.exec_driver_sql(f"COPY ({select}) TO '{_sql_text(str(tmp))}' (FORMAT parquet)")
        else:
            import pyarrow.parquet as pq

            pq.write_table(wh.read_arrow(select), tmp)
        os.replace(tmp, final)

    # --- readers -----------------------------------------------------------------------------------------------

    def register(self, spark: SparkSession, schemas: tuple[str, ...] = SCHEMAS) -> None:
        """Every lakehouse table as `schema.table` in Spark's catalog (the location's files, read anew), a few at
        a time: each reads its Parquet footers for the schema (77 tables of the demo: 4.0 s one by one, 2.5 s)."""
        for schema in schemas:
            spark.sql(f"DROP DATABASE IF EXISTS {schema} CASCADE")  # (external tables: their files stay)
            spark.sql(f"CREATE DATABASE {schema}")
        tables = [(schema, table) for schema in schemas for table in self.tables(schema)]
        with ThreadPoolExecutor(4, thread_name_prefix="register") as pool:
            list(pool.map(lambda t: self._create_table(spark, *t), tables))

    def register_table(self, spark: SparkSession, schema: str, table: str) -> None:
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
        spark.sql(f"DROP TABLE IF EXISTS {schema}.`{table}`")
        self._create_table(spark, schema, table)

    def _create_table(self, spark: SparkSession, schema: str, table: str) -> None:
        where = _sql_text(self.path(schema, table).as_uri())
        spark.sql(f"CREATE TABLE {schema}.`{table}` USING parquet LOCATION '{where}'")

    def read_duckdb(self, schema: str, table: str, con: duckdb.DuckDBPyConnection | None = None) -> Any:
        """A lakehouse table as a DuckDB relation (`read_parquet`)."""
        con = con or duckdb.connect()
        return con.sql(f"SELECT * FROM read_parquet('{_sql_text(str(self.path(schema, table)))}/**/*.parquet')")

    def row_count(self, schema: str, table: str) -> int:
        """Rows of a lakehouse table, from its Parquet footers."""
        con = duckdb.connect()
        try:
            return int(con.execute(f"SELECT count(*) FROM read_parquet('{_sql_text(str(self.path(schema, table)))}"
                                   "/**/*.parquet')").fetchall()[0][0])
        finally:
            con.close()

    def reader_catalog(self) -> Path:
        """(Re)write `lakehouse.duckdb`: a DuckDB file with one view per lakehouse table, for the console and BI."""
        path = self.root / READER_CATALOG
        tmp = path.with_name(f".{READER_CATALOG}.{uuid.uuid4().hex[:8]}")
        con = duckdb.connect(str(tmp))
        try:
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                for table in self.tables(schema):
                    files = f"{_sql_text(str(self.path(schema, table)))}/**/*.parquet"
                    con.execute(f"CREATE VIEW {schema}.{quote(table)} AS SELECT * FROM read_parquet('{files}')")
        finally:
            con.close()
        os.replace(tmp, path)
        return path

    # --- the engine's state ------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / STATE_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def save_state(self, state: dict[str, Any]) -> None:
        """Written last in a run (atomically): a run that crashed before it is redone whole next time."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{STATE_FILE}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(json.dumps(state, sort_keys=True, indent=1), encoding="utf-8")
        os.replace(tmp, self.root / STATE_FILE)

    def forget_state(self) -> None:
        (self.root / STATE_FILE).unlink(missing_ok=True)


def _sql_text(text: str) -> str:
    return text.replace("'", "''")
