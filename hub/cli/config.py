"""`hub config`: validate a configuration file (with `--live` against the sources too) and show it."""

from __future__ import annotations

import logging
import sys

import click

from core import exit_codes, secrets
from core.config import HubConfig
from hub.cli.common import CONFIG_OPT, load, setup_logging


@click.group()
def config() -> None:
    """Validate and show a configuration file."""


@config.command("validate")
@CONFIG_OPT
@click.option("--live", is_flag=True, help="also check against the sources themselves: reachable, their streams, "
              "and the keys, cursor fields and mapped columns of sql and file streams")
def config_validate(config_path: str, live: bool) -> None:
    """Check the file: YAML, keys, types, mappings, environment variables (and with --live the sources)."""
    cfg = load(config_path)
    streams = sum(len(s.streams) for s in cfg.sources.values())
    counts = f"{len(cfg.sources)} sources, {streams} streams"
    if not live:
        click.echo(f"{config_path}: valid ({counts})")
        return
    click.echo(f"{config_path}: the file is valid ({counts}); against the sources:")
    code = _validate_live(cfg)
    click.echo(f"{config_path}: " + ("valid against its sources" if code == exit_codes.OK else
                                     "not valid: the file does not fit its sources" if code == exit_codes.CONFIG else
                                     "not checked: a source cannot be reached"))
    sys.exit(code)


def _validate_live(cfg: HubConfig) -> int:
    """Each enabled source against what it offers; the exit code: 1 a source cannot be reached, 2 the config does
    not fit a source (an unknown stream, a column it does not have), else 0."""
    from connectors.registry import create_source
    from pipelines.health import check_columns
    from pipelines.sync import SyncError, build_catalog, connector_config
    setup_logging()  # airbyte-cdk took over logging on import

    code = exit_codes.OK
    for name, src in cfg.sources.items():
        if not src.enabled:
            continue
        conf = connector_config(src)
        log = logging.getLogger("hub.connector")
        try:
            source = create_source(src.connector, conf)
            status = source.check(log, conf)
            if status.status.name != "SUCCEEDED":
                click.echo(f"{name}: FAILED: {secrets.mask(str(status.message))}")
                code = max(code, exit_codes.FAILED)
                continue
            discovered = source.discover(log, conf)
            build_catalog(name, src, discovered)
        except SyncError as e:
            click.echo(f"{name}: {secrets.mask(str(e))}")
            code = exit_codes.CONFIG
            continue
        except Exception as e:
            click.echo(f"{name}: FAILED: {secrets.mask(getattr(e, 'message', None) or str(e))}")
            code = max(code, exit_codes.FAILED)
            continue
        problems = check_columns(name, src, {s.name: s.json_schema for s in discovered.streams})
        for p in problems:
            click.echo(f"{name}: {secrets.mask(p)}")
        if problems:
            code = exit_codes.CONFIG
        else:
            click.echo(f"{name}: OK ({len(src.streams) or len(discovered.streams)} streams)")
    return code


@config.command("show")
@CONFIG_OPT
def config_show(config_path: str) -> None:
    """Print the configuration as the hub reads it (paths resolved, secrets masked)."""
    import yaml

    cfg = load(config_path)
    click.echo(yaml.safe_dump(cfg.redacted(), allow_unicode=True, sort_keys=False))
