"""Sync and stage through their entry points (`sync_source`, `stage_all`) on both warehouses: a source that fails
part-way keeps what it read and resumes, broken records are quarantined at extraction with the whole record, and
staging takes the newest version of each record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from core.config_file import load_config
from pipelines.stage import stage_all
from pipelines.sync import SyncResult, sync_source
from warehouse.engine import Warehouse

CONFIG = """\
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  crm:
    connector: file
    config: {path: "data/*", batch_size: 2}
    streams:
      customers:
        primary_key: id
        entity: customer
        mapping: {name: name, phone: phone}
"""


def project(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for name, content in files.items():
        (data / name).write_bytes(content.encode() if isinstance(content, str) else content)
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    return cfg


def workbook(path: Path, rows: list[list[str]]) -> None:
    wb = Workbook()
    for row in [["id", "name", "phone"], *rows]:
        wb.active.append(row)
    wb.save(path)


def landed(wh: Warehouse) -> dict[str, dict[str, str]]:
    """The latest landed version of each record, by key; fails on a key landed twice with one content."""
    df = wh.read_frame("SELECT _key, _hash, _data FROM raw.crm__customers ORDER BY _sync_id, _row")
    assert not df.duplicated(["_key", "_hash"]).any(), "a record landed twice"
    return {k: json.loads(d) for k, d in zip(df["_key"], df["_data"], strict=True)}


CSV = "id,name,phone\n" + "".join(f"A{i},客户{i},1380000000{i}\n" for i in range(1, 6))


def test_a_source_failing_part_way_keeps_what_it_read_and_resumes_from_its_last_checkpoint(
        tmp_path: Path, warehouse_url: str) -> None:
    # a.csv is read whole (5 rows in batches of 2, 2 and 1), then b.xlsx cannot be opened.
    cfg_path = project(tmp_path, {"a.csv": CSV, "b.xlsx": b"PK\x03\x04 not a workbook"})
    cfg = load_config(cfg_path, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    first = sync_source(cfg, wh, "crm")
    assert first.status == "failed" and first.error and "b.xlsx: not a readable Excel workbook" in first.error
    # Kept: all five rows, row 5 too although no checkpoint covered it.
    assert landed(wh) == {f"A{i}": {"id": f"A{i}", "name": f"客户{i}", "phone": f"1380000000{i}"} for i in range(1, 6)}
    assert (first.stats.read, first.stats.loaded, first.stats.quarantined) == (5, 5, 0)
    log = wh.read_frame("SELECT status, records_read, records_loaded, error FROM raw._syncs")
    assert log[["status", "records_read", "records_loaded"]].values.tolist() == [["failed", 5, 5]]
    assert log["error"][0] == first.error
    state = json.loads(wh.read_frame("SELECT state FROM raw._state")["state"][0])
    assert list(state["files"]) == ["a.csv"] and "current" not in state

    workbook(tmp_path / "data" / "b.xlsx", [["B1", "己", "13900000001"], ["B2", "庚", "13900000002"]])
    second = sync_source(cfg, wh, "crm")
    assert second.status == "succeeded" and second.error is None
    # Each batch commits with its state: a.csv, read to its end, is remembered and not read again; the
    # state goes no further (b.xlsx is not done), so b.xlsx is read whole. Each record is there once.
    assert (second.stats.read, second.stats.loaded, second.stats.unchanged) == (2, 2, 0)
    assert sorted(landed(wh)) == ["A1", "A2", "A3", "A4", "A5", "B1", "B2"]
    third = sync_source(cfg, wh, "crm")  # nothing new: both files are done
    assert (third.status, third.stats.read, third.stats.loaded) == ("succeeded", 0, 0)


def test_a_corrupt_workbook_fails_naming_the_file(tmp_path: Path) -> None:
    cfg = load_config(project(tmp_path, {"a.csv": CSV, "b.xlsx": b"PK\x03\x04 not a workbook"}))
    result = sync_source(cfg, Warehouse(cfg.warehouse.url), "crm")
    assert result.status == "failed" and "b.xlsx" in (result.error or "")


def test_a_corrupt_workbook_fails_its_stream_and_the_other_streams_are_read(tmp_path: Path) -> None:
    cfg_path = project(tmp_path, {"a.csv": CSV, "b.xlsx": b"PK\x03\x04 not a workbook"})
    cfg_path.write_text(CONFIG.replace('config: {path: "data/*", batch_size: 2}', "config: {batch_size: 2}").replace(
        "      customers:\n", "      customers:\n        path: data/a.csv\n") + (
        "      orders:\n        path: data/b.xlsx\n        primary_key: id\n"), encoding="utf-8")
    cfg = load_config(cfg_path)
    wh = Warehouse(cfg.warehouse.url)
    result = sync_source(cfg, wh, "crm")
    # the orders stream fails at discovery (its header cannot be read), alone: the customers are read whole
    assert result.status == "failed" and result.error and "orders: " in result.error
    assert "b.xlsx: not a readable Excel workbook" in (result.streams["orders"].error or "")
    assert (result.streams["customers"].error, result.streams["customers"].stats.loaded) == (None, 5)
    assert sorted(landed(wh)) == [f"A{i}" for i in range(1, 6)]
    assert wh.read_frame("SELECT stream FROM raw._state")["stream"].tolist() == ["customers"]


def test_broken_records_are_quarantined_at_extraction_with_the_whole_record(tmp_path: Path,
                                                                            warehouse_url: str) -> None:
    gbk = ("id,name,phone\nK1,甲,1\n".encode("gbk") + b"K2,\xff\xfe bad,2\n" + "K3,丙,3\n".encode("gbk"))
    lines = '{"id": "J1", "name": "丁"}\n{"id": "J2", "name": "戊\n{"id": "J3", "name": "己"}\n'
    cfg_path = project(tmp_path, {"a.csv": gbk, "b.jsonl": lines})
    tolerant = "        health: {max_quarantined_share: 0.5, warn_quarantined_share: 0.5}\n"  # 2 of 6 are broken
    cfg_path.write_text(CONFIG.replace("batch_size: 2}", "batch_size: 2, encoding: gbk}") + tolerant,
                        encoding="utf-8")
    (tmp_path / "data" / "b.jsonl").write_bytes(lines.encode("gbk"))
    cfg = load_config(cfg_path, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    result = sync_source(cfg, wh, "crm")
    assert result.status == "succeeded"
    # 6 records read: 4 land (K1, K3, J1, J3), 2 are quarantined (K2's bytes, J2's line).
    assert (result.stats.read, result.stats.loaded, result.stats.quarantined) == (6, 4, 2)
    assert sorted(landed(wh)) == ["J1", "J3", "K1", "K3"]
    q = wh.read_frame("SELECT source, stream, stage, record_key, reason, action, record FROM raw._quarantine "
                      "ORDER BY reason")
    assert q[["source", "stream", "stage", "action"]].drop_duplicates().values.tolist() == [
        ["crm", "customers", "extract", "rejected"]]
    assert q["record_key"].tolist() == [None, "K2"]  # the broken JSON line has no readable key
    assert q["reason"].tolist() == [
        "line 2: not a JSON object (Invalid control character at: line 1 column 24 (char 23))",
        "line 3, field 'name': bytes not valid in gbk"]  # line 1 is the header
    bad_line, bad_bytes = (json.loads(r) for r in q["record"])
    assert (bad_bytes["id"], bad_bytes["name"], bad_bytes["phone"]) == ("K2", "<ff fe> bad", "2")
    assert bad_line["_hub_text"] == '{"id": "J2", "name": "戊'
    assert [json.loads(r)["_hub_line"] for r in q["record"]] == [2, 3]
    log = wh.read_frame("SELECT records_read, records_loaded, records_quarantined FROM raw._syncs")
    assert log.values.tolist() == [[6, 4, 2]]


def test_staging_takes_the_newest_version_of_each_record(tmp_path: Path, warehouse_url: str) -> None:
    cfg_path = project(tmp_path, {"a.csv": "id,name,phone\nA1,旧名一,111\nA2,旧名二,222\nA3,三,333\n"})
    cfg = load_config(cfg_path, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    assert sync_source(cfg, wh, "crm").status == "succeeded"
    # A1 renamed, A2 renamed twice (the second time its phone too), A3 unchanged.
    (tmp_path / "data" / "a.csv").write_text("id,name,phone\nA1,新名一,111\nA2,中间名二,222\nA3,三,333\n",
                                             encoding="utf-8")
    assert sync_source(cfg, wh, "crm").stats.loaded == 2
    (tmp_path / "data" / "a.csv").write_text("id,name,phone\nA1,新名一,111\nA2,新名二,999\nA3,三,333\n",
                                             encoding="utf-8")
    assert sync_source(cfg, wh, "crm").stats.loaded == 1
    assert wh.scalar("SELECT count(*) FROM raw.crm__customers") == 6  # 3 + 2 + 1 versions, append-only
    (result,) = stage_all(cfg, wh)
    assert (result.entity, result.staged, result.rejected) == ("customer", 3, 0)
    staged = wh.read_frame("SELECT source_key, name, phone FROM staging.customer ORDER BY source_key")
    assert staged.values.tolist() == [["A1", "新名一", "111"], ["A2", "新名二", "999"], ["A3", "三", "333"]]


def test_added_and_dropped_columns_are_reported_once(tmp_path: Path, warehouse_url: str) -> None:
    # (a mapped column that goes away fails the sync before anything lands: tests/pipelines/test_sync_health.py)
    cfg_path = project(tmp_path, {"a.csv": "id,name,phone,fax\nA1,甲,1,2\n"})
    cfg = load_config(cfg_path, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    first = sync_source(cfg, wh, "crm")
    assert first.streams["customers"].schema_changes == []  # the first sync has nothing to compare with
    (tmp_path / "data" / "a.csv").write_text("id,name,phone,email,地址\nA1,甲,1,a@example.com,上海\n",
                                             encoding="utf-8")
    second = sync_source(cfg, wh, "crm")
    assert second.streams["customers"].schema_changes == ["new column(s): email, 地址", "dropped column(s): fax"]
    stored = wh.read_frame("SELECT source, stream, columns, sync_id FROM raw._schema")
    assert stored[["source", "stream"]].values.tolist() == [["crm", "customers"]]
    assert json.loads(stored["columns"][0]) == ["email", "id", "name", "phone", "地址"]
    assert stored["sync_id"][0] == second.sync_id
    (tmp_path / "data" / "a.csv").write_text("id,name,phone,email,地址\nA2,乙,2,b@example.com,北京\n",
                                             encoding="utf-8")
    third = sync_source(cfg, wh, "crm")  # new rows, same columns: nothing to report
    assert third.streams["customers"].schema_changes == [] and third.stats.loaded == 1


WECOM = """\
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  wecom:
    connector: wecom
    config: {corp_id: "${WECOM_CORP_ID}", secret: "${WECOM_SECRET}", base_url: "${WECOM_BASE_URL}"}
