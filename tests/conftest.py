"""Shared fixtures: warehouses on DuckDB and PostgreSQL, and small generated demo sources."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]


def _pg_admin_url() -> str | None:
    url = os.environ.get("HUB_TEST_PG_URL")
    if not url:
        if os.environ.get("HUB_REQUIRE_PG"):
            pytest.fail("HUB_TEST_PG_URL is not set but HUB_REQUIRE_PG is: `make test` starts PostgreSQL")
        pytest.skip("PostgreSQL tests need HUB_TEST_PG_URL (set by `make test`)")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the test server; dropped afterwards."""
    admin = _pg_admin_url()
    assert admin
    name = f"hub_t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with engine.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded DuckDB file and on the PostgreSQL server."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'w.duckdb'}"
    return request.getfixturevalue("pg_url")


DEMO_CONFIG = (REPO / "demo" / "hub.yaml").read_text(encoding="utf-8")


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    """A small generated demo (150 companies) with the demo's own config; returns the config path."""
    from demo.generate import generate, write_demo

    write_demo(tmp_path / "data", generate(n_entities=150, seed=11))
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(DEMO_CONFIG.replace("duckdb:///../warehouse/demo.duckdb", "duckdb:///w.duckdb"),
                   encoding="utf-8")
    return cfg
