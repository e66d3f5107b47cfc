"""The demo's reference files for the marts: monthly sales targets per rep, monthly cost per lead source, and
monthly exchange rates.

Targets are set against everything a rep sells, in every system the demo has: the booked orders (the status
classes of `demo/hub.yaml`'s `marts.order_status`) of the generated ERP (`erp.sqlite`) and of the Kingdee and
Fxiaoke fakes, which serve the same universe of companies (same size and seed). Each rep's monthly target in a
year is 110% of their average monthly revenue in CNY that year, rounded to 10,000 元, written by rep *name* with
Chinese headers (as a sales manager's spreadsheet would be), so a rep's attainment over a year is about 91%.
Channel costs use the CRM's lead sources (展会, 官网, …); exchange rates are a gentle walk around 7.1 CNY per
US dollar (and EUR, HKD).

`hub demo generate` writes them; on their own: ``python -m demo.targets --out demo/data [--entities N --seed S]``.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CHANNELS", "channel_costs", "fx_rates", "main", "rep_revenue", "targets", "write_reference"]

CHANNELS = ("展会", "官网", "转介绍", "电话营销", "广告")
_MONTHLY_COST = {"展会": 180_000, "官网": 40_000, "转介绍": 15_000, "电话营销": 60_000, "广告": 120_000}
_FX_BASE = {"USD": 7.1, "EUR": 7.8, "HKD": 0.91}
BOOKED = {"erp": {"C"}, "kingdee": {"C"}}  # Fxiaoke's order statuses (已确认, 已发货, 已完成) are all booked


def _month_range(months: pd.Series) -> list[str]:
    period = pd.PeriodIndex(months, freq="M")
    return [str(p) for p in pd.period_range(period.min(), period.max(), freq="M")]


def fx_rates(months: list[str], seed: int = 7) -> pd.DataFrame:
    """month (YYYY-MM), currency, rate: CNY per unit, a walk of ±0.5% a month around each base rate."""
    rng = np.random.default_rng([seed, 60])
    rows = []
    for currency, base in _FX_BASE.items():
        walk = base * np.cumprod(1 + rng.uniform(-0.005, 0.005, len(months)))
        rows += [(m, currency, f"{r:.4f}") for m, r in zip(months, walk, strict=True)]
    return pd.DataFrame(rows, columns=["month", "currency", "rate"])


def _fake_orders(n_entities: int, seed: int) -> pd.DataFrame:
    """The Kingdee and Fxiaoke fakes' booked orders: rep name, day, amount (CNY)."""
    from connectors.fakes import fxiaoke, kingdee
    from connectors.fakes.universe import make_sales_reps

    names = make_sales_reps(seed=seed).set_index("rep_id")["name"]
    kd = [r for r in kingdee.default_dataset(n_entities, seed).tables["SAL_SaleOrder"].records.values()
          if r["FDocumentStatus"] in BOOKED["kingdee"]]
    fx = list(fxiaoke.default_dataset(n_entities, seed).tables["SalesOrderObj"].records.values())
    return pd.concat([
        pd.DataFrame({"rep": [r["FSalerId.FName"] for r in kd], "day": [r["FDate"][:10] for r in kd],
                      "amount": [float(r["FBillAllAmount"]) for r in kd]}),
        pd.DataFrame({"rep": [names[int(r["owner"][0]) - int(fxiaoke.ADMIN_EMPLOYEE_ID)] for r in fx],
                      "day": pd.to_datetime([r["order_time"] for r in fx], unit="ms", utc=True)
                      .tz_convert("Asia/Shanghai").strftime("%Y-%m-%d"),
                      "amount": [float(r["order_amount"]) for r in fx]}),
    ], ignore_index=True)


