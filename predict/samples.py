"""Training samples: every open opportunity (lead) on every month start, with its features on that date and what
became of it.

An opportunity open on a month start is a sample of that date; its label is whether it was won, known once it
closed (`resolved_at`). A lead not yet converted on a month start (and at most a year old) is a sample; its label is
whether it became a won opportunity within 90 days, known when it was won or when the 90 days passed. A lead is
also a sample the moment it came in (most leads convert within weeks, before the next month start). Samples whose
outcome is not known yet are kept (unlabelled) for the backtest's forecasts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from predict.features import LEAD_HORIZON, lead_conversions, lead_features, opportunity_features
from predict.inputs import Inputs
from predict.timeline import month_starts, open_at

LEAD_MAX_AGE = pd.Timedelta(days=365)


@dataclass
class Samples:
    """Snapshots of one kind of record: features, label (NaN until known), when the label became known, the
    baseline's group (stage or channel) and the row of the record in the inputs."""

    kind: str
    features: pd.DataFrame
    label: np.ndarray
    as_of: pd.Series
    resolved_at: pd.Series
    group: pd.Series
    row: np.ndarray

    def __len__(self) -> int:
        return len(self.features)

    def take(self, mask: np.ndarray) -> Samples:
        idx = np.flatnonzero(mask)
        return Samples(self.kind, self.features.iloc[idx].reset_index(drop=True), self.label[idx],
                       self.as_of.iloc[idx].reset_index(drop=True), self.resolved_at.iloc[idx].reset_index(drop=True),
                       self.group.iloc[idx].reset_index(drop=True), self.row[idx])

    @property
    def resolved(self) -> np.ndarray:
        return ~np.isnan(self.label)


def closed_time(opportunities: pd.DataFrame) -> pd.Series:
    """When each opportunity was won or lost (empty while open: its closed_at is then only an expected date)."""
    return opportunities["closed_at"].where(opportunities["outcome"].isin(["won", "lost"]))


def opportunity_samples(inputs: Inputs, dates: pd.DatetimeIndex | None = None) -> Samples:
    """Every opportunity open on each month start (or on `dates`), with its features then and its outcome."""
    o = inputs.opportunities
    closed = closed_time(o)
    if dates is None:
        dates = month_starts(o["created_at"].min(), inputs.as_of())
    snaps = open_at(o["created_at"], closed, dates)
    features = opportunity_features(inputs, snaps)
    outcome = o["outcome"].to_numpy()[snaps["row"].to_numpy()]
    label = np.where(outcome == "won", 1.0, np.where(outcome == "lost", 0.0, np.nan))
    return Samples("opportunity", features, label, snaps["as_of"], closed.iloc[snaps["row"]].reset_index(drop=True),
                   features["stage"], snaps["row"].to_numpy())


def current_opportunities(inputs: Inputs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The open opportunities and their features on the scoring date."""
    o = inputs.opportunities
    rows = np.flatnonzero((o["outcome"] == "open").to_numpy())
    snaps = pd.DataFrame({"row": rows, "as_of": inputs.as_of()})
    return o.iloc[rows].reset_index(drop=True), opportunity_features(inputs, snaps).reset_index(drop=True)


def lead_samples(inputs: Inputs, dates: pd.DatetimeIndex | None = None) -> Samples:
    """Every lead when it came in and on each month start it was not converted yet (at most a year old), with its
    features then and whether it became a won opportunity within 90 days."""
    leads = inputs.leads
    conv = lead_conversions(inputs)
    if dates is None:
        dates = month_starts(leads["created_at"].min(), inputs.as_of())
    ends = pd.to_datetime(conv["converted_at"]).fillna(leads["created_at"] + LEAD_MAX_AGE).clip(
        upper=leads["created_at"] + LEAD_MAX_AGE)
    monthly = open_at(leads["created_at"], ends, dates)
    came_in = leads["created_at"].notna() & (leads["created_at"] < inputs.as_of()) & ~(ends <= leads["created_at"])
    rows = np.flatnonzero(came_in.to_numpy())  # and each lead the moment it came in: most convert within weeks
    snaps = pd.concat([pd.DataFrame({"row": rows, "as_of": leads["created_at"].to_numpy()[rows]}), monthly],
                      ignore_index=True)
    features = lead_features(inputs, snaps)
    as_of = snaps["as_of"].reset_index(drop=True)
    won_at = conv["won_at"].iloc[snaps["row"]].reset_index(drop=True)
    deadline = as_of + LEAD_HORIZON
    won = (won_at > as_of) & (won_at <= deadline)
    known = won | (deadline <= inputs.as_of())
    label = np.where(known, won.astype(float), np.nan)
    resolved_at = won_at.where(won, deadline).where(known)
    return Samples("lead", features, label, as_of, pd.to_datetime(resolved_at), features["channel"],
                   snaps["row"].to_numpy())


def current_leads(inputs: Inputs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The open leads (neither converted nor closed) and their features on the scoring date."""
    leads = inputs.leads
    rows = np.flatnonzero(leads["is_open"].fillna(False).astype(bool).to_numpy())
    snaps = pd.DataFrame({"row": rows, "as_of": inputs.as_of()})
    return leads.iloc[rows].reset_index(drop=True), lead_features(inputs, snaps).reset_index(drop=True)
