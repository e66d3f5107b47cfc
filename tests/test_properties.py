"""Property-based tests: no input makes the config loader or the mapping layer fail with anything but a
clear validation error (the standardizers have their own in tests/mdm/test_standardize_properties.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.config import ConfigError, HubConfig
from core.config_file import load_config
from pipelines.coerce import clean_text, parse_date, parse_decimal, parse_integer, parse_timestamp
from pipelines.stage import json_path

TOP_LEVEL = set(HubConfig.model_fields)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=30), st.sampled_from(["${X}", "${MISSING}", "${X:-d}", "${file:nope}", "${}",
                                                           "sql", "file", "customer", "duckdb:///a.db"]))
keys = st.one_of(st.text(max_size=12), st.sampled_from(
    ["warehouse", "url", "sources", "connector", "config", "streams", "entity", "mapping", "primary_key",
     "table", "query", "path", "mdm", "customer", "thresholds", "match", "review", "name", "uscc"]))
documents = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=4),
                                                             st.dictionaries(keys, children, max_size=5)),
                         max_leaves=25)


def outcome(path: Path, env: dict[str, str]) -> tuple[HubConfig | None, ConfigError | None]:
    """Load a config: (the config, None) or (None, the error); any other exception fails the test."""
    try:
        return load_config(path, env=env), None
    except ConfigError as e:
        return None, e


def check_error_names_the_file(path: Path, error: ConfigError) -> None:
    # One problem or more, and the message names the file first (with a line number where one is known).
    assert error.problems and error.file == str(path) and str(error).startswith(f"{path}:")
    assert str(error).count(f"{path}:") >= len(error.problems)  # every problem says where


@SETTINGS
@given(documents)
def test_config_loader_only_raises_config_errors(doc: object) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "hub.yaml"
        p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        cfg, error = outcome(p, {"X": "value-x"})
        if error is not None:
            check_error_names_the_file(p, error)
        else:  # only nothing, or a mapping of known sections, is a config; its sources are the document's
            assert cfg is not None and (doc is None or (isinstance(doc, dict) and set(doc) <= TOP_LEVEL))
            assert list(cfg.sources) == list((doc or {}).get("sources") or {})


@SETTINGS
@given(st.text(max_size=200))
@example("0000-0-0T0:00:00")  # a timestamp that is no date: PyYAML raises ValueError, not YAMLError
def test_config_loader_survives_arbitrary_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "hub.yaml"
        p.write_text(text, encoding="utf-8")
        cfg, error = outcome(p, {})
        try:
            doc = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError):  # PyYAML raises ValueError for a timestamp that is no real date
            assert error is not None and "not valid YAML" in str(error)  # unreadable YAML is a config error
            return
        if error is not None:
            check_error_names_the_file(p, error)
        else:
            assert cfg is not None and (doc is None or (isinstance(doc, dict) and set(doc) <= TOP_LEVEL))


text_values = st.lists(st.one_of(st.none(), st.text(max_size=40), st.sampled_from(
    ["2024-02-17 19:48:23", "2024/2/17", "2024年2月17日", "1700000000000", "2023-02-30", "¥1,234.50", "(12.5)",
     "1e400", "NaN", "inf", "  ", "十二万", "0", "-0.001"])), max_size=20)


@SETTINGS
@given(text_values)
def test_typing_never_raises_and_flags_exactly_the_unreadable_values(values: list[str | None]) -> None:
    s = pd.Series(values, dtype=object)
    present = s.astype("string").str.strip().fillna("") != ""
    for parse in (parse_timestamp, parse_date, parse_decimal, parse_integer, clean_text):
        out, bad = parse(s)
        assert len(out) == len(s) and len(bad) == len(s)
        assert not (bad & ~present).any()           # an empty value is never "bad"
        assert out[bad.to_numpy()].isna().all()       # a bad value is never kept
        ok = present & ~bad
        assert out[ok.to_numpy()].notna().all()       # a good value is never lost


@SETTINGS
@given(st.text(max_size=60))
def test_json_paths_parse_any_column_name(name: str) -> None:
    parts = json_path(name)
    assert all(isinstance(p, str | int) for p in parts)
    # Written back as a path, the parts give the same parts: nothing of the name is misread.
    assert json_path("".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")) == parts
    # A name without dots or brackets is one key, itself.
    if name and not set(name) & set(".[]"):
        assert parts == [name]


@pytest.mark.parametrize(("expr", "parts"), [
    ("follow_info.remark_mobiles[0]", ["follow_info", "remark_mobiles", 0]),
    ("a[12].b", ["a", 12, "b"]), ("客户.联系人[1]", ["客户", "联系人", 1]), ("plain", ["plain"]), ("", []),
])
def test_json_path_examples(expr: str, parts: list[str | int]) -> None:
    assert json_path(expr) == parts


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=20)),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=5), c, max_size=3)),
    max_leaves=6)
records = st.lists(st.fixed_dictionaries({"id": st.one_of(st.none(), st.integers(0, 5), st.text(max_size=3))},
                                         optional={"名称": json_values, "amount": json_values, "d": json_values,
                                                   "nested": json_values}), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_landing_and_staging_any_records_never_crash_and_lose_nothing(recs: list[dict]) -> None:
    from core.config import HubConfig
    from pipelines.stage import stage_stream
    from warehouse.engine import Warehouse
    from warehouse.raw import RawStore, dumps

    cfg = HubConfig.model_validate({"sources": {"s": {"connector": "file", "config": {"path": "x.csv"}, "streams": {
        "t": {"primary_key": "id", "entity": "sales_order", "mapping": {
            "order_number": "id", "customer_key": ["nested.k", "名称"], "order_date": "d", "amount": "amount"}}}}}})
    with tempfile.TemporaryDirectory() as d:
        wh = Warehouse(f"duckdb:///{Path(d) / 'w.duckdb'}")
        store = RawStore(wh)
        stats = store.load("s", "t", store.start_sync("s"), recs, [["id"]], 0)
        # What must happen to each record: without a key, quarantined; the first of each key lands; a later
        # one with other content is a duplicate key, quarantined; a later identical one is a re-read, dropped.
        first: dict[str, str] = {}
        missing = duplicates = repeats = 0
        for rec in recs:
            key = rec["id"].strip() if isinstance(rec["id"], str) else rec["id"]
            if key is None or key == "":
                missing += 1
            elif str(key) not in first:
                first[str(key)] = dumps(rec)
            elif first[str(key)] != dumps(rec):
                duplicates += 1
            else:
                repeats += 1
        assert (stats.read, stats.loaded, stats.quarantined, stats.unchanged) == (
            len(recs), len(first), missing + duplicates, repeats)
        landed = wh.read_frame("SELECT _key, _data FROM raw.s__t")
        assert dict(zip(landed["_key"], landed["_data"], strict=True)) == first
        assert wh.scalar("SELECT count(*) FROM raw._quarantine") == missing + duplicates
        result = stage_stream(cfg, wh, "s", "t")
        assert result is not None  # every landed record is either staged or rejected with a reason
        assert result.staged + result.rejected == len(first)
        wh.dispose()
