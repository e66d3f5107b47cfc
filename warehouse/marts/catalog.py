"""The mart reference, written once in `marts.yaml`: each mart's description, grain and column descriptions.

Read by the README generator (`hub docs marts`), by the Dagster mart assets (column metadata) and by
the test that holds the built marts and this file to the same columns.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import yaml

README_BEGIN = ("<!-- mart reference: generated from warehouse/marts/marts.yaml by "
                "`hub docs marts --write README.md`; edit the YAML, not this section -->")
README_END = "<!-- end of mart reference -->"


@dataclass(frozen=True)
class MartDoc:
    """The documentation of one mart."""

    name: str
    description: str
    grain: str
    columns: dict[str, str]


@functools.cache
def mart_docs() -> dict[str, MartDoc]:
    """Every documented mart, in the order of `marts.yaml` (the build order)."""
    text = resources.files("warehouse.marts").joinpath("marts.yaml").read_text(encoding="utf-8")
    return {name: MartDoc(name, " ".join(doc["description"].split()), doc["grain"],
                          {c: " ".join(str(d).split()) for c, d in doc["columns"].items()})
            for name, doc in yaml.safe_load(text).items()}


def reference_markdown() -> str:
    """The mart reference as Markdown: per mart its description, grain and a table of its columns."""
    out = []
    for doc in mart_docs().values():
        out += [f"#### `marts.{doc.name}`", "", doc.description, "", f"Grain: {doc.grain}.", "",
                "| column | description |", "|---|---|"]
        out += [f"| `{c}` | {d.replace('|', '/')} |" for c, d in doc.columns.items()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def with_reference(markdown: str) -> str:
    """`markdown` (a README) with the text between the reference markers replaced by the current reference."""
    start, end = markdown.find(README_BEGIN), markdown.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"no mart reference markers in the file: add the lines\n{README_BEGIN}\n{README_END}")
    return markdown[:start + len(README_BEGIN)] + "\n\n" + reference_markdown() + "\n" + markdown[end:]
