"""SQLAlchemy engines for the `sql` source, one per database kind, so that the connector's SQL (identifiers quoted
"as in ANSI SQL", `WHERE 1 = 0` for the columns) means the same everywhere.

| kind | URL | what the session gets |
|---|---|---|
| PostgreSQL | `postgresql+psycopg://…` | nothing: ANSI quoting is its own |
| MySQL, MariaDB | `mysql+pymysql://…` | `sql_mode` with `ANSI_QUOTES` (`init_command`) |
| SQL Server | `mssql+pymssql://…` | `SET QUOTED_IDENTIFIER ON` (DB-Library starts with it off) |
| Oracle | `oracle+oracledb://…` (thin mode: no Oracle client) | nothing: ANSI quoting is its own |
| SQLite, DuckDB | `sqlite:///…` | nothing |
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def _quoted_identifier_on(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET QUOTED_IDENTIFIER ON")
    cursor.close()


def source_engine(url: str) -> sa.Engine:
    """The engine a `sql` source reads through."""
    if url.startswith(("mysql", "mariadb")):  # identifiers are quoted "so" (ANSI), as for every other database
        ansi = "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')"
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"init_command": ansi})
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "mssql":
        sa.event.listen(engine, "connect", _quoted_identifier_on)
    return engine
