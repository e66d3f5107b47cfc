"""The mutation report (`bench/mutation.py`): modules from mutant names, and the score per module."""

from __future__ import annotations

import shutil
import tomllib

from bench.mutation import FAST_TESTS, fast_copy, module_of, summary


def test_the_module_of_a_function_and_of_a_method_mutant() -> None:
    assert module_of("mdm.cluster.x_cluster__mutmut_12") == "mdm.cluster"
    assert module_of("mdm.cluster.xǁ_Mergerǁfind__mutmut_3") == "mdm.cluster"
    assert module_of("pipelines.sync.x_sync_source__mutmut_1") == "pipelines.sync"


def test_the_score_counts_timeouts_as_killed_and_leaves_unchecked_mutants_out() -> None:
    status = {"mdm.a.x_f__mutmut_1": "killed", "mdm.a.x_f__mutmut_2": "timeout", "mdm.a.x_f__mutmut_3": "survived",
              "mdm.a.x_f__mutmut_4": "no tests", "mdm.a.x_f__mutmut_5": "not checked",
              "mdm.b.x_g__mutmut_1": "killed"}
    table, per = summary(status)
    assert per["mdm.a"] == {"killed": 1, "timeout": 1, "survived": 1, "no tests": 1, "not checked": 1}
    rows = table.splitlines()
    # mdm.a: 5 mutants, 4 run (the unchecked one apart), 2 killed of which 1 by timeout: 2 / 4 = 50.0%.
    assert "| mdm.a | 5 | 4 | 2 (1) | 1 | 1 | 50.0% |" in rows
    assert "| mdm.b | 1 | 1 | 1 (0) | 0 | 0 | 100.0% |" in rows
    assert "| **all run** | 6 | 5 | 3 (1) | 1 | 1 | 60.0% |" in rows
    assert "- `mdm.a.x_f__mutmut_3` (survived)" in rows and "- `mdm.a.x_f__mutmut_4` (no tests)" in rows
    assert "Surviving mutants (2):" in rows


def test_a_unit_run_copies_the_repository_with_its_files_and_tests_only() -> None:
    root = fast_copy(["tests/mdm/test_golden.py"], ["mdm/golden.py", "mdm/hierarchy.py"])
    try:
        cfg = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
        assert cfg["pytest_add_cli_args_test_selection"] == ["tests/mdm/test_golden.py"]
        assert cfg["only_mutate"] == ["mdm/golden.py", "mdm/hierarchy.py"]
        assert (root / "mdm" / "golden.py").is_file() and (root / "tests" / "mdm" / "test_golden.py").is_file()
    finally:
        shutil.rmtree(root)
    root = fast_copy()
    try:
        cfg = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
        assert cfg["pytest_add_cli_args_test_selection"] == FAST_TESTS and "mdm/*.py" in cfg["only_mutate"]
    finally:
        shutil.rmtree(root)
