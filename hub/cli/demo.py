"""`hub demo` (the bundled demo data) and `hub fakes` (the vendor fake servers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from core import exit_codes
from hub.cli.common import fail


@click.group()
def demo() -> None:
    """The bundled demo data."""


@demo.command("generate")
@click.option("--out", type=click.Path(file_okay=False), default="demo/data", show_default=True)
@click.option("--entities", type=int, default=2000, show_default=True, help="real companies to generate")
@click.option("--seed", type=int, default=7, show_default=True)
def demo_generate(out: str, entities: int, seed: int) -> None:
    """Write the demo's legacy sources (SQLite CRM, GBK CSV CRM, SQLite ERP), their truth, and the marts'
    targets, channel-cost and exchange-rate files."""
    from hub.extras import require

    require("demo", "hub demo generate")
    from demo.generate import generate, write_demo
    from demo.targets import write_reference

    paths = write_demo(Path(out), generate(n_entities=entities, seed=seed))
    paths.update(write_reference(Path(out), n_entities=entities, seed=seed))
    for name, path in paths.items():
        click.echo(f"{name}: {path}")


@click.group()
def fakes() -> None:
    """Fake WeCom, DingTalk, Fxiaoke and Kingdee servers, for the demo and for trying connectors."""


FAKE_SEED_OPT = click.option("--seed", type=int, default=7, show_default=True,
                             help="seed of the demo universe (the same as `hub demo generate --seed`)")
FAKE_ENTITIES_OPT = click.option("--entities", type=int, default=2000, show_default=True,
                                 help="companies in the demo universe (as `hub demo generate --entities`)")


def _fake_faults(text: str) -> dict[str, Any]:
    try:
        faults = json.loads(text)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"not JSON: {e}") from None
    if not isinstance(faults, dict):
        raise click.BadParameter('expected a JSON object, e.g. {"error_5xx_rate": 0.1}')
    return faults


@fakes.command("serve")
@click.argument("vendor", metavar="VENDOR")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port")
@FAKE_SEED_OPT
@FAKE_ENTITIES_OPT
@click.option("--faults", "faults_json", default="{}", help='faults as JSON, e.g. \'{"error_5xx_rate": 0.1}\'')
def fakes_serve(vendor: str, host: str, port: int, seed: int, entities: int, faults_json: str) -> None:
    """Serve one fake (wecom, dingtalk, fxiaoke or kingdee): prints its URL, serves until killed."""
    from hub.extras import require

    require("demo", "hub fakes serve")
    from connectors.fakes.serve import build_server, stop_signals, wait

    try:
        server = build_server(vendor, seed=seed, entities=entities, faults=_fake_faults(faults_json))
    except ValueError as e:
        fail(e, exit_codes.CONFIG)
    with stop_signals() as stop:
        try:
            url = server.start(host, port)
        except (OSError, RuntimeError) as e:
            fail(f"{vendor} fake cannot listen on {host}:{port}: {e}", exit_codes.FAILED)
        click.echo(url)
        counts = ", ".join(f"{k} {v:,}" for k, v in server.dataset.counts().items())
        click.echo(f"{vendor} fake at {url}: {counts}; stop with Ctrl-C", err=True)
        try:
            wait(stop)
        finally:
            server.stop()


def _fake_ports(values: tuple[str, ...]) -> dict[str, int]:
    """`VENDOR=PORT` options as {vendor: port}."""
    from connectors.fakes.serve import check_vendor

    ports: dict[str, int] = {}
    for text in values:
        vendor, _, port = text.partition("=")
        if not port.strip().isdigit() or not 0 < int(port) < 65536:
            raise click.BadParameter(f"{text!r}: expected VENDOR=PORT, e.g. wecom=18001", param_hint="--port")
        try:
            ports[check_vendor(vendor.strip())] = int(port)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--port") from None
    return ports


@fakes.command("serve-all")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", "ports", multiple=True, metavar="VENDOR=PORT",
              help="serve that fake on that port (repeatable; the others take free ports), e.g. --port wecom=18001")
@FAKE_SEED_OPT
@FAKE_ENTITIES_OPT
@click.option("--env-file", type=click.Path(dir_okay=False), default=None,
              help="also write the export lines here (removed on exit), e.g. demo/data/fakes.env")
def fakes_serve_all(host: str, ports: tuple[str, ...], seed: int, entities: int, env_file: str | None) -> None:
    """Serve all four fakes (on free ports, or those given); print `export` lines for the demo config; serve until
    killed.

    \b
    hub fakes serve-all --env-file demo/data/fakes.env &
    . demo/data/fakes.env && hub run -c demo/hub.yaml
    """
    from hub.extras import require

    require("demo", "hub fakes serve-all")
    from connectors.fakes.serve import demo_env, export_lines, start_all, stop_all, stop_signals, wait, write_env_file

    path = Path(env_file) if env_file else None
    fixed = _fake_ports(ports)
    with stop_signals() as stop:
        try:
            servers = start_all(host, seed=seed, entities=entities, ports=fixed)
        except (OSError, RuntimeError) as e:
            fail(f"the fakes cannot start: {e.strerror or e}" if isinstance(e, OSError) else
                 f"the fakes cannot start on {host}: {e}", exit_codes.FAILED)
        try:
            env = demo_env({vendor: server.url for vendor, server in servers.items()})
            click.echo("\n".join(export_lines(env)))
            for vendor, server in servers.items():
                counts = ", ".join(f"{k} {v:,}" for k, v in server.dataset.counts().items())
                click.echo(f"{vendor:<9} {server.url}  {counts}", err=True)
            click.echo("serving until stopped (Ctrl-C or SIGTERM)" + (f"; variables in {path}" if path else ""),
                       err=True)
            if path:  # last: whoever waits for the file finds everything above written
                write_env_file(path, env)
            wait(stop)
        finally:
            stop_all(servers)
            if path:
                path.unlink(missing_ok=True)
