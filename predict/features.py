"""Features of an opportunity or a lead on a scoring date, from what was known on that date only.

Every feature of a row `(record, as_of)` reads the events dated before `as_of` (a stage entered on `as_of` counts:
the CRM showed it that day): stages entered, deals closed, orders and payments, leads converted, the rep's closed
deals. Nothing reads an opportunity's present state (its stage now, outcome, close date, probability, last change,
loss reason) or a lead's status: those are what happened later. Static attributes (the customer's industry, the
acquisition channel, the lead's contact details) are taken as recorded. `tests/predict/test_no_leakage.py` holds
every feature to this: computed on the data as it is and on the data as it was on the scoring date, they agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from predict.inputs import Inputs
from predict.timeline import events_by

REP_WINDOW = pd.Timedelta(days=365)
"""The rep's trailing win (conversion) rate looks at what closed in this window before the scoring date."""
PRIOR_DEALS = 10
LEAD_HORIZON = pd.Timedelta(days=90)
"""A lead succeeds when it becomes a won opportunity within this time (HubSpot's horizon)."""
"""A rep's rate is shrunk towards everyone's rate as if the rep had this many more deals at that rate."""
UNKNOWN = "(unknown)"
NOT_RECORDED = "(not recorded)"
SEP = "\x1f"


@dataclass(frozen=True)
class Feature:
    """A model input: its name, whether it is a category, and how a value reads in a sentence."""

    name: str
    categorical: bool
    words: Callable[[object], str]


def _n(v: Any) -> float:
    return float(v) if v is not None and not pd.isna(v) else float("nan")


def _count(one: str, many: str, none: str) -> Callable[[object], str]:
    def words(v: object) -> str:
        x = _n(v)
        return none if not x else one if x == 1 else many.format(x)
    return words


OPPORTUNITY_FEATURES: tuple[Feature, ...] = (
    Feature("stage", True, lambda v: f"stage {v}"),
    Feature("days_in_stage", False, lambda v: f"{_n(v):.0f} days in this stage"),
    Feature("stages_so_far", False, lambda v: f"{_n(v):.0f} stage(s) reached"),
    Feature("age_days", False, lambda v: f"open for {_n(v):.0f} days"),
    Feature("amount", False, lambda v: f"amount {_n(v):,.0f}"),
    Feature("channel", True, lambda v: f"channel {v}"),
    Feature("industry", True, lambda v: f"industry {v}"),
    Feature("from_lead", False, lambda v: "came from a lead" if _n(v) else "no lead behind it"),
    Feature("customer_orders", False, _count("1 earlier order", "{:.0f} earlier orders", "no earlier orders")),
    Feature("customer_revenue", False, lambda v: f"{_n(v):,.0f} bought before"),
    Feature("customer_paid", False, lambda v: f"{_n(v):,.0f} paid before"),
    Feature("days_since_order", False,
            lambda v: "never ordered" if pd.isna(v) else f"last order {_n(v):.0f} days before"),
    Feature("customer_wins", False, _count("1 earlier deal won", "{:.0f} earlier deals won", "no earlier deal won")),
    Feature("customer_losses", False,
            _count("1 earlier deal lost", "{:.0f} earlier deals lost", "no earlier deal lost")),
    Feature("customer_systems", False, lambda v: f"known in {_n(v):.0f} system(s)"),
    Feature("rep_win_rate", False, lambda v: f"the rep won {_n(v):.0%} of deals in the past year"),
    Feature("rep_deals", False, lambda v: f"the rep closed {_n(v):.0f} deals in the past year"),
    Feature("created_month", False, lambda v: f"begun in month {_n(v):.0f}"),
)

LEAD_FEATURES: tuple[Feature, ...] = (
    Feature("channel", True, lambda v: f"channel {v}"),
    Feature("age_days", False, lambda v: f"came in {_n(v):.0f} days ago"),
    Feature("has_owner", False, lambda v: "has an owner" if _n(v) else "no owner"),
    Feature("phone_kind", True, lambda v: {"mobile": "a mobile number", "landline": "a landline only"}.get(
        str(v), "no phone")),
    Feature("has_contact", False, lambda v: "a contact person named" if _n(v) else "no contact person"),
    Feature("legal_name", False, lambda v: "the company's legal name given" if _n(v) else "no legal company name"),
    Feature("rep_conversion", False, lambda v: f"the rep converted {_n(v):.0%} of leads in the past year"),
    Feature("rep_leads", False, lambda v: f"the rep had {_n(v):.0f} leads in the past year"),
    Feature("created_month", False, lambda v: f"came in in month {_n(v):.0f}"),
)


def opportunity_ids(frame: pd.DataFrame) -> pd.Series:
    """One text id per opportunity: source, stream and key."""
    return frame["source_name"].astype(str) + SEP + frame["stream"].astype(str) + SEP + frame["opportunity_key"].astype(
        str)


