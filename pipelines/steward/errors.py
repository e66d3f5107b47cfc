"""The errors a steward sees: an action that cannot be done as asked, or one refused because the warehouse is busy."""

from __future__ import annotations


class StewardError(Exception):
    """An action that cannot be done as asked; the message says why (shown to the steward)."""


class StewardBusy(StewardError):
    """The warehouse is being written by a run (or a sync, or a Dagster step): the action was not done."""
