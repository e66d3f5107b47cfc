"""The vocabulary the config and the matching engine share, defined once: comparison kinds, string metrics and
survivorship rules. `core.config` validates a file with it; `mdm` (which imports nothing else of ours) computes
with it."""

from __future__ import annotations

from typing import Literal, get_args

ComparisonKind = Literal["exact", "string", "uscc", "phone"]
StringMetric = Literal["jaro_winkler", "jaro", "levenshtein", "damerau_levenshtein"]
SurvivorshipRule = Literal["source_priority", "most_recent", "most_frequent", "most_complete", "valid_only",
                           "most_sources", "cleanest"]

COMPARISON_KINDS: tuple[str, ...] = get_args(ComparisonKind)
STRING_METRICS: tuple[str, ...] = get_args(StringMetric)
SURVIVORSHIP_RULES: tuple[str, ...] = get_args(SurvivorshipRule)
FALLBACK_RULES: tuple[str, ...] = ("source_priority", "most_recent")  # an attribute without rules of its own
