"""The configuration loader: shapes that load, and every error message users will see."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from core.config import ConfigError
from core.config_file import load_config
from hub.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED_B2B = REPO.parent / "shared" / "data" / "b2b_dev" / "hub.yaml"


def write(tmp_path: Path, text: str, name: str = "hub.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


MINIMAL = """
warehouse: {url: "duckdb:///wh/hub.duckdb"}
sources:
  crm_a:
    connector: sql
    config: {url: "sqlite:///data/crm.sqlite"}
    streams:
      customers:
        table: t_customer
        primary_key: cust_id
        entity: customer
        mapping: {name: cust_name, uscc: tax_code}
"""


def test_given_relative_urls_when_loaded_then_they_resolve_against_the_config_folder(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL), env={})
    assert cfg.warehouse.url == f"duckdb:///{tmp_path.resolve() / 'wh' / 'hub.duckdb'}"
    assert cfg.sources["crm_a"].config["url"] == f"sqlite:///{tmp_path.resolve() / 'data' / 'crm.sqlite'}"


def test_given_absolute_and_memory_urls_when_loaded_then_they_are_kept(tmp_path: Path) -> None:
    text = MINIMAL.replace("duckdb:///wh/hub.duckdb", "duckdb:///:memory:").replace(
        "sqlite:///data/crm.sqlite", "sqlite:////srv/crm.sqlite")
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.warehouse.url == "duckdb:///:memory:"
    assert cfg.sources["crm_a"].config["url"] == "sqlite:////srv/crm.sqlite"


def test_given_a_file_source_when_loaded_then_its_path_resolves(tmp_path: Path) -> None:
    text = """
