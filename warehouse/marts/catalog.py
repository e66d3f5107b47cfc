"""The mart reference, written once in `marts.yaml`: each mart's description, grain, key, references and columns.

Read by the docs generator (`hub docs marts`, `scripts/docs_reference.py`: docs/marts.md), by the Dagster mart
assets (column metadata), by the data checks (`pipelines/checks.py`: unique, not-null and referential checks
generated from the key and references) and by the test that holds the built marts and this file to the same columns.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

README_BEGIN = ("<!-- mart reference: generated from warehouse/marts/marts.yaml by "
                "`hub docs marts --write docs/marts.md`; edit the YAML, not this section -->")
README_END = "<!-- end of mart reference -->"
_TARGET = re.compile(r"^(?P<mart>[a-z_][a-z0-9_]*)(?:\.(?P<column>[a-z_][a-z0-9_]*)|\((?P<columns>[^)]*)\))$")


@dataclass(frozen=True)
class Reference:
    """Columns of a mart whose values (all filled) must exist in `columns_to` of another mart."""

    columns: tuple[str, ...]
    mart: str
    columns_to: tuple[str, ...]

    @property
    def name(self) -> str:
        return "+".join(self.columns)


@dataclass(frozen=True)
class Completeness:
    """Every row of another mart that matches `where` has a row here with the same `columns_to` values."""

    columns: tuple[str, ...]
    mart: str
    columns_to: tuple[str, ...]
    where: str  # SQL over the other mart's columns, from our own YAML


@dataclass(frozen=True)
class MartDoc:
    """The documentation and declared checks of one mart."""

    name: str
    description: str
    grain: str
    columns: dict[str, str]
    key: tuple[str, ...] = ()
    nullable: tuple[str, ...] = ()  # key columns that may be empty
    not_null: tuple[str, ...] = ()  # other columns that may not
    references: tuple[Reference, ...] = ()
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # default severity / thresholds per check
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # column → (lowest, highest) allowed
    complete: Completeness | None = None
    refresh: tuple[str, ...] = ()  # the columns of the golden IDs a row belongs to: refreshed for changed ones only

    @property
    def required(self) -> tuple[str, ...]:
        """The columns never empty: the key's (less the nullable ones) and `not_null`."""
        return tuple(c for c in self.key if c not in self.nullable) + self.not_null


def _columns(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _reference(mart: str, columns: str, target: str) -> Reference:
    m = _TARGET.match(target.strip())
    if not m:
        raise ValueError(f"marts.yaml: {mart}.references.{columns}: expected `mart.column` or `mart(c1, c2)`, "
                         f"got {target!r}")
    cols = _columns(columns)
    to = (m.group("column"),) if m.group("column") else _columns(m.group("columns"))
    if len(to) != len(cols):
        raise ValueError(f"marts.yaml: {mart}.references.{columns}: {len(cols)} column(s) refer to {len(to)}")
    return Reference(cols, m.group("mart"), to)


def _complete(mart: str, rule: dict[str, Any] | None) -> Completeness | None:
    """`complete: {columns: "a, b", of: "other(c, d)", where: "…"}`: every matching row of `other` is here."""
    if rule is None:
        return None
    ref = _reference(mart, rule["columns"], rule["of"])
    return Completeness(ref.columns, ref.mart, ref.columns_to, str(rule.get("where") or "TRUE"))


def _doc(name: str, doc: dict[str, Any], origin: str = "marts.yaml") -> MartDoc:
    columns = {c: " ".join(str(d).split()) for c, d in doc["columns"].items()}
    out = MartDoc(name, " ".join(doc["description"].split()), doc["grain"], columns,
                  key=tuple(doc.get("key", ())), nullable=tuple(doc.get("nullable", ())),
                  not_null=tuple(doc.get("not_null", ())),
                  references=tuple(_reference(name, c, t) for c, t in (doc.get("references") or {}).items()),
                  checks=dict(doc.get("checks") or {}),
                  ranges={c: (float(lo), float(hi)) for c, (lo, hi) in (doc.get("ranges") or {}).items()},
                  complete=_complete(name, doc.get("complete")), refresh=_columns(doc.get("refresh") or ""))
    unknown = [c for c in (*out.key, *out.nullable, *out.not_null, *(c for r in out.references for c in r.columns),
                           *out.ranges, *(out.complete.columns if out.complete else ()),
                           *out.refresh) if c not in columns]
    if unknown:
        raise ValueError(f"{origin}: {name}: key, not_null, references, ranges, complete or refresh name unknown "
                         f"column(s) {unknown}")
    return out


def parse_docs(text: str, origin: str) -> dict[str, MartDoc]:
    """The marts documented in a YAML text shaped like `marts.yaml` (`origin` names it in errors)."""
    return {name: _doc(name, doc, origin) for name, doc in yaml.safe_load(text).items()}


@functools.cache
def mart_docs() -> dict[str, MartDoc]:
    """Every mart built from SQL, in the order of `marts.yaml` (the build order)."""
    text = resources.files("warehouse.marts").joinpath("marts.yaml").read_text(encoding="utf-8")
    return parse_docs(text, "marts.yaml")


def reference_markdown(docs: dict[str, MartDoc] | None = None) -> str:
    """The mart reference as Markdown: per mart its description, grain, key, references and a table of its columns
    (`docs`: these marts; default: those built from SQL)."""
    out = []
    for doc in (docs if docs is not None else mart_docs()).values():
        out += [f"#### `marts.{doc.name}`", "", doc.description, "", f"Grain: {doc.grain}."]
        if doc.key:
            key = ", ".join(f"`{c}`" for c in doc.key)
            may = f" ({', '.join(f'`{c}`' for c in doc.nullable)} may be empty)" if doc.nullable else ""
            out += ["", f"Key: {key}{may}; unique, checked every run."]
        if doc.not_null:
            out += ["", "Never empty: " + ", ".join(f"`{c}`" for c in doc.not_null) + "."]
        if doc.references:
            refs = [f"{', '.join(f'`{c}`' for c in r.columns)} → `{r.mart}`"
                    f"({', '.join(f'`{c}`' for c in r.columns_to)})" for r in doc.references]
            out += ["", "References: " + "; ".join(refs) + "."]
        if doc.ranges:
            out += ["", "Ranges: " + "; ".join(f"`{c}` from {lo:g} to {hi:g}" for c, (lo, hi) in doc.ranges.items())
                    + "."]
        if doc.refresh:
            cols = " or ".join(f"`{c}`" for c in doc.refresh)
            out += ["", f"Refreshed by golden customer: when what it reads changed for some golden customers only, the "
                        f"rows of those golden customers ({cols}) are selected again."]
        if doc.complete:
            c = doc.complete
            out += ["", f"Complete: a row for every row of `{c.mart}` where `{c.where}` "
                        f"({', '.join(f'`{x}`' for x in c.columns)})."]
        out += ["", "| column | description |", "|---|---|"]
        out += [f"| `{c}` | {d.replace('|', '/')} |" for c, d in doc.columns.items()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def with_reference(markdown: str, docs: dict[str, MartDoc] | None = None) -> str:
    """`markdown` (a README) with the text between the reference markers replaced by the current reference."""
    start, end = markdown.find(README_BEGIN), markdown.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"no mart reference markers in the file: add the lines\n{README_BEGIN}\n{README_END}")
    return markdown[:start + len(README_BEGIN)] + "\n\n" + reference_markdown(docs) + "\n" + markdown[end:]
