"""The pipeline forecast: revenue the open pipeline will win per month and quarter, with a prediction interval.

Each open opportunity contributes its amount × its win probability × the chance it closes in the period. That
chance comes from how long the won deals of the training data took to close from a month start in the same stage
(their empirical distribution). The interval: many simulated futures, in each of which every deal is won or not
(by its probability) and closes in a month drawn from that distribution; the 10th and 90th percentiles of what is
won. The stage-weighted pipeline CRMs show is computed the same way with the CRM's stage probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from predict.samples import Samples

HORIZON_MONTHS = 6
SIMULATIONS = 1000
MIN_TIMING = 20  # won deals a stage needs for its own timing; else everyone's
LEVELS = ("total", "team", "region", "rep")


@dataclass
class Timing:
    """Days from a month start to the close of the deals that were won, per stage on that month start (sorted)."""

    by_stage: dict[str, np.ndarray]
    overall: np.ndarray

    @classmethod
    def fit(cls, samples: Samples, mask: np.ndarray | None = None) -> Timing:
        keep = samples.resolved & (samples.label == 1) & (mask if mask is not None else True)
        days = ((samples.resolved_at[keep] - samples.as_of[keep]) / pd.Timedelta(days=1)).to_numpy(dtype=float)
        stages = samples.group[keep].to_numpy()
        by = {s: np.sort(days[stages == s]) for s in np.unique(stages)}
        return cls({s: d for s, d in by.items() if len(d) >= MIN_TIMING},
                   np.sort(days) if len(days) else np.array([45.0]))

    def cdf(self, stages: pd.Series, days: np.ndarray) -> np.ndarray:
        """P(closes within `days` | won) per row (its stage's distribution, else everyone's)."""
        out = np.empty(len(stages))
        values = stages.to_numpy()
        for stage in np.unique(values):
            dist = self.by_stage.get(stage, self.overall)
            rows = values == stage
            out[rows] = np.searchsorted(dist, days[rows], side="right") / len(dist)
        return out


def periods(as_of: pd.Timestamp) -> tuple[list[pd.Timestamp], list[tuple[pd.Timestamp, list[int]]]]:
    """The month starts of the horizon (the month of `as_of` first), and the quarters whose remaining months all lie
    in it, each with its months' positions."""
    first = as_of.to_period("M").to_timestamp()
    months = [first + pd.DateOffset(months=k) for k in range(HORIZON_MONTHS + 1)]
    quarters: dict[pd.Timestamp, list[int]] = {}
    for k, m in enumerate(months[:-1]):
        quarters.setdefault(m.to_period("Q").to_timestamp(), []).append(k)
    last = months[-2]
    full = [(q, ks) for q, ks in quarters.items() if (q + pd.DateOffset(months=2)) <= last]
    return months, full


def _groups(rows: pd.DataFrame, level: str) -> tuple[np.ndarray, list[str], list[str]]:
    """Each row's group code at `level`, the groups' keys and names."""
    if level == "total":
        return np.zeros(len(rows), dtype=int), ["all"], ["all"]
    col = {"team": "team", "region": "region", "rep": "rep_id"}[level]
    keys = rows[col].astype("string").fillna("(unknown)")
    codes, uniques = pd.factorize(keys, sort=True)
    uniq = [str(u) for u in uniques]
    if level == "rep":
        names = rows.assign(_k=keys).drop_duplicates("_k").set_index("_k")["rep_name"].astype("string")
        return codes, uniq, [str(names.get(u) if pd.notna(names.get(u)) else u) for u in uniq]
    return codes, uniq, uniq


