"""The hub's PostgreSQL sessions run without JIT (`warehouse.engine.POSTGRES_OPTIONS`), unless the warehouse URL
sets its own `options`."""

from __future__ import annotations

import pytest

from warehouse.engine import Warehouse

pytestmark = pytest.mark.postgres


def setting(wh: Warehouse, name: str) -> str:
    with wh.begin() as conn:
        return str(conn.exec_driver_sql(f"SHOW {name}").scalar())


def test_the_hub_s_sessions_run_without_jit(pg_url: str) -> None:
    wh = Warehouse(pg_url)
    try:
        assert setting(wh, "jit") == "off"
    finally:
        wh.dispose()


def test_a_url_with_its_own_options_keeps_the_server_s_jit(pg_url: str) -> None:
    server = Warehouse(pg_url + "?options=-c%20work_mem%3D8MB")
    try:
        assert setting(server, "work_mem") == "8MB"  # the URL's options reach the server
        assert setting(server, "jit") == "on"  # PostgreSQL 15's default, untouched
    finally:
        server.dispose()
