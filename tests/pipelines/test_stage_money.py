"""Money is staged exactly, with its currency, on DuckDB and PostgreSQL: the text's digits, no float step."""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd

from core.entities import ENTITIES
from pipelines.stage import type_records, write_staged
from warehouse.engine import Warehouse


def stage_orders(wh: Warehouse, amounts: list[str], currencies: list[str | None]) -> pd.DataFrame:
    n = len(amounts)
    raw = pd.DataFrame({"source_key": [f"O{i}" for i in range(n)], "_sync_id": "s1",
                        "_extracted_at": pd.Timestamp("2024-03-01"), "f_order_number": [f"SO-{i}" for i in range(n)],
                        "f_customer_key": "C1", "f_order_date": "2024-02-17", "f_amount": amounts,
                        "f_currency": currencies})
    formats = dict.fromkeys(["order_number", "customer_key", "order_date", "amount", "currency"])
    staged, quarantine = type_records("erp", "orders", ENTITIES["sales_order"], raw, formats)
    write_staged(wh, "erp", "orders", ENTITIES["sales_order"], staged, quarantine)
    return quarantine


def test_amounts_land_to_the_cent_with_their_currency(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    amounts = ["1.005", "10.005", "12345678901234.565", "$250.00", "¥1,000.10", "US$ 3.10", "$9.99"]
    quarantine = stage_orders(wh, amounts, [None, None, "cny", None, None, "USD", "CNY"])
    got = wh.read_frame("SELECT source_key, amount, currency FROM staging.sales_order ORDER BY source_key")
    assert [(k, D(str(a)), c) for k, a, c in got.itertuples(index=False)] == [
        ("O0", D("1.01"), None),  # through a float: 1.00
        ("O1", D("10.01"), None),
        ("O2", D("12345678901234.57"), "CNY"),  # through a float: .56 (the float is 12345678901234.564…)
        ("O3", D("250.00"), "USD"),  # not summed as CNY: the text names dollars
        ("O4", D("1000.10"), "CNY"),
        ("O5", D("3.10"), "USD"),
    ]
    # "$9.99" in a record whose currency field says CNY: rejected, with the reason
    assert quarantine[["record_key", "field", "action"]].values.tolist() == [["O6", "currency", "rejected"]]
    assert wh.scalar("SELECT SUM(amount) FROM staging.sales_order") == D("12345678902498.79")
