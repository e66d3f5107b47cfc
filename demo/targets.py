"""The demo's reference files for the marts: monthly sales targets per rep, and monthly cost per lead source.

Derived, deterministically, from the generated ERP (`erp.sqlite`): each rep's monthly target is 110% of
their average monthly order revenue, rounded to 10,000 元, written by rep *name* with Chinese headers
(as a sales manager's spreadsheet would be); channel costs use the CRM's lead sources (展会, 官网, …).

`hub demo generate` writes them; on their own: ``python -m demo.targets --out demo/data``.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CHANNELS", "channel_costs", "main", "targets", "write_reference"]

CHANNELS = ("展会", "官网", "转介绍", "电话营销", "广告")
_MONTHLY_COST = {"展会": 180_000, "官网": 40_000, "转介绍": 15_000, "电话营销": 60_000, "广告": 120_000}


def _months(orders: pd.DataFrame) -> list[str]:
    month = pd.to_datetime(orders["FDATE"]).dt.to_period("M")
    return [str(p) for p in pd.period_range(month.min(), month.max(), freq="M")]


def targets(salesmen: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """销售 (rep name), 团队 (team), 月份 (YYYY-MM), 目标金额 (amount): one row per rep and order month."""
    months = _months(orders)
    revenue = orders.groupby("FSALERID")["FAMOUNT"].sum().reindex(salesmen["FID"]).fillna(0).to_numpy()
    monthly = np.maximum((revenue / len(months) * 1.1).round(-4), 10_000)
    grid = salesmen.assign(amount=monthly).merge(pd.DataFrame({"month": months}), how="cross")
    return pd.DataFrame({"销售": grid["FNAME"], "团队": grid["FDEPT"], "月份": grid["month"],
                         "目标金额": [f"{a:.2f}" for a in grid["amount"]]})


def channel_costs(orders: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """channel, month (YYYY-MM), amount: each lead source's spend per order month, ±25% around its budget."""
    grid = pd.DataFrame([(c, m) for c in CHANNELS for m in _months(orders)], columns=["channel", "month"])
    budget = grid["channel"].map(_MONTHLY_COST).to_numpy()
    amount = np.round(budget * np.random.default_rng([seed, 50]).uniform(0.75, 1.25, len(grid)), -2)
    return grid.assign(amount=[f"{a:.2f}" for a in amount])


def write_reference(data_dir: Path) -> dict[str, Path]:
    """Write targets.csv and channel_costs.csv (UTF-8 with BOM, as Excel saves CSV) from `data_dir/erp.sqlite`."""
    data_dir = Path(data_dir)
    with sqlite3.connect(data_dir / "erp.sqlite") as con:
        salesmen = pd.read_sql("SELECT FID, FNAME, FDEPT FROM T_BD_SALESMAN ORDER BY FID", con)
        orders = pd.read_sql("SELECT FDATE, FSALERID, FAMOUNT FROM T_SAL_ORDER", con)
    paths = {"targets": data_dir / "targets.csv", "channel_costs": data_dir / "channel_costs.csv"}
    targets(salesmen, orders).to_csv(paths["targets"], index=False, encoding="utf-8-sig")
    channel_costs(orders).to_csv(paths["channel_costs"], index=False, encoding="utf-8-sig")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m demo.targets --out DIR`` (DIR holds the generated erp.sqlite)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo/data"), help="the demo data folder")
    args = parser.parse_args(argv)
    for name, path in write_reference(args.out).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
