"""The file sensor: a first look records the files; a new or changed file starts its source's job, once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from dagster_project.definitions import build_definitions

CONFIG = """
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  crm_b:
    connector: file
    config: {path: "exports/*.csv", format: csv}
    streams:
      customers:
        primary_key: id
        entity: customer
        mapping: {name: name}
marts:
  targets: {path: targets.csv}
"""


def evaluate(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("file_sources_changed")
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))


def test_a_new_or_changed_file_starts_a_run_of_its_source(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "2024-01.csv").write_text("id,name\n1,甲\n", encoding="utf-8")
    (tmp_path / "targets.csv").write_text("rep_key,month,amount\n张伟,2024-01,100\n", encoding="utf-8")
    (tmp_path / "hub.yaml").write_text(CONFIG, encoding="utf-8")
    defs = build_definitions(tmp_path / "hub.yaml")
    instance = dg.DagsterInstance.ephemeral()

    first = evaluate(defs, instance, None)  # the first look only records what is there
    assert not first.run_requests and "2 file(s) recorded" in str(first.skip_reason)
    assert set(json.loads(first.cursor)) == {"refresh_crm_b", "refresh_reference_files"}

    assert not evaluate(defs, instance, first.cursor).run_requests  # nothing changed

    (tmp_path / "exports" / "2024-02.csv").write_text("id,name\n2,乙\n", encoding="utf-8")
    second = evaluate(defs, instance, first.cursor)
    [request] = second.run_requests
    assert request.job_name == "refresh_crm_b"
    assert request.tags["hub/changed_files"].endswith("2024-02.csv")
    assert not evaluate(defs, instance, second.cursor).run_requests  # seen: not again

    target = tmp_path / "targets.csv"
    target.write_text("rep_key,month,amount\n张伟,2024-01,200\n", encoding="utf-8")
    os.utime(target, ns=(1, 1))  # a changed time or size is a change, even within the same second
    third = evaluate(defs, instance, second.cursor)
    assert [r.job_name for r in third.run_requests] == ["refresh_reference_files"]


def test_the_refresh_job_selects_the_source_and_everything_downstream(tmp_path: Path) -> None:
    (tmp_path / "hub.yaml").write_text(CONFIG, encoding="utf-8")
    defs = build_definitions(tmp_path / "hub.yaml")
    job = defs.resolve_job_def("refresh_crm_b")
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert {"raw/crm_b/customers", "staging/customer/records", "mdm/customer/golden", "marts/dim_customer",
            "marts/customer_360"} <= keys
    assert "staging/target/records" not in keys
