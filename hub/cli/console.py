"""`hub ui` (the steward console and the match API) and `hub users` (its users in the config file)."""

from __future__ import annotations

import sys

import click

from core import exit_codes
from hub.cli.common import CONFIG_OPT, WAREHOUSE_OPT, fail, load, open_warehouse


@click.group()
def users() -> None:
    """Console users in the config's `console.users` (argon2 password hashes)."""


@users.command("add")
@CONFIG_OPT
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "steward", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
def users_add(config_path: str, name: str, role: str, password_stdin: bool) -> None:
    """Add a user (or change one's role and password) in the config file; prompts for the password."""
    from hub.users import UserError, hash_password, set_user

    load(config_path)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        new = set_user(config_path, name, role, hash_password(password))
    except UserError as e:
        fail(e, exit_codes.FAILED)
    click.echo(f"{'added' if new else 'updated'} user {name} ({role}) in {config_path}")


@users.command("list")
@CONFIG_OPT
def users_list(config_path: str) -> None:
    """The console users and their roles."""
    cfg = load(config_path)
    for u in cfg.console.users:
        click.echo(f"{u.name:<24} {u.role}")


@users.command("remove")
@CONFIG_OPT
@click.argument("name")
def users_remove(config_path: str, name: str) -> None:
    """Remove a console user from the config file."""
    from hub.users import UserError, remove_user

    load(config_path)
    try:
        remove_user(config_path, name)
    except UserError as e:
        fail(e, exit_codes.FAILED)
    click.echo(f"removed user {name} from {config_path}")


@click.command("ui")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
def ui(config_path: str, warehouse_url: str | None, host: str, port: int) -> None:
    """The steward console and the match API (POST /api/match) on http://HOST:PORT."""
    from hub.extras import require

    require("console", "hub ui")
    import uvicorn

    from hub.console import create_app

    cfg = load(config_path, warehouse_url)
    if not cfg.console.users:
        click.echo(f"warning: no console users in {config_path}; add one with `hub users add -c {config_path} "
                   "NAME --role admin`", err=True)
    app = create_app(cfg, open_warehouse(cfg, create=True))
    app.state.search.warm()  # the customer search's pinyin index, built while the first pages are served
    click.echo(f"hub ui: http://{host}:{port}/ (warehouse {app.state.wh.location})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
