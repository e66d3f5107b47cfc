"""Reading an XLSX export: python-calamine against openpyxl, through the file connector's own row reader.

    python -m bench.excel_read [--rows 100000]

Writes one sheet of N rows × 8 columns (a title row, the header on row 3, text, numbers, dates) with
openpyxl, then reads every row as the connector does (`connectors/file/excel.py: xlsx_rows`), once with each
reader. Wall and CPU seconds; both readers must give the same rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from connectors.file import excel


def write(path: Path, n: int) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("客户")
    ws.append(["客户清单（导出）"])
    ws.append([])
    ws.append(["客户编号", "客户名称", "区域", "信用额度", "签约日期", "联系电话", "地址", "备注"])
    day = dt.datetime(2020, 1, 1)
    for i in range(n):
        ws.append([f"KH{i:08d}", f"客户{i}有限公司", ["华东", "华南", "华北"][i % 3], i * 1.5,
                   day + dt.timedelta(days=i % 1500), f"1380013{i % 10000:04d}", f"厦门市湖里区{i}号", None])
    wb.save(path)


def read(path: Path, reader: Any) -> tuple[float, float, list[Any]]:
    wall, cpu = time.perf_counter(), time.process_time()
    rows = list(excel.xlsx_rows(str(path), None, excel.FileOptions(header_row=3), reader=reader))
    return time.perf_counter() - wall, time.process_time() - cpu, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.xlsx"
        t = time.perf_counter()
        write(path, args.rows)
        print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f}s")
        results = {}
        for name, reader in (("openpyxl", excel._Openpyxl), ("python-calamine", excel._Calamine)):
            wall, cpu, rows = read(path, reader)
            results[name] = rows
            print(f"{name:<16} {wall:6.2f}s wall {cpu:6.2f}s CPU  {(len(rows) - 1) / wall:,.0f} rows/s")
        assert results["openpyxl"] == results["python-calamine"], "the readers differ"
        print("same rows from both readers")


if __name__ == "__main__":
    main()
