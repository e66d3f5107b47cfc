"""The hard-case generator and the per-kind benchmark (`python -m bench.hard_cases`)."""

from __future__ import annotations

import numpy as np

from bench.hard_cases import markdown, measure
from demo.hard_cases import CASE_KINDS, hard_case_customers
from mdm.evaluate import pairwise_scores, scores_by_group
from mdm.standardize.codes import reg_no_is_valid, uscc_is_valid


def test_scores_by_group_count_every_pair_touching_the_group() -> None:
    # records 0-1 (kind a) are one entity split in two clusters; record 2 (kind b) was merged with record 1
    clusters = np.array([0, 1, 1, 2])
    entities = np.array(["A", "A", "B", "C"])
    kinds = np.array(["a", "a", "b", "b"])
    per = scores_by_group(clusters, entities, kinds)
    # kind a: true pairs (0,1); predicted (1,2), which touches a; correct none
    assert (per["a"].true_pairs, per["a"].predicted_pairs, per["a"].correct_pairs) == (1, 1, 0)
    # kind b: the predicted pair (1,2) touches b too; b has no true pair
    assert (per["b"].true_pairs, per["b"].predicted_pairs, per["b"].correct_pairs) == (0, 1, 0)
    whole = pairwise_scores(clusters, entities)
    assert (whole.true_pairs, whole.predicted_pairs) == (1, 1)


def test_generator_adds_each_case_kind_deterministically() -> None:
    recs, truth = hard_case_customers(2000, seed=5)
    again, _ = hard_case_customers(2000, seed=5)
    assert recs.equals(again) and len(recs) == len(truth)
    assert set(truth["case"]) == set(CASE_KINDS)
    cases = recs[truth["case"].to_numpy() != "base"]
    assert (truth["case"] == "base").sum() == 2000
    kind = truth["case"].to_numpy()
    placeholder = recs[(kind == "placeholder") & (recs["contact_name"] == "新联系人").to_numpy()]
    assert len(placeholder) == 15 and truth.loc[placeholder.index, "entity_id"].nunique() == 15
    regs = recs.loc[kind == "reg_no", "uscc"].str.replace(" ", "")
    assert regs.map(reg_no_is_valid).all()
    inst = recs.loc[(kind == "institution") & recs["uscc"].notna().to_numpy(), "uscc"]
    assert inst.str.startswith("12").all() and inst.map(uscc_is_valid).all()
    assert cases["former_name"].notna().sum() > 0
    assert recs.loc[kind == "english", "name"].str.contains("Co., Ltd.|CO.,LTD").any()


def test_bench_reports_each_kind() -> None:
    r = measure(2000, seed=5, workers=1)
    kinds = [row["kind"] for row in r["rows"]]
    assert kinds == [*CASE_KINDS, "all"]
    rows = {row["kind"]: row for row in r["rows"]}
    assert sum(rows[k]["records"] for k in CASE_KINDS) == rows["all"]["records"] == r["records"]
    assert all(0 <= rows[k]["f1"] <= 1 for k in rows)
    assert rows["placeholder"]["precision"] > 0.9  # 15 companies sharing a placeholder stay apart
    text = markdown(r)
    assert "| placeholder |" in text and "| all |" in text
