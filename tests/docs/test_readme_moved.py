"""scripts/readme_moved.py finds the headings, figures and pictures of an old README that landed nowhere."""

from __future__ import annotations

from scripts.readme_moved import missing

OLD = """# hub

## Measured

A run took **9.5 s wall, 625 MB peak** ([details](#measured)).

![The cockpit](docs/screenshots/cockpit.png)
"""


def test_what_moved_is_found_and_what_was_lost_is_named() -> None:
    moved = ("# hub\n\n## Measured\n\n"
             "A run took **9.5 s wall, 625 MB peak** ([details](benchmarks.md#measured))."
             "\n\n![The cockpit](screenshots/cockpit.png)\n")
    assert missing(OLD, moved) == {"headings": [], "figures": [], "pictures": [], "lines": []}
    lost = "# hub\n\nA run took **9.5 s wall, 626 MB peak**.\n"
    found = missing(OLD, lost)
    assert found["headings"] == ["## Measured"]
    assert [f.split()[0] for f in found["figures"]] == ["625"]
    assert found["pictures"] == ["docs/screenshots/cockpit.png"]
