"""The generated pages of the docs site, written from the code so that they cannot drift from it.

- `docs/configuration.md`: the reference of every option, from the pydantic models in `core/config.py` (their
  fields, types, defaults, `description=`s and docstrings).
- `docs/marts.md`: the mart reference, from `warehouse/marts/marts.yaml` and `predict/marts.yaml`.
- `docs/index.md`: the site's front page, which is `README.md` with its links made relative to `docs/`.

The first two are written between two marker lines of a hand-written page; the rest of the page is left as it is.

    python -m scripts.docs_reference           # rewrite the generated parts
    python -m scripts.docs_reference --check   # exit 1 naming each page that differs (tests/docs does it too)
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

REPO = Path(__file__).resolve().parent.parent
CONFIG_PAGE = Path("docs/configuration.md")
MARTS_PAGE = Path("docs/marts.md")
INDEX_PAGE = Path("docs/index.md")
CONFIG_BEGIN = ("<!-- configuration reference: generated from the models in core/config.py by "
                "`python -m scripts.docs_reference`; edit the models, not this section -->")
CONFIG_END = "<!-- end of configuration reference -->"
# A name standing for a key the user chooses (`sources.<source>`), per mapping field of the models.
_KEY_NAMES = {"sources": "source", "streams": "stream", "mapping": "field", "order_status": "source",
              "checks": "check", "survivorship": "attribute", "config": "key"}
_SCALARS = {str: "text", int: "integer", float: "number", bool: "true / false", Any: "any"}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The config models an annotation holds (`X`, `X | None`, `list[X]`, `dict[str, X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _type_text(annotation: Any, anchors: dict[type[BaseModel], str]) -> str:
    """An annotation in words, a model as a link to its section."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is Annotated:
        return _type_text(args[0], anchors)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_text(a, anchors) for a in args if a is not type(None))
    if origin is Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type_text(args[0], anchors)}"
    if origin is dict:
        return f"mapping of {_type_text(args[1], anchors)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{anchors[annotation]})"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default_text(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is None or value is PydanticUndefined:
        return ""
    if isinstance(value, BaseModel):
        return "(its defaults)"
    if value in ({}, []):
        return ""
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _sections(root: type[BaseModel]) -> list[tuple[str, type[BaseModel]]]:
    """Every model reachable from `root`, in the order a reader meets them, with the path it is first found at."""
    seen: dict[type[BaseModel], str] = {}
    order: list[tuple[str, type[BaseModel]]] = []

    def walk(model: type[BaseModel], path: str) -> None:
        if model in seen:
            return
        seen[model] = path
        order.append((path, model))
        for name, field in model.model_fields.items():
            key = field.alias or name
            origin = get_origin(field.annotation)
            for sub in _models_in(field.annotation):
                args = [a for a in get_args(field.annotation) if a is not type(None)]
                inner = get_origin(args[0]) if origin in (Union, types.UnionType) and args else origin
                child = f"{path}.{key}" if path else key
                if inner is dict:
                    child += f".<{_KEY_NAMES.get(key, 'name')}>"
                elif inner is list:
                    child += "[]"
                walk(sub, child)

    walk(root, "")
    return order


def config_reference_markdown(root: type[BaseModel] | None = None) -> str:
    """The configuration reference: one section per model, a row per option."""
    if root is None:
        from core.config import HubConfig
        root = HubConfig
    sections = _sections(root)
    anchors = {model: (f"config-{path}" if path else "config-top-level").replace(".", "-").replace("<", "")
               .replace(">", "").replace("[]", "").replace("_", "-").lower() for path, model in sections}
    out: list[str] = []
    for path, model in sections:
        title = f"`{path}`" if path else "The top level"
        out += [f"### {title} {{#{anchors[model]}}}", ""]
        doc = _one_line(model.__doc__) if model.__doc__ and model.__doc__ != BaseModel.__doc__ else ""
        if doc:
            out += [doc, ""]
        out += [f"Model: `{model.__name__}`.", "", "| option | type | default | what it does |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            out.append(f"| `{field.alias or name}` | {_type_text(field.annotation, anchors)} | "
                       f"{_default_text(field)} | {_one_line(field.description)} |")
        out.append("")
    return "\n".join(out)


def _between(markdown: str, begin: str, end: str, generated: str, page: Path) -> str:
    start, stop = markdown.find(begin), markdown.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"{page}: no generated-section markers; add the lines\n{begin}\n{end}")
    return markdown[:start + len(begin)] + "\n\n" + generated + "\n" + markdown[stop:]


def index_markdown(readme: str) -> str:
    """The site's front page: the README, its `docs/` links made relative to the docs folder."""
    note = "<!-- generated from README.md by `python -m scripts.docs_reference`; edit the README -->\n"
    return note + readme.replace("](docs/", "](")


def expected_pages(repo: Path = REPO) -> dict[Path, str]:
    """Each generated page as the code gives it now."""
    from predict.catalog import all_mart_docs
    from warehouse.marts.catalog import with_reference

    config_page = (repo / CONFIG_PAGE).read_text(encoding="utf-8")
    marts_page = (repo / MARTS_PAGE).read_text(encoding="utf-8")
    return {
        CONFIG_PAGE: _between(config_page, CONFIG_BEGIN, CONFIG_END, config_reference_markdown(), CONFIG_PAGE),
        MARTS_PAGE: with_reference(marts_page, all_mart_docs()),
        INDEX_PAGE: index_markdown((repo / "README.md").read_text(encoding="utf-8")),
    }


def stale_pages(repo: Path = REPO) -> list[Path]:
    """The generated pages whose committed text differs from what the code gives now."""
    return [page for page, text in expected_pages(repo).items()
            if not (repo / page).exists() or (repo / page).read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report the pages that differ (exit 1)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages()
        for page in stale:
            print(f"{page}: out of date; run: python -m scripts.docs_reference", file=sys.stderr)
        return 1 if stale else 0
    for page, text in expected_pages().items():
        (REPO / page).write_text(text, encoding="utf-8")
        print(f"{page}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
