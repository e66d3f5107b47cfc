"""Comparison levels against a plain reference: each pair compared value by value, as the module doc describes."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from rapidfuzz.distance import DamerauLevenshtein, Jaro, JaroWinkler, Levenshtein

from mdm.compare import ComparisonSpec, compare, encode, encode_column, levels

SIM = {"jaro_winkler": JaroWinkler.normalized_similarity, "jaro": Jaro.normalized_similarity,
       "levenshtein": Levenshtein.normalized_similarity,
       "damerau_levenshtein": DamerauLevenshtein.normalized_similarity}


def missing(v: object) -> bool:
    return v is None or v == ""


def plain_level(spec: ComparisonSpec, a: dict, b: dict, column: str | None = None,
                b_column: str | None = None) -> int:
    """One pair's level, written out from the module doc (column: which of a's columns is the name)."""
    va, vb = a[column or spec.column], b[b_column or spec.column]
    if missing(va) or missing(vb):
        return -1
    if spec.kind == "exact":
        return 1 if va == vb else 0
    if spec.kind == "uscc":
        if va == vb:
            return 3
        close = len(va) == len(vb) and sum(x != y for x, y in zip(va, vb, strict=True)) <= 2
        if spec.extra and not missing(a[spec.extra[0]]) and a[spec.extra[0]] == b[spec.extra[0]]:
            close = True
        return 2 if close else 0
    if spec.kind == "phone":
        if va == vb:
            return 2
        return 1 if spec.extra and not missing(a[spec.extra[0]]) and a[spec.extra[0]] == b[spec.extra[0]] else 0
    top = len(spec.thresholds) + 1
    if va == vb:
        level = top
    else:
        sim = np.float32(SIM[spec.metric](va, vb))
        level = max([0, *[len(spec.thresholds) - i for i, t in enumerate(spec.thresholds) if sim >= np.float32(t)]])
    if spec.context and level > 0:
        ca, cb = a[spec.context], b[spec.context]
        ctx = 1 if missing(ca) or missing(cb) else (2 if ca == cb else 0)
        level = 1 + (level - 1) * 3 + ctx
    return level


def reference(spec: ComparisonSpec, a: dict, b: dict) -> int:
    if spec.gate and missing(a[spec.gate]) and missing(b[spec.gate]):
        return -1
    best = plain_level(spec, a, b)
    if spec.alias:
        if not missing(a[spec.alias]):
            best = max(best, plain_level(spec, a, b, column=spec.alias))
        if not missing(b[spec.alias]):
            best = max(best, plain_level(spec, a, b, b_column=spec.alias))
    return best


NAMES = ["华信科技", "华新科技", "华信", "凯邦环保", "凯邦环保科技", "", None, "abc", "abd"]
CODES = ["91110108MA01ABCD1X", "91110108MA01ABCE2X", "91110108MA01ABCD2X", "91110108MA01ABXY9X", "12345", None, ""]


def _records(rng: random.Random, n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "name": [rng.choice(NAMES) for _ in range(n)], "former": [rng.choice([*NAMES, None, None]) for _ in range(n)],
        "city": [rng.choice(["北京", "上海", None, ""]) for _ in range(n)],
        "uscc": [rng.choice(CODES) for _ in range(n)], "org": [rng.choice(["MA01ABCD", "X", None]) for _ in range(n)],
        "phone": [rng.choice(["+86 10 6000 0001", "010-60000001", "+86 21 6000 0001", None]) for _ in range(n)],
        "phone8": [rng.choice(["60000001", "60000002", None]) for _ in range(n)],
        "latin": [rng.choice(["HUAXIN TECH", None, None]) for _ in range(n)],
    }, dtype=object)


SPECS = [
    ComparisonSpec("exact", "exact", "city"),
    ComparisonSpec("jw", "string", "name", (0.9, 0.8)),
    ComparisonSpec("lev_ctx", "string", "name", (0.7,), metric="levenshtein", context="city"),
    ComparisonSpec("jaro", "string", "name", (0.85,), metric="jaro"),
    ComparisonSpec("dl", "string", "name", (0.6,), metric="damerau_levenshtein"),
    ComparisonSpec("plain_string", "string", "name"),
    ComparisonSpec("uscc", "uscc", "uscc", extra=("org",)),
    ComparisonSpec("uscc_alone", "uscc", "uscc"),
    ComparisonSpec("phone", "phone", "phone", extra=("phone8",)),
    ComparisonSpec("phone_alone", "phone", "phone"),
    ComparisonSpec("gated", "exact", "name", gate="latin"),
    ComparisonSpec("former", "string", "name", (0.85,), context="city", alias="former"),
    ComparisonSpec("former_exact", "exact", "name", alias="former"),
    ComparisonSpec("extra_ctx", "string", "name", (0.8,), extra=("latin",), context="city"),  # context after extra
    ComparisonSpec("gated_ctx", "string", "name", (0.9,), context="city", gate="latin"),  # the gate is the last
]


@pytest.mark.parametrize("seed", range(40))
def test_levels_equal_the_plain_reference(seed: int) -> None:
    rng = random.Random(seed)
    records = _records(rng, rng.randint(2, 30))
    n = len(records)
    left = np.array([rng.randrange(n) for _ in range(60)], np.int64)
    right = np.array([rng.randrange(n) for _ in range(60)], np.int64)
    got = compare(records, left, right, SPECS, workers=rng.choice([1, 2]))
    rows = records.to_dict("records")
    assert list(got.columns) == [s.name for s in SPECS] and len(got) == len(left)
    assert (got.dtypes == np.int8).all()
    for spec in SPECS:
        want = [reference(spec, rows[a], rows[b]) for a, b in zip(left, right, strict=True)]
        assert got[spec.name].tolist() == want, spec.name
        assert got[spec.name].max() < spec.n_levels


def test_no_pairs_give_empty_int8_columns() -> None:
    got = compare(_records(random.Random(1), 3), np.array([], np.int64), np.array([], np.int64), SPECS[:2])
    assert list(got.columns) == ["exact", "jw"] and len(got) == 0 and (got.dtypes == np.int8).all()


def test_level_names_and_counts() -> None:
    assert ComparisonSpec("e", "exact", "x").level_names() == ["different", "exact"]
    ctx = ComparisonSpec("n", "string", "x", (0.9, 0.8), context="city")
    assert ctx.n_levels == 10 and ctx.exact_levels() == [7, 8, 9]
    assert ctx.level_names() == ["different", *[f"{s}, city {c}" for s in ("jaro_winkler ≥ 0.8", "jaro_winkler ≥ 0.9",
                                                                           "exact")
                                                 for c in ("different", "unknown", "same")]]
    plain = ComparisonSpec("n", "string", "x", (0.8,), metric="jaro")
    assert plain.n_levels == 3 and plain.exact_levels() == [2] and plain.level_names() == [
        "different", "jaro ≥ 0.8", "exact"]
    assert ComparisonSpec("u", "uscc", "x").level_names() == ["different", "-", "typo or same org code", "exact"]
    assert ComparisonSpec("u", "uscc", "x").n_levels == 4
    assert ComparisonSpec("p", "phone", "x").level_names() == ["different", "same last 8 digits", "exact"]
    assert ComparisonSpec("p", "phone", "x").n_levels == 3
    assert ComparisonSpec("n", "string", "x", (0.9,), context="c", gate="g", alias="f", extra=("e",)).columns == (
        "x", "e", "c", "g", "f")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "fuzzy"}, r"^comparison c: unknown kind 'fuzzy'; expected one of exact, string, uscc, phone$"),
    ({"kind": "string", "metric": "cosine"}, r"^comparison c: unknown metric 'cosine'; expected one of jaro_winkler, "
                                             r"jaro, levenshtein, damerau_levenshtein$"),
    ({"kind": "string", "thresholds": (0.8, 0.9)}, r"^comparison c: thresholds must be in descending order$"),
])
def test_a_wrong_spec_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ComparisonSpec("c", column="x", **kwargs)


def test_encoding_counts_empty_as_missing_and_mixed_types_by_their_text() -> None:
    codes, values = encode_column(pd.Series(["b", "", None, "b", "a"], dtype=object))
    assert codes.tolist() == [0, -1, -1, 0, 2] and values.to_pylist() == ["b", "", "a"]
    codes, values = encode_column(pd.Series([1, "1", None, 2.5], dtype=object))
    assert codes.tolist() == [0, 0, -1, 1] and values.to_pylist() == ["1", "2.5"]
    codes, values = encode_column(pd.Series(["x", None], dtype="string[pyarrow]"))
    assert codes.tolist() == [0, -1] and values.to_pylist() == ["x"]
    codes, values = encode_column(pd.Series([], dtype=object))
    assert codes.tolist() == [] and values.to_pylist() == []
    enc = encode(pd.DataFrame({"a": ["x", "y"], "b": ["1", None], "city": ["z", "z"], "d": ["q", "q"]}), SPECS[:1],
                 columns=["b", "a"], workers=2)
    assert list(enc.codes.columns) == ["a", "b", "city"]  # compared and asked-for columns, sorted; no others
    assert enc.codes["b"].tolist() == [0, -1] and enc.codes["city"].tolist() == [0, 0]
    assert list(enc.uniques["a"]) == ["x", "y"]


def test_a_former_name_equal_to_the_first_name_and_names_all_missing() -> None:
    spec = ComparisonSpec("former", "exact", "name", alias="former")
    records = pd.DataFrame({"name": ["甲公司", "乙公司"], "former": [None, "甲公司"]})  # 乙's former name is 甲's name
    assert compare(records, np.array([0]), np.array([1]), [spec])["former"].tolist() == [1]
    enc = encode(records, [spec])
    plain = dict(enc.uniques)  # a plain dict of distinct values works as well as the memoizing one
    cols = [enc.codes[c].to_numpy() for c in spec.columns]
    assert levels(spec, [c[[0]] for c in cols], [c[[1]] for c in cols], plain).tolist() == [1]
    nameless = pd.DataFrame({"name": [None, None], "former": ["甲公司", "甲公司"]})
    assert compare(nameless, np.array([0]), np.array([1]), [spec])["former"].tolist() == [-1]
