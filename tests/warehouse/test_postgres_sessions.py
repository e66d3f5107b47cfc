"""The hub's PostgreSQL sessions run without JIT (`warehouse.engine.POSTGRES_OPTIONS`), unless the warehouse URL
sets its own `options`; a mart's materialized expressions are computed once there."""

from __future__ import annotations

import pytest

from warehouse.engine import Warehouse


def setting(wh: Warehouse, name: str) -> str:
    with wh.begin() as conn:
        return str(conn.exec_driver_sql(f"SHOW {name}").scalar())


@pytest.mark.postgres
def test_the_hub_s_sessions_run_without_jit(pg_url: str) -> None:
    wh = Warehouse(pg_url)
    try:
        assert setting(wh, "jit") == "off"
    finally:
        wh.dispose()


@pytest.mark.postgres
def test_a_url_with_its_own_options_keeps_the_server_s_jit(pg_url: str) -> None:
    server = Warehouse(pg_url + "?options=-c%20work_mem%3D8MB")
    try:
        assert setting(server, "work_mem") == "8MB"  # the URL's options reach the server
        assert setting(server, "jit") == "on"  # PostgreSQL 15's default, untouched
    finally:
        server.dispose()


def test_a_mart_s_materialized_expression_is_computed_once_on_postgresql() -> None:
    """`AS /* materialized */ (` becomes `AS MATERIALIZED (` for PostgreSQL (which would otherwise fold the CTE into
    its reader and compute its expressions once per use); DuckDB and Spark read a comment."""
    from pipelines.publish import mart_sql
    from warehouse.dialects import DuckDBDialect, PostgresDialect

    sql = mart_sql("customer_record_quality")
    pg = PostgresDialect().driver_sql(sql)
    assert "WITH customer_value AS MATERIALIZED (" in pg and "/* materialized */" not in pg
    assert "LIKE '%%_@_%%._%%'" in pg  # (and `%` still doubled for psycopg)
    assert DuckDBDialect().driver_sql(sql) == sql
