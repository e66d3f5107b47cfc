"""The hub's PostgreSQL sessions: without JIT and with SSD page costs (`warehouse.engine.POSTGRES_OPTIONS`) unless the
warehouse URL sets its own `options`, the checks' without parallel workers; a mart's materialized expressions computed
once; results read by COPY, else in chunks."""

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


@pytest.mark.postgres
def test_the_checks_sessions_plan_no_parallel_workers_and_the_warehouse_s_keep_the_server_s(pg_url: str) -> None:
    """The data checks run four PostgreSQL sessions at once (`pipelines.checks._each`): theirs plan no parallel
    workers, JIT still off; the warehouse's own sessions keep the server's 2; a URL with its own `options` keeps
    those on the checks' sessions too."""
    from pipelines.checks import CheckOutcome, _each

    def seen(w: Warehouse) -> CheckOutcome:
        return CheckOutcome(True, f"{setting(w, 'max_parallel_workers_per_gather')} {setting(w, 'jit')}")

    wh = Warehouse(pg_url)
    own = Warehouse(pg_url + "?options=-c%20work_mem%3D8MB")
    try:
        assert [o.description for o in _each(wh, [seen, seen, seen])] == ["0 off"] * 3
        assert setting(wh, "max_parallel_workers_per_gather") == "2"  # PostgreSQL 15's default, untouched
        assert [o.description for o in _each(own, [seen, seen])] == ["2 on"] * 2
    finally:
        wh.dispose()
        own.dispose()


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
    """`PostgresDialect.read_arrow` reads a result COPY cannot type (here: a UUID column) `READ_CHUNK` rows at a time
    (Python holds one chunk's objects); a column empty in the first chunks, or integers with a gap in a later one,
    read as the whole result read at once."""
    import pandas as pd
    import pyarrow as pa
    import sqlalchemy as sa

    from warehouse.dialects import READ_CHUNK

    n = READ_CHUNK * 2 + 7
    sql = ("SELECT i, CASE WHEN i > :late THEN 'x' || i END AS late_text, "
           "CASE WHEN i > :gap AND i % 2 = 0 THEN NULL ELSE i END AS gap_int, "
           "CAST(i AS NUMERIC) / 4 AS quarter, CAST(NULL AS uuid) AS other FROM generate_series(1, :n) i ORDER BY i")
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


@pytest.mark.postgres
def test_a_result_of_types_copy_reads_is_read_by_copy_with_the_cursor_s_values(pg_url: str) -> None:
    """A query whose every column COPY reads (`warehouse.postgres_copy`) is read so: the values the cursor gives, in
    more than one block of rows; integers with a gap stay integers (as DuckDB reads them; through the cursor they
    become floats) and timestamps are in microseconds. Its parameters become literals (quotes, `%`), a last `--`
    comment is ended, an empty result has the cursor's columns, and a command (`INSERT … RETURNING`) keeps the
    cursor."""
    import pyarrow as pa

    from warehouse.dialects import READ_CHUNK

    n = READ_CHUNK + 11
    sql = ("SELECT i, 'x' || i || :tail AS label, CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS gap_int, "
           "CAST(i AS NUMERIC) / 4 AS quarter, DATE '2026-01-01' + i % 365 AS day, i % 2 = 0 AS even, "
           "TIMESTAMP '2026-01-01 00:00:00' + i * INTERVAL '1 second' AS at, CAST(NULL AS TEXT) AS nothing "
           "FROM generate_series(1, :n) i WHERE 'a%' LIKE 'a%' ORDER BY i -- the last line, a comment")
    wh = Warehouse(pg_url)
    try:
        copied = wh.read_arrow(sql, {"tail": "'s 100%", "n": n})
        with_uuid = sql.replace(" FROM generate_series", ", CAST(NULL AS uuid) AS other FROM generate_series")
        cursor = wh.read_arrow(with_uuid, {"tail": "'s 100%", "n": n})
        empty = wh.read_arrow("SELECT i, 'x' AS t FROM generate_series(1, 3) i WHERE i > :n", {"n": 5})
        with wh.begin() as conn:
            conn.exec_driver_sql("CREATE TEMPORARY TABLE w (k INT)")
            written = wh.read_arrow("INSERT INTO w VALUES (7) RETURNING k", conn=conn)
            kept = wh.read_arrow("SELECT k FROM w", conn=conn)
    finally:
        wh.dispose()
    assert copied.num_rows == n and copied.column("label")[0].as_py() == "x1's 100%"
    assert copied.column("gap_int").type == pa.int64() and copied.column("gap_int").null_count == n // 3
    assert cursor.column("gap_int").type == pa.float64()  # (the cursor's path: NaN for the gaps)
    assert copied.column("at").type == pa.timestamp("us") and cursor.column("at").type == pa.timestamp("ns")
    same = ["i", "label", "quarter", "day", "even", "nothing"]
    assert copied.select(same).equals(cursor.select(same))
    gaps = cursor.column("gap_int").to_pylist()
    assert copied.column("gap_int").to_pylist() == [None if v is None else int(v) for v in gaps]
    assert copied.column("at").cast(pa.timestamp("ns")).equals(cursor.column("at"))
    assert empty.num_rows == 0 and empty.column_names == ["i", "t"]
    assert written.column("k").to_pylist() == [7] and kept.column("k").to_pylist() == [7]
