"""Console fixtures: a matched warehouse (see tests/conftest.py) with console users, a secret and a token."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from core.config_file import load_config
from hub.console import create_app
from hub.users import hash_password

PASSWORDS = {"vic": "viewer-pass-1", "alice": "steward-pass-1", "root": "admin-pass-01"}
ROLE_OF = {"vic": "viewer", "alice": "steward", "root": "admin"}
API_TOKEN = "test-api-token-0123456789"


@pytest.fixture(scope="session")
def user_hashes() -> dict[str, str]:
    return {name: hash_password(pw) for name, pw in PASSWORDS.items()}


@pytest.fixture
def console_project(steward_project: Path, user_hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """`steward_project` plus a console section: three users, a secret key and an API token from the environment."""
    monkeypatch.setenv("HUB_TEST_SECRET", "s3cret-key-for-the-tests-only")
    monkeypatch.setenv("HUB_TEST_TOKEN", API_TOKEN)
    users = "\n".join(f'    - {{name: {n}, role: {ROLE_OF[n]}, password_hash: "{h}"}}' for n, h in user_hashes.items())
    with steward_project.open("a", encoding="utf-8") as f:
        f.write(f"console:\n  users:\n{users}\n  secret_key: ${{HUB_TEST_SECRET}}\n"
                f"  api_tokens: [\"${{HUB_TEST_TOKEN}}\"]\n  session_ttl_minutes: 30\n")
    return steward_project



@pytest.fixture
def passwords() -> dict[str, str]:
    """The console users' passwords (viewer `vic`, steward `alice`, admin `root`)."""
    return dict(PASSWORDS)


@pytest.fixture
def api_token() -> str:
    return API_TOKEN


# --- the console in a real browser --------------------------------------------------------------------------

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium() -> str:
    """Debian's chromium (HUB_CHROMIUM names another); skipped when missing, unless HUB_REQUIRE_BROWSER=1
    (`make test` sets it and installs the package when it can)."""
    exe = os.environ.get("HUB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe and Path(exe).exists():
        return exe
    if os.environ.get("HUB_REQUIRE_BROWSER") == "1":
        pytest.fail("HUB_REQUIRE_BROWSER=1 but no chromium found (apt-get install chromium, or set HUB_CHROMIUM)")
    pytest.skip("browser tests need Debian's chromium (or HUB_CHROMIUM)")


@pytest.fixture
def server(console_project: Path) -> Iterator[str]:
    """The console on 127.0.0.1 and a free port, in a thread; yields its base URL."""
    yield from _serve(console_project)


def _serve(cfg_path: Path) -> Iterator[str]:
    app = create_app(load_config(cfg_path))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the console did not start"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright (never a downloaded browser: Debian's package)."""
    exe = _chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # a steward action on a loaded 2-core machine can take seconds

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# --- the dashboards: a warehouse with marts and two runs of MDM health history ------------------------------

@pytest.fixture(scope="session")
def dashboard_demo(tmp_path_factory: pytest.TempPathFactory, user_hashes: dict[str, str]) -> Path:
    """The demo's legacy sources and reference files (150 companies, targets, channel costs) run, two golden
    customers merged by a steward, run again: marts and two runs of `mdm.run_metrics`. Returns the project folder
    (hub.yaml, data/, w.duckdb) with the three console users; built once per test process."""
    from click.testing import CliRunner

    from demo.generate import generate, write_demo
    from demo.targets import write_reference
    from hub.cli import main
    from pipelines.steward import actions
    from tests.conftest import DEMO_CONFIG
    from warehouse.engine import Warehouse

    root = tmp_path_factory.mktemp("dashboards")
    write_demo(root / "data", generate(n_entities=150, seed=11))
    write_reference(root / "data", n_entities=150, seed=11)
    users = "\n".join(f'    - {{name: {n}, role: {ROLE_OF[n]}, password_hash: "{h}"}}' for n, h in user_hashes.items())
    cfg_path = root / "hub.yaml"
    cfg_path.write_text(DEMO_CONFIG.replace("duckdb:///../warehouse/demo.duckdb", "duckdb:///w.duckdb")
                        + f"console:\n  users:\n{users}\n  secret_key: dashboards-test-secret-key\n",
                        encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(main, ["run", "-c", str(cfg_path)])
    assert first.exit_code == 0, first.output
    cfg = load_config(cfg_path)
    wh = Warehouse(cfg.warehouse.url)
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id ORDER BY count(*) DESC, golden_id LIMIT 2")
    actions.merge(cfg, wh, g["golden_id"].iloc[0], g["golden_id"].iloc[1], "alice")
    wh.dispose()
    second = runner.invoke(main, ["run", "-c", str(cfg_path)])
    assert second.exit_code == 0, second.output
    return root


@pytest.fixture
def dashboard_project(dashboard_demo: Path, tmp_path: Path) -> Path:
    """A copy of `dashboard_demo` in `tmp_path` (logins write to its warehouse); returns its hub.yaml."""
    shutil.copytree(dashboard_demo, tmp_path / "p")
    return tmp_path / "p" / "hub.yaml"


@pytest.fixture(scope="session")
def forecast_demo(dashboard_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dashboard_demo` with a pipeline forecast: the demo's legacy sources have no opportunities, so the prediction
    layer runs on generated deals (`demo.deals`, 1,200 opportunities with their leads, orders and payments, as the
    predict tests load them) in a warehouse of its own, and its `marts.pipeline_forecast` is copied over."""
    import duckdb
    import pandas as pd

    from core.config import HubConfig, PredictConfig
    from demo.deals import generated_inputs
    from pipelines.predict import run_predictions
    from tests.predict.test_predict_marts import load_marts
    from warehouse.engine import Warehouse

    root = tmp_path_factory.mktemp("forecast")
    shutil.copytree(dashboard_demo, root / "p")
    wh = Warehouse(f"duckdb:///{root / 'predicted.duckdb'}")
    load_marts(wh, generated_inputs(1200, seed=5))
    run_predictions(wh, HubConfig(predict=PredictConfig(min_leads=200, min_converted=30)),
                    now=pd.Timestamp("2026-10-01 08:00"), simulations=200)
    wh.dispose()
    con = duckdb.connect(str(root / "p" / "w.duckdb"))
    con.execute(f"ATTACH '{root / 'predicted.duckdb'}' AS predicted (READ_ONLY)")
    con.execute("CREATE OR REPLACE TABLE marts.pipeline_forecast AS SELECT * FROM predicted.marts.pipeline_forecast")
    con.close()
    return root / "p"


@pytest.fixture
def forecast_project(forecast_demo: Path, tmp_path: Path) -> Path:
    shutil.copytree(forecast_demo, tmp_path / "p")
    return tmp_path / "p" / "hub.yaml"


@pytest.fixture
def forecast_server(forecast_project: Path) -> Iterator[str]:
    yield from _serve(forecast_project)


@pytest.fixture
def dashboard_server(dashboard_project: Path) -> Iterator[str]:
    """The console of `dashboard_project` on 127.0.0.1 and a free port; yields its base URL."""
    yield from _serve(dashboard_project)
