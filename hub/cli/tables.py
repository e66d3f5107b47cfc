"""Reading what a run built: `hub show` (a table's first rows), `hub export` (a mart to Excel or CSV),
`hub checks` (the data checks) and `hub docs` (the mart reference)."""

from __future__ import annotations

from pathlib import Path

import click

from core import exit_codes
from hub.cli.common import CONFIG_OPT, WAREHOUSE_OPT, fail, load, open_warehouse


@click.command("show")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("table")
@click.option("--limit", type=int, default=10, show_default=True)
def show(config_path: str, warehouse_url: str | None, table: str, limit: int) -> None:
    """Print the first rows of a warehouse table, e.g. `marts.dim_customer` (in the order of its first column: the
    same rows whatever order a refresh left them in)."""
    import pandas as pd

    from warehouse.identifiers import quote_qualified
    from warehouse.lock import busy_message

    cfg = load(config_path, warehouse_url)
    wh = open_warehouse(cfg)
    schema, _, name = table.rpartition(".")
    try:
        with wh.begin() as conn:
            exists = bool(schema) and wh.table_exists(conn, schema, name)
        if not exists:  # (the command line names no table: exit code 2, as for any wrong argument)
            fail(f"no table {table!r} in the warehouse: name it SCHEMA.TABLE, e.g. marts.dim_customer (the marts: "
                 "`hub docs marts`)", exit_codes.CONFIG)
        df = wh.read_frame(f"SELECT * FROM {quote_qualified(table)} ORDER BY 1 LIMIT {int(limit)}")
    except Exception as e:
        busy = busy_message(e)
        fail(f"cannot read {table}: {busy or str(e).splitlines()[0]}",
             exit_codes.LOCKED if busy else exit_codes.FAILED)
    with pd.option_context("display.max_columns", 12, "display.width", 160, "display.max_colwidth", 28):
        click.echo(df.to_string(index=False))


@click.command("export")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("mart")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default=None,
              help="default: from --out's extension, else xlsx")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="default: MART.xlsx (or .csv) here")
def export(config_path: str, warehouse_url: str | None, mart: str, fmt: str | None, out: str | None) -> None:
    """Write a mart to Excel (sheets `about` and `data`) or CSV (and MART.columns.csv), with its column
    descriptions."""
    from pipelines.export import ExportError, export_mart, mart_name

    cfg = load(config_path, warehouse_url)
    try:
        name = mart_name(mart)
    except ExportError as e:  # (a wrong argument: exit code 2)
        fail(e, exit_codes.CONFIG)
    wh = open_warehouse(cfg)
    try:
        fmt = fmt or (Path(out).suffix.lower().lstrip(".") if out else "xlsx")
        done = export_mart(wh, name, out or f"{name}.{fmt}", fmt)
    except ExportError as e:
        fail(e, exit_codes.FAILED)
    for path in done.paths:
        click.echo(f"{path}")
    click.echo(f"marts.{done.mart}: {done.rows:,} rows", err=True)


@click.group()
def checks() -> None:
    """The data checks `hub run` runs after the marts."""


@checks.command("list")
@CONFIG_OPT
def checks_list(config_path: str) -> None:
    """Every data check with its severity and tolerance (marts.yaml's defaults, the config's marts.checks)."""
    from pipelines.checks import GOLDEN_CHECKS, planned_checks, unknown_check_names

    cfg = load(config_path)
    for name in GOLDEN_CHECKS:
        click.echo(f"{name:<58} error")
    for name, spec in planned_checks(cfg).items():
        tolerance = ", ".join(t for t in (f"≤ {spec.max_failing:,} rows" if spec.max_failing else "",
                                          f"≤ {spec.max_failing_pct}%" if spec.max_failing_pct else "") if t)
        click.echo(f"{name:<58} {spec.severity:<5} {tolerance or '-':<22} {spec.description}")
    for name in unknown_check_names(cfg):
        click.echo(f"error: marts.checks: there is no check named {name!r}", err=True)


@click.group()
def docs() -> None:
    """Generated documentation."""


@docs.command("marts")
@click.option("--write", "markdown_file", type=click.Path(exists=True, dir_okay=False),
              help="replace the mart reference inside this Markdown file (docs/marts.md) instead of printing it")
def docs_marts(markdown_file: str | None) -> None:
    """The mart reference (every mart, its grain and columns) from warehouse/marts/marts.yaml and
    predict/marts.yaml."""
    from predict.catalog import all_mart_docs
    from warehouse.marts.catalog import reference_markdown, with_reference

    if not markdown_file:
        click.echo(reference_markdown(all_mart_docs()), nl=False)
        return
    path = Path(markdown_file)
    try:
        path.write_text(with_reference(path.read_text(encoding="utf-8"), all_mart_docs()), encoding="utf-8")
    except ValueError as e:
        fail(f"{path}: {e}", exit_codes.CONFIG)
    click.echo(f"{path}: mart reference updated")