def _days(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    return ((later - earlier) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def _credited_leads(inputs: Inputs) -> pd.DataFrame:
    leads = inputs.leads
    return leads[leads["opportunity_credited"].fillna(False).astype(bool) & leads["opportunity_key"].notna()]


def _credited(inputs: Inputs) -> pd.Series:
    """Whether a lead is credited with each opportunity (it began from a lead)."""
    credited = _credited_leads(inputs)
    keys = set(credited["source_name"].astype(str) + SEP + credited["opportunity_key"].astype(str))
    o = inputs.opportunities
    return (o["source_name"].astype(str) + SEP + o["opportunity_key"].astype(str)).isin(keys)


def opportunity_channel(inputs: Inputs) -> pd.Series:
    """Each opportunity's channel, known when it was created: the lead it is credited to, else the one written on
    it, else its customer record's acquisition channel."""
    credited = _credited_leads(inputs)
    by_key = dict(zip(credited["source_name"].astype(str) + SEP + credited["opportunity_key"].astype(str),
                      credited["channel"], strict=True))
    o = inputs.opportunities
    lead_channel = (o["source_name"].astype(str) + SEP + o["opportunity_key"].astype(str)).map(by_key)
    lead_channel = lead_channel.where(lead_channel != UNKNOWN)
    own = o["channel"].where(o["channel"].astype("string").str.strip().fillna("") != "")
    return lead_channel.fillna(own).fillna(o["customer_channel"]).fillna(UNKNOWN).astype(str)


def rep_rate(events: pd.DataFrame, key: str, time: str, success: str, rows: pd.DataFrame, qkey: str,
             qtime: str) -> tuple[np.ndarray, np.ndarray]:
    """The trailing success rate of each row's rep (key) over the events (closed deals, resolved leads) dated in the
    year before the row's date, shrunk towards everyone's rate in that year; and how many events it saw."""
    ev = events[[key, time, success]].assign(_all="all", _s=events[success].astype(float))
    rows = rows.assign(_all="all", _from=rows[qtime] - REP_WINDOW)
    mine = (events_by(ev, key, time, rows, qkey, qtime, inclusive=False, sums=["_s"])
            - events_by(ev, key, time, rows, qkey, "_from", inclusive=False, sums=["_s"]))
    everyone = (events_by(ev, "_all", time, rows, "_all", qtime, inclusive=False, sums=["_s"])
                - events_by(ev, "_all", time, rows, "_all", "_from", inclusive=False, sums=["_s"]))
    base = np.where(everyone["n"] > 0, everyone["sum__s"] / everyone["n"].clip(lower=1), 0.5)
    rate = (mine["sum__s"].to_numpy() + PRIOR_DEALS * base) / (mine["n"].to_numpy() + PRIOR_DEALS)
    return rate, mine["n"].to_numpy()


def opportunity_features(inputs: Inputs, snaps: pd.DataFrame) -> pd.DataFrame:
    """The features of each snapshot `(row, as_of)`, `row` a position in `inputs.opportunities`; aligned with
    `snaps`' index, columns in the order of OPPORTUNITY_FEATURES."""
    o = inputs.opportunities
    rows = o.iloc[snaps["row"].to_numpy()].reset_index(drop=True)
    q = pd.DataFrame({"opp": opportunity_ids(rows), "as_of": snaps["as_of"].to_numpy(),
                      "golden_id": rows["golden_id"].to_numpy(), "rep_id": rows["rep_id"].to_numpy()})
    out = pd.DataFrame(index=q.index)

    stages = inputs.stages.assign(opp=opportunity_ids(inputs.stages))
    at = events_by(stages, "opp", "entered_at", q, "opp", "as_of", inclusive=True,
                   last=["stage", "entered_at", "stage_number"])
    out["stage"] = at["last_stage"].fillna(NOT_RECORDED).astype(str)
    entered = at["last_entered_at"].fillna(rows["created_at"])
    out["days_in_stage"] = _days(q["as_of"], entered)
    out["stages_so_far"] = at["n"].to_numpy(dtype=float)
    out["age_days"] = _days(q["as_of"], rows["created_at"])
    out["amount"] = rows["amount"].to_numpy(dtype=float)
    out["channel"] = opportunity_channel(inputs).iloc[snaps["row"].to_numpy()].to_numpy()
    industry = inputs.customers.drop_duplicates("golden_id").set_index("golden_id")["industry"]
    out["industry"] = rows["golden_id"].map(industry).fillna(UNKNOWN).astype(str).to_numpy()
    out["from_lead"] = (rows["lead_key"].notna() | _credited(inputs).iloc[snaps["row"].to_numpy()].reset_index(
        drop=True)).to_numpy(dtype=float)

    orders = events_by(inputs.orders, "golden_id", "at", q, "golden_id", "as_of", inclusive=False,
                       sums=["amount"], last=["at"])
    out["customer_orders"] = orders["n"].to_numpy(dtype=float)
    out["customer_revenue"] = orders["sum_amount"].to_numpy()
    out["customer_paid"] = events_by(inputs.payments, "golden_id", "at", q, "golden_id", "as_of", inclusive=False,
                                     sums=["amount"])["sum_amount"].to_numpy()
    out["days_since_order"] = _days(q["as_of"], orders["last_at"])

    closed = o[o["outcome"].isin(["won", "lost"]) & o["closed_at"].notna()].assign(
        won=lambda d: (d["outcome"] == "won").astype(float), opp=lambda d: opportunity_ids(d))
    history = events_by(closed, "golden_id", "closed_at", q, "golden_id", "as_of", inclusive=False, sums=["won"])
    out["customer_wins"] = history["sum_won"].to_numpy()
    out["customer_losses"] = (history["n"] - history["sum_won"]).to_numpy()

    out["customer_systems"] = events_by(_first_in_each_system(inputs), "golden_id", "at", q, "golden_id", "as_of",
                                        inclusive=False)["n"].to_numpy(dtype=float)
    rate, deals = rep_rate(closed, "rep_id", "closed_at", "won", q, "rep_id", "as_of")
    out["rep_win_rate"] = rate
    out["rep_deals"] = deals.astype(float)
    out["created_month"] = rows["created_at"].dt.month.to_numpy(dtype=float)
    out.index = snaps.index
    return out[[f.name for f in OPPORTUNITY_FEATURES]]


def _first_in_each_system(inputs: Inputs) -> pd.DataFrame:
    """When each golden customer first showed activity in each source system (an order, a payment, an opportunity)."""
    o = inputs.opportunities
    acts = pd.concat([inputs.orders[["golden_id", "source_name", "at"]],
                      inputs.payments[["golden_id", "source_name", "at"]],
                      o[["golden_id", "source_name", "created_at"]].rename(columns={"created_at": "at"})])
    acts = acts[acts["golden_id"].notna() & acts["at"].notna()]
    return acts.groupby(["golden_id", "source_name"], as_index=False)["at"].min()


_LEGAL = re.compile(r"(?:有限公司|有限责任公司|股份有限公司|集团|公司)[)）]?$")


def lead_conversions(inputs: Inputs) -> pd.DataFrame:
    """Per lead: when it converted (its conversion time, else its opportunity's creation) and when its opportunity
    was won (empty unless won), aligned with `inputs.leads`."""
    leads, o = inputs.leads, inputs.opportunities
    opp = o.drop_duplicates(["source_name", "opportunity_key"]).set_index(
        o.drop_duplicates(["source_name", "opportunity_key"])["source_name"].astype(str) + SEP
        + o.drop_duplicates(["source_name", "opportunity_key"])["opportunity_key"].astype(str))
    key = leads["source_name"].astype(str) + SEP + leads["opportunity_key"].astype(str)
    created = key.map(opp["created_at"]).where(leads["opportunity_key"].notna())
    won_at = key.map(opp["closed_at"].where(opp["outcome"] == "won")).where(leads["opportunity_key"].notna())
    converted = pd.to_datetime(leads["converted_at"]).fillna(pd.to_datetime(created))
    return pd.DataFrame({"converted_at": pd.to_datetime(converted), "won_at": pd.to_datetime(won_at)},
                        index=leads.index)


def lead_features(inputs: Inputs, snaps: pd.DataFrame) -> pd.DataFrame:
    """The features of each lead snapshot `(row, as_of)`, `row` a position in `inputs.leads`."""
    leads = inputs.leads
    rows = leads.iloc[snaps["row"].to_numpy()].reset_index(drop=True)
    q = pd.DataFrame({"as_of": snaps["as_of"].to_numpy(), "rep_id": rows["rep_id"].to_numpy()})
    out = pd.DataFrame(index=q.index)
    out["channel"] = rows["channel"].fillna(UNKNOWN).astype(str).to_numpy()
    out["age_days"] = _days(q["as_of"], rows["created_at"])
    out["has_owner"] = (rows["owner"].notna() | rows["rep_id"].notna()).to_numpy(dtype=float)
    digits = rows["phone"].astype("string").str.replace(r"\D", "", regex=True).str.removeprefix("86")
    out["phone_kind"] = np.where(digits.str.match(r"^1\d{10}$").fillna(False), "mobile",
                                 np.where(digits.str.len().fillna(0) >= 7, "landline", "none"))
    out["has_contact"] = rows["contact_name"].astype("string").str.strip().fillna("").ne("").to_numpy(dtype=float)
    out["legal_name"] = rows["company_name"].astype("string").str.strip().str.contains(_LEGAL).fillna(False).to_numpy(
        dtype=float)
    conv = lead_conversions(inputs)
    limit = leads["created_at"] + LEAD_HORIZON
    success = conv["converted_at"].notna() & (conv["converted_at"] <= limit)
    # a lead counts for its rep once it converted, or once LEAD_HORIZON passed without it converting
    resolved = pd.DataFrame({"rep_id": leads["rep_id"], "decided": conv["converted_at"].where(success, limit),
                             "converted": success.astype(float)})
    rate, n = rep_rate(resolved, "rep_id", "decided", "converted", q, "rep_id", "as_of")
    out["rep_conversion"] = rate
    out["rep_leads"] = n.astype(float)
    out["created_month"] = rows["created_at"].dt.month.to_numpy(dtype=float)
    out.index = snaps.index
    return out[[f.name for f in LEAD_FEATURES]]


FEATURES: dict[str, tuple[Feature, ...]] = {"opportunity": OPPORTUNITY_FEATURES, "lead": LEAD_FEATURES}