def rep_revenue(erp_orders: pd.DataFrame, salesmen: pd.DataFrame, fake_orders: pd.DataFrame,
                rates: pd.DataFrame) -> pd.DataFrame:
    """rep (name), month (YYYY-MM), amount (CNY): the booked orders of the ERP (converted at the month's rate)
    and of the fakes."""
    erp = erp_orders[erp_orders["FSTATUS"].isin(BOOKED["erp"])].merge(
        salesmen.rename(columns={"FID": "FSALERID"}), on="FSALERID")
    erp = erp.assign(month=erp["FDATE"].str[:7])
    rate = rates.assign(rate=rates["rate"].astype(float)).set_index(["month", "currency"])["rate"]
    factor = [1.0 if c == "CNY" else rate[(m, c)] for m, c in zip(erp["month"], erp["FCURRENCY"], strict=True)]
    erp = pd.DataFrame({"rep": erp["FNAME"], "month": erp["month"], "amount": erp["FAMOUNT"] * np.array(factor)})
    fakes = pd.DataFrame({"rep": fake_orders["rep"], "month": fake_orders["day"].str[:7],
                          "amount": fake_orders["amount"]})
    return pd.concat([erp, fakes], ignore_index=True).groupby(["rep", "month"], as_index=False)["amount"].sum()


def targets(salesmen: pd.DataFrame, revenue: pd.DataFrame) -> pd.DataFrame:
    """销售 (rep name), 团队 (team), 月份 (YYYY-MM), 目标金额 (amount): one row per rep and month from the first
    month with orders to the last; a month's target is 110% of the rep's average monthly revenue in its year."""
    months = pd.DataFrame({"month": _month_range(revenue["month"])})
    months["year"] = months["month"].str[:4]
    per_year = months.groupby("year").size().rename("months")
    yearly = revenue.assign(year=revenue["month"].str[:4]).groupby(["rep", "year"])["amount"].sum()
    grid = salesmen.merge(months, how="cross").join(per_year, on="year")
    total = yearly.reindex(pd.MultiIndex.from_arrays([grid["FNAME"], grid["year"]])).fillna(0).to_numpy()
    amount = np.maximum((total / grid["months"].to_numpy() * 1.1).round(-4), 10_000)
    return pd.DataFrame({"销售": grid["FNAME"], "团队": grid["FDEPT"], "月份": grid["month"],
                         "目标金额": [f"{a:.2f}" for a in amount]})


def channel_costs(months: list[str], seed: int = 7) -> pd.DataFrame:
    """channel, month (YYYY-MM), amount: each lead source's spend per month, ±25% around its budget."""
    grid = pd.DataFrame([(c, m) for c in CHANNELS for m in months], columns=["channel", "month"])
    budget = grid["channel"].map(_MONTHLY_COST).to_numpy()
    amount = np.round(budget * np.random.default_rng([seed, 50]).uniform(0.75, 1.25, len(grid)), -2)
    return grid.assign(amount=[f"{a:.2f}" for a in amount])


def write_reference(data_dir: Path, n_entities: int = 2000, seed: int = 7) -> dict[str, Path]:
    """Write targets.csv, channel_costs.csv and fx_rates.csv (UTF-8 with BOM, as Excel saves CSV) from
    `data_dir/erp.sqlite` and the fakes' data for the same universe (`n_entities`, `seed`)."""
    data_dir = Path(data_dir)
    with sqlite3.connect(data_dir / "erp.sqlite") as con:
        salesmen = pd.read_sql("SELECT FID, FNAME, FDEPT FROM T_BD_SALESMAN ORDER BY FID", con)
        orders = pd.read_sql("SELECT FDATE, FSALERID, FAMOUNT, FSTATUS, FCURRENCY FROM T_SAL_ORDER", con)
    fakes = _fake_orders(n_entities, seed)
    months = _month_range(pd.concat([orders["FDATE"].str[:7], fakes["day"].str[:7]]))
    rates = fx_rates(months, seed)
    paths = {"targets": data_dir / "targets.csv", "channel_costs": data_dir / "channel_costs.csv",
             "fx_rates": data_dir / "fx_rates.csv"}
    targets(salesmen, rep_revenue(orders, salesmen, fakes, rates)).to_csv(paths["targets"], index=False,
                                                                          encoding="utf-8-sig")
    channel_costs(_month_range(orders["FDATE"].str[:7]), seed).to_csv(paths["channel_costs"], index=False,
                                                                       encoding="utf-8-sig")
    rates.to_csv(paths["fx_rates"], index=False, encoding="utf-8-sig")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m demo.targets --out DIR`` (DIR holds the generated erp.sqlite)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo/data"), help="the demo data folder")
    parser.add_argument("--entities", type=int, default=2000, help="the universe's size (as `hub demo generate`)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for name, path in write_reference(args.out, args.entities, args.seed).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
