"""Run `hub` commands that die at a given warehouse commit.

    python -m bench.crash_point N HUB-ARGS...        # dies just before its N-th commit; N = 0: never
    python -m bench.crash_point A-B HUB-ARGS...      # once for each N from A to B, `{n}` in HUB-ARGS replaced

Every transaction the warehouse commits is a point where a crash may come. The process ends just
before its N-th commit as SIGKILL would end it (`os._exit`: no `finally`, no `atexit`, that
transaction not committed), so the warehouse holds what the first N - 1 commits wrote and nothing
after. With N = 0 the command runs whole and prints the number of commits it made on stderr
(`commits: K`): the range a crash-point sweep covers. With a range, the hub is imported once and
each run is a forked child (before any warehouse is opened, so no database thread is forked);
one line per run is printed on stdout: `N STATUS` (137 for a run that died).

The hook is SQLAlchemy's `commit` event on every engine; no function of the hub is touched. Used by
`bench/chaos.py` (its crash-point phase) and `tests/bench/test_chaos.py`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

KILLED = 137  # the exit status of a process killed by SIGKILL, as a shell reports it


def die_before_commit(kill_at: int) -> Callable[[], int]:
    """From now on this process ends just before its `kill_at`-th commit (never when 0); returns a function
    telling how many commits it began so far."""
    import sqlalchemy as sa

    commits = 0

    def before_commit(conn: sa.Connection) -> None:
        nonlocal commits
        commits += 1
        if commits == kill_at:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(KILLED)

    sa.event.listen(sa.Engine, "commit", before_commit)
    return lambda: commits


def _hub(kill_at: int, args: list[str]) -> None:
    from hub.cli import main as hub

    commits = die_before_commit(kill_at)
    try:
        hub.main(args, prog_name="hub")
    finally:
        if kill_at == 0:
            print(f"commits: {commits()}", file=sys.stderr, flush=True)


def _each(first: int, last: int, args: list[str]) -> None:
    import hub.cli  # noqa: F401 - imported once, before the forks
    import pipelines.run  # noqa: F401

    for n in range(first, last + 1):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                _hub(n, [a.replace("{n}", str(n)) for a in args])
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) else 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        _, wait_status = os.waitpid(pid, 0)
        print(f"{n} {os.waitstatus_to_exitcode(wait_status)}", flush=True)


def main(argv: list[str]) -> None:
    first, sep, last = argv[0].partition("-") if argv else ("", "", "")
    if not first.isdigit() or (sep and not last.isdigit()):
        raise SystemExit("usage: python -m bench.crash_point N|A-B HUB-ARGS...  (N = 0: count the commits)")
    if sep:
        _each(int(first), int(last), argv[1:])
    else:
        _hub(int(first), argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
