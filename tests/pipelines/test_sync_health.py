"""A sync is only a success when its data is: configured columns that exist (or "did you mean …?"), health
thresholds per stream (quarantined share, empty or missing mapped columns, zero rows), and the exit codes of
docs/operations.md "Exit codes"."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from core import exit_codes
from core.config import HubConfig
from hub.cli import main
from pipelines.sync import sync_source
from warehouse.engine import Warehouse


def file_config(path: Path | str, **stream: Any) -> dict[str, Any]:
    base = {"primary_key": "客户编号", "entity": "customer", "mapping": {"name": "客户名称"}}
    return {"sources": {"daily": {"connector": "file", "config": {"path": str(path)},
                                  "streams": {"customers": {**base, **stream}}}}}


def sql_config(url: str, **stream: Any) -> dict[str, Any]:
    base = {"table": "customers", "primary_key": "CustID", "entity": "customer",
            "mapping": {"name": "CustName", "uscc": "TaxNo"}}
    return {"sources": {"crm": {"connector": "sql", "config": {"url": url}, "streams": {"customers": {**base,
                                                                                                       **stream}}}}}


def crm(path: Path, rows: list[tuple[Any, ...]]) -> str:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (CustID TEXT, CustName TEXT, TaxNo TEXT, Phone TEXT, updated_at TEXT)")
    con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def sync(tmp_path: Path, conf: dict[str, Any]) -> Any:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        return sync_source(HubConfig.model_validate(conf), wh, next(iter(conf["sources"])))
    finally:
        wh.dispose()


def cli_sync(tmp_path: Path, conf: dict[str, Any]) -> tuple[int, str, list[tuple[str, str]]]:
    """`hub connectors sync`: exit code, output, and raw._syncs (status, error)."""
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(yaml.safe_dump({"warehouse": {"url": f"duckdb:///{tmp_path / 'cli.duckdb'}"}, **conf},
                                  allow_unicode=True), encoding="utf-8")
    r = CliRunner().invoke(main, ["connectors", "sync", "-c", str(cfg)])
    wh = Warehouse(f"duckdb:///{tmp_path / 'cli.duckdb'}")
    syncs = [tuple(x) for x in wh.read_frame("SELECT status, error FROM raw._syncs ORDER BY started_at")
             .itertuples(index=False)]
    wh.dispose()
    return r.exit_code, r.output, syncs


def test_a_title_row_read_as_the_header_fails_naming_the_columns_found(tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text("客户清单（2024年1月）\n客户编号,客户名称\nK1,甲公司\nK2,乙公司\n", encoding="utf-8")
    code, out, syncs = cli_sync(tmp_path, file_config(f))
    assert code == exit_codes.FAILED == 1
    assert "primary_key '客户编号' is not a column of the source (its columns: '客户清单（2024年1月）')" in out
    assert syncs == [("failed", syncs[0][1])] and "客户编号" in syncs[0][1]


def test_a_source_whose_every_record_is_quarantined_fails(tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text("客户编号,客户名称\n,甲公司\n,乙公司\n,丙公司\n", encoding="utf-8")
    r = sync(tmp_path, file_config(f))
    assert r.status == "failed"
    assert "customers: 3 of 3 rows read were quarantined (100%" in r.error
    assert "more than max_quarantined_share 20%" in r.error


def test_forty_percent_duplicate_keys_fail_the_sync_with_exit_code_1(tmp_path: Path) -> None:
    rows = [(f"C{i % 6}", f"客户{i}", f"9135{i:014d}", None, "2024-01-01") for i in range(10)]  # 4 of 10 repeat
    code, out, syncs = cli_sync(tmp_path, sql_config(crm(tmp_path / "crm.sqlite", rows)))
    assert code == 1, out
    assert "crm: failed" in out and "4 of 10 rows read were quarantined (40%" in out
    assert syncs[0][0] == "failed"


def test_a_few_quarantined_rows_are_a_warning_with_exit_code_5_and_a_threshold_can_allow_them(tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text("客户编号,客户名称\n" + "".join(f"{'' if i < 3 else f'K{i}'},客户{i}\n" for i in range(100)),
                 encoding="utf-8")
    code, out, syncs = cli_sync(tmp_path, file_config(f))
    assert code == exit_codes.WARNING == 5, out
    assert "daily: warning" in out
    assert "warning: customers: 3 of 100 rows read were quarantined (3%" in out
    assert syncs[0][0] == "warning" and "3 of 100" in syncs[0][1]
    r = sync(tmp_path, file_config(f, health={"warn_quarantined_share": 0.05}))
    assert (r.status, r.warnings) == ("succeeded", [])


def test_a_stream_with_no_record_is_a_warning_unless_ignored(tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text("客户编号,客户名称\n", encoding="utf-8")
    r = sync(tmp_path, file_config(f))
    assert (r.status, r.warnings) == ("warning", ["customers: the stream holds no record after the sync"])
    assert sync(tmp_path, file_config(f, health={"zero_rows": "ignore"})).status == "succeeded"
    assert sync(tmp_path, file_config(f, health={"zero_rows": "fail"})).status == "failed"


def test_a_mapping_typo_and_a_key_in_the_wrong_case_are_errors_that_suggest_the_column(tmp_path: Path) -> None:
    url = crm(tmp_path / "crm.sqlite", [("C1", "甲公司", "91350200MA2XXXXX1X", None, "2024-01-01")])
    r = sync(tmp_path, sql_config(url, mapping={"name": "CustName", "uscc": "TaxN0"}))
    assert r.status == "failed"
    assert "stream customers: mapping.uscc 'TaxN0' is not a column of the source; did you mean 'TaxNo'?" in r.error
    r = sync(tmp_path, sql_config(url, primary_key="custid"))
    assert r.status == "failed"
    assert "primary_key 'custid' is not a column of the source; did you mean 'CustID'?" in r.error
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    assert wh.read_frame("SELECT status FROM raw._syncs")["status"].tolist() == ["failed", "failed"]
    wh.dispose()  # nothing was read: the check runs before reading
    assert sync(tmp_path, sql_config(url)).status == "succeeded"


def test_a_cursor_field_typo_names_the_field_and_the_column_meant(tmp_path: Path) -> None:
    url = crm(tmp_path / "crm.sqlite", [("C1", "甲公司", "x", None, "2024-01-01")])
    r = sync(tmp_path, sql_config(url, cursor_field="updatedat"))
    assert r.status == "failed"
    assert "cursor_field 'updatedat' is not a column of the source; did you mean 'updated_at'?" in r.error
    assert "AirbyteTracedException" not in r.error


def test_a_later_file_that_renamed_a_mapped_column_fails_naming_the_file(tmp_path: Path) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    (d / "2024-01-01.csv").write_text("客户编号,客户名称,联系电话\nK1,甲,111\n", encoding="utf-8")
    (d / "2024-01-02.csv").write_text("客户编号,客户名称,电话\nK2,乙,222\n", encoding="utf-8")
    conf = file_config(d / "*.csv", mapping={"name": "客户名称", "phone": "联系电话"})
    r = sync(tmp_path, conf)
    assert r.status == "failed"
    assert ("customers: mapped column '联系电话' (phone) is missing from 2024-01-02.csv (its columns: '客户编号', "
            "'客户名称', '电话'); its records have no phone") in r.error
    conf["sources"]["daily"]["streams"]["customers"]["health"] = {"missing_column": "warn"}
    (d / "2024-01-02.csv").write_text("客户编号,客户名称,电话\nK2,乙二,222\n", encoding="utf-8")
    assert sync(tmp_path, conf).status == "warning"


def test_a_mapped_column_empty_in_every_row_is_a_warning(tmp_path: Path) -> None:
    rows = [(f"C{i}", f"客户{i}", "" if i % 2 else None, None, "2024-01-01") for i in range(12)]
    r = sync(tmp_path, sql_config(crm(tmp_path / "crm.sqlite", rows)))
    assert (r.status, r.warnings) == ("warning", ["customers: mapped column 'TaxNo' (uscc) is empty in 12 of 12 rows "
                                                  "read (100%)"])
    # a threshold: more than half of the rows empty
    rows = [(f"C{i}", f"客户{i}", "x" if i < 5 else " ", None, "2024-01-01") for i in range(12)]
    (tmp_path / "b").mkdir()
    r = sync(tmp_path / "b", sql_config(crm(tmp_path / "crm2.sqlite", rows), health={"max_empty_share": 0.5}))
    assert r.status == "warning" and r.warnings == ["customers: mapped column 'TaxNo' (uscc) is empty in 7 of 12 "
                                                    "rows read (58%)"]


def test_config_validate_live_checks_the_config_against_the_sources(tmp_path: Path) -> None:
    url = crm(tmp_path / "crm.sqlite", [("C1", "甲公司", "x", None, "2024-01-01")])
    cfg = tmp_path / "hub.yaml"

    def validate(conf: dict[str, Any]) -> tuple[int, str]:
        cfg.write_text(yaml.safe_dump(conf, allow_unicode=True), encoding="utf-8")
        r = CliRunner().invoke(main, ["config", "validate", "--live", "-c", str(cfg)])
        return r.exit_code, r.output

    code, out = validate(sql_config(url))
    assert (code, out.splitlines()[-2:]) == (0, ["crm: OK (1 streams)", f"{cfg}: valid against its sources"])
    code, out = validate(sql_config(url, primary_key="custid", mapping={"name": "CustName", "uscc": "TaxN0"}))
    assert code == exit_codes.CONFIG and out.splitlines()[-1] == f"{cfg}: not valid: the file does not fit its " \
        "sources", out
    assert ": valid" not in out, out  # (the file alone is, the first line says so in other words)
    assert "crm: stream customers: primary_key 'custid' is not a column of the source; did you mean 'CustID'?" in out
    assert "crm: stream customers: mapping.uscc 'TaxN0' is not a column of the source; did you mean 'TaxNo'?" in out
    conf = sql_config(url)
    conf["sources"]["crm"]["streams"]["customer"] = conf["sources"]["crm"]["streams"].pop("customers")
    conf["sources"]["crm"]["streams"]["customer"]["table"] = "customer"
    code, out = validate(conf)
    assert code in (exit_codes.FAILED, exit_codes.CONFIG) and "customer" in out and "OK" not in out, out
    code, out = validate(file_config(tmp_path / "missing" / "*.csv"))
    assert code == exit_codes.FAILED and "no file matches" in out, out
    # unchanged: no source is read, nothing is written
    assert not (tmp_path / "w.duckdb").exists()
