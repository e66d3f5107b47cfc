"""The hub's PostgreSQL sessions: without JIT and with SSD page costs (`warehouse.engine.POSTGRES_OPTIONS`) unless the
warehouse URL sets its own `options`; a mart's materialized expressions computed once; results read in chunks."""

from __future__ import annotations

import pytest

from warehouse.engine import Warehouse


def setting(wh: Warehouse, name: str) -> str:
    with wh.begin() as conn:
        return str(conn.exec_driver_sql(f"SHOW {name}").scalar())


@pytest.mark.postgres
def test_the_hub_s_sessions_run_without_jit_and_cost_a_random_page_as_on_an_ssd(pg_url: str) -> None:
    wh = Warehouse(pg_url)
    try:
        assert setting(wh, "jit") == "off"
        assert setting(wh, "random_page_cost") == "1.1"
    finally:
        wh.dispose()


@pytest.mark.postgres
def test_a_url_with_its_own_options_keeps_the_server_s_jit(pg_url: str) -> None:
    server = Warehouse(pg_url + "?options=-c%20work_mem%3D8MB")
    try:
        assert setting(server, "work_mem") == "8MB"  # the URL's options reach the server
        assert setting(server, "jit") == "on"  # PostgreSQL 15's default, untouched
        assert setting(server, "random_page_cost") == "4"
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


@pytest.mark.postgres
def test_a_read_in_chunks_equals_the_whole_result_read_at_once(pg_url: str) -> None:
    """`PostgresDialect.read_arrow` reads `READ_CHUNK` rows at a time (Python holds one chunk's objects); a column
    empty in the first chunks, or integers with a gap in a later one, read as the whole result read at once."""
    import pandas as pd
    import pyarrow as pa
    import sqlalchemy as sa

    from warehouse.dialects import READ_CHUNK

    n = READ_CHUNK * 2 + 7
    sql = ("SELECT i, CASE WHEN i > :late THEN 'x' || i END AS late_text, "
           "CASE WHEN i > :gap AND i % 2 = 0 THEN NULL ELSE i END AS gap_int, "
           "CAST(i AS NUMERIC) / 4 AS quarter FROM generate_series(1, :n) i ORDER BY i")
    params = {"late": READ_CHUNK + 5, "gap": READ_CHUNK * 2, "n": n}
    wh = Warehouse(pg_url)
    try:
        chunked = wh.read_arrow(sql, params)
        with wh.begin() as conn:
            result = conn.execute(sa.text(sql), params)
            whole = pa.Table.from_pandas(pd.DataFrame(result.fetchall(), columns=list(result.keys())),
                                         preserve_index=False)
    finally:
        wh.dispose()
    assert chunked.num_rows == n and chunked.column("late_text").null_count == READ_CHUNK + 5
    assert chunked.schema == whole.schema and chunked.equals(whole)
    assert chunked.column("gap_int").type == pa.float64()  # (NaN for the gaps, as at once)
