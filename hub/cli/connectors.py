"""`hub connectors`: the connector kinds, their specs; check, discover and sync the configured sources."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from core import exit_codes, secrets
from core.config import HubConfig
from hub.cli.common import (
    CONFIG_OPT,
    WAREHOUSE_OPT,
    chosen_sources,
    fail,
    live_progress,
    load,
    open_warehouse,
    setup_logging,
)

STEWARD_ACTION_WAIT = 30.0  # seconds a sync waits for a steward's action to finish before it gives up


@click.group()
def connectors() -> None:
    """List, inspect, check and sync connectors."""


@connectors.command("list")
def connectors_list() -> None:
    """The connector kinds a source can use."""
    from connectors.registry import DESCRIPTIONS

    for kind, desc in DESCRIPTIONS.items():
        click.echo(f"{kind:<10} {desc}")


def _each_source(cfg: HubConfig, only: tuple[str, ...], fn: Callable[[str, Any, dict[str, Any]], bool]) -> None:
    from connectors.registry import create_source
    from pipelines.sync import connector_config
    setup_logging()  # airbyte-cdk took over logging on import

    ok = True
    for name in chosen_sources(cfg, only):
        src = cfg.sources[name]
        conf = connector_config(src)
        try:
            ok &= fn(name, create_source(src.connector, conf), conf)
        except Exception as e:
            click.echo(f"{name}: FAILED: {secrets.mask(str(e))}")
            ok = False
    if not ok:
        sys.exit(exit_codes.FAILED)


@connectors.command("spec")
@click.argument("kind")
def connectors_spec(kind: str) -> None:
    """Print the JSON schema of a connector kind's config."""
    from connectors.registry import UnknownConnector, create_source
    setup_logging()  # airbyte-cdk took over logging on import

    try:
        spec = create_source(kind).spec(logging.getLogger("hub"))
    except UnknownConnector as e:
        fail(e, exit_codes.CONFIG)
    click.echo(json.dumps(spec.connectionSpecification, indent=2, ensure_ascii=False))


@connectors.command("check")
@CONFIG_OPT
@click.option("--source", "only", multiple=True, help="only this source (repeatable)")
def connectors_check(config_path: str, only: tuple[str, ...]) -> None:
    """Can each source be reached with its configuration?"""
    cfg = load(config_path)

    def check(name: str, source: Any, conf: dict[str, Any]) -> bool:
        status = source.check(logging.getLogger("hub.connector"), conf)
        good = status.status.name == "SUCCEEDED"
        msg = "" if good else f": {secrets.mask(str(status.message))}"
        click.echo(f"{name}: {'OK' if good else 'FAILED'}{msg}")
        return good

    _each_source(cfg, only, check)


@connectors.command("discover")
@CONFIG_OPT
@click.option("--source", "only", multiple=True, help="only this source (repeatable)")
def connectors_discover(config_path: str, only: tuple[str, ...]) -> None:
    """The streams each source offers, with their columns and keys."""
    cfg = load(config_path)

    def discover(name: str, source: Any, conf: dict[str, Any]) -> bool:
        catalog = source.discover(logging.getLogger("hub.connector"), conf)
        for s in catalog.streams:
            cols = list((s.json_schema or {}).get("properties", {}))
            modes = ",".join(m.name for m in s.supported_sync_modes or [])
            click.echo(f"{name}.{s.name}  [{modes}]  key={s.source_defined_primary_key or '-'}")
            click.echo(f"    columns: {', '.join(cols)}")
        return True

    _each_source(cfg, only, discover)


@connectors.command("sync")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--source", "only", multiple=True, help="only this source (repeatable)")
@click.option("--full-refresh", is_flag=True, help="ignore saved state and read everything again")
@click.option("--allow-mass-delete", is_flag=True,
              help="apply deletes even above a stream's max_delete_share (an emptied export deletes everything)")
def connectors_sync(config_path: str, warehouse_url: str | None, only: tuple[str, ...], full_refresh: bool,
                    allow_mass_delete: bool) -> None:
    """Sync sources into the raw layer only (no staging, matching or marts)."""
    from pipelines.sync import sync_source
    setup_logging()  # airbyte-cdk took over logging on import

    from warehouse.lock import RunLocked, held_by, run_lock

    cfg = load(config_path, warehouse_url)
    wh = open_warehouse(cfg, create=True)
    failed = warned = False
    try:  # one writer at a time, as `hub run` (a steward's action of a second or so is waited for)
        with run_lock(wh, "hub connectors sync", wait=STEWARD_ACTION_WAIT, keep_waiting=held_by("hub steward")):
            for name in chosen_sources(cfg, only):
                r = sync_source(cfg, wh, name, progress=live_progress(), full_refresh=full_refresh,
                                allow_mass_delete=allow_mass_delete)
                s = r.stats
                click.echo(f"{name}: {r.status} — {s.read:,} read, {s.loaded:,} new or changed, "
                           f"{s.deleted:,} deleted, {s.quarantined:,} quarantined ({r.seconds:.1f}s)"
                           + (f"\n  {r.error}" if r.error else "")
                           + "".join(f"\n  warning: {w}" for w in r.warnings))
                failed |= r.status == "failed"
                warned |= r.status == "warning"
    except RunLocked as e:
        fail(e, exit_codes.LOCKED)
    sys.exit(exit_codes.of_run(failed, False, warned))
