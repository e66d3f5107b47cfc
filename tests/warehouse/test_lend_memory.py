"""`Warehouse.lend_memory`: DuckDB's buffer pool shrinks for the block and comes back; an error inside the block
is the error raised (not the refused restore of an aborted transaction), and the pool still comes back."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from warehouse.engine import Warehouse


def limit(conn: sa.engine.Connection) -> str:
    return str(conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar())


def test_the_pool_is_lent_and_given_back_and_an_error_inside_is_the_one_raised(tmp_path: Path) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with wh.begin() as conn:
        before = limit(conn)
        with wh.lend_memory(conn, "300MB"):
            assert limit(conn) != before and limit(conn).startswith("286")  # 300 MB in DuckDB's MiB
        assert limit(conn) == before
    with pytest.raises(sa.exc.ProgrammingError) as e, wh.begin() as conn, wh.lend_memory(conn, "300MB"):
        conn.exec_driver_sql("SELECT * FROM no_such_table")  # aborts the transaction
    assert isinstance(e.value.orig, duckdb.CatalogException) and "no_such_table" in str(e.value)
    with wh.begin() as conn:
        assert limit(conn) == before  # the pooled connection got its limit back
    wh.dispose()


def test_the_pool_can_be_given_back_before_the_block_ends(tmp_path: Path) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}", {"memory_limit": "700MB"})
    with wh.begin() as conn, wh.lend_memory(conn, "300MB") as give_back:
        assert limit(conn).startswith("286")
        give_back()
        assert limit(conn).startswith("667")  # 700 MB as DuckDB shows it
        give_back()  # (twice: nothing more)
    with wh.begin() as conn:
        assert limit(conn).startswith("667")
    wh.dispose()


def test_an_error_under_an_arrow_relation_is_the_one_raised(tmp_path: Path) -> None:
    import pyarrow as pa

    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with pytest.raises(sa.exc.ProgrammingError) as e, wh.begin() as conn, \
            wh.dialect.arrow_relation(conn, "_t", pa.table({"a": [1, 2]})) as t:
        assert conn.exec_driver_sql(f"SELECT sum(a) FROM {t}").scalar() == 3
        conn.exec_driver_sql("SELECT * FROM no_such_table")
    assert "no_such_table" in str(e.value)
    wh.dispose()
