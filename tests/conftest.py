"""Shared fixtures: warehouses on DuckDB and PostgreSQL, and small generated demo sources."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]

# Property tests draw the same examples on every run ("no luck": a red build names a change, not a seed);
# HUB_HYPOTHESIS=explore draws fresh ones to hunt for new failures, to be pinned with @example when found.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HUB_HYPOTHESIS", "repeatable"))


def _pg_admin_url() -> str | None:
    url = os.environ.get("HUB_TEST_PG_URL")
    if not url:
        if os.environ.get("HUB_REQUIRE_PG"):
            pytest.fail("HUB_TEST_PG_URL is not set but HUB_REQUIRE_PG is: `make test` starts PostgreSQL")
        pytest.skip("PostgreSQL tests need HUB_TEST_PG_URL (set by `make test`)")
    return url


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh, empty database on the MariaDB test server (`scripts/mariadb-test-server.sh`); dropped afterwards."""
    admin = os.environ.get("HUB_TEST_MYSQL_URL")
    if not admin:
        why = os.environ.get("HUB_TEST_MYSQL_SKIP") or "MariaDB tests need HUB_TEST_MYSQL_URL (set by `make test`)"
        if os.environ.get("HUB_REQUIRE_MYSQL"):
            pytest.fail(why)
        pytest.skip(why)
    name = f"hub_t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin)
    with engine.begin() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"
    finally:
        with engine.begin() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the test server; dropped afterwards."""
    with _fresh_pg_database() as url:
        yield url


@contextmanager
def _fresh_pg_database(template: str | None = None) -> Iterator[str]:
    """A new database on the test server, empty or a copy of the database at URL `template` (whose sessions
    are ended first: PostgreSQL copies a database nobody is connected to); dropped afterwards."""
    admin = _pg_admin_url()
    assert admin
    name = f"hub_t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        if template is None:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        else:
            source = template.rsplit("/", 1)[1]
            c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": source})
            c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
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


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_warehouse_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like `warehouse_url`, one per test module: for tests that only read what one fixture built."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path_factory.mktemp('warehouse') / 'w.duckdb'}"
    else:
        with _fresh_pg_database() as url:
            yield url


API_CONNECTORS = ("wecom", "dingtalk", "fxiaoke", "kingdee")


def legacy_sources_only(config_text: str) -> str:
    """A hub config without its API sources (those need the fake servers; see test_demo_api_sources.py)."""
    import yaml

    from core.config_file import keep_sources

    data = keep_sources(yaml.safe_load(config_text), lambda _, s: s["connector"] not in API_CONNECTORS)
    data.pop("console", None)  # (the tests that need a console write their own)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


DEMO_CONFIG = legacy_sources_only((REPO / "demo" / "hub.yaml").read_text(encoding="utf-8"))


def make_demo_project(root: Path) -> Path:
    """A small generated demo (150 companies) in `root` with the demo's own config, legacy sources only; returns
    the config's path."""
    from demo.generate import generate, write_demo
    from demo.targets import write_reference

    write_demo(root / "data", generate(n_entities=150, seed=11))
    write_reference(root / "data", n_entities=150, seed=11)
    cfg = root / "hub.yaml"
    cfg.write_text(DEMO_CONFIG.replace("duckdb:///../warehouse/demo.duckdb", "duckdb:///w.duckdb"),
                   encoding="utf-8")
    return cfg


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    """A small generated demo (150 companies) with the demo's own config, legacy sources only; returns its path."""
    return make_demo_project(tmp_path)


@pytest.fixture(scope="session")
def demo_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`demo_project` after one `run_all` on DuckDB (its warehouse `w.duckdb` beside the config), once per test
    process; returns the config's path. Tests change a copy: `demo_run`."""
    from core.config_file import load_config
    from pipelines.run import run_all
    from warehouse.engine import Warehouse

    cfg_path = make_demo_project(tmp_path_factory.mktemp("demo_built"))
    url = f"duckdb:///{cfg_path.parent / 'w.duckdb'}"
    wh = Warehouse(url)
    first = run_all(load_config(cfg_path, warehouse_url=url), wh)
    wh.dispose()
    assert first.match is not None and not first.match.incremental  # a first run: every record matched
    return cfg_path


@pytest.fixture
def demo_run(demo_built: Path, tmp_path: Path) -> Path:
    """A copy of `demo_built` in `tmp_path` (sources, config and the warehouse `tmp_path / "w.duckdb"`) for one
    test to change; returns the config's path."""
    import shutil

    shutil.copytree(demo_built.parent, tmp_path, dirs_exist_ok=True)
    return tmp_path / demo_built.name


# --- stewardship: one matched warehouse per test process, copied per test ---------------------------------

