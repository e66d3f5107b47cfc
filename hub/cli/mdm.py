"""`hub mdm`: score the matching against a truth file, explain why two records match or not."""

from __future__ import annotations

import click

from core import exit_codes
from hub.cli.common import CONFIG_OPT, WAREHOUSE_OPT, fail, load, open_warehouse, record_id


@click.group()
def mdm() -> None:
    """Matching: score against a truth file, explain a pair."""


@mdm.command("score")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="hub YAML (for its warehouse)")
@WAREHOUSE_OPT
@click.option("--truth", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CSV with source_name, stream, source_key, entity_id")
def mdm_score(config_path: str | None, warehouse_url: str | None, truth: str) -> None:
    """Pairwise precision, recall and F1 of mdm.xref against a truth CSV."""
    import pandas as pd

    from mdm.evaluate import pairwise_scores
    from warehouse.engine import Warehouse

    if config_path:
        url = load(config_path, warehouse_url).warehouse.url
    elif warehouse_url:
        url = warehouse_url
    else:
        fail("give -c FILE or --warehouse URL", exit_codes.CONFIG)
    t = pd.read_csv(truth, dtype=str)
    missing = {"source_name", "stream", "source_key", "entity_id"} - set(t.columns)
    if missing:
        fail(f"{truth}: missing column(s) {', '.join(sorted(missing))}", exit_codes.CONFIG)
    x = Warehouse(url).read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    keys = ["source_name", "stream", "source_key"]
    both = t.merge(x, on=keys, how="outer", indicator=True)
    only_truth, only_xref = (both["_merge"] == "left_only").sum(), (both["_merge"] == "right_only").sum()
    both = both[both["_merge"] == "both"]
    click.echo(f"records: {len(both):,} scored; {only_truth:,} in the truth but not in mdm.xref; "
               f"{only_xref:,} in mdm.xref but not in the truth")
    click.echo(str(pairwise_scores(both["golden_id"], both["entity_id"])))


@mdm.command("explain")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("left")
@click.argument("right")
def mdm_explain(config_path: str, warehouse_url: str | None, left: str, right: str) -> None:
    """Why two customer records match or not: per field the values, level and weight; the score."""
    from pipelines.explain import explain_records

    cfg = load(config_path, warehouse_url)
    try:
        table = explain_records(cfg, open_warehouse(cfg), record_id(cfg, left), record_id(cfg, right))
    except LookupError as e:
        fail(e, exit_codes.FAILED)
    click.echo(f"{'comparison':<11} {'left':<28} {'right':<28} {'level':<34} {'weight':>7}")
    for r in table.itertuples():
        lv = "" if r.left is None else str(r.left)
        rv = "" if r.right is None else str(r.right)
        click.echo(f"{r.comparison:<11} {lv[:27]:<28} {rv[:27]:<28} {r.level[:33]:<34} {r.weight:>+7.2f}")
    a = table.attrs
    click.echo(f"match weight {a['weight']:+.2f} bits → probability {a['probability']:.4f} → {a['band']}"
               + (f"; golden {a['left_golden']} / {a['right_golden']}" if a.get("left_golden") else ""))
