"""The docs site: generated pages equal what the code gives now, the configuration reference covers every option,
the README stays a front page. (`make test` builds the site with `mkdocs build --strict`, which fails on a broken
link or anchor.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from core.config import HubConfig
from scripts.docs_reference import (
    CONFIG_PAGE,
    INDEX_PAGE,
    MARTS_PAGE,
    _sections,
    config_reference_markdown,
    expected_pages,
    stale_pages,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_generated_pages_are_what_the_code_gives_now() -> None:
    assert stale_pages() == [], "run: python -m scripts.docs_reference"


def test_a_generated_page_edited_by_hand_or_left_behind_is_found(tmp_path: Path) -> None:
    shutil.copytree(REPO / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("screenshots"))
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    assert stale_pages(tmp_path) == []
    page = tmp_path / CONFIG_PAGE
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("| `max_delete_share` | number | `0.5` |", "| `max_delete_share` | number | `0.6` |"),
                    encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nA new line.\n", encoding="utf-8")
    assert stale_pages(tmp_path) == [CONFIG_PAGE, INDEX_PAGE]
    # a page whose markers are gone is an error naming the page, not a silently unchanged page
    marts = tmp_path / MARTS_PAGE
    marts.write_text("# Marts\n", encoding="utf-8")
    try:
        expected_pages(tmp_path)
    except ValueError as e:
        assert "mart reference markers" in str(e)
    else:
        raise AssertionError("a marts page without markers was accepted")


class _Inner(BaseModel):
    """Something nested."""

    level: Literal["low", "high"] = Field("low", description="how much | how far")


class _Root(BaseModel):
    name: str = Field(description="what it is called")
    size: int = 3
    items: dict[str, _Inner] = Field(default_factory=dict)
    parts: list[_Inner] = Field(default_factory=list)
    extra: _Inner | None = None


def test_the_configuration_reference_is_written_from_the_models() -> None:
    text = config_reference_markdown(_Root)
    assert text.splitlines()[:8] == [
        "### The top level {#config-top-level}", "",
        "Model: `_Root`.", "",
        "| option | type | default | what it does |", "|---|---|---|---|",
        "| `name` | text | required | what it is called |",
        "| `size` | integer | `3` |  |",
    ]
    # a model reached from three fields has one section, at the path it is met first, linked from each field
    assert "| `items` | mapping of [_Inner](#config-items-name) |  |  |" in text
    assert "| `parts` | list of [_Inner](#config-items-name) |  |  |" in text
    assert text.count("### ") == 2 and "### `items.<name>` {#config-items-name}" in text
    assert "Something nested." in text
    assert "| `level` | `low` / `high` | `\"low\"` | how much \\| how far |" in text


def test_every_option_of_the_configuration_is_in_its_reference() -> None:
    page = (REPO / CONFIG_PAGE).read_text(encoding="utf-8")
    sections = _sections(HubConfig)
    assert {m.__name__ for _, m in sections} >= {"StreamConfig", "HealthConfig", "ConsoleUser", "PredictConfig"}
    for path, model in sections:
        heading = f"### `{path}`" if path else "### The top level"
        body = page[page.index(heading):]
        body = body[:body.find("\n### ", 1)]
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in body, (path, name)


def test_the_readme_is_a_front_page_and_the_site_lists_every_page() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in first_block[:2]] == [["make", "demo"], ["make", "test"]]
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    pages = {page for entry in nav for page in entry.values()}
    assert pages == {p.name for p in (REPO / "docs").glob("*.md")}
    # one hop: every page of the site is linked from the README
    assert all(f"](docs/{page}" in readme for page in pages - {"index.md"}), pages
