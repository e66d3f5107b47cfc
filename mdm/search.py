"""Finding golden customers the way stewards type: any record's name or short name as written, in pinyin
(`shanghaihuaxin`, `shang hai hua xin`) or by its initials (`shhx`), the contact person, the address, and
names that are only similar (a typo, a missing character). Pure: built from a frame of customer records,
kept in memory by whoever searches (`pipelines.steward.customers.CustomerSearch`).

Pinyin comes from pypinyin (phrase-aware, so 重庆 is chongqing and 厦门 xiamen), once per distinct name;
an index rebuilt after a run converts only the names it has not seen.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process

# How a customer was found, best first (the order results are ranked in).
HOW = ("name", "contact", "address", "pinyin", "initials", "similar name")
_CJK = re.compile(r"[\u3400-\u9fff]")
_NOT_WORD = re.compile("[^0-9a-z\u3400-\u9fff]+")  # literal characters: RE2 (Arrow) takes them too


def _fold(text: str) -> str:
    """NFKC (full-width to half-width), lower case, no spaces or punctuation: what a search compares."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def _fold_all(s: pd.Series) -> pd.Series:
    """`_fold` of every value (None as ""), in Arrow."""
    arr = pc.utf8_lower(pc.utf8_normalize(pa.array(s.fillna("").astype(str), pa.string()), "NFKC"))
    return pd.Series(pc.replace_substring_regex(arr, _NOT_WORD.pattern, "").to_pylist(), index=s.index)


def pinyin_of(names: pd.Series, known: Mapping[str, tuple[str, str]] | None = None) -> dict[str, tuple[str, str]]:
    """Full pinyin and initials (both folded: `xiamenyourun`, `xmyr`) per distinct name; `known` (an earlier
    result) is reused, only new names are converted."""
    out: dict[str, tuple[str, str]] = {}
    known = known or {}
    for name in pd.unique(names.dropna().astype(str)):
        if name in known:
            out[name] = known[name]
        elif _CJK.search(name):
            syllables = lazy_pinyin(name)
            out[name] = (_fold("".join(syllables)), _fold("".join(s[:1] for s in syllables)))
        else:
            out[name] = (_fold(name), "")
    return out


@dataclass
class SearchIndex:
    """Per customer record: its golden ID and the folded texts a search looks in."""

    golden: np.ndarray                         # golden ID per record
    texts: dict[str, pa.Array]                 # HOW → folded text per record ("" when none), in Arrow
    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # the pinyin cache
    size: pd.Series | None = None              # records per golden ID, for ranking
    distinct: list[str] = field(default_factory=list)            # distinct folded names, for similar names
    distinct_golden: list[np.ndarray] = field(default_factory=list)  # their golden IDs

    @classmethod
    def build(cls, records: pd.DataFrame, previous: SearchIndex | None = None) -> SearchIndex:
        """`records`: golden_id, name, short_name, name_norm, contact_name, address, address_norm."""
        def col(c: str) -> pd.Series:
            return records[c].fillna("").astype(str) if c in records else pd.Series("", index=records.index)

        cache = pinyin_of(pd.concat([col("name"), col("short_name")]), previous.names if previous else None)

        folded = _fold_all

        def py(s: pd.Series, k: int) -> pd.Series:
            return s.map({t: v[k] for t, v in cache.items()}).fillna("")

        sep = "|"  # between a record's names, so a search never spans two of them
        name = folded(col("name"))
        texts = {
            "name": name + sep + folded(col("short_name")) + sep + folded(col("name_norm")),
            "contact": folded(col("contact_name")),
            "address": folded(col("address")) + sep + folded(col("address_norm")),
            "pinyin": py(col("name"), 0) + sep + py(col("short_name"), 0),
            "initials": py(col("name"), 1) + sep + py(col("short_name"), 1),
        }
        golden = records["golden_id"].astype(str).to_numpy()
        # Each distinct name once, with its golden IDs (contiguous after a sort: split, not grouped in Python).
        pairs = pd.DataFrame({"n": name.to_numpy(), "g": golden}).drop_duplicates()
        pairs = pairs[pairs["n"] != ""].sort_values(["n", "g"], kind="stable")
        n = pairs["n"].to_numpy()
        starts = np.flatnonzero(np.r_[True, n[1:] != n[:-1]]) if len(n) else np.array([], dtype=np.int64)
        return cls(golden, {k: pa.array(v.tolist(), pa.string()) for k, v in texts.items()}, cache,
                   pd.Series(golden).value_counts(), n[starts].tolist(),
                   np.split(pairs["g"].to_numpy(), starts[1:]) if len(n) else [])

    def find(self, query: str, limit: int = 20, fuzzy_cutoff: float = 75.0) -> list[tuple[str, str, float]]:
        """Golden IDs for `query`, best first, each with how it was found and a score (100 for a hit, the
        similarity for a similar name). Letters only (no Chinese) also search pinyin and initials; when the
        exact searches find fewer than `limit`, similar names fill up."""
        q = _fold(query or "")
        if not q:
            return []
        latin = not _CJK.search(q)
        found: dict[str, tuple[int, str, float]] = {}
        for rank, how in enumerate(HOW[:-1]):
            if how in ("pinyin", "initials") and not (latin and q.isalpha()):
                continue
            if how == "initials" and len(q) < 2:
                continue
            hit = pc.match_substring(self.texts[how], q).to_numpy(zero_copy_only=False)
            for g in pd.unique(self.golden[hit]):
                found.setdefault(g, (rank, how, 100.0))
        if len(found) < limit and len(q) >= 2:
            for _, score, i in process.extract(q, self.distinct, scorer=fuzz.WRatio, score_cutoff=fuzzy_cutoff,
                                               limit=limit * 2):
                for g in self.distinct_golden[i]:
                    found.setdefault(g, (len(HOW) - 1, "similar name", round(float(score), 1)))
        size = self.size if self.size is not None else pd.Series(dtype=int)
        ranked = sorted(found.items(), key=lambda kv: (kv[1][0], -kv[1][2], -int(size.get(kv[0], 0)), kv[0]))
        return [(g, how, score) for g, (_, how, score) in ranked[:limit]]
