"""Benchmark results are committed: they name no folder of the machine that measured them."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench.__main__ import REPO, RESULTS, save_results, without_machine_paths


def test_results_leave_out_the_machines_folders(tmp_path: Path) -> None:
    scratch = Path(tempfile.gettempdir()).resolve()
    text = (f"Command: `python -m bench.scale --workdir {scratch}/benchw` in {REPO}/bench, "
            f"data {REPO / 'bench' / 'work'}; {scratch}foo stays")
    save_results("probe", text, {"folder": str(scratch / "benchw" / "scale-1000000"), "repo": str(REPO)},
                 folder=tmp_path)
    [md] = tmp_path.glob("probe-*.md")
    [js] = tmp_path.glob("probe-*.json")
    assert md.read_text(encoding="utf-8") == (
        "Command: `python -m bench.scale --workdir <tmp>/benchw` in ./bench, data ./bench/work; "
        f"{scratch}foo stays")
    assert json.loads(js.read_text(encoding="utf-8")) == {"folder": "<tmp>/benchw/scale-1000000", "repo": "."}


def test_the_committed_results_name_no_temporary_folder() -> None:
    scratch = str(Path(tempfile.gettempdir()).resolve())
    named = [p.name for p in sorted(RESULTS.glob("*")) if p.is_file()
             and without_machine_paths(p.read_text(encoding="utf-8", errors="replace")) != p.read_text(
                 encoding="utf-8", errors="replace")]
    assert not named, f"results naming {scratch} or the repository's folder: {named}"
