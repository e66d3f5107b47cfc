"""The `sql` source: tables or queries of any SQLAlchemy database, read in batches.

Config: `{"url": "...", "batch_size": 200000, "streams": [{"name", "table" | "query",
"primary_key", "cursor_field"}]}`. With a `cursor_field` a stream is incremental: it reads
rows whose cursor is `>=` the saved one, ordered by the cursor, and checkpoints after every
batch. (`>=` re-reads the rows that share the last cursor value, so rows written later with
the same timestamp are not missed; the raw layer drops unchanged re-reads.)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from airbyte_cdk.models import ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException, FailureType

from connectors.cursors import DEFAULT_FUTURE_TOLERANCE, future_mask, is_future, looked_back
from connectors.python_source import (
    KEY,
    STREAM_NAME,
    Batch,
    CheckpointedStream,
    HubPythonSource,
    json_type,
    object_schema,
    plain,
    rows_to_table,
    unique_names,
)
from connectors.sql.engines import source_engine
from warehouse.identifiers import quote, quote_qualified
from warehouse.postgres_copy import CopyFailed, copy_types, read_copy

SPEC: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "SQL database source",
    "type": "object",
    "required": ["url", "streams"],
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "title": "SQLAlchemy URL", "airbyte_secret": True,
                "description": "e.g. sqlite:///crm.sqlite or postgresql+psycopg://user:${PW}@host/db"},
        "batch_size": {"type": "integer", "minimum": 1, "default": 200000,
                       "description": "rows fetched, landed and checkpointed at a time"},
        "streams": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": STREAM_NAME, "table": {"type": "string"}, "query": {"type": "string"},
                           "primary_key": KEY, "cursor_field": {"type": "string"},
                           "lookback": {"type": ["string", "number"], "description": "re-read this far before the "
                                        "saved cursor value (late arrivals), e.g. 2h"},
                           "future_tolerance": {"type": ["string", "number"], "description": "cursor values beyond "
                                                "now + this are not saved as the state (default 1d)"}}}},
    },
}


def _engine(url: str) -> sa.Engine:
    return source_engine(url)  # per database kind: connectors/sql/engines.py


def _describe_db_error(url: str, err: Exception) -> str:
    from warehouse.engine import display_url

    msg = str(getattr(err, "orig", None) or err).splitlines()[0]
    return f"database {display_url(url)}: {msg}"


class SqlStream(CheckpointedStream):
    """One table or query, incremental when it has a cursor column."""

    def __init__(self, engine: sa.Engine, url: str, name: str, table: str | None, query: str | None,
                 primary_key: str | list[str] | None, cursor_field: str | None, batch_size: int,
                 lookback: str | float | None = None, future_tolerance: str | float | None = DEFAULT_FUTURE_TOLERANCE):
        super().__init__(name, primary_key, batch_size)
        self._engine, self._url = engine, url
        self._table, self._query, self._cursor = table, query, cursor_field
        self._lookback, self._future = lookback, future_tolerance
        self.warnings: list[str] = []  # of the last read: future cursor values (connectors/cursors.py)
        self._future_rows = 0
        self._future_max: Any = None  # the latest cursor value beyond now + tolerance (a date, a number...)
        self.transfer = ""  # how the last read moved its rows: "copy" (PostgreSQL's COPY) or "cursor"

    @property
    def cursor_field(self) -> str | list[str]:
        return self._cursor or []

    @property
    def supports_incremental(self) -> bool:
        return bool(self._cursor)

    def can_read_whole(self, sync_mode: SyncMode, stream_state: Mapping[str, Any] | None = None) -> bool:
        """A table read without a saved cursor value (its first read, `--full-refresh`, `full_refresh_every`) reads
        every row: its keys are tracked, and the rows it does not see are gone from the source."""
        return super().can_read_whole(sync_mode, stream_state) or (stream_state or {}).get(self._cursor or "") is None

    @property
    def is_resumable(self) -> bool:
        # Without a cursor a table is re-read whole: the raw layer drops unchanged rows.
        return bool(self._cursor)

    def _not_future(self, table: pa.Table) -> pa.Table:
        """The rows whose cursor value is not beyond now + tolerance (they alone advance the state)."""
        if self._cursor not in table.column_names:
            return table
        col = table.column(self._cursor)
        mask = future_mask(col, self._future)
        if mask is None or not pc.any(mask).as_py():
            return table
        self._future_rows += int(pc.sum(mask).as_py())
        top = plain(pc.max(pc.filter(col, mask)).as_py())
        self._future_max = top if self._future_max is None or _gt(top, self._future_max) else self._future_max
        return table.filter(pc.invert(mask))

    def _from(self) -> str:
        return f"({self._query}) hub_q" if self._query else quote_qualified(self._table or "")

    @functools.cache  # noqa: B019 - the CDK asks once per record; streams are few and short-lived
    def get_json_schema(self) -> Mapping[str, Any]:
        try:
            with self._engine.connect() as conn:
                result = conn.execute(sa.text(f"SELECT * FROM {self._from()} WHERE 1 = 0"))  # any database
                cols = list(result.keys())
                types: dict[str, Any] = {}
                if self._table:
                    schema, _, table = self._table.rpartition(".")
                    try:
                        reflected = sa.inspect(conn).get_columns(table, schema=schema or None)
                    except sa.exc.SQLAlchemyError:  # some dialects cannot reflect: columns stay strings
                        reflected = []
                    for c in reflected:
                        try:
                            types[c["name"]] = c["type"].python_type
                        except NotImplementedError:
                            types[c["name"]] = None
        except sa.exc.SQLAlchemyError as e:
            raise AirbyteTracedException(message=_describe_db_error(self._url, e),
                                         failure_type=FailureType.config_error) from None
        return object_schema({c: json_type(types.get(c)) for c in cols})

    def read_batches(self, sync_mode: SyncMode, stream_state: Mapping[str, Any] | None = None) -> Iterator[Batch]:
        """The table or query in batches of `batch_size` rows, as Arrow tables (`_tables`)."""
        incremental = sync_mode == SyncMode.incremental and bool(self._cursor)
        self.warnings, self._future_rows, self._future_max = [], 0, None
        state = dict(stream_state or {}) if incremental else {}
        self.read_whole = False
        sql = f"SELECT * FROM {self._from()}"
        params: dict[str, Any] = {}
        last = None
        if incremental:
            cur = quote(self._cursor or "")
            last = state.get(self._cursor or "")
            if last is not None and is_future(last, self._future):
                self.warnings.append(f"saved cursor {self._cursor} = {last} is in the future: read whole again")
                last, state = None, {}
            if last is not None:
                sql += f" WHERE {cur} >= :last"
                params["last"] = looked_back(last, self._lookback)
            sql += f" ORDER BY {cur}"
        first = 0
        try:
            with self._engine.connect() as conn:
                statement, args = _driver_statement(self._engine, sql, params)
                for table in self._tables(conn, statement, args):
                    if incremental:
                        state = _advance(state, self._cursor or "", self._not_future(table))
                    self._state = state
                    yield Batch(state=dict(state), first_row=first, table=table)
                    first += table.num_rows
        except (sa.exc.SQLAlchemyError, CopyFailed) as e:
            raise AirbyteTracedException(message=f"stream {self._name}: " + _describe_db_error(self._url, e),
                                         failure_type=FailureType.system_error) from None
        self.read_whole = last is None  # every row read: records it did not see are gone from the source
        if self._future_rows:
            self.warnings.append(f"{self._future_rows:,} rows have {self._cursor} beyond now + {self._future} (up "
                                 f"to {self._future_max}): read, but the saved cursor stays before them")
        if not first:
            self._state = state
            yield Batch(state=dict(state), first_row=0, table=None, records=[])

    def _tables(self, conn: sa.Connection, statement: str, args: Any) -> Iterator[pa.Table]:
        """The rows in Arrow tables of `batch_size` rows: by COPY from PostgreSQL when it reads every column's type
        (`warehouse.postgres_copy`), else straight from the driver's cursor (a server-side cursor where the
        driver has one, so a large table never sits in memory)."""
        if self._engine.dialect.name == "postgresql" and self._engine.dialect.driver == "psycopg":
            probe = conn.exec_driver_sql(f"SELECT * FROM ({statement}) hub_probe LIMIT 0", args)
            names, types = unique_names([d[0] for d in probe.cursor.description]), copy_types(probe.cursor.description)
            probe.close()
            if types is not None:
                self.transfer = "copy"
                yield from read_copy(conn.connection.driver_connection, statement, args, names, types,
                                     self.batch_size)
                return
        self.transfer = "cursor"
        result = conn.execution_options(stream_results=True, max_row_buffer=self.batch_size) \
            .exec_driver_sql(statement, args)
        names = unique_names([d[0] for d in result.cursor.description])
        cursor = result.cursor
        # the first batch through SQLAlchemy: with a server-side cursor (PostgreSQL, MySQL) it has read rows ahead
        # into its own buffer, which the driver's cursor no longer returns
        fetch: Callable[[int], Sequence[Any]] = result.fetchmany
        while True:
            rows = fetch(self.batch_size)
            fetch = cursor.fetchmany
            if not rows:
                break
            yield rows_to_table(names, rows)
        result.close()


def _driver_statement(engine: sa.Engine, sql: str, params: dict[str, Any]) -> tuple[str, Any]:
    """SQL and parameters in the driver's own paramstyle, for reading through its cursor. The parameters are untyped
    (the saved cursor is JSON: a timestamp is a text), so the database reads them as the column they meet: typed
    from the Python value, SQLAlchemy's PostgreSQL dialect cast a saved timestamp `::VARCHAR`, and the next read
    of an incremental stream failed (`timestamp >= character varying`)."""
    binds = [sa.bindparam(k, v, type_=sa.types.NullType()) for k, v in params.items()]
    stmt = sa.text(sql).bindparams(*binds) if binds else sa.text(sql)
    compiled = stmt.compile(dialect=engine.dialect)
    if compiled.positional:
        return str(compiled), tuple(compiled.params[n] for n in (compiled.positiontup or []))
    return str(compiled), dict(compiled.params)


def _advance(state: dict[str, Any], cursor: str, table: pa.Table) -> dict[str, Any]:
    """The state after a batch: the largest cursor value read so far."""
    if cursor not in table.column_names:
        raise AirbyteTracedException(
            message=f"cursor_field {cursor!r} is not a column of the data; the columns are: "
                    f"{', '.join(table.column_names)}", failure_type=FailureType.config_error)
    col = table.column(cursor)
    if col.null_count == len(col):
        return state
    top = plain(pc.max(col).as_py())
    old = state.get(cursor)
    return {cursor: top} if old is None or _gt(top, old) else state


def _gt(a: Any, b: Any) -> bool:
    try:
        return a > b
    except TypeError:
        return str(a) > str(b)


class SqlSource(HubPythonSource):
    """Airbyte source over SQLAlchemy."""

    connection_schema: ClassVar[dict[str, Any]] = SPEC

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        try:
            engine = _engine(config["url"])
            with engine.connect() as conn:
                for s in config.get("streams", []):
                    src = f"({s['query']}) hub_q" if s.get("query") else quote_qualified(s["table"])
                    conn.execute(sa.text(f"SELECT * FROM {src} WHERE 1 = 0"))
            return True, None
        except sa.exc.SQLAlchemyError as e:
            return False, _describe_db_error(config["url"], e)
        except Exception as e:
            return False, str(e)

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        engine = _engine(config["url"])
        return [SqlStream(engine, config["url"], s["name"], s.get("table"), s.get("query"),
                          s.get("primary_key"), s.get("cursor_field"), int(config.get("batch_size", 200000)),
                          s.get("lookback"), s.get("future_tolerance") or DEFAULT_FUTURE_TOLERANCE)
                for s in config.get("streams", [])]


def create_source(config: Mapping[str, Any] | None = None, catalog: ConfiguredAirbyteCatalog | None = None,
                  state: list[Any] | None = None) -> SqlSource:
    return SqlSource()
