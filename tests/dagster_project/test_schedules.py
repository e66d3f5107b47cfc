"""Per-source schedules (issue 14): a source's `schedule` (cron, time zone) becomes a Dagster schedule of its
refresh job; a bad cron or time zone is a config error."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ConfigError
from core.config_file import load_config
from dagster_project.definitions import build_definitions

CONFIG = """
warehouse: {{url: "duckdb:///w.duckdb"}}
sources:
  crm_a:
    connector: sql
    config: {{url: "sqlite:///crm.sqlite"}}
    schedule: {schedule}
    streams:
      customers: {{table: t_customer, primary_key: id, entity: customer, mapping: {{name: name}}}}
  crm_b:
    connector: file
    config: {{path: "exports/*.csv", format: csv}}
    streams:
      customers: {{primary_key: id, entity: customer, mapping: {{name: name}}}}
"""


def test_a_source_schedule_runs_its_refresh_job_at_its_times(tmp_path: Path) -> None:
    (tmp_path / "hub.yaml").write_text(CONFIG.format(schedule='{cron: "30 */2 * * 1-5", timezone: Asia/Shanghai}'),
                                       encoding="utf-8")
    defs = build_definitions(tmp_path / "hub.yaml")
    schedule = defs.resolve_schedule_def("schedule_crm_a")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "30 */2 * * 1-5", "Asia/Shanghai", "refresh_crm_a")
    job = defs.resolve_job_def("refresh_crm_a")
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert {"raw/crm_a/customers", "staging/customer/records", "marts/dim_customer"} <= keys
    assert "raw/crm_b/customers" not in keys
    assert {s.name for s in defs.schedules} == {"daily_refresh", "weekly_retrain", "schedule_crm_a"}


@pytest.mark.parametrize(("schedule", "message"), [
    ('{cron: "every day"}', "expected five cron fields"),
    ('{cron: "0 2 * *"}', "expected five cron fields"),
    ('{cron: "0 2 * * *", timezone: Asia/Beijing}', "unknown time zone 'Asia/Beijing'"),
    ('{cron: "61 * * * *"}', "minute 61 is outside 0–59"),  # (Dagster refused it when loading the code location)
    ('{cron: "0 2 0 * 1-5"}', "day of month 0 is outside 1–31"),
])
def test_a_bad_schedule_is_a_config_error(tmp_path: Path, schedule: str, message: str) -> None:
    (tmp_path / "hub.yaml").write_text(CONFIG.format(schedule=schedule), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "hub.yaml")
