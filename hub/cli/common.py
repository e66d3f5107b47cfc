"""What every `hub` command shares: the -c and --warehouse options, logging, loading the configuration and the
warehouse (a bad one exits 2), progress lines, record references, and `fail` (an error line and an exit code of
`core.exit_codes`)."""

from __future__ import annotations

import logging
import sys
from typing import Any, NoReturn

import click

from core import exit_codes, secrets
from core.config import ConfigError, HubConfig
from core.config_file import load_config

CONFIG_OPT = click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
                          help="the hub YAML file")
WAREHOUSE_OPT = click.option("--warehouse", "warehouse_url", default=None, envvar="HUB_WAREHOUSE_URL",
                             help="warehouse URL overriding the config (or HUB_WAREHOUSE_URL)")


def setup_logging(verbose: int | None = None) -> None:
    """Human-readable logs on stderr, secrets masked: `verbose` 0 warnings only (none of airbyte-cdk's: a stream's
    failure is in the summary, its retries and tracebacks are not news), 1 (`-v`) the hub's debug output with the
    libraries' warnings, 2 (`-vv`) every library's debug output too (HTTP requests, airbyte-cdk). Call again after
    importing airbyte-cdk, which replaces the root handler with its JSON one on import (`verbose` None: keep the
    current choice)."""
    if verbose is None:
        ctx = click.get_current_context(silent=True)
        verbose = int(ctx.find_root().params.get("verbose") or 0) if ctx is not None else 0
    root = logging.getLogger()
    for h in list(root.handlers):  # airbyte-cdk installs a JSON handler on import: we print for humans
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:  # (a filter, not a level: airbyte-cdk's own loggers may carry levels of their own)
        handler.addFilter(lambda r: not r.name.startswith("airbyte") or r.levelno >= logging.CRITICAL)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    logging.getLogger("hub").setLevel(logging.DEBUG if verbose else logging.NOTSET)
    for library in ("airbyte", "recordlinkage"):  # (their own levels: at INFO they would speak past WARNING)
        logging.getLogger(library).setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    secrets.install_filter()


class BusyAware(click.Group):
    """A command group whose commands, finding the DuckDB warehouse held open by another process (a `hub run`),
    exit with code 3 naming the holder (`warehouse.lock.busy_message`), and finding the warehouse unreachable or
    losing it (a server down, a wrong password, a connection cut) exit with code 6 (`warehouse_failure`): one
    error line each instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            from warehouse.lock import busy_message

            message = busy_message(e)
            if message is not None:
                fail(f"not done: {secrets.mask(message)}", exit_codes.LOCKED)
            lost = warehouse_failure(e)
            if lost is None:
                raise
            fail(secrets.mask(lost), exit_codes.WAREHOUSE)


def warehouse_failure(exc: BaseException) -> str | None:
    """For an error of the connection to the warehouse (anywhere in the chain of `exc`: refused, authentication
    failed, the server shut down, the connection cut): what happened, in one line; None for any other error."""
    import sqlalchemy.exc as sa_exc

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, sa_exc.OperationalError | sa_exc.InterfaceError) or (
                isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated):
            detail = str(getattr(e, "orig", None) or e).strip().splitlines()
            return (f"the warehouse cannot be reached or failed: {detail[0] if detail else type(e).__name__}; "
                    "what was committed before stands, and the next run goes on from there")
        e = e.__cause__ or e.__context__
    return None


def fail(message: object, code: int) -> NoReturn:
    """Print `error: MESSAGE` on stderr and exit with `code` (one of `core.exit_codes`)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load(path: str, warehouse_url: str | None = None) -> HubConfig:
    """The configuration file, or its errors (file, line, fix) and exit code 2."""
    try:
        return load_config(path, warehouse_url=warehouse_url)
    except ConfigError as e:
        click.echo(f"error: invalid configuration\n{e}", err=True)
        sys.exit(exit_codes.CONFIG)


def open_warehouse(cfg: HubConfig, create: bool = False) -> Any:
    """The configuration's warehouse, or an error (secrets masked) and exit code 2. A DuckDB file that does not exist
    is made only by the commands that write one (`create`: `hub run`, a sync, the console); the others would leave an
    empty file at a mistyped path."""
    from pathlib import Path

    from warehouse.engine import Warehouse, duckdb_path

    file = duckdb_path(cfg.warehouse.url)
    if not create and file and file != ":memory:" and not Path(file).exists():  # (before the engine makes its folder)
        fail(f"no warehouse at {file}: `hub run` makes it (or check the config's warehouse.url, --warehouse or "
             "HUB_WAREHOUSE_URL)", exit_codes.CONFIG)
    try:
        return Warehouse.from_config(cfg.warehouse)
    except Exception as e:
        fail(f"warehouse {cfg.warehouse.url!r}: {secrets.mask(str(e))}", exit_codes.CONFIG)


def chosen_sources(cfg: HubConfig, only: tuple[str, ...]) -> list[str]:
    """The sources named by `--source` (all when none is), exit code 2 for a name the config does not have."""
    for name in only:
        if name not in cfg.sources:
            fail(f"no source {name!r} in {cfg.path}; sources: {', '.join(cfg.sources)}", exit_codes.CONFIG)
    return list(only) or list(cfg.sources)


def progress(msg: str) -> None:
    """One progress line on stderr, secrets masked."""
    click.echo(f"  {secrets.mask(msg)}", err=True)


def live_progress() -> Any:
    """Progress on stderr: a live line on a terminal, a line every ten seconds otherwise."""
    from pipelines.progress import Progress

    return Progress(progress, live=sys.stderr.isatty())


def record_id(cfg: HubConfig, ref: str) -> str:
    """`SOURCE:KEY` or `SOURCE:STREAM:KEY` → the record id `SOURCE:STREAM:KEY`."""
    parts = ref.split(":", 2)
    if len(parts) == 3 and parts[0] in cfg.sources and parts[1] in cfg.sources[parts[0]].streams:
        return ref
    if len(parts) >= 2 and parts[0] in cfg.sources:
        streams = [n for n, s in cfg.sources[parts[0]].streams.items() if s.entity == "customer"]
        if len(streams) == 1:
            return f"{parts[0]}:{streams[0]}:{ref.split(':', 1)[1]}"
    fail(f"{ref!r}: expected SOURCE:KEY or SOURCE:STREAM:KEY of a customer record", exit_codes.CONFIG)

