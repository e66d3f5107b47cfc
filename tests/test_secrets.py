"""A known secret never reaches logs, errors, the warehouse, `hub config show` or Dagster's event log."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.fakes import wecom as fake
from connectors.fakes.base import sample_universe
from warehouse.engine import Warehouse

REPO = Path(__file__).resolve().parents[1]
PG_PASSWORD = "pg-Secret-Password-991"

CONFIG = """
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  wecom:
    connector: wecom
    config: {corp_id: "${WECOM_CORP_ID}", secret: "${WECOM_SECRET}", base_url: "${WECOM_BASE_URL}",
             max_retries: 1, backoff_factor: 0.01}
    streams:
      external_contacts:
        entity: customer
        mapping: {name: [external_contact.corp_full_name, external_contact.corp_name],
                  phone: "follow_info.remark_mobiles[0]", contact_name: external_contact.name, owner: follow_userid}
  wecom_wrong:
    connector: wecom
    config: {corp_id: "${WECOM_CORP_ID}", secret: "${WRONG_SECRET}", base_url: "${WECOM_BASE_URL}",
             max_retries: 1, backoff_factor: 0.01}
    streams:
      users: {entity: sales_rep, mapping: {rep_key: userid, name: name}}
  crm_pg:
    connector: sql
    config: {url: "postgresql+psycopg://crm:${PG_PASSWORD}@127.0.0.1:9/crm"}
    streams:
      customers: {table: t_customer, primary_key: id, entity: customer, mapping: {name: name}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[fake.WeComFake]:
    universe, reps = sample_universe(n_entities=60, n_reps=8, seed=5)
    with fake.WeComFake(fake.build_dataset(universe, reps, seed=5)) as srv:
        yield srv


def _env(server: fake.WeComFake) -> dict[str, str]:
    return {**os.environ, "WECOM_CORP_ID": fake.DEFAULT_CORP_ID, "WECOM_SECRET": fake.CONTACT_SECRET,
            "WRONG_SECRET": "wrong-secret-value-123", "WECOM_BASE_URL": server.url, "PG_PASSWORD": PG_PASSWORD}


SECRETS = (fake.CONTACT_SECRET, "wrong-secret-value-123", PG_PASSWORD)


def _assert_clean(text: str, where: str) -> None:
    for s in SECRETS:
        assert s not in text, f"secret {s[:4]}… found in {where}"


def test_secrets_stay_out_of_output_errors_warehouse_and_config_show(server: fake.WeComFake, tmp_path: Path) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    hub = [sys.executable, "-m", "hub.cli"]
    env = _env(server)
    run = subprocess.run([*hub, "-v", "run", "-c", str(cfg)], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=300)
    output = run.stdout + run.stderr
    # The run did real work and real failures: the good source landed, the others failed with their messages.
    assert "wecom " in output and "succeeded" in output
    assert "wecom_wrong" in output and "invalid credential" in output.lower()
    assert "crm_pg" in output and "FAILED" in output.upper()
    _assert_clean(output, "the debug output of hub run")
    shown = subprocess.run([*hub, "config", "show", "-c", str(cfg)], capture_output=True, text=True, env=env,
                           cwd=REPO, timeout=60)
    assert shown.returncode == 0 and "crm:****@" in shown.stdout
    _assert_clean(shown.stdout + shown.stderr, "hub config show")
    checked = subprocess.run([*hub, "connectors", "check", "-c", str(cfg)], capture_output=True, text=True, env=env,
                             cwd=REPO, timeout=120)
    _assert_clean(checked.stdout + checked.stderr, "hub connectors check")
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    tables = wh.read_frame("SELECT table_schema, table_name FROM information_schema.tables "
                           "WHERE table_schema IN ('raw', 'staging', 'mdm', 'marts')")
    assert len(tables) > 10
    for schema, table in tables.itertuples(index=False):
        dump = wh.read_frame(f'SELECT * FROM "{schema}"."{table}"').to_csv(index=False)
        _assert_clean(dump, f"{schema}.{table}")
    wh.dispose()


def test_secrets_stay_out_of_dagster_events(server: fake.WeComFake, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster as dg

    from dagster_project.definitions import build_definitions

    cfg = tmp_path / "hub.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    for k, v in _env(server).items():
        monkeypatch.setenv(k, v)
    defs = build_definitions(cfg)
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        job.execute_in_process(instance=instance, raise_on_error=False,
                               asset_selection=[dg.AssetKey(["raw", "wecom", "external_contacts"]),
                                                dg.AssetKey(["raw", "crm_pg", "customers"])])
        text = "\n".join(str(e) for run in instance.get_runs() for e in instance.all_logs(run.run_id))
    assert "sync" in text  # the log was read
    _assert_clean(text, "Dagster's event log")
