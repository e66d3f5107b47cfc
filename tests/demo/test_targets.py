"""The demo's targets are set against what reps sell in every system, so attainment is near 91%, not inflated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from connectors.fakes import fxiaoke, kingdee
from connectors.fakes.universe import make_sales_reps
from demo.generate import generate, write_demo
from demo.targets import write_reference


def test_attainment_against_all_booked_orders_is_about_91_pct(tmp_path: Path) -> None:
    write_demo(tmp_path, generate(n_entities=2000, seed=7))
    paths = write_reference(tmp_path, n_entities=2000, seed=7)
    target = pd.read_csv(paths["targets"], encoding="utf-8-sig")
    rates = pd.read_csv(paths["fx_rates"], encoding="utf-8-sig")
    # what each rep sold, recomputed from the three order systems: booked orders only, dollars at the month's rate
    with sqlite3.connect(tmp_path / "erp.sqlite") as con:
        erp = pd.read_sql("SELECT s.FNAME AS rep, o.FDATE AS day, o.FAMOUNT AS amount, o.FCURRENCY AS currency "
                          "FROM T_SAL_ORDER o JOIN T_BD_SALESMAN s ON s.FID = o.FSALERID WHERE o.FSTATUS = 'C'", con)
    usd = rates[rates["currency"] == "USD"].set_index("month")["rate"]
    erp["amount"] = erp["amount"] * erp["day"].str[:7].map(usd).where(erp["currency"] == "USD", 1.0)
    names = make_sales_reps(seed=7).set_index("rep_id")["name"]
    kd = [r for r in kingdee.default_dataset(2000, 7).tables["SAL_SaleOrder"].records.values()
          if r["FDocumentStatus"] == "C"]
    fx = fxiaoke.default_dataset(2000, 7).tables["SalesOrderObj"].records.values()
    sold = pd.concat([
        erp[["rep", "day", "amount"]],
        pd.DataFrame({"rep": [r["FSalerId.FName"] for r in kd], "day": [r["FDate"] for r in kd],
                      "amount": [r["FBillAllAmount"] for r in kd]}),
        pd.DataFrame({"rep": [names[int(r["owner"][0]) - 1000] for r in fx],
                      "day": [pd.Timestamp(r["order_time"], unit="ms", tz="Asia/Shanghai").strftime("%Y-%m-%d")
                              for r in fx],
                      "amount": [float(r["order_amount"]) for r in fx]}),
    ])
    sold = sold.assign(year=sold["day"].str[:4]).groupby(["rep", "year"])["amount"].sum()
    goal = target.assign(year=target["月份"].str[:4]).groupby(["销售", "year"])["目标金额"].sum()
    attainment = (sold / goal.rename_axis(["rep", "year"])).dropna()
    recent = attainment[attainment.index.get_level_values("year") >= "2022"]
    # 110% of a year's average month, rounded to 10,000: attainment over a year is 1 / 1.1 ≈ 91%, give or take
    # the rounding (before, targets came from the ERP alone and the median was 249%)
    assert 0.88 < recent.median() < 0.94
    assert recent.between(0.75, 1.1).mean() > 0.95
