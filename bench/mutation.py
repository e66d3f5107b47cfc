"""`make mutation`: mutation testing of the core modules with mutmut, and its score per module.

    python -m bench.mutation [--workers 1] [PATTERN ...]   # run (all core mutants, or those matching), then report
    python -m bench.mutation --report                      # report what mutants/ holds from earlier runs
    python -m bench.mutation --only mdm/golden.py --tests tests/mdm/test_engine.py   # one module, its unit tests
    python -m bench.mutation 'pipelines.sync.x_sync_source__mutmut_*' --only pipelines/sync.py --tests T.py
                                                           # some of its functions (mutmut's name patterns)

The modules and the tests are configured in `[tool.mutmut]` of pyproject.toml. Each mutant (an operator,
a constant, a condition changed in one function) runs against the tests that reach the function; it is
killed when one of them fails. The score of a module is killed / (killed + survived + no tests), with
mutants stopped by their timeout counted as killed (a loop that never ends is caught). Mutants not run
yet are counted apart. Not part of `make test`: the core has about 10,000 mutants, hours on two cores;
a PATTERN such as 'mdm.cluster*' runs one module. The surviving mutants are listed by name:
`.venv/bin/mutmut show NAME` prints one as a diff. The table goes to stdout and bench/results/.

Two stages, for time: first every mutant against the fast unit-level tests (`FAST_TESTS`, in a copy of
the repository whose configuration selects only them), then the mutants that survived against every
test of `[tool.mutmut]` (here). The result is the one a single run over every test would give: a mutant
counts as killed when some test of the full selection kills it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).with_name("mutmut")
KILLED = {"killed", "timeout"}
COUNTED = KILLED | {"survived", "no tests", "suspicious", "segfault"}
_LINE = re.compile(r"^\s*(?P<name>\S+?): (?P<status>.+)$")
# Unit-level tests that reach the core modules in seconds: the first stage's selection.
FAST_TESTS = ["tests/mdm", "tests/pipelines/test_sync.py", "tests/pipelines/test_incremental_match.py",
              "tests/pipelines/test_checks.py", "tests/warehouse/test_contract.py",
              "tests/warehouse/test_raw_shapes.py", "tests/warehouse/test_raw_store.py", "tests/test_properties.py",
              "tests/connectors/test_file_source.py"]
SURVIVING = ("survived", "no tests", "suspicious")
STATUS = REPO / "mutants" / "two-stage-status.json"  # the merged statuses of the runs so far


def results(root: Path = REPO) -> dict[str, str]:
    """Status of every mutant mutmut knows in `root`, by name (`mdm.cluster.x_cluster__mutmut_12`)."""
    out = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=root, capture_output=True, text=True,
                         check=True).stdout
    return {m["name"]: m["status"].strip() for m in map(_LINE.match, out.splitlines()) if m}


def _mutmut(root: Path, workers: int, names: list[str]) -> None:
    # Its own pytest temp root: mutmut's test runs and anyone else's never remove each other's directories.
    env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": tempfile.mkdtemp(prefix="hub-mutation-")}
    env.pop("HUB_TEST_PG_URL", None)  # DuckDB only: the PostgreSQL variants double the time, not the kills
    env.pop("HUB_REQUIRE_PG", None)
    subprocess.run([str(MUTMUT), "run", "--max-children", str(workers), *names], cwd=root, env=env, check=False)


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def fast_copy(tests: list[str] | None = None, only: list[str] | None = None) -> Path:
    """The repository's tracked files in a temporary directory, configured to run `tests` (default `FAST_TESTS`)
    only, and to mutate the files `only` names (default: those of `[tool.mutmut]`)."""
    root = Path(tempfile.mkdtemp(prefix="hub-mutation-fast-"))
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    cfg = root / "pyproject.toml"
    text, n = re.subn(r"pytest_add_cli_args_test_selection = \[.*?\]",
                      "pytest_add_cli_args_test_selection = " + _toml_list(tests or FAST_TESTS),
                      cfg.read_text(encoding="utf-8"), flags=re.S)
    assert n == 1, "[tool.mutmut] pytest_add_cli_args_test_selection not found"
    if only:
        text, n = re.subn(r"only_mutate = \[.*?\]", "only_mutate = " + _toml_list(only), text, flags=re.S)
        assert n == 1, "[tool.mutmut] only_mutate not found"
    cfg.write_text(text, encoding="utf-8")
    return root


def run_unit(only: list[str], tests: list[str], workers: int, patterns: list[str] | None = None) -> dict[str, str]:
    """The mutants of the files `only` names (those matching `patterns` if given, e.g.
    'pipelines.sync.x_sync_source__mutmut_*') against `tests` alone (a lower bound of the score: other tests that
    reach them are not run), in a copy whose mutmut generates those files' mutants only (minutes, not the 18 of
    every core module), kept for `mutmut show`; the statuses."""
    copy = fast_copy(tests, only)
    _mutmut(copy, workers, patterns or [])
    print(f"mutation: the mutants are kept in {copy} (`cd {copy} && {MUTMUT} show NAME` prints one; remove the "
          "folder when done)", file=sys.stderr, flush=True)
    return {n: st for n, st in results(copy).items() if st != "not checked"}


def run_two_stages(patterns: list[str], workers: int) -> dict[str, str]:
    """Every mutant against FAST_TESTS, then the survivors against the full selection; the merged statuses."""
    fast = fast_copy()
    try:
        _mutmut(fast, workers, patterns)
        first = results(fast)
    finally:
        shutil.rmtree(fast, ignore_errors=True)
    survivors = sorted(n for n, st in first.items() if st in SURVIVING)
    print(f"mutation: {len(survivors)} of {sum(st != 'not checked' for st in first.values())} mutants survived "
          "the fast tests; running them against every test", file=sys.stderr, flush=True)
    if survivors:
        _mutmut(REPO, workers, survivors)
    second = results(REPO) if survivors else {}
    return _remember({n: (second.get(n, st) if st in SURVIVING else st) for n, st in first.items()})


def _remember(status: dict[str, str]) -> dict[str, str]:
    """`status` over the statuses of earlier runs (of other patterns), saved for `--report`; the merge."""
    merged = json.loads(STATUS.read_text(encoding="utf-8")) if STATUS.exists() else {}
    merged.update({n: st for n, st in status.items() if st != "not checked"})
    STATUS.parent.mkdir(exist_ok=True)
    STATUS.write_text(json.dumps(merged, ensure_ascii=False, indent=0), encoding="utf-8")
    return merged


def module_of(name: str) -> str:
    return re.split(r"\.x[_ǁ]", name, maxsplit=1)[0]


def summary(status: dict[str, str]) -> tuple[str, dict[str, Counter]]:
    """A markdown table of the score per module and the surviving mutants; the counts per module."""
    per: dict[str, Counter] = defaultdict(Counter)
    for name, st in status.items():
        per[module_of(name)][st] += 1
    lines = ["| module | mutants | run | killed (timeout) | survived | no tests | score |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    total: Counter = Counter()
    for module, c in sorted(per.items()):
        total += c
        lines.append(_row(module, c))
    lines.append(_row("**all run**", total))
    survivors = sorted(n for n, st in status.items() if st in ("survived", "no tests", "suspicious"))
    lines += ["", f"Surviving mutants ({len(survivors)}):", ""] + [f"- `{n}` ({status[n]})" for n in survivors]
    return "\n".join(lines) + "\n", per


def _row(module: str, c: Counter) -> str:
    run = sum(c[s] for s in COUNTED)
    killed = sum(c[s] for s in KILLED)
    score = f"{killed / run:.1%}" if run else "–"
    return (f"| {module} | {sum(c.values()):,} | {run:,} | {killed:,} ({c['timeout']:,}) | {c['survived']:,} "
            f"| {c['no tests']:,} | {score} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.mutation")
    ap.add_argument("patterns", nargs="*", help="mutmut mutant name patterns, e.g. 'mdm.cluster*' (default: all)")
    ap.add_argument("--workers", type=int, default=1, help="mutants run at once (default 1: the machine is shared)")
    ap.add_argument("--report", action="store_true", help="only report the results mutants/ holds")
    ap.add_argument("--one-stage", action="store_true",
                    help="run the mutants against every test at once (e.g. to re-run survivors after adding tests)")
    ap.add_argument("--only", nargs="+", metavar="FILE",
                    help="mutate these files only, against --tests only (e.g. --only mdm/golden.py --tests "
                         "tests/mdm/test_engine.py): a module's unit-level score in minutes")
    ap.add_argument("--tests", nargs="+", metavar="PATH", help="with --only: the tests to run")
    args = ap.parse_args(argv)
    if bool(args.only) != bool(args.tests):
        ap.error("--only and --tests go together")
    if args.only:
        status = run_unit(args.only, args.tests, args.workers, args.patterns)
    elif args.report:
        status = json.loads(STATUS.read_text(encoding="utf-8")) if STATUS.exists() else results()
    elif args.one_stage:
        _mutmut(REPO, args.workers, args.patterns)
        status = _remember({n: st for n, st in results().items() if st != "not checked"})
    else:
        status = run_two_stages(args.patterns, args.workers)
    table, _ = summary(status)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    text = f"# mutation testing — {dt.datetime.now():%Y-%m-%d %H:%M}\n\n" + table
    print(text)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"mutation-{stamp}.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
