"""The `file` airbyte source: encodings, formats, globs, incremental by file, resume, bad rows."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.state_builder import StateBuilder
from openpyxl import Workbook

from connectors.file import FileSource
from connectors.file.source import ERRORS_FIELD

LOG = logging.getLogger("test")
HEADER = "客户编号,客户名称,联系电话\n"


def conf(path: Path | str, **kw: Any) -> dict[str, Any]:
    return {"batch_size": 2, "streams": [{"name": "customers", "path": str(path), "primary_key": "客户编号", **kw}]}


def catalog() -> Any:
    return CatalogBuilder().with_stream(
        ConfiguredAirbyteStreamBuilder().with_name("customers").with_sync_mode(SyncMode.incremental)).build()


def records(out: Any) -> list[dict[str, Any]]:
    return [r.record.data for r in out.records]


def test_gbk_csv_with_chinese_headers(tmp_path: Path) -> None:
    p = tmp_path / "crm.csv"
    p.write_bytes((HEADER + "KH001,北京同腾建设工程有限公司,010-12345678\nKH002,\"上海,逗号\",\n").encode("gbk"))
    out = read(FileSource(), conf(p, encoding="gbk"), catalog())
    assert records(out) == [
        {"客户编号": "KH001", "客户名称": "北京同腾建设工程有限公司", "联系电话": "010-12345678"},
        {"客户编号": "KH002", "客户名称": "上海,逗号", "联系电话": ""},
    ]


def test_utf8_with_bom_is_read_without_the_bom(tmp_path: Path) -> None:
    p = tmp_path / "crm.csv"
    p.write_bytes("\ufeff".encode() + (HEADER + "KH1,甲,1\n").encode())
    (rec,) = records(read(FileSource(), conf(p), catalog()))
    assert "客户编号" in rec and rec["客户编号"] == "KH1"


def test_xlsx_keeps_codes_as_text(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["客户编号", "客户名称", "金额"])
    ws.append(["00123", "甲公司", 12.5])
    ws.append([456, "乙公司", 3.0])
    wb.save(tmp_path / "c.xlsx")
    got = records(read(FileSource(), conf(tmp_path / "c.xlsx"), catalog()))
    assert got == [{"客户编号": "00123", "客户名称": "甲公司", "金额": "12.5"},
                   {"客户编号": "456", "客户名称": "乙公司", "金额": "3"}]


def test_jsonl_and_a_bad_line_is_flagged_not_lost(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    p.write_text('{"客户编号": "A", "n": 1}\nnot json\n{"客户编号": "B"}\n', encoding="utf-8")
    got = records(read(FileSource(), conf(p), catalog()))
    assert [g.get("客户编号") for g in got] == ["A", None, "B"]
    assert "line 2: not a JSON object" in got[1][ERRORS_FIELD][0]
    assert got[1]["_hub_text"] == "not json"


def test_undecodable_bytes_are_flagged_with_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "crm.csv"
    p.write_bytes(HEADER.encode("gbk") + b"KH1,\xff\xfe bad,1\n" + "KH2,好,2\n".encode("gbk"))
    got = records(read(FileSource(), conf(p, encoding="gbk"), catalog()))
    assert got[0][ERRORS_FIELD] == ["line 2, field '客户名称': bytes not valid in gbk"]
    assert got[0]["客户名称"].startswith("<ff")  # the bytes are kept, visibly
    assert ERRORS_FIELD not in got[1]


def test_glob_reads_files_in_order_and_skips_unchanged_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(HEADER + "1,甲,x\n2,乙,y\n3,丙,z\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text(HEADER + "4,丁,w\n", encoding="utf-8")
    c = conf(tmp_path / "*.csv")
    first = read(FileSource(), c, catalog())
    assert [r["客户编号"] for r in records(first)] == ["1", "2", "3", "4"]
    state = first.most_recent_state.stream_state.__dict__
    assert set(state["files"]) == {"a.csv", "b.csv"}
    # Unchanged files: nothing read. A new file: only it.
    (tmp_path / "c.csv").write_text(HEADER + "5,戊,v\n", encoding="utf-8")
    second = read(FileSource(), c, catalog(), StateBuilder().with_stream_state("customers", state).build())
    assert [r["客户编号"] for r in records(second)] == ["5"]
    # A changed file is read again whole, and so is every later file (their records supersede its own).
    third_state = second.most_recent_state.stream_state.__dict__
    (tmp_path / "b.csv").write_text(HEADER + "4,丁改,w\n", encoding="utf-8")
    third = read(FileSource(), c, catalog(), StateBuilder().with_stream_state("customers", third_state).build())
    assert [r["客户编号"] for r in records(third)] == ["4", "5"]


def test_an_interrupted_file_resumes_after_the_last_checkpoint(tmp_path: Path) -> None:
    rows = "".join(f"{i},名{i},{i}\n" for i in range(1, 8))
    (tmp_path / "a.csv").write_text(HEADER + rows, encoding="utf-8")
    c = conf(tmp_path / "a.csv")
    full = read(FileSource(), c, catalog())
    # The checkpoint after the 4th record (batch size 2): as if the sync died there.
    mid = [m.state.stream.stream_state.__dict__ for m in full.state_messages]
    checkpoint = next(s for s in mid if s.get("current", {}).get("rows") == 4)
    resumed = read(FileSource(), c, catalog(), StateBuilder().with_stream_state("customers", checkpoint).build())
    assert [r["客户编号"] for r in records(resumed)] == ["5", "6", "7"]


def test_missing_file_and_empty_glob_fail_with_the_path(tmp_path: Path) -> None:
    status = FileSource().check(LOG, conf(tmp_path / "none.csv"))
    assert status.status.name == "FAILED" and "file not found" in status.message and "none.csv" in status.message
    status = FileSource().check(LOG, conf(tmp_path / "*.csv"))
    assert status.status.name == "FAILED" and "no file matches" in status.message


def test_discover_reads_the_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(HEADER + "1,甲,x\n", encoding="utf-8")
    (stream,) = FileSource().discover(LOG, conf(tmp_path / "a.csv")).streams
    assert list(stream.json_schema["properties"]) == ["客户编号", "客户名称", "联系电话"]
    assert json.dumps(stream.source_defined_primary_key, ensure_ascii=False) == '[["客户编号"]]'
