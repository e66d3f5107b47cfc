"""Excel exports as they really look (issue 14): title rows above the header, merged cells, Excel serial dates,
one sheet per month; and a CSV with a title row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from connectors.file.excel import serial_date
from core.config import HubConfig
from pipelines.sync import sync_source
from warehouse.engine import Warehouse

HEADER = ["客户编号", "客户名称", "区域", "签约日期"]


def export(path: Path, sheets: dict[str, list[list[Any]]], title: bool = True) -> None:
    """An export as ERP screens write it: a title, a blank row, then the header; 区域 merged over its rows."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        if title:
            ws.append(["客户清单（导出时间 2024-03-05）"])
            ws.merge_cells("A1:D1")
            ws.append([])
        ws.append(HEADER)
        start = ws.max_row + 1
        for r in rows:
            ws.append(r)
        ws.merge_cells(f"C{start}:C{start + len(rows) - 1}")  # one region for the whole block
    wb.save(path)


def config(path: Path, **stream: Any) -> HubConfig:
    return HubConfig.model_validate({"sources": {"erp": {"connector": "file", "config": {"path": str(path)},
                                                         "streams": {"customers": {
                                                             "primary_key": "客户编号", "entity": "customer",
                                                             "mapping": {"name": "客户名称"}, **stream}}}}})


def landed(tmp_path: Path) -> dict[str, dict[str, Any]]:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    df = wh.read_frame("SELECT _key, _data FROM raw.erp__customers")
    wh.dispose()
    return {k: json.loads(d) for k, d in zip(df["_key"], df["_data"], strict=True)}


def sync(tmp_path: Path, cfg: HubConfig) -> Any:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        return sync_source(cfg, wh, "erp")
    finally:
        wh.dispose()


def test_a_title_row_export_with_merged_cells_serial_dates_and_a_sheet_per_month(tmp_path: Path) -> None:
    f = tmp_path / "客户清单.xlsx"
    export(f, {"1月": [["K1", "甲公司", "华东", 45292], ["K2", "乙公司", None, 45293.5]],
               "2月": [["K3", "丙公司", "华南", "45323"], ["K4", "丁公司", None, None]]})
    # as the engineer first tries it: the title is read as the header, and the error says what to set
    r = sync(tmp_path, config(f))
    assert r.status == "failed"
    assert "primary_key '客户编号' is not a column of the source" in r.error
    assert "the first row looks like a title, not a header: set header_row" in r.error
    r = sync(tmp_path, config(f, header_row=3, fill_down=["区域"], excel_dates=["签约日期"], sheet="*"))
    assert r.status == "succeeded", r.error
    got = landed(tmp_path)
    assert {k: (v["区域"], v["签约日期"]) for k, v in got.items()} == {
        "K1": ("华东", "2024-01-01"), "K2": ("华东", "2024-01-02 12:00:00"),
        "K3": ("华南", "2024-02-01"), "K4": ("华南", None)}
    assert got["K1"]["客户名称"] == "甲公司"


def test_sheets_must_exist_and_share_the_header(tmp_path: Path) -> None:
    f = tmp_path / "x.xlsx"
    export(f, {"1月": [["K1", "甲", "华东", 1]]})
    r = sync(tmp_path, config(f, header_row=3, sheet=["1月", "3月"]))
    assert r.status == "failed" and "no sheet named '3月' (its sheets: '1月')" in r.error
    wb = Workbook()
    wb.active.title = "a"
    wb.active.append(HEADER)
    wb.active.append(["K1", "甲", "华东", 1])
    other = wb.create_sheet("b")
    other.append(["编号", "名称"])
    other.append(["K2", "乙"])
    wb.save(f)
    r = sync(tmp_path, config(f, sheet="*"))
    assert r.status == "failed" and "sheet 'b' has the header 编号, 名称, unlike the first sheet's" in r.error


def test_a_csv_with_title_rows_reads_from_its_header_row(tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text("客户清单\n导出人：张三\n客户编号,客户名称\nK1,甲\nK2,乙,多余\nK3,丙\n", encoding="utf-8")
    r = sync(tmp_path, config(f, header_row=3, health={"max_quarantined_share": 0.5}))
    assert (r.status, r.stats.read, r.stats.loaded, r.stats.quarantined) == ("warning", 3, 2, 1)
    assert set(landed(tmp_path)) == {"K1", "K3"}
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    reason = wh.scalar("SELECT reason FROM raw._quarantine")
    wh.dispose()
    assert reason == "line 5: 3 cells but the header has 2"  # the line in the file, title rows counted


@pytest.mark.parametrize(("value", "expected"), [
    (45292, "2024-01-01"), (45292.75, "2024-01-01 18:00:00"), ("45292", "2024-01-01"), (60, "1900-02-28"),
    ("abc", "abc"), (None, None), (0, 0), (True, True),
])
def test_serial_dates(value: Any, expected: Any) -> None:
    assert serial_date(value) == expected


def test_calamine_and_openpyxl_read_the_same_rows(tmp_path: Path) -> None:
    """The fast reader gives what openpyxl gives: data starting in column B below empty rows, dates, numbers."""
    import datetime as dt

    from connectors.file.excel import FileOptions, _Calamine, _Openpyxl, xlsx_rows

    f = tmp_path / "offset.xlsx"
    wb = Workbook()
    ws = wb.active
    ws["B3"], ws["B5"], ws["C5"], ws["D5"], ws["E5"] = "客户清单", "客户编号", "客户名称", "签约日期", "额度"
    ws.append([None, "K1", "甲", dt.date(2024, 1, 2), 3.0])
    ws.append([None, "K2", None, dt.datetime(2024, 1, 2, 3, 4, 5), 1234.5])
    ws.append([])
    ws.append([None, "K3", "丙", None, "x"])
    wb.save(f)
    for header_row in (1, 5):
        options = FileOptions(header_row=header_row, fill_down=["客户名称"], excel_dates=["额度"])
        fast = list(xlsx_rows(str(f), None, options, reader=_Calamine))
        slow = list(xlsx_rows(str(f), None, options, reader=_Openpyxl))
        assert fast == slow
    assert fast[0] == ["column_1", "客户编号", "客户名称", "签约日期", "额度"]
    assert fast[1:] == [
        {"column_1": None, "客户编号": "K1", "客户名称": "甲", "签约日期": "2024-01-02T00:00:00", "额度": "1900-01-02"},
        {"column_1": None, "客户编号": "K2", "客户名称": "甲", "签约日期": "2024-01-02T03:04:05",
         "额度": "1903-05-18 12:00:00"},
        {"column_1": None, "客户编号": "K3", "客户名称": "丙", "签约日期": None, "额度": "x"}]