def forecast(as_of: pd.Timestamp, rows: pd.DataFrame, timing: Timing, won: pd.DataFrame, data_as_of: pd.Timestamp,
             forecast_type: str, method: str, model_id: str, simulations: int = SIMULATIONS,
             seed: int = 0) -> pd.DataFrame:
    """The forecast made on `as_of` from the open opportunities `rows` (amount, p, crm_p, stage, team, region,
    rep_id, rep_name, won_at: when it was won, if it was), for every level, month and quarter of the horizon. `won`:
    every won opportunity (closed_at, amount), for what was won in all. Actuals stay empty for periods not ended by
    `data_as_of`."""
    months, quarters = periods(as_of)
    n, h = len(rows), len(months) - 1
    amount = rows["amount"].fillna(0.0).to_numpy(dtype=float)
    p = rows["p"].to_numpy(dtype=float)
    crm = rows["crm_p"].to_numpy(dtype=float)
    edges = np.array([max(0.0, (m - as_of) / pd.Timedelta(days=1)) for m in months])
    cdf = np.column_stack([timing.cdf(rows["stage"], np.full(n, e)) for e in edges]) if n else np.zeros((0, h + 1))
    share = np.diff(cdf, axis=1)  # P(closes in month k | won)
    rest = 1.0 - cdf[:, -1] if n else np.zeros(0)
    won_at = pd.to_datetime(rows["won_at"]).to_numpy(dtype="datetime64[ns]")
    rng = np.random.default_rng(seed)
    levels = {level: _groups(rows, level) for level in LEVELS}
    sims = {level: np.zeros((simulations, h, len(keys))) for level, (_, keys, _) in levels.items()}
    cum = np.cumsum(np.column_stack([share, rest]), axis=1) if n else np.zeros((0, h + 1))
    for start in range(0, simulations, 100):  # 100 futures at a time
        s = min(100, simulations - start)
        wins = rng.random((s, n)) < p
        month = (rng.random((s, n))[:, :, None] > cum[None, :, :]).sum(axis=2)  # h: after the horizon
        value = np.where(wins & (month < h), amount, 0.0)
        sim_i = np.repeat(np.arange(s), n)
        for level, (codes, keys, _) in levels.items():
            g = len(keys)
            idx = (sim_i * h + month.ravel().clip(max=h - 1)) * g + np.tile(codes, s)
            sims[level][start:start + s] = np.bincount(idx, weights=value.ravel(), minlength=s * h * g).reshape(s, h, g)
    ended = [m + pd.DateOffset(months=1) <= data_as_of for m in months[:-1]]
    won_all = [float(won.loc[(won["closed_at"] >= months[k]) & (won["closed_at"] < months[k + 1]), "amount"].sum())
               for k in range(h)]
    starts = [np.datetime64(max(months[k], as_of).to_datetime64(), "ns") for k in range(h)]
    ends = [np.datetime64(months[k + 1].to_datetime64(), "ns") for k in range(h)]
    spans = [("month", months[k], [k]) for k in range(h)] + [("quarter", q, ks) for q, ks in quarters]
    frames = []
    for level, (codes, keys, names) in levels.items():
        g = len(keys)

        def by_group(values: np.ndarray, g: int = g, codes: np.ndarray = codes) -> np.ndarray:
            """(n, h) values of the opportunities → (h, g) sums per month and group."""
            return np.array([np.bincount(codes, weights=values[:, k], minlength=g) for k in range(h)]).reshape(h, g)

        expected = by_group(share * (p * amount)[:, None])
        weighted = by_group(share * (crm * amount)[:, None])
        pipeline = by_group(share * amount[:, None])
        counts = by_group((share > 0.001).astype(float))
        actual = np.array([np.bincount(codes, weights=np.where((won_at >= starts[k]) & (won_at < ends[k]), amount,
                                                                0.0), minlength=g) for k in range(h)]).reshape(h, g)
        for period_type, start, ks in spans:
            done = all(ended[k] for k in ks)
            summed = sims[level][:, ks, :].sum(axis=1)
            frames.append(pd.DataFrame({
                "forecast_type": forecast_type, "as_of": as_of.normalize(), "period_type": period_type,
                "period_start": start, "level": level, "group_key": keys, "group_name": names,
                "open_opportunities": counts[ks].max(axis=0).astype(int) if len(ks) else 0,
                "pipeline_amount": pipeline[ks].sum(axis=0), "expected": expected[ks].sum(axis=0),
                "low": np.percentile(summed, 10, axis=0), "high": np.percentile(summed, 90, axis=0),
                "stage_weighted": weighted[ks].sum(axis=0),
                "actual_won": actual[ks].sum(axis=0) if done else np.nan,
                "won_all": float(sum(won_all[k] for k in ks)) if done and level == "total" else np.nan,
                "method": method, "model_id": model_id}))
    out = pd.concat(frames, ignore_index=True)
    out["as_of"] = out["as_of"].astype("datetime64[ns]")
    return out
