"""Text normalization the name and address readers share: NFKC, traditional → simplified (OpenCC, called only on
the strings that need it), upper-case Latin.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mdm.standardize.arrow import _has


@cache
def _opencc() -> Any:  # opencc has no type information
    import opencc

    return opencc.OpenCC("t2s")


@cache
def _traditional_class() -> str:
    """An RE2 character class of every character that OpenCC t2s may change."""
    import opencc

    folder = Path(opencc.__file__).parent / "dictionary"
    chars: set[str] = set()
    for fname in ("TSCharacters.txt", "TSPhrases.txt"):
        for line in (folder / fname).read_text(encoding="utf-8").splitlines():
            key, _, vals = line.partition("\t")
            val = vals.split(" ")[0]
            if not key or val == key:
                continue
            if len(val) == len(key):  # only the characters that change
                chars.update(k for k, v in zip(key, val, strict=True) if k != v)
            else:
                chars.update(key)
    body = "".join(sorted(re.sub(r"([\\\]\[^-])", r"\\\1", c) for c in chars))
    return f"[{body}]"


def _t2s(arr: pa.Array) -> pa.Array:
    """Traditional → simplified, calling OpenCC only on the strings that need it."""
    mask = pc.fill_null(_has(arr, _traditional_class()), False)
    if not pc.any(mask).as_py():
        return arr
    conv = _opencc().convert

    def settled(v: str) -> str:  # OpenCC's tables chain (薴 → 苧 → 苎): convert until nothing changes (at most 3)
        for _ in range(3):
            out = conv(v)
            if out == v:
                break
            v = out
        return v

    subset = pc.filter(arr, mask).to_pylist()
    return pc.replace_with_mask(arr, mask, pa.array([settled(v) for v in subset], pa.string()))


def _base_clean(arr: pa.Array) -> pa.Array:
    """NFKC, simplified characters, upper-case Latin."""
    return pc.utf8_upper(_t2s(pc.utf8_normalize(arr, "NFKC")))