sources:
  crm_b:
    connector: file
    config: {path: exports/*.csv, encoding: gbk}
    streams:
      customers: {primary_key: 客户编号, entity: customer, mapping: {name: 客户名称}}
"""
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.sources["crm_b"].config["path"] == str(tmp_path.resolve() / "exports" / "*.csv")
    assert cfg.sources["crm_b"].streams["customers"].mapping == {"name": "客户名称"}


def test_given_env_variables_when_loaded_then_they_are_substituted_and_remembered_as_secrets(tmp_path: Path) -> None:
    text = MINIMAL.replace("sqlite:///data/crm.sqlite", "postgresql+psycopg://crm:${CRM_PW}@db/crm")
    cfg = load_config(write(tmp_path, text), env={"CRM_PW": "s3cr3t-pw"})
    assert cfg.sources["crm_a"].config["url"] == "postgresql+psycopg://crm:s3cr3t-pw@db/crm"
    assert "s3cr3t-pw" in cfg.secret_values
    shown = yaml.safe_dump(cfg.redacted(), allow_unicode=True)
    assert "s3cr3t-pw" not in shown and "****" in shown


def test_given_a_missing_env_variable_when_loaded_then_the_error_names_it_and_the_path(tmp_path: Path) -> None:
    text = MINIMAL.replace("sqlite:///data/crm.sqlite", "${CRM_URL}")
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    msg = str(e.value)
    assert "environment variable CRM_URL is not set" in msg
    assert "sources.crm_a.config.url" in msg
    assert "hub.yaml:6" in msg  # the line of the key


def test_given_a_default_when_the_variable_is_missing_then_the_default_is_used(tmp_path: Path) -> None:
    text = MINIMAL.replace("duckdb:///wh/hub.duckdb", "${WH:-duckdb:///:memory:}")
    assert load_config(write(tmp_path, text), env={}).warehouse.url == "duckdb:///:memory:"


def test_given_a_secret_file_when_loaded_then_its_content_is_used(tmp_path: Path) -> None:
    (tmp_path / "pw.txt").write_text("file-secret-123\n", encoding="utf-8")
    text = MINIMAL.replace("sqlite:///data/crm.sqlite", "postgresql+psycopg://u:${file:pw.txt}@h/d")
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.sources["crm_a"].config["url"] == "postgresql+psycopg://u:file-secret-123@h/d"
    assert "file-secret-123" in cfg.secret_values


def test_given_an_unknown_key_when_loaded_then_it_is_an_error_not_ignored(tmp_path: Path) -> None:
    text = MINIMAL.replace("primary_key: cust_id", "primary_key: cust_id\n        primry_key: x")
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    assert "sources.crm_a.streams.customers.primry_key: unknown key" in str(e.value)
    assert "did you mean 'primary_key'?" in str(e.value)  # the keys allowed there, the closest named


@pytest.mark.parametrize(("typo", "where", "meant"), [
    ("warehouse: {url: x, memry_limit: 1GB}", "warehouse.memry_limit", "memory_limit"),
    ("mdm: {customer: {thresholds: {mach: 0.9}}}", "mdm.customer.thresholds.mach", "match"),
    ("sources: {crm_a: {connector: sql, config: {}, streams: {c: {entity: customer, cursor_feild: u}}}}",
     "sources.crm_a.streams.c.cursor_feild", "cursor_field")])
def test_an_unknown_key_names_the_closest_allowed_one(tmp_path: Path, typo: str, where: str, meant: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, typo), env={})
    assert f"{where}: unknown key (not allowed here; check the spelling: did you mean {meant!r}?)" in str(e.value)


@pytest.mark.parametrize(("setting", "message"), [
    ("format: csvv", "sources.f: config.format: Input should be 'csv', 'xlsx' or 'jsonl'"),
    ("encoding: gbkk", "sources.f: config.encoding: unknown encoding 'gbkk'"),
    ("order: newest", "sources.f: config.order: Input should be 'name' or 'mtime'"),
])
def test_a_file_sources_settings_are_checked_as_its_streams_are(tmp_path: Path, setting: str, message: str) -> None:
    """A file source's `config` holds its streams' defaults: a bad one is a config error, not a CSV read as JSON
    Lines (every row quarantined) or a stream failing at the first sync."""
    text = f"sources:\n  f:\n    connector: file\n    config: {{path: a.csv, {setting}}}\n" \
           "    streams: {customers: {primary_key: id}}\n"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, text), env={})
    with pytest.raises(ConfigError, match="unknown encoding 'gbkk'"):  # (a stream's own too)
        load_config(write(tmp_path, text.replace(setting, "format: csv").replace(
            "primary_key: id}", "primary_key: id, encoding: gbkk}")), env={})


def test_a_misspelt_source_in_source_priority_is_an_error(tmp_path: Path) -> None:
    """Else survivorship would silently put the source it meant last."""
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, MINIMAL + "mdm: {customer: {source_priority: [crm_aa]}}\n"), env={})
    assert "mdm.customer.source_priority: no source 'crm_aa'; did you mean 'crm_a'?; the sources are: crm_a" in str(
        e.value)
    assert load_config(write(tmp_path, MINIMAL + "mdm: {customer: {source_priority: [crm_a]}}\n"), env={})


def test_given_an_unknown_mapping_field_when_loaded_then_the_error_lists_the_fields(tmp_path: Path) -> None:
    text = MINIMAL.replace("uscc: tax_code", "tax: tax_code")
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    msg = str(e.value)
    assert "sources.crm_a.streams.customers" in msg
    assert "unknown field(s) 'tax' for entity customer" in msg
    assert "uscc" in msg  # what was expected


def test_given_a_mapping_without_a_required_field_then_the_error_names_it(tmp_path: Path) -> None:
    text = MINIMAL.replace("{name: cust_name, uscc: tax_code}", "{uscc: tax_code}")
    with pytest.raises(ConfigError, match="entity customer needs field\\(s\\) name"):
        load_config(write(tmp_path, text), env={})


def test_given_an_unknown_entity_then_the_error_lists_the_entities(tmp_path: Path) -> None:
    text = MINIMAL.replace("entity: customer", "entity: kunde")
    with pytest.raises(ConfigError, match=r"unknown entity 'kunde'; expected one of customer, contact"):
        load_config(write(tmp_path, text), env={})


def test_given_a_sql_stream_with_table_and_query_then_it_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL.replace("table: t_customer", "table: t_customer\n        query: SELECT 1")
    with pytest.raises(ConfigError, match="exactly one of `table` or `query`"):
        load_config(write(tmp_path, text), env={})


def test_given_a_bad_source_name_then_it_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL.replace("crm_a:", "crm-a; drop table x:")
    with pytest.raises(ConfigError, match="source name 'crm-a; drop table x' must be"):
        load_config(write(tmp_path, text), env={})


def test_given_wrong_types_then_the_error_says_what_was_expected(tmp_path: Path) -> None:
    text = MINIMAL + "mdm:\n  customer:\n    thresholds: {match: high}\n"
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    assert "mdm.customer.thresholds.match" in str(e.value)
    assert "'high'" in str(e.value)


def test_given_thresholds_out_of_order_then_it_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL + "mdm:\n  customer:\n    thresholds: {match: 0.5, review: 0.8}\n"
    with pytest.raises(ConfigError, match=r"review \(0.8\) must not exceed match \(0.5\)"):
        load_config(write(tmp_path, text), env={})


def test_given_invalid_yaml_then_the_error_has_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "sources:\n  a: [1, 2\n  b: 3\n"), env={})
    assert "not valid YAML" in str(e.value) and "hub.yaml:" in str(e.value)


def test_given_a_date_that_does_not_exist_then_it_is_a_yaml_error_on_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:  # PyYAML itself raises a bare ValueError here
        load_config(write(tmp_path, MINIMAL + "mdm:\n  customer:\n    since: 0000-0-0T0:00:00\n"), env={})
    line = (MINIMAL + "mdm:\n  customer:\n    since:").count("\n") + 1
    assert "not valid YAML" in str(e.value) and "'0000-0-0T0:00:00' looks like a date" in str(e.value)
    assert f"hub.yaml:{line}" in str(e.value)


def test_given_a_missing_file_then_the_error_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", env={})


def test_given_a_warehouse_override_then_it_wins(tmp_path: Path) -> None:
    p = write(tmp_path, MINIMAL)
    assert load_config(p, env={}, warehouse_url="duckdb:///:memory:").warehouse.url == "duckdb:///:memory:"
    assert load_config(p, env={"HUB_WAREHOUSE_URL": "postgresql+psycopg://h/d"}).warehouse.url == \
        "postgresql+psycopg://h/d"


def test_the_demo_config_loads() -> None:
    cfg = load_config(REPO / "demo" / "hub.yaml", env={})
    assert set(cfg.sources) >= {"crm_a", "crm_b", "erp"}


@pytest.mark.skipif(not SHARED_B2B.exists(), reason="the shared b2b_dev benchmark is not present")
def test_the_b2b_dev_example_loads_unchanged() -> None:
    cfg = load_config(SHARED_B2B, env={})
    assert cfg.sources["crm_b"].config["encoding"] == "gbk"
    assert cfg.sources["erp"].streams["sales_orders"].entity == "sales_order"


def test_cli_validate_reports_ok_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    good = write(tmp_path, MINIMAL)
    r = runner.invoke(main, ["config", "validate", "-c", str(good)])
    assert r.exit_code == 0, r.output
    assert "valid (1 sources, 1 streams)" in r.output
    bad = write(tmp_path, MINIMAL.replace("entity: customer", "entity: kunde"), "bad.yaml")
    r = runner.invoke(main, ["config", "validate", "-c", str(bad)])
    assert r.exit_code == 2
    assert "bad.yaml" in r.output and "unknown entity" in r.output


def test_cli_show_masks_secrets(tmp_path: Path) -> None:
    text = MINIMAL.replace("sqlite:///data/crm.sqlite", "postgresql+psycopg://crm:${CRM_PW}@db/crm")
    p = write(tmp_path, text)
    r = CliRunner().invoke(main, ["config", "show", "-c", str(p)], env={**os.environ, "CRM_PW": "hunter2-xyz"})
    assert r.exit_code == 0, r.output
    assert "hunter2-xyz" not in r.output
    assert "crm:****@db" in r.output


def test_given_a_misspelt_connector_then_validate_names_the_close_one(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["config", "validate", "-c", str(write(tmp_path, MINIMAL.replace(
        "connector: sql", "connector: sqll")))])
    assert r.exit_code == 2, r.output
    assert "sources.crm_a.connector: unknown connector 'sqll'; did you mean 'sql'?" in r.output
    assert "hub.yaml:5" in r.output


def test_given_a_key_twice_in_one_mapping_then_it_is_an_error_with_both_lines(tmp_path: Path) -> None:
    text = MINIMAL.replace("        primary_key: cust_id\n",
                           "        primary_key: cust_id\n        entity: customer\n")
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    msg = str(e.value)
    assert "hub.yaml:12" in msg and "key 'entity' is given twice in one mapping (first on line 11)" in msg
    # flow mappings too
    with pytest.raises(ConfigError, match="key 'uscc' is given twice"):
        load_config(write(tmp_path, MINIMAL.replace("uscc: tax_code", "uscc: tax_code, uscc: TaxNo")), env={})
    # YAML merge keys (<<) stay allowed: an explicit key overrides a merged one
    merged = "x-map: &m {name: cust_name, uscc: tax_code}\n" + MINIMAL.replace(
        "{name: cust_name, uscc: tax_code}", "{<<: *m, uscc: tax_no}")
    from core.config_file import parse_yaml
    assert parse_yaml(merged)["sources"]["crm_a"]["streams"]["customers"]["mapping"] == {
        "name": "cust_name", "uscc": "tax_no"}


def test_given_a_secret_command_then_its_output_is_the_secret_and_is_masked(tmp_path: Path) -> None:
    (tmp_path / "store.py").write_text("import sys\nprint({'crm/password': 'p@ss:w/rd-42'}[sys.argv[1]])\n",
                                       encoding="utf-8")
    py = sys.executable
    text = MINIMAL.replace("sqlite:///data/crm.sqlite", "mysql+pymysql://crm:${cmd:" + py + " store.py crm/password}"
                           "@db/crm")
    cfg = load_config(write(tmp_path, text), env={})  # run in the config file's folder
    # the password percent-encoded in the URL (issue 14 #5), as it is for the driver
    assert cfg.sources["crm_a"].config["url"] == "mysql+pymysql://crm:p%40ss%3Aw%2Frd-42@db/crm"
    assert sa.engine.make_url(cfg.sources["crm_a"].config["url"]).password == "p@ss:w/rd-42"
    assert "p@ss:w/rd-42" in cfg.secret_values
    assert "p@ss:w/rd-42" not in yaml.safe_dump(cfg.redacted(), allow_unicode=True)
    # reading the structure only (Dagster's definitions) does not run it
    assert load_config(write(tmp_path, text), env={}, commands=False).sources["crm_a"].config["url"].startswith(
        "mysql+pymysql://crm:${cmd:")


@pytest.mark.parametrize(("command", "message"), [
    ("no-such-program-xyz --get", "secret command 'no-such-program-xyz' not found"),
    ("{py} store.py 3", "exited with code 3"),
    ("{py} store.py 1 denied: token expired", "exited with code 1: denied: token expired"),
    ("{py} store.py 0", "printed nothing"),
])
def test_given_a_failing_secret_command_then_the_error_says_why_and_where(tmp_path: Path, command: str,
                                                                          message: str) -> None:
    (tmp_path / "store.py").write_text("import sys\nprint(' '.join(sys.argv[2:]), file=sys.stderr)\n"
                                       "sys.exit(int(sys.argv[1]))\n", encoding="utf-8")
    text = MINIMAL.replace("sqlite:///data/crm.sqlite", "${cmd:" + command.format(py=sys.executable) + "}")
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    assert message in str(e.value) and "sources.crm_a.config.url" in str(e.value) and "hub.yaml:6" in str(e.value)


def test_given_no_engine_then_it_is_duckdb_and_a_spark_engine_resolves_its_location(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL), env={}).engine.kind == "duckdb"
    text = MINIMAL + 'engine: {kind: spark, master: "local[2]", location: lake, conf: {spark.executor.memory: 4g}}\n'
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.engine.kind == "spark" and cfg.engine.location == str(tmp_path / "lake")
    assert cfg.engine.conf == {"spark.executor.memory": "4g"}


@pytest.mark.parametrize(("engine", "field", "says"), [
    ("{kind: spark}", "engine", "kind spark needs `location`"),
    ("{kind: spark, location: lake, master: local}", None, None),
    ('{kind: spark, location: lake, master: "mesos://h:5050"}', "engine.master", "unknown Spark master"),
    ("{kind: flink}", "engine.kind", "'duckdb' or 'spark'"),
    ("{kind: spark, location: lake, executors: 4}", "engine.executors", "unknown key"),
])
def test_given_a_bad_engine_then_the_error_names_the_file_and_the_field(tmp_path: Path, engine: str,
                                                                        field: str | None, says: str | None) -> None:
    path = write(tmp_path, MINIMAL + f"engine: {engine}\n")
    if field is None:
        assert load_config(path, env={}).engine.master == "local"
        return
    with pytest.raises(ConfigError) as e:
        load_config(path, env={})
    assert f"{path}:" in str(e.value) and f"{field}: " in str(e.value) and says in str(e.value)


def test_given_run_engine_spark_without_a_location_then_the_cli_says_what_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    result = CliRunner().invoke(main, ["run", "-c", str(path), "--engine", "spark"])
    assert result.exit_code == 2
    assert f"{path}: engine.location: --engine spark needs the lakehouse directory" in result.output


def test_a_variable_holding_a_user_name_or_host_is_not_masked_a_password_is(tmp_path: Path) -> None:
    """A `${VAR}` user name is not a secret: masked, `KINGDEE_USERNAME=demo` garbled every path holding `demo`."""
    text = MINIMAL.replace("sqlite:///data/crm.sqlite", "postgresql+psycopg://${CRM_USER}:${CRM_PW}@${CRM_HOST}/crm")
    text += """  kd:
    connector: kingdee
    config: {base_url: "http://127.0.0.1:1/k3cloud", acct_id: "1", username: "${KINGDEE_USERNAME}",
             password: "${KINGDEE_PASSWORD}"}
"""
    env = {"CRM_USER": "sales", "CRM_PW": "s3cr3t-pw", "CRM_HOST": "dbhost", "KINGDEE_USERNAME": "demo",
           "KINGDEE_PASSWORD": "kd-pass-99"}
    cfg = load_config(write(tmp_path, text), env=env)
    assert cfg.sources["kd"].config["username"] == "demo"
    assert {"s3cr3t-pw", "kd-pass-99"} <= cfg.secret_values
    assert not {"sales", "dbhost", "demo"} & cfg.secret_values
    shown = yaml.safe_dump(cfg.redacted(), allow_unicode=True)
    assert "username: demo" in shown and "sales" in shown and "kd-pass-99" not in shown and "s3cr3t-pw" not in shown
    # a secret word in the variable's name keeps it a secret, whatever key holds it
    cfg = load_config(write(tmp_path, text.replace("${KINGDEE_USERNAME}", "${KINGDEE_TOKEN_USER}")),
                      env={**env, "KINGDEE_TOKEN_USER": "tok-user-1"})
    assert "tok-user-1" in cfg.secret_values


@pytest.mark.parametrize(("name", "key", "plain"), [
    ("KINGDEE_USERNAME", "username", True), ("PG_HOST", "url", True), ("X", "host", True),
    ("CRM_PASSWORD", "username", False), ("WECOM_CORPSECRET", "corpsecret", False), ("API_KEY", "key", False),
    ("CRM_URL", "url", False), ("X", "token", False), ("DB_PASS_PATH", "path", False)])
def test_which_variables_are_plain_settings(name: str, key: str, plain: bool) -> None:
    from core.config_file import plain_setting
    assert plain_setting(name, ("sources", "s", "config", key)) is plain
