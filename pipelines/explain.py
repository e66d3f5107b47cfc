"""Explain a pair of customer records with the model in force (for `hub mdm explain` and the console)."""

from __future__ import annotations

import pandas as pd

from core.config import HubConfig
from mdm.engine import explain
from pipelines.match import fingerprint, settings_of
from pipelines.model_store import active_model
from warehouse.engine import Warehouse


def explain_records(cfg: HubConfig, wh: Warehouse, left: str, right: str) -> pd.DataFrame:
    """The per-comparison explanation of two record ids; LookupError when a record or the model is missing."""
    settings = settings_of(cfg.mdm.customer)
    model = active_model(wh, fingerprint(settings), tf_values={})
    if model is None:
        raise LookupError("no matching model in this warehouse yet: run `hub run` first")
    recs = wh.read_frame("SELECT * FROM mdm.customer_records WHERE record_id IN (:a, :b)", {"a": left, "b": right})
    found = set(recs["record_id"])
    for ref in (left, right):
        if ref not in found:
            raise LookupError(f"no customer record {ref} in mdm.customer_records")
    # the term frequencies of the two records' values, not the model's whole tables
    model = active_model(wh, fingerprint(settings), tf_values={s.name: recs[s.column] for s in model.specs
                                                               if s.tf and s.column in recs}) or model
    a = recs.set_index("record_id").loc[left]
    b = recs.set_index("record_id").loc[right]
    table = explain(model, a, b, settings.match, settings.review)
    table.attrs.update({"left_golden": a.get("golden_id"), "right_golden": b.get("golden_id")})
    return table
