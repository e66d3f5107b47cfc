"""The Fxiaoke fake's opportunities and leads as prediction inputs, without a warehouse.

`hub run` turns the fake's records into marts (staging, golden customers, fct_opportunities, …); the benchmark and
the tests of `predict/` want the same frames at any size in seconds. This reads a generated `Dataset` the way the
demo config maps it (accounts as customers, `owner[0]` as the rep, times in China time) into `predict.Inputs`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from connectors.fakes.dataset import Dataset
from connectors.fakes.sample import sample_universe
from predict.inputs import Inputs

SOURCE = "fxiaoke"
STATUS = {"赢单": "won", "输单": "lost"}


def _time(ms: pd.Series) -> pd.Series:
    return pd.to_datetime(ms, unit="ms", utc=True).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)


def _frame(dataset: Dataset, name: str) -> pd.DataFrame:
    return pd.DataFrame(dataset.records(name))


def _first(owner: Any) -> Any:
    return owner[0] if isinstance(owner, list) and owner else None


def inputs_from_dataset(dataset: Dataset) -> Inputs:
    """The prediction inputs the demo's Fxiaoke records give (accounts are the golden customers)."""
    acc = _frame(dataset, "AccountObj")
    opp = _frame(dataset, "NewOpportunityObj")
    changes = _frame(dataset, "NewOpportunityStageChangeObj")
    leads = _frame(dataset, "LeadsObj")
    orders = _frame(dataset, "SalesOrderObj")
    pays = _frame(dataset, "PaymentObj")
    people = _frame(dataset, "PersonnelObj")
    source = acc.set_index("_id")["account_source"]
    opportunities = pd.DataFrame({
        "source_name": SOURCE, "stream": "NewOpportunityObj", "opportunity_key": opp["_id"], "name": opp["name"],
        "golden_id": opp["account_id"], "rep_id": opp["owner"].map(_first), "lead_key": opp.get("leads_id"),
        "amount": opp["amount"].astype(float), "stage": opp["sales_stage"],
        "outcome": opp["sales_status"].map(STATUS).fillna("open"), "channel": None,
        "customer_channel": opp["account_id"].map(source), "created_at": _time(opp["create_time"]),
        "closed_at": _time(opp["close_date"]), "probability": opp["probability"].astype(float),
        "lost_reason": opp.get("lost_reason"), "updated_at": _time(opp["last_modified_time"])})
    log = pd.DataFrame({"source_name": SOURCE, "stream": "NewOpportunityObj",
                        "opportunity_key": changes["new_opportunity_id"], "stage": changes["after_stage"],
                        "entered_at": _time(changes["change_time"]),
                        "probability": changes["probability"].astype(float)})
    log = log.sort_values(["opportunity_key", "entered_at"], kind="mergesort")
    log["stage_number"] = log.groupby("opportunity_key").cumcount() + 1
    first_opp = opp.dropna(subset=["leads_id"]).sort_values("create_time").drop_duplicates("leads_id") \
        if "leads_id" in opp else opp.iloc[0:0]
    linked = dict(zip(first_opp.get("leads_id", []), first_opp.get("_id", []), strict=True))
    status = leads["biz_status"]
    lead_frame = pd.DataFrame({
        "source_name": SOURCE, "stream": "LeadsObj", "lead_key": leads["_id"], "company_name": leads["company"],
        "contact_name": leads["name"], "phone": leads.get("mobile", pd.Series(index=leads.index, dtype=object))
        .fillna(leads.get("tel", pd.Series(index=leads.index, dtype=object))), "channel": leads["source"],
        "status": status, "is_open": ~status.isin(["transformed", "closed"]) & ~leads["_id"].isin(linked),
        "owner": leads["owner"].map(_first), "rep_id": leads["owner"].map(_first),
        "opportunity_key": leads["_id"].map(linked), "created_at": _time(leads["create_time"]), "converted_at": pd.NaT,
        "opportunity_credited": leads["_id"].isin(linked)})
    order_frame = pd.DataFrame({"golden_id": orders["account_id"], "source_name": SOURCE,
                                "at": _time(orders["order_time"]), "amount": orders["order_amount"].astype(float)})
    pay_frame = pd.DataFrame({"golden_id": pays["account_id"], "source_name": SOURCE,
                              "at": _time(pays["payment_time"]), "amount": pays["payment_amount"].astype(float)})
    customers = pd.DataFrame({"golden_id": acc["_id"], "name": acc["name"], "industry": acc["industry_level1"],
                              "parent_golden_id": None})
    reps = pd.DataFrame({"rep_id": people["user_id"], "name": people["name"], "team": people["main_department"],
                         "region": people["main_department"]})
    return Inputs(opportunities, log.reset_index(drop=True), lead_frame, order_frame, pay_frame, customers, reps)


def generated_inputs(opportunities: int, seed: int = 7) -> Inputs:
    """About `opportunities` generated opportunities (with their leads, orders and payments) as prediction inputs:
    a sample universe sized so that every company is an account."""
    from connectors.fakes import fxiaoke

    per_account = fxiaoke.Sizes().opportunities_per_account * 1.1  # and the converted leads' own
    universe, reps = sample_universe(n_entities=max(20, round(opportunities / per_account)), n_reps=max(6, round(
        opportunities / 60)), seed=seed)
    sizes = fxiaoke.Sizes(account_share=1.0, leads_per_entity=1.0)
    return inputs_from_dataset(fxiaoke.build_dataset(universe, reps, seed, sizes))
