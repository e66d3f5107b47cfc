"""`make mutation`: mutation testing of the core modules with mutmut, and its score per module.

    python -m bench.mutation [--workers 1] [PATTERN ...]   # run (all core mutants, or those matching), then report
    python -m bench.mutation --report                      # report what mutants/ holds from earlier runs

The modules and the tests are configured in `[tool.mutmut]` of pyproject.toml. Each mutant (an operator,
a constant, a condition changed in one function) runs against the tests that reach the function; it is
killed when one of them fails. The score of a module is killed / (killed + survived + no tests), with
mutants stopped by their timeout counted as killed (a loop that never ends is caught). Mutants not run
yet are counted apart. Not part of `make test`: the core has about 10,000 mutants, hours on two cores;
a PATTERN such as 'mdm.cluster*' runs one module. The surviving mutants are listed by name:
`.venv/bin/mutmut show NAME` prints one as a diff. The table goes to stdout and bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
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


def results() -> dict[str, str]:
    """Status of every mutant mutmut knows, by name (`mdm.cluster.x_cluster__mutmut_12`)."""
    out = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    return {m["name"]: m["status"].strip() for m in map(_LINE.match, out.splitlines()) if m}


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
    args = ap.parse_args(argv)
    if not args.report:
        # Its own pytest temp root: mutmut's test runs and anyone else's never remove each other's directories.
        env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": tempfile.mkdtemp(prefix="hub-mutation-")}
        env.pop("HUB_TEST_PG_URL", None)  # DuckDB only: the PostgreSQL variants double the time, not the kills
        env.pop("HUB_REQUIRE_PG", None)
        subprocess.run([str(MUTMUT), "run", "--max-children", str(args.workers), *args.patterns], cwd=REPO, env=env,
                       check=False)
    table, _ = summary(results())
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    text = f"# mutation testing — {dt.datetime.now():%Y-%m-%d %H:%M}\n\n" + table
    print(text)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"mutation-{stamp}.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
