"""No feature uses information from after its scoring date: features computed on the data as it is now and on the
data as it was on the scoring date (everything later removed or undone) agree, for every opportunity and lead
open on that date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demo.deals import generated_inputs
from predict.features import lead_features, opportunity_features
from predict.inputs import Inputs
from predict.samples import closed_time, lead_conversions


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return generated_inputs(1500, seed=3)


def as_it_was(inputs: Inputs, day: pd.Timestamp) -> Inputs:
    """The inputs a warehouse would have held on `day`: later records gone, later outcomes and conversions undone,
    every time-dependent field blanked or rewound; static attributes kept."""
    o = inputs.opportunities[inputs.opportunities["created_at"] <= day].copy()
    closed_later = closed_time(o).isna() | (closed_time(o) > day)
    o.loc[closed_later, "outcome"] = "open"
    o.loc[closed_later, ["closed_at", "lost_reason"]] = [pd.NaT, None]
    o["probability"] = np.nan
    o["stage"] = "(changed since)"
    o["updated_at"] = o["updated_at"].clip(upper=day)
    s = inputs.stages[inputs.stages["entered_at"] <= day].copy()
    leads = inputs.leads[inputs.leads["created_at"] <= day].copy()
    conv = lead_conversions(inputs).loc[leads.index]
    later = conv["converted_at"].isna() | (conv["converted_at"] > day)
    leads.loc[later, ["opportunity_key", "converted_at"]] = [None, pd.NaT]
    leads.loc[later, "opportunity_credited"] = False
    leads["status"] = "(changed since)"
    return Inputs(o.reset_index(drop=True), s.reset_index(drop=True), leads.reset_index(drop=True),
                  inputs.orders[inputs.orders["at"] < day].reset_index(drop=True),
                  inputs.payments[inputs.payments["at"] < day].reset_index(drop=True),
                  inputs.customers.copy(), inputs.reps.copy())


def _days(inputs: Inputs) -> list[pd.Timestamp]:
    created = inputs.opportunities["created_at"]
    return [created.quantile(share).normalize() for share in (0.5, 0.75, 0.95)]


def test_opportunity_features_read_nothing_after_the_scoring_date(inputs: Inputs) -> None:
    for day in _days(inputs):
        then = as_it_was(inputs, day)
        o_now = inputs.opportunities
        open_now = np.flatnonzero(((o_now["created_at"] <= day)
                                   & (closed_time(o_now).isna() | (closed_time(o_now) > day))).to_numpy())
        key = ["source_name", "stream", "opportunity_key"]
        rows_then = then.opportunities.reset_index().merge(o_now.iloc[open_now][key], on=key)["index"].to_numpy()
        assert len(open_now) > 50 and len(rows_then) == len(open_now)
        now = opportunity_features(inputs, pd.DataFrame({"row": open_now, "as_of": day}))
        past = opportunity_features(then, pd.DataFrame({"row": rows_then, "as_of": day}))
        # the open deals' stage, history and rep rate as known that day
        assert now["stage"].nunique() > 2 and now["customer_wins"].sum() > 0 and now["rep_deals"].sum() > 0
        pd.testing.assert_frame_equal(now.reset_index(drop=True), past.reset_index(drop=True), check_exact=False)


def test_lead_features_read_nothing_after_the_scoring_date(inputs: Inputs) -> None:
    for day in _days(inputs):
        then = as_it_was(inputs, day)
        leads = inputs.leads
        conv = lead_conversions(inputs)
        waiting = np.flatnonzero(((leads["created_at"] <= day)
                                  & (conv["converted_at"].isna() | (conv["converted_at"] > day))).to_numpy())
        key = ["source_name", "stream", "lead_key"]
        rows_then = then.leads.reset_index().merge(leads.iloc[waiting][key], on=key)["index"].to_numpy()
        assert len(waiting) > 50 and len(rows_then) == len(waiting)
        now = lead_features(inputs, pd.DataFrame({"row": waiting, "as_of": day}))
        past = lead_features(then, pd.DataFrame({"row": rows_then, "as_of": day}))
        assert now["rep_leads"].sum() > 0
        pd.testing.assert_frame_equal(now.reset_index(drop=True), past.reset_index(drop=True), check_exact=False)


def test_a_feature_that_peeks_is_caught(inputs: Inputs) -> None:
    """The comparison above fails for a feature reading the present: the stage the opportunity is in now."""
    day = _days(inputs)[1]
    then = as_it_was(inputs, day)
    o = inputs.opportunities
    open_now = np.flatnonzero(((o["created_at"] <= day) & (closed_time(o).isna() | (closed_time(o) > day))).to_numpy())
    key = ["source_name", "stream", "opportunity_key"]
    rows_then = then.opportunities.reset_index().merge(o.iloc[open_now][key], on=key)["index"].to_numpy()
    peek_now = o["stage"].to_numpy()[open_now]
    peek_then = then.opportunities["stage"].to_numpy()[rows_then]
    assert (peek_now != peek_then).all()
