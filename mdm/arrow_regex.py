"""Regular expressions over Arrow string arrays: Arrow's RE2 kernels, or for a handful of values the `regex`
module with the pattern compiled once.

Arrow's regex kernels compile their RE2 pattern at every call (0.05–0.4 ms for the long vocabulary
alternations): nothing over a million names, but most of the cost of standardizing the one record of a
match API query. Arrays of at most `FEW` values therefore run in Python. A pattern is translated to the
`regex` module with RE2's meaning (ASCII ``\\d \\s \\w``, ``$`` at the very end only, RE2's ``\\1``
rewrites) and cached compiled; a pattern the translation cannot render exactly (flags, word boundaries,
``\\Q…\\E``, ``{,n}``, a replacement that can match the empty string) keeps Arrow.
tests/mdm/test_arrow_regex.py holds both paths equal.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc
import regex

FEW = 16
"""Arrays of at most this many values take the Python path (the standardizer runs on distinct values)."""

_ASCII = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_"}
_SAME_ESCAPES = set("Aantfrv")  # escapes both engines read alike


def translate(pattern: str) -> str | None:
    """An RE2 pattern as a `regex` pattern of the same meaning, or None when that is not certain."""
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\":
            e = pattern[i + 1:i + 2]
            if e in _ASCII:
                out.append(_ASCII[e] if in_class else f"[{_ASCII[e]}]")
            elif e.lower() in _ASCII and e:
                if in_class:
                    return None
                out.append(f"[^{_ASCII[e.lower()]}]")
            elif e == "z" and not in_class:
                out.append("\\Z")
            elif e in ("p", "P"):
                end = pattern.find("}", i) + 1 if pattern[i + 2:i + 3] == "{" else i + 3
                if end <= i or end > n:
                    return None
                out.append(pattern[i:end])
                i = end
                continue
            elif e == "x":
                if pattern[i + 2:i + 3] == "{":
                    end = pattern.find("}", i)
                    if end < 0:
                        return None
                    out.append(f"\\U{int(pattern[i + 3:end], 16):08x}")
                    i = end + 1
                    continue
                out.append(pattern[i:i + 4])
                i += 4
                continue
            elif e in _SAME_ESCAPES or (e and not e.isalnum()):
                out.append(pattern[i:i + 2])
            else:  # \b \B \C \Q \E, octal, back-references: not rendered
                return None
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[":
                if pattern[i + 1:i + 2] == ":":
                    return None  # a POSIX class
                c = "\\["
            out.append(c)
        elif c == "[":
            in_class = True
            j = i + 1
            if pattern[j:j + 1] == "^":
                j += 1
            if pattern[j:j + 1] == "]":  # a leading ] is a literal in both engines
                j += 1
            out.append(pattern[i:j].replace("]", "\\]"))
            i = j
            continue
        elif c == "$":
            out.append("\\Z")
        elif c == "(" and pattern[i + 1:i + 2] == "?" and not (pattern[i + 2:i + 3] == ":"
                                                              or pattern[i + 2:i + 4] == "P<"):
            return None  # flags, (?P=name)
        elif c == "{" and pattern[i + 1:i + 2] == ",":
            return None  # {,n} is a literal to RE2, a repetition to Python
        else:
            out.append(c)
        i += 1
    return None if in_class else "".join(out)


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> regex.Pattern[str] | None:
    """The translated pattern compiled (cached), or None."""
    translated = translate(pattern)
    if translated is None:
        return None
    try:
        return regex.compile(translated, regex.V0)
    except regex.error:
        return None


@lru_cache(maxsize=256)
def _template(rewrite: str) -> str | None:
    """An RE2 rewrite string (``\\0``–``\\9``, ``\\\\``) as a `regex` template, or None."""
    out: list[str] = []
    i = 0
    while i < len(rewrite):
        c = rewrite[i]
        if c == "\\":
            nxt = rewrite[i + 1:i + 2]
            if nxt.isdigit():
                out.append(f"\\g<{nxt}>")
            elif nxt == "\\":
                out.append("\\\\")
            else:
                return None
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _usable(arr: pa.Array) -> bool:
    return isinstance(arr, pa.Array) and len(arr) <= FEW and arr.type == pa.string()


def _few_sub(arr: pa.Array, pattern: str, repl: str, max_replacements: int | None) -> pa.Array | None:
    if not _usable(arr) or max_replacements == 0:
        return None
    rx, template = compiled(pattern), _template(repl)
    if rx is None or template is None or rx.search("") is not None:  # empty matches: the engines differ
        return None
    count = max_replacements or 0
    return pa.array([None if v is None else rx.sub(template, v, count) for v in arr.to_pylist()], pa.string())


def _few_has(arr: pa.Array, pattern: str) -> pa.Array | None:
    rx = compiled(pattern) if _usable(arr) else None
    if rx is None:
        return None
    return pa.array([None if v is None else rx.search(v) is not None for v in arr.to_pylist()], pa.bool_())


def _few_groups(arr: pa.Array, pattern: str) -> pa.StructArray | None:
    rx = compiled(pattern) if _usable(arr) else None
    if rx is None or rx.groups != len(rx.groupindex) or not rx.groups:
        return None
    names = sorted(rx.groupindex, key=rx.groupindex.__getitem__)
    rows = []
    for v in arr.to_pylist():
        m = None if v is None else rx.search(v)
        rows.append(None if m is None else {k: m.group(k) or "" for k in names})
    return pa.array(rows, pa.struct([(k, pa.string()) for k in names]))


def sub(arr: pa.Array, pattern: str, repl: str = "", max_replacements: int | None = None) -> pa.Array:
    """Each match of `pattern` replaced by `repl` (Arrow's replace_substring_regex)."""
    few = _few_sub(arr, pattern, repl, max_replacements)
    return pc.replace_substring_regex(arr, pattern, repl, max_replacements=max_replacements) if few is None else few


def has(arr: pa.Array, pattern: str) -> pa.Array:
    """True where `pattern` matches somewhere in the value, null for null (Arrow's match_substring_regex)."""
    few = _few_has(arr, pattern)
    return pc.match_substring_regex(arr, pattern) if few is None else few


def groups(arr: pa.Array, pattern: str) -> pa.StructArray:
    """The named groups of the first match: a struct, "" for a group taking no part, null where nothing
    matches (Arrow's extract_regex)."""
    few = _few_groups(arr, pattern)
    return pc.extract_regex(arr, pattern) if few is None else few
