"""`hub export`: a mart to Excel (its documentation on an `about` sheet) or CSV (and a columns file)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from hub.cli import main
from pipelines.export import ExportError, export_mart
from pipelines.publish import publish
from tests.warehouse.test_marts import GOLDEN, QUARANTINE, STAGING, XREF, fill
from warehouse.engine import Warehouse
from warehouse.marts.catalog import mart_docs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    wh = Warehouse(f"duckdb:///{root / 'w.duckdb'}")
    fill(wh, STAGING, XREF, GOLDEN, QUARANTINE)
    publish(wh)
    wh.dispose()
    (root / "hub.yaml").write_text("warehouse: {url: 'duckdb:///w.duckdb'}\n", encoding="utf-8")
    return root


def test_a_mart_to_excel_with_its_documentation(built: Path) -> None:
    out = built / "out" / "orders.xlsx"
    r = CliRunner().invoke(main, ["export", "-c", str(built / "hub.yaml"), "marts.fct_sales_orders", "--out",
                                  str(out)])
    assert r.exit_code == 0, r.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["about", "data"]
    about = [tuple(c for c in row if c is not None) for row in book["about"].iter_rows(values_only=True)]
    doc = mart_docs()["fct_sales_orders"]
    assert about[:4] == [("mart", "marts.fct_sales_orders"), ("description", doc.description),
                         ("grain", doc.grain), ("key", "source_name, stream, order_key")]
    assert ("rows", "5") in about
    table = about[about.index(("column", "type", "description")) + 1:]
    assert [(c, d) for c, _, d in table] == list(doc.columns.items())
    assert dict((c, t) for c, t, _ in table)["amount"] in ("DECIMAL(18,2)", "numeric")
    data = list(book["data"].iter_rows(values_only=True))
    assert data[0] == tuple(doc.columns) and len(data) == 6  # the header and the 5 orders
    amounts = {row[2]: row[data[0].index("amount")] for row in data[1:]}
    assert D(str(amounts["O1"])) == D("1000.10")  # a number in Excel, to the cent


def test_a_mart_to_csv_with_a_columns_file(built: Path) -> None:
    wh = Warehouse(f"duckdb:///{built / 'w.duckdb'}")
    done = export_mart(wh, "channel_roi", built / "roi.csv")
    assert [p.name for p in done.paths] == ["roi.csv", "roi.columns.csv"] and done.rows == 7
    data = pd.read_csv(built / "roi.csv", encoding="utf-8-sig")
    assert list(data.columns) == list(mart_docs()["channel_roi"].columns) and len(data) == 7
    assert data.loc[data["channel"] == "广告", "cost"].tolist() == [300.0]
    columns = pd.read_csv(built / "roi.columns.csv", encoding="utf-8-sig")
    assert list(columns.columns) == ["column", "type", "description"]
    assert columns["description"].tolist() == list(mart_docs()["channel_roi"].columns.values())


def test_an_unknown_mart_or_format_is_an_error(built: Path) -> None:
    wh = Warehouse(f"duckdb:///{built / 'w.duckdb'}")
    with pytest.raises(ExportError, match="no mart 'orders'; the marts are: dim_date, "):
        export_mart(wh, "orders", built / "x.xlsx")
    with pytest.raises(ExportError, match="cannot tell the format; use --format xlsx or csv"):
        export_mart(wh, "dim_date", built / "x.parquet")
    r = CliRunner().invoke(main, ["export", "-c", str(built / "hub.yaml"), "nothing"])
    assert r.exit_code == 2 and "error: no mart 'nothing'" in r.output  # (a wrong argument)


def test_show_and_export_name_a_missing_table_or_warehouse_and_create_nothing(built: Path, tmp_path: Path) -> None:
    cfg = str(built / "hub.yaml")
    r = CliRunner().invoke(main, ["show", "-c", cfg, "marts.dim_custmer"])
    assert r.exit_code == 2 and "error: no table 'marts.dim_custmer' in the warehouse" in r.output, r.output
    assert CliRunner().invoke(main, ["show", "-c", cfg, "dim_customer"]).exit_code == 2  # (no schema)
    typo = tmp_path / "nowhere" / "x.duckdb"
    for args in (["show", "-c", cfg, "marts.dim_customer"], ["export", "-c", cfg, "dim_date"],
                 ["steward", "queue", "-c", cfg]):
        r = CliRunner().invoke(main, [*args, "--warehouse", f"duckdb:///{typo}"])
        assert r.exit_code == 2 and f"error: no warehouse at {typo}: `hub run` makes it" in r.output, (args, r.output)
    assert not typo.exists() and not typo.parent.exists()  # (a read made no empty warehouse)
    assert CliRunner().invoke(main, ["show", "-c", cfg, "marts.dim_date", "--limit", "1"]).exit_code == 0
