"""One-record matching for the match API: candidate golden customers for one new customer record, scored with the
model in force (`MatchService`)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.config import HubConfig
from core.entities import ENTITIES
from mdm.lookup import build_index
from mdm.specs import derive_customer_columns
from mdm.standardize import standardize_customers
from mdm.stewardship import band
from pipelines.match import fingerprint, settings_of
from pipelines.model_store import active_model, active_model_id
from pipelines.steward.errors import StewardError
from pipelines.steward.sql import plain
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse

MATCH_FIELDS = ("name", "short_name", "uscc", "phone", "mobile", "email", "address", "contact_name")


class MatchService:
    """Candidate golden customers for one new customer record, with the model in force.

    Candidates are looked up by blocking key in the match API's index (`pipelines.match_lookup`: a SQLite file
    beside the warehouse that runs keep current), so memory and start-up do not grow with the warehouse; the
    model is reloaded when the warehouse's changes (checked at most every `refresh_seconds`) or after a
    steward action in this process (`invalidate`). Without an index, the first request builds it.
    """

    def __init__(self, cfg: HubConfig, wh: Warehouse, refresh_seconds: float = 30.0):
        from pipelines.match_lookup import LookupStore, store_path

        self.cfg, self.wh, self.refresh_seconds = cfg, wh, refresh_seconds
        self.store = LookupStore(store_path(cfg, wh))
        self._model: Any = None
        self._version: Any = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._checked = 0.0
        self._version = None

    def _current_version(self) -> tuple[Any, ...]:
        with self.wh.begin() as conn:
            ensure_mdm(self.wh, conn)
            model = active_model_id(conn)
        return (model, self.store.meta().get("records_version"))

    def model(self) -> Any:
        """The model in force, with the index current (built here when there is none)."""
        from pipelines.match_lookup import refresh

        with self._lock:
            if self._model is None or time.monotonic() - self._checked > self.refresh_seconds:
                version = self._current_version()
                if self._model is None or version != self._version:
                    settings = settings_of(self.cfg.mdm.customer)
                    model = active_model(self.wh, fingerprint(settings), tf_values={})  # (frequencies: the index's)
                    if model is None:
                        raise StewardError("no matching model in this warehouse yet: run `hub run` first")
                    if not self.store.meta():
                        refresh(self.cfg, self.wh, force=True)  # (no index yet: built once, then runs keep it)
                    self._model, self._version = model, self._current_version()
                self._checked = time.monotonic()
            return self._model

    def match(self, record: Mapping[str, Any], limit: int = 5, include_low: bool = False) -> dict[str, Any]:
        """Score `record` (canonical customer fields) against every golden customer it blocks with."""
        mcfg = self.cfg.mdm.customer
        settings = settings_of(mcfg)
        model = self.model()
        row: dict[str, str | None] = dict.fromkeys(ENTITIES["customer"].field_names)
        row.update({k: (str(v).strip() or None) if v is not None else None for k, v in record.items() if k in row})
        row.update({"source_name": "api", "stream": "api", "source_key": "query"})
        std = derive_customer_columns(standardize_customers(pd.DataFrame([row])))
        found = self.store.candidates(std, settings.blocking)
        # the term frequencies of the query's values (an exact match takes the share of the value both hold), from
        # the index: the model's tables are not held in memory
        shares = self.store.tf({s.name: std[s.column].iloc[0] for s in model.specs if s.tf and s.name in model.tf})
        model = dataclasses.replace(model, tf={n: {**t, **shares.get(n, {})} for n, t in model.tf.items()})
        index = build_index(found, (), model, settings.exclusive)  # the candidates only: scored in memory
        cand = np.arange(len(found))
        golden = self.store.golden(sorted(set(found["golden_id"].dropna())))
        out: list[dict[str, Any]] = []
        if len(cand):  # a handful of candidates: plain Python from here on
            scored = index.score(std, cand)
            specs = index.model.specs
            conflicts = index.conflicts(std, cand, settings_of(mcfg).exclusive)
            gids = index.records["golden_id"].to_numpy()[cand]
            rids = index.records["record_id"].to_numpy()[cand]
            prob, weight = scored["prob"].to_numpy(), scored["weight"].to_numpy()
            levels = scored[[sp.name for sp in specs]].to_numpy()
            names = [sp.level_names() for sp in specs]
            seen: set[str] = set()
            for i in np.lexsort((rids.astype(str), -prob)).tolist():  # best first; one per golden customer
                if gids[i] in seen:
                    continue
                seen.add(gids[i])
                b = "low" if conflicts[i] else band(float(prob[i]), mcfg.thresholds.match, mcfg.thresholds.review)
                if b == "low" and not include_low:
                    continue
                g = golden.get(gids[i], {})
                out.append({"golden_id": gids[i], "score": round(float(prob[i]), 6),
                            "weight": round(float(weight[i]), 4), "band": b, "matched_record": rids[i],
                            **{k: g.get(k) for k in ("name", "uscc", "phone", "city")}, "conflicts": conflicts[i],
                            "explanation": {sp.name: names[j][int(lv)] if lv >= 0 else "missing"
                                            for j, (sp, lv) in enumerate(zip(specs, levels[i], strict=True))}})
                if len(out) >= limit:
                    break
        keep = ("name_key", "uscc_std", "uscc_valid", "phone_std", "address_norm", "city_any", "branch")
        return {"candidates": out, "standardized": {k: plain(std[k].iloc[0]) for k in keep},
                "thresholds": {"match": mcfg.thresholds.match, "review": mcfg.thresholds.review}}
