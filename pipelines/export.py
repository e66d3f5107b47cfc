"""`hub export`: one mart to an Excel workbook or a CSV file, with its documentation beside the data.

Excel: a sheet `about` (the mart's description, grain, key, references, when it was exported and how many rows;
then each column with its type and description, from `marts.yaml`) and a sheet `data`. CSV: the data (UTF-8
with a BOM, so Excel reads the Chinese text), and `<name>.columns.csv` beside it with the same header as the
`about` sheet's column table. Rows are streamed in batches; an Excel sheet holds at most 1,048,575 rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.publish import mart_columns
from predict.catalog import all_mart_docs
from warehouse.engine import Warehouse

EXCEL_MAX_ROWS = 1_048_575  # a sheet's rows less the header
FORMATS = ("xlsx", "csv")


class ExportError(Exception):
    """A mart that cannot be exported as asked; the message says why."""


@dataclass(frozen=True)
class Exported:
    mart: str
    rows: int
    paths: tuple[Path, ...]


def mart_name(name: str) -> str:
    """`marts.fct_sales_orders` or `fct_sales_orders` → `fct_sales_orders`; an unknown mart is an error."""
    mart, marts = name.removeprefix("marts."), all_mart_docs()
    if mart not in marts:
        raise ExportError(f"no mart {name!r}; the marts are: {', '.join(marts)}")
    return mart


def _about(wh: Warehouse, mart: str, rows: int) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    doc = all_mart_docs()[mart]
    refs = "; ".join(f"{', '.join(r.columns)} → {r.mart}({', '.join(r.columns_to)})" for r in doc.references)
    head = [("mart", f"marts.{mart}"), ("description", doc.description), ("grain", doc.grain),
            ("key", ", ".join(doc.key)), ("references", refs), ("rows", f"{rows:,}"),
            ("exported", dt.datetime.now().isoformat(timespec="seconds")), ("warehouse", wh.location)]
    types = dict(mart_columns(wh, mart))
    return head, [(c, types.get(c, ""), d) for c, d in doc.columns.items()]


def export_mart(wh: Warehouse, name: str, path: str | Path, fmt: str | None = None) -> Exported:
    """Write one mart to `path` as xlsx or csv (by `fmt`, else by the file's extension)."""
    mart, path = mart_name(name), Path(path)
    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(f"{path}: cannot tell the format; use --format xlsx or csv")
    rows = int(wh.scalar(f"SELECT COUNT(*) FROM marts.{mart}") or 0)
    if fmt == "xlsx" and rows > EXCEL_MAX_ROWS:
        raise ExportError(f"marts.{mart} has {rows:,} rows, more than an Excel sheet holds "
                          f"({EXCEL_MAX_ROWS:,}): use --format csv")
    head, columns = _about(wh, mart, rows)
    data = wh.read_arrow(f"SELECT * FROM marts.{mart}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        _write_xlsx(path, head, columns, data)
        return Exported(mart, rows, (path,))
    sidecar = path.with_name(path.stem + ".columns.csv")
    with path.open("wb") as f:
        f.write("\ufeff".encode())
        pacsv.write_csv(data, f)
    with sidecar.open("wb") as f:
        f.write("\ufeff".encode())
        pacsv.write_csv(pa.table({k: [r[i] for r in columns] for i, k in enumerate(("column", "type",
                                                                                    "description"))}), f)
    return Exported(mart, rows, (path, sidecar))


def _write_xlsx(path: Path, head: list[tuple[str, str]], columns: list[tuple[str, str, str]], data: pa.Table) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    about = book.create_sheet("about")
    for pair in head:
        about.append(list(pair))
    about.append([])
    about.append(["column", "type", "description"])
    for column in columns:
        about.append(list(column))
    sheet = book.create_sheet("data")
    sheet.append(data.column_names)
    for batch in data.to_batches(max_chunksize=10_000):
        for row in zip(*(col.to_pylist() for col in batch.columns), strict=True):
            sheet.append(list(row))
    book.save(path)