STEWARD_CONFIG = """\
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  crm_a:
    connector: sql
    config: {url: "sqlite:///data/crm_a.sqlite"}
    streams:
      customers:
        table: t_customer
        primary_key: cust_id
        cursor_field: updated_at
        entity: customer
        mapping: {name: cust_name, uscc: tax_code, phone: tel, address: address, contact_name: contact_name,
                  owner: owner, created_at: created_at, updated_at: updated_at}
  crm_b:
    connector: file
    config: {path: data/crm_b_export.csv, format: csv, encoding: gbk}
    streams:
      customers:
        primary_key: 客户编号
        entity: customer
        mapping: {name: 客户名称, uscc: 统一社会信用代码, phone: 联系电话, address: 详细地址, contact_name: 联系人,
                  owner: 所属销售, updated_at: 最后修改时间}
  erp:
    connector: sql
    config: {url: "sqlite:///data/erp.sqlite"}
    streams:
      customers:
        table: T_BD_CUSTOMER
        primary_key: FCUSTID
        cursor_field: FMODIFYDATE
        entity: customer
        mapping: {name: FNAME, short_name: FSHORTNAME, uscc: FTAXREGISTERCODE, address: FADDRESS, phone: FTEL,
                  customer_number: FNUMBER, updated_at: FMODIFYDATE}
      sales_orders:
        table: T_SAL_ORDER
        primary_key: FID
        entity: sales_order
        mapping: {order_number: FBILLNO, customer_key: FCUSTID, order_date: FDATE, rep_key: FSALERID,
                  amount: FAMOUNT, status: FSTATUS}
mdm:
  customer:
    source_priority: [erp, crm_a, crm_b]
"""


@pytest.fixture(scope="session")
def matched_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The legacy demo sources (1,000 companies) run once per test process: (config, DuckDB file)."""
    from core.config_file import load_config
    from demo.generate import generate, write_demo
    from pipelines.run import run_all
    from warehouse.engine import Warehouse

    root = tmp_path_factory.mktemp("matched")
    write_demo(root / "data", generate(n_entities=1000, seed=5))  # 20 review items of every kind
    cfg_path = root / "hub.yaml"
    cfg_path.write_text(STEWARD_CONFIG, encoding="utf-8")
    cfg = load_config(cfg_path)
    wh = Warehouse(cfg.warehouse.url)
    run_all(cfg, wh)
    wh.dispose()
    return cfg_path, root / "w.duckdb"


@pytest.fixture
def steward_project(matched_demo: tuple[Path, Path], tmp_path: Path) -> Path:
    """A config file in `tmp_path` (sources shared, read-only) whose warehouse is a fresh copy of the
    matched one; returns the config path."""
    import shutil

    cfg_src, db = matched_demo
    shutil.copy(db, tmp_path / "w.duckdb")
    text = STEWARD_CONFIG.replace("data/", f"{cfg_src.parent / 'data'}/")
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


# --- another `hub run` in progress --------------------------------------------------------------------------

_HOLD = """
import sys, time
from warehouse.engine import Warehouse
from warehouse.lock import run_lock
with run_lock(Warehouse(sys.argv[1]), "hub run"):
    print("locked", flush=True)
    time.sleep(300)
"""


@pytest.fixture
def hold_run_lock(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """`hold_run_lock(url)`: another process takes the warehouse's run lock as `hub run` does while it runs,
    and holds it until the test ends (or until it is killed); returns that process."""
    procs: list[subprocess.Popen[str]] = []
    script = tmp_path / "hold_run_lock.py"
    script.write_text(_HOLD, encoding="utf-8")

    def hold(url: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, text=True, cwd=REPO)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


# --- order: the longest modules first -------------------------------------------------------------------------

# `make test` runs a module's tests on one worker (--dist loadscope) and hands out modules in collection order
# (--no-loadscope-reorder): the longest ones go first, so that the two workers end together instead of one
# starting the Spark module (minutes of set-up) while the other has run out of work. Measured with --durations;
# a module not listed keeps its place after these.
LONGEST_FIRST = (
    "tests/pipelines/test_spark_engine.py",
    "tests/pipelines/test_deletes.py",
    "tests/pipelines/test_incremental_warehouse.py",
    "tests/pipelines/test_incremental_match.py",
    "tests/dagster_project/test_definitions.py",  # (~2.5 min: five materializations of the demo's graph)
    "tests/pipelines/test_mart_refresh.py",
    "tests/pipelines/test_mart_digests.py",
    "tests/bench/test_chaos.py",
    "tests/hub/test_cli_run.py",
    "tests/pipelines/test_demo_api_sources.py",
    "tests/mdm/test_standardize_properties.py",
    "tests/hub/test_dashboards.py",
    "tests/pipelines/test_steward_pipeline.py",
    "tests/hub/test_console_work_browser.py",
    "tests/pipelines/test_history.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: modules stay whole


# --- Spark: one local SparkSession for the whole test session ------------------------------------------------


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """Spark in local mode (2 cores, 1 GB, a few shuffle partitions, no UI), started once per test session."""
    pytest.importorskip("pyspark")
    from warehouse.spark.session import spark_session

    session = spark_session("local[2]", {"spark.driver.memory": "1g", "spark.sql.shuffle.partitions": 2})
    yield session
    session.stop()