"""


@pytest.fixture(scope="module")
def wecom_env() -> Iterator[tuple[dict[str, str], Any]]:
    """A WeCom fake over 20 companies: (the environment a config's variables read, the server)."""
    from connectors.fakes.serve import build_server, demo_env

    server = build_server("wecom", entities=20, seed=3)
    server.start()
    yield demo_env({"wecom": server.url}), server
    server.stop()


def wecom_sync(tmp_path: Path, env: dict[str, str], streams: str) -> tuple[Warehouse, SyncResult]:
    cfg_path = tmp_path / "hub.yaml"
    cfg_path.write_text(WECOM + streams, encoding="utf-8")
    cfg = load_config(cfg_path, env=env)
    wh = Warehouse(cfg.warehouse.url)
    return wh, sync_source(cfg, wh, "wecom")


def test_api_streams_land_under_the_keys_their_connector_declares(tmp_path: Path, wecom_env: tuple) -> None:
    env, server = wecom_env
    # Only the configured streams are read; no primary key configured: the connector's own keys are used,
    # composite for external contacts (one record per contact and following employee).
    wh, result = wecom_sync(tmp_path, env, "    streams:\n      users: {}\n      external_contacts: {}\n")
    assert result.status == "succeeded" and sorted(result.streams) == ["external_contacts", "users"]
    users = wh.read_frame("SELECT _key FROM raw.wecom__users")["_key"]
    assert sorted(users) == sorted(r["userid"] for r in server.dataset.records("users"))
    contacts = wh.read_frame("SELECT _key FROM raw.wecom__external_contacts")["_key"]
    assert sorted(contacts) == sorted(f"{r['external_contact']['external_userid']}|{r['follow_info']['userid']}"
                                      for r in server.dataset.records("external_contacts"))
    assert result.stats.quarantined == 0


def test_an_api_source_without_streams_reads_every_stream_its_connector_offers(tmp_path: Path,
                                                                               wecom_env: tuple) -> None:
    env, _ = wecom_env
    wh, result = wecom_sync(tmp_path, env, "")
    assert result.status == "succeeded"
    offered = {"follow_users", "external_contacts", "users", "departments"}
    assert set(result.streams) == offered
    raw = wh.read_frame("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'raw'")["t"]
    assert {t.removeprefix("wecom__") for t in raw if t.startswith("wecom__")} == offered


def test_a_stream_the_connector_does_not_offer_fails_the_source_naming_both(tmp_path: Path,
                                                                            wecom_env: tuple) -> None:
    env, _ = wecom_env
    wh, result = wecom_sync(tmp_path, env, "    streams:\n      users: {}\n      contacts_of_mars: {}\n")
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith(
        "source wecom: stream(s) contacts_of_mars not offered by connector wecom; it offers: ")
    assert "users" in result.error.rsplit("it offers: ", 1)[1].split(", ")
    assert wh.read_frame("SELECT status FROM raw._syncs")["status"].tolist() == ["failed"]
    assert wh.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'wecom__users'") == 0


def test_an_incremental_sql_stream_reads_from_its_cursor_on(tmp_path: Path, warehouse_url: str) -> None:
    import sqlite3

    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t_customer (cust_id TEXT PRIMARY KEY, cust_name TEXT, updated_at TEXT)")
        conn.executemany("INSERT INTO t_customer VALUES (?, ?, ?)", [
            ("1", "甲", "2024-01-01 10:00:00"), ("2", "乙", "2024-01-02 10:00:00"), ("3", "丙", "2024-01-03 10:00:00")])
    cfg_path = tmp_path / "hub.yaml"
    cfg_path.write_text(f"""\
warehouse: {{url: "duckdb:///w.duckdb"}}
sources:
  crm:
    connector: sql
    config: {{url: "sqlite:///{db}"}}
    streams:
      customers:
        table: t_customer
        primary_key: cust_id
        cursor_field: updated_at
        entity: customer
        mapping: {{name: cust_name, updated_at: updated_at}}
""", encoding="utf-8")
    cfg = load_config(cfg_path, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    first = sync_source(cfg, wh, "crm")
    assert (first.status, first.stats.read, first.stats.loaded) == ("succeeded", 3, 3)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE t_customer SET cust_name = '甲改', updated_at = '2024-01-04 10:00:00' WHERE cust_id = '1'")
    second = sync_source(cfg, wh, "crm")
    # From the saved cursor (2024-01-03 10:00:00) on, that value included: row 3 again (unchanged) and row 1.
    assert (second.stats.read, second.stats.loaded, second.stats.unchanged) == (2, 1, 1)
    state = json.loads(wh.read_frame("SELECT state FROM raw._state WHERE source = 'crm'")["state"][0])
    assert state == {"updated_at": "2024-01-04 10:00:00"}



DINGTALK = """\
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  dingtalk:
    connector: dingtalk
    config:
      app_key: "${DINGTALK_APP_KEY}"
      app_secret: "${DINGTALK_APP_SECRET}"
      operator_user_id: "${DINGTALK_OPERATOR_USER_ID}"
      base_url: "${DINGTALK_BASE_URL}"
      oapi_base_url: "${DINGTALK_OAPI_BASE_URL}"
      page_size: 10
      num_workers: 1  # one request at a time: the calls before the quota runs out are always the same
    streams:
"""


@pytest.fixture(scope="module")
def dingtalk_fake() -> Iterator[Any]:
    """A DingTalk fake over the small sample universe: 72 CRM customers, 12 departments."""
    from connectors.fakes.serve import build_server

    server = build_server("dingtalk", entities=300, seed=3, sample=True)
    server.start()
    yield server
    server.stop()


def dingtalk_config(tmp_path: Path, server: Any, stream: str, warehouse_url: str) -> tuple[Any, Warehouse]:
    from connectors.fakes.serve import demo_env

    server.reset()
    cfg_path = tmp_path / "hub.yaml"
    cfg_path.write_text(DINGTALK + f"      {stream}: {{}}\n", encoding="utf-8")
    cfg = load_config(cfg_path, env=demo_env({"dingtalk": server.url}), warehouse_url=warehouse_url)
    return cfg, Warehouse(warehouse_url)


def keys(wh: Warehouse, table: str) -> list[str]:
    return wh.read_frame(f"SELECT _key FROM raw.{table}")["_key"].tolist()


def test_an_api_source_failing_part_way_keeps_what_it_read_and_resumes(tmp_path: Path, warehouse_url: str,
                                                                         dingtalk_fake: Any) -> None:
    customers = {r["instanceId"] for r in dingtalk_fake.dataset.records("crm_customer")}
    assert len(customers) == 72
    cfg, wh = dingtalk_config(tmp_path, dingtalk_fake, "crm_customers", warehouse_url)
    # The daily quota runs out after three pages of ten: the source fails with DingTalk's message.
    dingtalk_fake.set_faults(quota_after=3)
    first = sync_source(cfg, wh, "dingtalk")
    assert first.status == "failed" and first.error is not None and "daily.call.limit" in first.error
    # Kept: the 30 records of those pages, each once; the failure is in the sync log.
    landed_keys = keys(wh, "dingtalk__crm_customers")
    assert len(landed_keys) == len(set(landed_keys)) == 30 and set(landed_keys) <= customers
    assert (first.stats.read, first.stats.loaded) == (30, 30)
    log = wh.read_frame("SELECT status, records_read, records_loaded, error FROM raw._syncs")
    assert log[["status", "records_read", "records_loaded"]].values.tolist() == [["failed", 30, 30]]
    assert log["error"][0] == first.error
    # The cursor was not advanced (it moves at the stream's end): the next sync reads from the start, finds
    # the 30 unchanged, and every customer is there once.
    state = json.loads(wh.read_frame("SELECT state FROM raw._state")["state"][0])
    assert state == {"modifyTime": "2000-01-01 00:00:00"}
    dingtalk_fake.set_faults(quota_after=None)
    second = sync_source(cfg, wh, "dingtalk")
    assert second.status == "succeeded"
    assert (second.stats.read, second.stats.loaded, second.stats.unchanged) == (72, 42, 30)
    assert sorted(keys(wh, "dingtalk__crm_customers")) == sorted(customers)


def test_a_full_read_failing_part_way_keeps_what_it_read_and_deletes_nothing(tmp_path: Path, warehouse_url: str,
                                                                         dingtalk_fake: Any) -> None:
    # The connector reads the departments below the root: 11 of the fake's 12.
    departments = {str(r["dept_id"]) for r in dingtalk_fake.dataset.records("departments") if r["parent_id"]}
    assert len(departments) == 11
    cfg, wh = dingtalk_config(tmp_path, dingtalk_fake, "departments", warehouse_url)
    # The connector walks the department tree (12 calls), then reads departments; the quota runs out after
    # 13 calls, when 5 departments were read. A full read is checkpointed only at its end: the 5 land with
    # the checkpoint the connector emits as the stream fails, and, being a partial read, delete nothing.
    dingtalk_fake.set_faults(quota_after=13)
    first = sync_source(cfg, wh, "dingtalk")
    assert first.status == "failed" and first.error is not None and "90020" in first.error
    landed_keys = keys(wh, "dingtalk__departments")
    assert len(landed_keys) == len(set(landed_keys)) == 5 and set(landed_keys) <= departments
    assert (first.stats.read, first.stats.loaded, first.stats.deleted) == (5, 5, 0)  # a failed read deletes nothing
    dingtalk_fake.set_faults(quota_after=None)
    second = sync_source(cfg, wh, "dingtalk")
    assert second.status == "succeeded"
    assert (second.stats.read, second.stats.loaded, second.stats.unchanged) == (11, 6, 5)
    assert sorted(keys(wh, "dingtalk__departments")) == sorted(departments)
    # Failing part-way again after a whole read: the 6 departments not read are not taken for deleted.
    dingtalk_fake.set_faults(quota_after=13)
    third = sync_source(cfg, wh, "dingtalk")
    assert (third.status, third.stats.read, third.stats.unchanged, third.stats.deleted) == ("failed", 5, 5, 0)
    assert wh.scalar("SELECT count(*) FROM raw.dingtalk__departments WHERE _deleted") == 0

