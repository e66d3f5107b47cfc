"""The prediction marts' reference (`predict/marts.yaml`), and every mart's: the SQL marts' and these."""

from __future__ import annotations

import functools
from importlib import resources

from warehouse.marts.catalog import MartDoc, mart_docs, parse_docs


@functools.cache
def predicted_mart_docs() -> dict[str, MartDoc]:
    """The marts predict/ writes, in the order it writes them."""
    text = resources.files("predict").joinpath("marts.yaml").read_text(encoding="utf-8")
    return parse_docs(text, "predict/marts.yaml")


def all_mart_docs() -> dict[str, MartDoc]:
    """Every mart: those built from SQL, then the predictions."""
    return {**mart_docs(), **predicted_mart_docs()}
