"""The vocabulary the config validates with is the one the engine computes with (`core.vocabulary`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import vocabulary
from core.config import ConfigError
from core.config_file import load_config
from mdm import compare, golden


def test_the_engine_and_the_config_share_one_vocabulary() -> None:
    assert compare.KINDS is vocabulary.COMPARISON_KINDS == ("exact", "string", "uscc", "phone")
    assert golden.RULES is vocabulary.SURVIVORSHIP_RULES and "cleanest" in golden.RULES
    assert set(compare.METRICS) == set(vocabulary.STRING_METRICS)  # every metric the config accepts is computed
    assert set(vocabulary.FALLBACK_RULES) <= set(vocabulary.SURVIVORSHIP_RULES)


def _config(tmp_path: Path, mdm: str) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text('warehouse: {url: "duckdb:///w.duckdb"}\nsources: {}\nmdm:\n  customer:\n' + mdm, encoding="utf-8")
    return path


def test_the_config_refuses_what_the_engine_does_not_know(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(_config(tmp_path, "    survivorship: {phone: loudest}\n"))
    assert "loudest" in str(e.value) and ", ".join(vocabulary.SURVIVORSHIP_RULES) in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_config(_config(tmp_path, "    comparisons: [{name: n, kind: fuzzy, column: name_norm}]\n"))
    assert "fuzzy" in str(e.value) or "kind" in str(e.value)
    ok = load_config(_config(tmp_path, "    survivorship: {phone: [most_sources, cleanest]}\n"))
    assert ok.mdm.customer.survivorship["phone"] == ["most_sources", "cleanest"]
