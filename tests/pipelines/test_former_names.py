"""Former names stewards add to a golden customer (`pipelines.steward.former_names`): records typed with the old
name join the customer from the next run; undone, they leave it again; the name follows the customer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.config_file import load_config
from pipelines.run import run_all
from pipelines.steward import actions
from pipelines.steward.customers import golden_detail
from pipelines.steward.errors import StewardError
from pipelines.steward.former_names import record_aliases
from warehouse.engine import Warehouse

OLD_NAME = "北京鸿图远景科技有限公司"  # a name no company of the demo has


def _golden_of(wh: Warehouse, key: str) -> str:
    return str(wh.scalar("SELECT golden_id FROM mdm.xref WHERE source_name = 'crm_a' AND source_key = :k", {"k": key}))


def test_a_former_name_a_steward_adds_brings_records_with_the_old_name_in(demo_run: Path) -> None:
    demo_project = demo_run  # after a first run_all
    cfg = load_config(demo_project)
    wh = Warehouse(cfg.warehouse.url)
    data = demo_project.parent / "data"
    crm = sqlite3.connect(data / "crm_a.sqlite")
    # A Beijing company of the CRM, with its contact and address; the same company typed again under its old name.
    row = crm.execute("SELECT cust_id, cust_name, contact_name, address FROM t_customer WHERE cust_name LIKE '北京%' "
                      "AND contact_name IS NOT NULL AND address IS NOT NULL ORDER BY cust_id LIMIT 1").fetchone()
    new_id = crm.execute("SELECT max(cust_id) FROM t_customer").fetchone()[0] + 1
    crm.execute("INSERT INTO t_customer VALUES (?, ?, NULL, NULL, ?, ?, 'rep001', '2030-01-01 00:00:00', "
                "'2030-01-01 00:00:00')", (new_id, OLD_NAME, row[3], row[2]))
    crm.commit()
    crm.close()
    run_all(cfg, wh)
    golden, typed_old = _golden_of(wh, str(row[0])), f"crm_a:customers:{new_id}"
    assert _golden_of(wh, str(new_id)) != golden  # the old name alone: another customer

    with pytest.raises(StewardError, match="empty"):
        actions.add_former_name(cfg, wh, golden, "  ", "alice")
    with pytest.raises(StewardError, match="current name"):
        actions.add_former_name(cfg, wh, golden, str(wh.scalar(
            "SELECT name FROM mdm.golden_customer WHERE golden_id = :g", {"g": golden})), "alice")
    done = actions.add_former_name(cfg, wh, golden, OLD_NAME, "alice", "renamed in 2021")
    with pytest.raises(StewardError, match="already has"):
        actions.add_former_name(cfg, wh, golden, OLD_NAME, "bob")
    detail = golden_detail(cfg, wh, golden)
    assert [n["former_name"] for n in detail["former_names"]["stewards"]] == [OLD_NAME]
    members = set(wh.read_frame("SELECT source_name || ':' || stream || ':' || source_key AS r FROM mdm.xref "
                                "WHERE golden_id = :g", {"g": golden})["r"])
    with wh.begin() as conn:
        assert {r for r, n in record_aliases(wh, conn).items() if n == OLD_NAME} == members

    out = run_all(cfg, wh)  # an incremental run: the customer's records are linked again, under the old name too
    assert out.match is not None and out.match.incremental and out.match.changed == len(members)
    assert _golden_of(wh, str(new_id)) == golden
    pairs = wh.read_frame("SELECT prob FROM mdm.match_pairs WHERE left_record = :r OR right_record = :r",
                          {"r": typed_old})
    assert len(pairs) and pairs["prob"].max() >= cfg.mdm.customer.thresholds.match

    actions.undo(cfg, wh, done.action_id, "bob", "wrong company")  # the name leaves it: so does the record
    assert golden_detail(cfg, wh, golden)["former_names"]["stewards"] == []
    run_all(cfg, wh)
    assert _golden_of(wh, str(new_id)) != golden
