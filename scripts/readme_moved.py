"""Check that text moved out of a README landed somewhere: in the README now or in a page of `docs/`.

    git show REV:README.md > /tmp/old-readme.md
    python -m scripts.readme_moved /tmp/old-readme.md [--lines]

Checks every heading, every figure (each word holding a number of two or more digits, as written: `0.9912`,
`1,186,578,307.46`, `(29.5`) and every picture of the old README; `--lines` also lists each line of prose
that is not found word for word (links are compared without their targets, which move with the pages).
Exits 1 when a heading, figure or picture is missing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_FIGURE = re.compile(r"\d[\d,.]*\d")
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]*)\)")


def _normal(text: str) -> str:
    """Text without link targets, heading marks and runs of whitespace."""
    text = _LINK_TARGET.sub("]", text)
    return " ".join(text.replace("#", " ").split())


def corpus(repo: Path = REPO) -> str:
    """The README and every docs page, joined."""
    pages = [repo / "README.md", *sorted((repo / "docs").glob("**/*.md"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages)


def missing(old: str, raw: str) -> dict[str, list[str]]:
    """What of `old` (a README's text) `raw` (the README and docs now) lacks, by kind."""
    new = "\n".join(_normal(line) for line in raw.split("\n\n"))
    lines = old.splitlines()
    out: dict[str, list[str]] = {"headings": [], "figures": [], "pictures": [], "lines": []}
    in_code = False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        stripped = line.strip()
        if not stripped:
            continue
        if not in_code and stripped.startswith("#"):
            if _normal(stripped) not in new:
                out["headings"].append(stripped)
            continue
        for target in _IMAGE.findall(line):
            if f"{Path(target).name})" not in raw:
                out["pictures"].append(target)
        normal = _normal(stripped)
        for token in normal.split():
            if _FIGURE.search(token) and token not in new:
                out["figures"].append(f"{token}  ← {stripped[:100]}")
        if normal not in new:
            out["lines"].append(stripped)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old_readme", type=Path)
    parser.add_argument("--lines", action="store_true", help="also list prose lines not found word for word")
    args = parser.parse_args(argv)
    found = missing(args.old_readme.read_text(encoding="utf-8"), corpus())
    kinds = ["headings", "figures", "pictures"] + (["lines"] if args.lines else [])
    for kind in kinds:
        print(f"{kind} missing: {len(found[kind])}")
        for item in found[kind]:
            print(f"  {item}")
    return 1 if any(found[k] for k in ("headings", "figures", "pictures")) else 0


if __name__ == "__main__":
    sys.exit(main())
