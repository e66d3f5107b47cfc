"""Property-based tests: no input makes the config loader or the mapping layer fail with anything but a
clear validation error (the standardizers have their own in tests/mdm/test_standardize_properties.py)."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.config import ConfigError, load_config
from pipelines.coerce import clean_text, parse_date, parse_decimal, parse_integer, parse_timestamp
from pipelines.stage import json_path

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


@SETTINGS
@given(documents)
def test_config_loader_only_raises_config_errors(doc: object) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "hub.yaml"
        p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        try:
            load_config(p, env={"X": "value-x"})
        except ConfigError as e:
            assert str(p) in str(e)  # every error names the file


@SETTINGS
@given(st.text(max_size=200))
def test_config_loader_survives_arbitrary_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "hub.yaml"
        p.write_text(text, encoding="utf-8")
        with contextlib.suppress(ConfigError):
            load_config(p, env={})


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
    from hub.config import HubConfig
    from pipelines.stage import stage_stream
    from warehouse.engine import Warehouse
    from warehouse.raw import RawStore

    cfg = HubConfig.model_validate({"sources": {"s": {"connector": "file", "config": {"path": "x.csv"}, "streams": {
        "t": {"primary_key": "id", "entity": "sales_order", "mapping": {
            "order_number": "id", "customer_key": ["nested.k", "名称"], "order_date": "d", "amount": "amount"}}}}}})
    with tempfile.TemporaryDirectory() as d:
        wh = Warehouse(f"duckdb:///{Path(d) / 'w.duckdb'}")
        store = RawStore(wh)
        stats = store.load("s", "t", store.start_sync("s"), recs, [["id"]], 0)
        assert stats.read == len(recs)
        result = stage_stream(cfg, wh, "s", "t")
        landed = wh.scalar("SELECT count(*) FROM raw.s__t")
        if result is not None:
            # every landed record is either staged or rejected with a reason
            assert result.staged + result.rejected == landed
        wh.dispose()
