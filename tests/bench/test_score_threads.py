"""bench.score_threads scores the same candidate steps of a linked warehouse on one thread and on several."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bench.score_threads import main


def test_each_step_is_scored_both_ways_and_the_first_is_not_counted(
        matched_demo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _ = matched_demo
    shutil.copytree(cfg.parent, tmp_path, dirs_exist_ok=True)
    copy = tmp_path / cfg.name
    text = copy.read_text(encoding="utf-8")
    copy.write_text(text.replace("    source_priority:", "    pairs_per_step: 400\n    source_priority:"),
                    encoding="utf-8")
    main(["--config", str(copy), "--steps", "3", "--workers", "2"])
    out = capsys.readouterr().out
    rows = re.findall(r"^\| (\d+)( \(not counted\))? \| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \|$", out, re.M)
    assert [(r[0], bool(r[1])) for r in rows] == [("0", True), ("1", False), ("2", False), ("3", False)]
    assert sum(int(r[2].replace(",", "")) for r in rows) > 4 * 400 / 2  # (steps near the size asked for)
    total = re.search(r"^\| all counted \| \| ([\d.]+) \| ([\d.]+) \|$", out, re.M)
    assert total is not None
    assert float(total[1]) == pytest.approx(sum(float(r[3]) for r in rows[1:]), abs=0.02)


def test_a_warehouse_without_a_model_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text('warehouse: {url: "duckdb:///w.duckdb"}\nsources: {}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="no model in force"):
        main(["--config", str(cfg)])
