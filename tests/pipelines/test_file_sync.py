"""Daily exports read by one sync: a later file supersedes an earlier one, whatever day the hub first ran; a file
read again does not count its bad rows again. On DuckDB and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import SyncMode

from connectors.file.source import FileSource, sha256_file
from core.config import HubConfig
from pipelines.sync import connector_config, sync_source
from warehouse.engine import Warehouse
from warehouse.raw import RawStore, shape_table

HEADER = "客户编号,客户名称,联系电话\n"


def config(path: Path | str, **stream: Any) -> HubConfig:
    return HubConfig.model_validate({"sources": {"daily": {"connector": "file", "config": {"path": str(path)},
                                                           "streams": {"customers": {"primary_key": "客户编号",
                                                                                     **stream}}}}})


def latest(wh: Warehouse) -> dict[str, str]:
    """The latest landed version of every live key: key → name."""
    df = wh.read_frame("SELECT _key, _data, _deleted FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY _key ORDER BY "
                       "_batch DESC, _row DESC) AS rn FROM raw.daily__customers) v WHERE rn = 1 ORDER BY _key")
    import json
    return {k: json.loads(d)["客户名称"] for k, d, gone in zip(df["_key"], df["_data"], df["_deleted"], strict=True)
            if not gone}


def quarantined(wh: Warehouse) -> list[str]:
    return sorted(wh.read_frame("SELECT reason FROM raw._quarantine")["reason"])


def day(folder: Path, name: str, rows: str, mtime: int | None = None) -> Path:
    p = folder / name
    p.write_text(HEADER + rows, encoding="utf-8")
    if mtime is not None:
        os.utime(p, ns=(mtime, mtime))
    return p


def test_a_later_file_supersedes_an_earlier_one_as_if_each_day_had_been_synced(tmp_path: Path,
                                                                                warehouse_url: str) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    day(d, "2024-01-01.csv", "K1,甲公司,111\nK2,乙公司,222\n")
    day(d, "2024-01-02.csv", "K1,甲公司（改名）,111\nK3,丙公司,333\n")
    wh = Warehouse(warehouse_url)
    r = sync_source(config(d / "*.csv"), wh, "daily")
    assert r.status == "succeeded", r.error
    # both days in one sync: the 2nd's K1 is the current version, nothing quarantined as a duplicate
    assert latest(wh) == {"K1": "甲公司（改名）", "K2": "乙公司", "K3": "丙公司"}
    assert quarantined(wh) == []
    assert r.stats.loaded == 4 and r.stats.quarantined == 0
    # the same days synced one at a time give the same records and the same history
    other = Warehouse(warehouse_url.replace("w.duckdb", "w2.duckdb")) if "duckdb" in warehouse_url else None
    if other is not None:
        one = tmp_path / "one"
        one.mkdir()
        (one / "2024-01-01.csv").write_bytes((d / "2024-01-01.csv").read_bytes())
        sync_source(config(one / "*.csv"), other, "daily")
        (one / "2024-01-02.csv").write_bytes((d / "2024-01-02.csv").read_bytes())
        sync_source(config(one / "*.csv"), other, "daily")
        assert latest(other) == latest(wh)
        assert int(other.scalar("SELECT count(*) FROM raw.daily__customers")) == 4
        other.dispose()
    # a key twice in ONE file is still a duplicate: the first row lands, the other is quarantined
    day(d, "2024-01-03.csv", "K4,丁公司,444\nK4,丁公司二,444\n")
    r = sync_source(config(d / "*.csv"), wh, "daily")
    assert r.stats.quarantined == 1 and latest(wh)["K4"] == "丁公司"
    assert quarantined(wh) == ["duplicate primary key 'K4': read again in this sync with different values "
                               "(the first version was kept)"]
    wh.dispose()


def test_modification_time_order_lets_the_newest_file_win(tmp_path: Path, warehouse_url: str) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    # names sort a < b, but b was written first: by modification time a is the later export
    day(d, "a.csv", "K1,新名称,1\n", mtime=2_000_000_000_000_000_000)
    day(d, "b.csv", "K1,旧名称,1\n", mtime=1_000_000_000_000_000_000)
    wh = Warehouse(warehouse_url)
    assert sync_source(config(d / "*.csv", order="mtime"), wh, "daily").status == "succeeded"
    assert latest(wh) == {"K1": "新名称"}
    wh2 = Warehouse(warehouse_url.replace("w.duckdb", "w3.duckdb")) if "duckdb" in warehouse_url else None
    if wh2 is not None:  # by name, b.csv is later
        assert sync_source(config(d / "*.csv"), wh2, "daily").status == "succeeded"
        assert latest(wh2) == {"K1": "旧名称"}
        wh2.dispose()
    wh.dispose()


def test_a_changed_earlier_file_is_read_with_every_later_one_so_the_later_versions_stay(
        tmp_path: Path, warehouse_url: str) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    day(d, "1.csv", "K1,一日,1\nK2,乙,2\n")
    day(d, "2.csv", "K1,二日,1\n")
    wh = Warehouse(warehouse_url)
    cfg = config(d / "*.csv")
    sync_source(cfg, wh, "daily")
    assert latest(wh) == {"K1": "二日", "K2": "乙"}
    day(d, "1.csv", "K1,一日,1\nK2,乙改,2\n")  # the 1st day's export is corrected later
    r = sync_source(cfg, wh, "daily")
    assert r.status == "succeeded", r.error
    assert latest(wh) == {"K1": "二日", "K2": "乙改"}  # K1 of the 2nd day still wins
    # a whole read of every file: a record gone from all of them is deleted
    day(d, "1.csv", "K1,一日,1\n")
    r = sync_source(cfg, wh, "daily")
    assert r.stats.deleted == 1 and latest(wh) == {"K1": "二日"}
    wh.dispose()


def test_a_sync_killed_in_a_later_file_resumes_and_ends_as_an_uninterrupted_one(tmp_path: Path,
                                                                               warehouse_url: str) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    day(d, "1.csv", "".join(f"K{i},一日{i},{i}\n" for i in range(6)))
    day(d, "2.csv", "".join(f"K{i},二日{i},{i}\n" for i in range(0, 6, 2)))
    cfg = config(d / "*.csv")
    wh = Warehouse(warehouse_url)

    # land 1.csv whole and the first 2 rows of 2.csv in batches of 2, then stop as a killed sync would
    store = RawStore(wh)
    sync_id = store.start_sync("daily")
    conf = {**connector_config(cfg.sources["daily"]), "batch_size": 2}
    (stream,) = FileSource().streams(conf)
    store.start_complete_read("daily", "customers")
    for batch in stream.read_batches(SyncMode.incremental, {}):
        if batch.table is not None:  # as the sync lands them: the landed keys are not noted in raw._seen
            shaped = shape_table("daily", "customers", batch.table, ["客户编号"], batch.first_row, batch.rows)
            store.load_shaped("daily", "customers", sync_id, shaped, state=batch.state, track_seen=True,
                              part=batch.part, seen_if_landed=True)
        else:
            store.save_state("daily", "customers", sync_id, batch.state)
        if batch.part == 1 and batch.table is not None:
            break
    current = store.get_state("daily")["customers"]["current"]
    assert current == {"file": "2.csv", "sha256": sha256_file(str(d / "2.csv")), "rows": 2}
    r = sync_source(cfg, wh, "daily")
    assert r.status == "succeeded", r.error
    # the resumed read completes the interrupted one: what it landed counts as read (nothing deleted)
    assert r.stats.deleted == 0
    assert latest(wh) == {f"K{i}": (f"二日{i}" if i % 2 == 0 else f"一日{i}") for i in range(6)}
    assert quarantined(wh) == []
    # the next complete read without K5 deletes K5 alone
    day(d, "1.csv", "".join(f"K{i},一日{i},{i}\n" for i in range(5)))
    r = sync_source(cfg, wh, "daily")
    assert (r.status, r.stats.deleted) == ("succeeded", 1), r.error
    assert set(latest(wh)) == {f"K{i}" for i in range(5)}
    wh.dispose()


def test_bad_rows_of_a_file_read_again_are_quarantined_once(tmp_path: Path, warehouse_url: str) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    day(d, "1.csv", "K1,甲,1\nK2,乙,2,多余\n,无编号,3\n")
    wh = Warehouse(warehouse_url)
    cfg = config(d / "*.csv")
    first = sync_source(cfg, wh, "daily")
    assert first.stats.quarantined == 2
    reasons = quarantined(wh)
    assert reasons == ["line 3: 4 cells but the header has 3", "primary key field '客户编号' is missing or empty"]
    sync_source(cfg, wh, "daily", full_refresh=True)  # the same file read again whole
    day(d, "2.csv", "K3,丙,3\n")
    sync_source(cfg, wh, "daily")  # a new file: nothing of 1.csv is read
    day(d, "1.csv", "K1,甲改,1\nK2,乙,2,多余\n,无编号,3\n")  # 1.csv changed: its bad rows are read again
    sync_source(cfg, wh, "daily")
    assert quarantined(wh) == reasons
    rec = wh.read_frame("SELECT record FROM raw._quarantine WHERE stage = 'extract'")["record"].iloc[0]
    assert '"_hub_file":"1.csv"' in rec and '"_hub_line":3' in rec
    wh.dispose()


def test_a_quote_never_closed_fails_the_stream_naming_the_line_and_deletes_nothing(tmp_path: Path,
                                                                                     warehouse_url: str) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    rows = "".join(f"K{i},公司{i},13{i:09d}\n" for i in range(1, 9))
    f = day(d, "all.csv", rows)
    cfg = config(f)
    wh = Warehouse(warehouse_url)
    assert sync_source(cfg, wh, "daily").stats.loaded == 8
    # a stray quote opening the name of K4 (line 5 with the header): read, K4..K8 would be one value of one short
    # record, and K5..K8 missing from a complete read of a full-refresh stream: deleted
    f.write_text(HEADER + rows.replace("K4,公司4", 'K4,"公司4'), encoding="utf-8")
    r = sync_source(cfg, wh, "daily")
    assert r.status == "failed"
    assert "line 5: a quoted value opens on this line and is never closed" in (r.error or ""), r.error
    assert str(f) in (r.error or "")
    assert (r.stats.read, r.stats.deleted) == (0, 0)
    assert latest(wh) == {f"K{i}": f"公司{i}" for i in range(1, 9)}  # nothing landed, nothing deleted
    # a quote inside an unquoted value is text (12" pipe), and a quoted value over two lines is one value
    f.write_text(HEADER + rows.replace("公司2", '公司2 12" pipe').replace("K3,公司3", 'K3,"公司3\n三部"'),
                 encoding="utf-8")
    r = sync_source(cfg, wh, "daily")
    assert (r.status, r.stats.deleted) == ("succeeded", 0), r.error
    assert latest(wh)["K2"] == '公司2 12" pipe' and latest(wh)["K3"] == "公司3\n三部"
    wh.dispose()


WIDE = "客户编号,客户名称,联系电话,地址,销售\n"


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_stray_quotes_that_swallow_rows_fail_the_stream_and_delete_nothing(tmp_path: Path, warehouse_url: str,
                                                                          encoding: str) -> None:
    """Two stray quotes: the value opened by the first runs to the second, over the rows between. Read, those rows'
    records would be missing and a complete read would delete them. (GBK with a byte not valid in it: the rows are
    read one by one by Python's csv, the same check.)"""
    f = tmp_path / "all.csv"
    rows = [f"K{i},公司{i},13{i:09d},北京市海淀区{i}号,rep{i}\n" for i in range(1, 10)]

    def write(lines: list[str]) -> None:
        body = WIDE + "".join(lines)
        f.write_bytes(body.encode(encoding) + (b"K9x,\xff\xfe,1,2,3\n" if encoding == "gbk" else b""))

    write(rows)
    cfg = config(f, encoding=encoding)
    wh = Warehouse(warehouse_url)
    first = sync_source(cfg, wh, "daily")
    ok_status = "succeeded" if encoding == "utf-8" else "warning"  # (the row with the bad byte: quarantined)
    assert first.status == ok_status and first.stats.loaded == 9, first.error
    before = latest(wh)
    opened = [*rows[:3], rows[3].replace("K4,公司4", 'K4,"公司4'), *rows[4:6]]
    # the second quote inside a value (公司7"s): Python's csv (strict) finds it
    mid = [*opened, rows[6].replace("公司7", '公司7"s'), *rows[7:]]
    # the second quote ending a value (公司7"): the lines between hold a row's four delimiters
    end = [*opened, rows[6].replace("公司7", '公司7"'), *rows[7:]]
    for lines, lines_named in ((mid, "lines 5–8"), (end, "lines 5–8")):
        write(lines)
        r = sync_source(cfg, wh, "daily")
        assert r.status == "failed" and lines_named in (r.error or "") and "stray quote" in (r.error or ""), r.error
        assert r.stats.deleted == 0 and latest(wh) == before  # K5..K7 still there, K4 not overwritten
    # values over several lines that are sound: an address on two lines (one comma), and `"abc"def` on one line
    ok = [*rows[:2], rows[2].replace("北京市海淀区3号", '"北京市海淀区\n3号楼, 2单元"'),
          rows[3].replace("公司4", '"公司"4'), *rows[4:]]
    write(ok)
    r = sync_source(cfg, wh, "daily")
    assert (r.status, r.stats.deleted) == (ok_status, 0), r.error
    assert latest(wh)["K4"] == "公司4" and len(latest(wh)) == 9
    wh.dispose()


def test_a_row_short_of_cells_is_quarantined_not_landed_with_empty_fields(tmp_path: Path, warehouse_url: str
                                                                          ) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    f = day(d, "all.csv", "K1,甲,111\nK2,乙,222\n")
    cfg = config(f)
    wh = Warehouse(warehouse_url)
    sync_source(cfg, wh, "daily")
    f.write_text(HEADER + "K1,甲改\nK2,乙,222\n", encoding="utf-8")  # K1 lost its phone cell
    r = sync_source(cfg, wh, "daily")
    assert (r.stats.quarantined, r.stats.loaded) == (1, 0), r.error
    assert quarantined(wh) == ["line 2: 2 cells but the header has 3"]
    assert latest(wh) == {"K1": "甲", "K2": "乙"}  # K1's good version stands
    # a header ending in an empty cell: rows may leave that unnamed column out
    f.write_bytes("客户编号,客户名称,联系电话,\nK1,甲,111\nK2,乙,222,\n".encode())
    r = sync_source(cfg, wh, "daily")
    assert (r.status, r.stats.quarantined) == ("succeeded", 0), r.error
    wh.dispose()


@pytest.fixture(autouse=True)
def _quiet_airbyte() -> None:
    import logging
    logging.getLogger("airbyte").setLevel(logging.WARNING)
