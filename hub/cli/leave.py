"""Leaving the `hub` process quickly once its command is done.

A run imports pandas, SciPy, scikit-learn, airbyte-cdk and pydantic; tearing all of that down at exit
(every module's objects freed one by one) takes about half a second, longer than a run that finds nothing new
spends on its work. So the `hub` command, once its command returned, closes the warehouses (a DuckDB file
folds its log into the file), runs the exit handlers (logging flushed, temporary files removed), flushes
stdout and stderr and ends the process without the teardown, as mypy does (`mypy.util.hard_exit`). Only the
console command does this: a command invoked in-process (tests, Dagster) exits the usual way.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

from warehouse.engine import dispose_all


def leave(code: str | int | None = 0) -> NoReturn:
    """End the process with `code` as `sys.exit` reads it (None: 0; an int; anything else is printed to stderr and
    gives 1). While another non-daemon thread runs, exit the usual way, which waits for it."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if others:
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    dispose_all()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
