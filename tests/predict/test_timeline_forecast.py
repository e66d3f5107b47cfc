"""Exact values of the set-based pieces the training's speed rests on: point-in-time lookups (`events_by`, whose
latest datetimes stay datetime64) and the forecast's sums per month and group (bincounts, not a one-hot matrix)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from predict.forecast import Timing, forecast
from predict.timeline import events_by


def test_events_by_counts_sums_and_the_latest_event_before_each_question() -> None:
    t = pd.Timestamp
    events = pd.DataFrame({"k": ["a", "a", "b", "a", None], "at": [t("2026-01-01"), t("2026-02-01"), t("2026-01-15"),
                                                                   t("2026-03-01"), t("2026-01-01")],
                           "v": [1.0, 2.0, 5.0, 4.0, 9.0], "stage": ["s1", "s2", "s1", "s3", "x"],
                           "when": [t("2026-01-02"), t("2026-02-03"), t("2026-01-20"), t("2026-03-04"),
                                    t("2026-01-02")]})
    q = pd.DataFrame({"k": ["a", "a", "b", "c", "a"], "at": [t("2026-02-01"), t("2025-12-31"), t("2026-02-01"),
                                                            t("2026-02-01"), t("2026-06-01")]},
                     index=[10, 11, 12, 13, 14])
    got = events_by(events, "k", "at", q, "k", "at", inclusive=True, sums=["v"], last=["stage", "when"])
    assert got.index.tolist() == [10, 11, 12, 13, 14]
    assert got["n"].tolist() == [2, 0, 1, 0, 3]
    assert got["sum_v"].tolist() == [3.0, 0.0, 5.0, 0.0, 7.0]
    assert [x if isinstance(x, str) else None for x in got["last_stage"]] == ["s2", None, "s1", None, "s3"]
    assert got["last_when"].dtype == "datetime64[ns]"
    assert [x if pd.notna(x) else None for x in got["last_when"]] == [t("2026-02-03"), None, t("2026-01-20"), None,
                                                                       t("2026-03-04")]
    strict = events_by(events, "k", "at", q, "k", "at", inclusive=False, sums=["v"])
    assert strict["n"].tolist() == [1, 0, 1, 0, 3] and strict["sum_v"].tolist() == [1.0, 0.0, 5.0, 0.0, 7.0]


def test_the_forecast_adds_up_per_month_and_group() -> None:
    """Two teams' deals that surely close in the first month of the horizon: expected = Σ p × amount per team,
    the stage-weighted pipeline Σ crm_p × amount, the company the sum of the teams, what was won counted where it
    was won."""
    rows = pd.DataFrame({"amount": [100.0, 200.0, 50.0], "p": [0.5, 0.25, 1.0], "crm_p": [0.1, 0.2, 0.3],
                         "stage": ["s", "s", "s"], "team": ["A", "B", "A"], "region": ["R", "R", "R"],
                         "rep_id": ["r1", "r2", "r3"], "rep_name": ["一", "二", "三"],
                         "won_at": [pd.Timestamp("2026-03-10"), pd.NaT, pd.Timestamp("2026-03-20")]})
    timing = Timing({}, np.array([1.0]))  # every won deal closes a day after the month start
    won = pd.DataFrame({"closed_at": [pd.Timestamp("2026-03-10"), pd.Timestamp("2026-03-20")], "amount": [100.0, 50.0]})
    f = forecast(pd.Timestamp("2026-03-01"), rows, timing, won, pd.Timestamp("2026-09-01"), "backtest", "model", "m",
                 simulations=200)
    march = f[(f["period_type"] == "month") & (f["period_start"] == pd.Timestamp("2026-03-01"))].set_index(
        ["level", "group_key"])
    assert march.loc[("team", "A"), "expected"] == 100.0 and march.loc[("team", "B"), "expected"] == 50.0
    assert march.loc[("total", "all"), "expected"] == 150.0
    assert march.loc[("total", "all"), "stage_weighted"] == 10.0 + 40.0 + 15.0
    assert march.loc[("team", "A"), "pipeline_amount"] == 150.0 and march.loc[("team", "A"), "open_opportunities"] == 2
    assert march.loc[("team", "A"), "actual_won"] == 150.0 and march.loc[("team", "B"), "actual_won"] == 0.0
    assert march.loc[("total", "all"), "won_all"] == 150.0
    assert march.loc[("rep", "r2"), "group_name"] == "二"
    assert march.loc[("team", "A"), "low"] >= 50.0 and march.loc[("team", "A"), "high"] == 150.0  # r3 always wins
    april = f[(f["period_type"] == "month") & (f["period_start"] == pd.Timestamp("2026-04-01"))]
    assert april["expected"].tolist() == [0.0] * len(april)
    assert f["as_of"].dtype == "datetime64[ns]" and set(f["level"]) == {"total", "team", "region", "rep"}
