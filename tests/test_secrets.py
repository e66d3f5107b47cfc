"""A known secret never reaches logs, errors, the warehouse, `hub config show` or Dagster's event log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.fakes import wecom as fake
from connectors.fakes.sample import sample_universe
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
    run = subprocess.run([*hub, "-vv", "run", "-c", str(cfg)], capture_output=True, text=True, env=env, cwd=REPO,
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


# --- the one registry: core.secrets, shared with the airbyte-cdk's list by connectors.cdk_secrets ---------------


def test_the_registry_masks_longest_first_and_ignores_values_too_short_or_not_text() -> None:
    from core import secrets

    secrets.register(["reg-Alpha-7731", "reg-Alpha-7731-long", "abc", None, True, 48213957])
    assert secrets.mask("x reg-Alpha-7731-long y reg-Alpha-7731 z") == "x **** y **** z"  # not "****-long"
    assert secrets.mask("abc True 48213957") == "abc True ****"  # 3 characters and booleans are not secrets
    assert {"reg-Alpha-7731", "reg-Alpha-7731-long", "48213957"} <= set(secrets.registered())
    # Secret-looking query parameters are masked whether registered or not; other parameters stay.
    assert (secrets.mask("GET /gettoken?corpid=ww1&corpsecret=unknown-1&access_token=t0k3n&page=2")
            == "GET /gettoken?corpid=ww1&corpsecret=****&access_token=****&page=2")
    # Given values: exactly those are masked, whatever their length (a config's problems, its `config show`).
    assert secrets.mask("ab reg-Alpha-7731 cd", values={"ab", ""}) == "**** reg-Alpha-7731 cd"


def test_a_subscriber_hears_every_value_registered_before_and_after_once() -> None:
    from core import secrets

    heard: list[list[str]] = []
    secrets.register(["sub-Before-5512"])
    secrets.subscribe(heard.append)
    assert "sub-Before-5512" in heard[0]
    secrets.register(["sub-After-5512", "sub-Before-5512"])
    assert heard[1:] == [["sub-After-5512"]]  # only what is new, and one listener hears it once
    secrets.subscribe(heard.append)  # subscribing again replays the registry, it adds no second listener
    assert {"sub-Before-5512", "sub-After-5512"} <= set(heard[2])
    secrets.register(["sub-Later-5512"])
    assert heard[3:] == [["sub-Later-5512"]]


def test_the_cdk_masks_the_hubs_secrets_once_a_source_is_built_even_after_its_entrypoint_reset_them(
        server: fake.WeComFake, tmp_path: Path) -> None:
    from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets, update_secrets

    from connectors.registry import create_source
    from core import secrets
    from core.config_file import load_config

    cfg = tmp_path / "hub.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    load_config(cfg, env={**_env(server), "WRONG_SECRET": "cdk-Wrong-Secret-8841", "PG_PASSWORD": "cdk-Pg-Pass-8841"})
    create_source("sql", {"url": "sqlite:///:memory:"})
    assert filter_secrets(f"a {fake.CONTACT_SECRET} b cdk-Pg-Pass-8841") == "a **** b ****"
    secrets.register(["cdk-Session-Token-8841"])  # registered later (a token obtained mid-sync): shared at once
    assert filter_secrets("cdk-Session-Token-8841") == "****"
    update_secrets([])  # what the CDK's entrypoint does on every run: its list is replaced
    config = {"corp_id": fake.DEFAULT_CORP_ID, "secret": fake.CONTACT_SECRET, "base_url": server.url}
    source = create_source("wecom", config)
    assert filter_secrets("cdk-Session-Token-8841 cdk-Pg-Pass-8841") == "**** ****"
    update_secrets([])
    assert source.check(logging.getLogger("test"), config).status.value == "SUCCEEDED"
    tokens = list(server.tokens._tokens)  # the access tokens the fake issued to the check's login
    assert tokens and {filter_secrets(t) for t in tokens} == {"****"}
    assert filter_secrets(f"cdk-Session-Token-8841 {fake.CONTACT_SECRET}") == "**** ****"


def test_a_config_error_quoting_a_secret_masks_it(tmp_path: Path) -> None:
    from core.config import ConfigError
    from core.config_file import load_config

    cfg = tmp_path / "hub.yaml"
    cfg.write_text('warehouse: {url: "duckdb:///w.duckdb"}\ntimezone: "${TZ_SECRET}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as failed:
        load_config(cfg, env={"TZ_SECRET": "zone-Secret-4417"})
    assert "timezone" in str(failed.value) and "****" in str(failed.value)
    assert "zone-Secret-4417" not in str(failed.value)
