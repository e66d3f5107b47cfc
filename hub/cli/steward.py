"""`hub steward`: the review queue, decisions, merge, unmerge, undo, comments, search and history; the
same functions (`pipelines.steward`) as the console's pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from core import exit_codes
from hub.cli.common import CONFIG_OPT, WAREHOUSE_OPT, fail, load, open_warehouse, record_id

BY_OPT = click.option("--by", "by", required=True, envvar="HUB_STEWARD",
                      help="who decides (recorded in mdm.decisions and mdm.merge_log; or HUB_STEWARD)")
REASON_OPT = click.option("--reason", default=None, help="why (recorded with the decision)")
JSON_OPT = click.option("--json", "as_json", is_flag=True, help="print JSON (stable; see docs/stewardship.md)")


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _steward_call(fn: Callable[[], Any]) -> Any:
    """Run a steward function; its refusal is exit code 1, a warehouse busy with a run exit code 3."""
    from pipelines.steward.errors import StewardBusy, StewardError

    try:
        return fn()
    except StewardError as e:
        fail(e, exit_codes.LOCKED if isinstance(e, StewardBusy) else exit_codes.FAILED)


def _action_out(result: Any, as_json: bool) -> None:
    if as_json:
        _print_json(result.to_dict())
        return
    click.echo(f"{result.action} {result.action_id}: {result.message}")
    for rid, gid in result.moved.items():
        click.echo(f"  {rid} → {gid}")


@click.group()
def steward() -> None:
    """Data stewardship: the review queue, decisions, merge, unmerge, undo and their history."""


@steward.command("queue")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0)
@click.option("--source", default=None, help="only pairs with a record of this source")
@click.option("--band", type=click.Choice(["match", "review", "low"]), default=None, help="score band")
@click.option("--search", default=None, help="a name (also in pinyin or initials), contact, address, record id or "
                                            "golden ID")
@click.option("--status", type=click.Choice(["open", "decided", "resolved", "all"]), default="open",
              show_default=True)
@click.option("--reason", type=click.Choice(["review_band", "match_band", "hard_rule", "several_customers"]),
              default=None, help="why the pair is in review")
@click.option("--assignee", default=None, help="claimed by this user (`-`: by nobody)")
@click.option("--decided-by", default=None, help="decided by this user")
@click.option("--since", default=None, help="from this day (YYYY-MM-DD, the config's timezone): decided, else queued")
@click.option("--until", default=None, help="to this day, included")
@click.option("--sort", type=click.Choice(["priority", "score", "score_asc", "revenue", "newest", "oldest"]),
              default="priority", show_default=True)
def steward_queue(config_path: str, warehouse_url: str | None, as_json: bool, limit: int, offset: int,
                  source: str | None, band: str | None, search: str | None, status: str, reason: str | None,
                  assignee: str | None, decided_by: str | None, since: str | None, until: str | None,
                  sort: str) -> None:
    """The review queue, most urgent first (uncertainty × the customer's revenue)."""
    from pipelines.steward.customers import CustomerSearch
    from pipelines.steward.review_queue import QueueFilter, list_queue
    from pipelines.steward.teamwork import parse_day

    cfg = load(config_path, warehouse_url)
    wh = open_warehouse(cfg)

    def listed() -> dict[str, Any]:
        found = tuple(CustomerSearch(wh).golden_ids(search)) if search else ()
        criteria = QueueFilter(source=source, band=band, search=search, status=status, reason=reason,
                               decided_by=decided_by, assignee=assignee, since=parse_day(since),
                               until=parse_day(until), sort=sort, found=found)
        return list_queue(cfg, wh, limit=limit, offset=offset, criteria=criteria)

    data = _steward_call(listed)
    if as_json:
        _print_json(data)
        return
    click.echo(f"{data['total']:,} {status} review item(s)" + (f", showing {len(data['items'])}" if data["items"]
                                                                  else ""))
    for it in data["items"]:
        ln, rn = it["left"]["values"].get("name", ""), it["right"]["values"].get("name", "")
        click.echo(f"{it['item_id']}  prio {it['priority']:.2f}  p {it['probability']:.3f} {it['band']:<6}  "
                   f"{ln} [{it['left']['record_id']}]  ↔  {rn} [{it['right']['record_id']}]  ({it['reason']})")


@steward.command("show")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("item")
def steward_show(config_path: str, warehouse_url: str | None, as_json: bool, item: str) -> None:
    """A review item: both records side by side and the explanation of its score."""
    from mdm.stewardship import RAW_FIELDS, STD_FIELDS
    from pipelines.steward.review_queue import queue_item

    cfg = load(config_path, warehouse_url)
    d = _steward_call(lambda: queue_item(cfg, open_warehouse(cfg), item))
    if as_json:
        _print_json(d)
        return
    left, right = d["left"], d["right"]
    click.echo(f"item {d['item_id']}: {left['record_id']} ({left['golden_id']})  vs  "
               f"{right['record_id']} ({right['golden_id']})")
    for f in (*RAW_FIELDS, *STD_FIELDS):
        a, b = left.get(f), right.get(f)
        if a in (None, "") and b in (None, ""):
            continue
        mark = " " if str(a) == str(b) else "≠"
        sa_, sb = ("" if v is None else str(v) for v in (a, b))
        click.echo(f"  {mark} {f:<16} {sa_[:38]:<40} {sb[:38]}")
    s = d["score"]
    if s.get("probability") is not None:
        for e in d["explanation"]:
            click.echo(f"    {e['comparison']:<10} {e['level'][:40]:<42} {e['weight']:+7.2f}")
        click.echo(f"  probability {s['probability']:.4f} ({s['band']}), weight {s['weight']:+.2f} bits")
    for r in (d.get("kept_apart") or {}).get("rules", []):
        for side in ("left", "right"):
            for v in r[side]:
                click.echo(f"  kept apart ({r['text']}): {d[side]['golden_id']} has {v['shown']} from "
                           f"{', '.join(v['records'])}")
    for x in d["decisions"]:
        state = "in force" if x["active"] else f"undone by {x['undone_by']}"
        click.echo(f"  decision {x['verdict']} by {x['decided_by']} at {x['decided_at']} ({state})"
                   + (f": {x['reason']}" if x.get("reason") else ""))


@steward.command("decide")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("item")
@click.argument("verdict", type=click.Choice(["same", "different"]))
@BY_OPT
@REASON_OPT
def steward_decide(config_path: str, warehouse_url: str | None, as_json: bool, item: str, verdict: str, by: str,
                   reason: str | None) -> None:
    """Decide a review item: the two records are the `same` company or `different` ones."""
    from pipelines.steward.actions import decide

    cfg = load(config_path, warehouse_url)
    _action_out(_steward_call(lambda: decide(cfg, open_warehouse(cfg), item, verdict, by, reason)), as_json)


@steward.command("decide-many")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("items", nargs=-1, required=True)
@click.option("--verdict", type=click.Choice(["same", "different"]), required=True)
@BY_OPT
@REASON_OPT
def steward_decide_many(config_path: str, warehouse_url: str | None, as_json: bool, items: tuple[str, ...],
                        verdict: str, by: str, reason: str | None) -> None:
    """Decide several review items the same way, as one action (one undo reverts them all)."""
    from pipelines.steward.actions import decide_items

    cfg = load(config_path, warehouse_url)
    _action_out(_steward_call(lambda: decide_items(cfg, open_warehouse(cfg), items, verdict, by, reason)), as_json)


@steward.command("candidates")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("record")
def steward_candidates(config_path: str, warehouse_url: str | None, as_json: bool, record: str) -> None:
    """The golden customers a short record (SOURCE:KEY or SOURCE:STREAM:KEY) may belong to, best first."""
    from pipelines.steward.teamwork import candidates

    cfg = load(config_path, warehouse_url)
    d = _steward_call(lambda: candidates(cfg, open_warehouse(cfg), record_id(cfg, record)))
    if as_json:
        _print_json(d)
        return
    click.echo(f"{d['record_id']}  {d['record']['values'].get('name', '')}  ({len(d['items'])} review items)")
    for i, x in enumerate(d["candidates"], 1):
        apart = "; ".join(r["text"] for r in (x["kept_apart"] or {}).get("rules", []))
        click.echo(f"  {i}. {x['golden_id']}  {x['golden'].get('name') or ''}  {x['golden'].get('city') or ''}  "
                   f"p {x['probability']:.3f} {x['band']}" + (f"  (kept apart: {apart})" if apart else ""))


@steward.command("resolve")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("record")
@click.argument("golden_id", required=False)
@click.option("--none", "none_", is_flag=True, help="the record is none of its candidates")
@BY_OPT
@REASON_OPT
def steward_resolve(config_path: str, warehouse_url: str | None, as_json: bool, record: str, golden_id: str | None,
                    none_: bool, by: str, reason: str | None) -> None:
    """Settle a short record matching several customers: it is GOLDEN_ID (one of its candidates), or --none."""
    from pipelines.steward.actions import resolve_record

    if bool(golden_id) == none_:
        fail("give the chosen GOLDEN_ID or --none", exit_codes.CONFIG)
    cfg = load(config_path, warehouse_url)
    rid = record_id(cfg, record)
    _action_out(_steward_call(lambda: resolve_record(cfg, open_warehouse(cfg), rid, golden_id, by, reason)), as_json)


@steward.command("assign")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("items", nargs=-1, required=True)
@click.option("--to", "assignee", default=None, help="the user who takes the items (default: --by, a claim)")
@click.option("--release", is_flag=True, help="nobody works on them any more")
@BY_OPT
def steward_assign(config_path: str, warehouse_url: str | None, items: tuple[str, ...], assignee: str | None,
                   release: bool, by: str) -> None:
    """Claim review items, give them to another steward, or release them."""
    from pipelines.steward.teamwork import assign

    cfg = load(config_path, warehouse_url)
    who = None if release else (assignee or by)
    n = _steward_call(lambda: assign(open_warehouse(cfg), items, who, by))
    click.echo(f"{n} item(s) " + (f"assigned to {who}" if who else "released"))


@steward.command("comment")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("subject")
@click.argument("text", required=False)
@BY_OPT
def steward_comment(config_path: str, warehouse_url: str | None, subject: str, text: str | None, by: str) -> None:
    """Comment on a review item (its id) or a record (SOURCE:STREAM:KEY); without TEXT, list the comments."""
    from pipelines.steward.teamwork import add_comment, comments

    cfg = load(config_path, warehouse_url)
    wh = open_warehouse(cfg)
    if text:
        _steward_call(lambda: add_comment(wh, subject, by, text))
    for c in comments(wh, [subject]):
        click.echo(f"{c['written_at']}  {c['author']}: {c['body']}")


@steward.command("merge")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("survivor")
@click.argument("other")
@BY_OPT
@REASON_OPT
def steward_merge(config_path: str, warehouse_url: str | None, as_json: bool, survivor: str, other: str, by: str,
                  reason: str | None) -> None:
    """Merge golden customer OTHER into SURVIVOR (SURVIVOR keeps its ID, OTHER is retired)."""
    from pipelines.steward.actions import merge

    cfg = load(config_path, warehouse_url)
    _action_out(_steward_call(lambda: merge(cfg, open_warehouse(cfg), survivor, other, by, reason)), as_json)


@steward.command("unmerge")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("record")
@BY_OPT
@REASON_OPT
def steward_unmerge(config_path: str, warehouse_url: str | None, as_json: bool, record: str, by: str,
                    reason: str | None) -> None:
    """Move a source record (SOURCE:KEY or SOURCE:STREAM:KEY) out into a golden customer of its own."""
    from pipelines.steward.actions import unmerge

    cfg = load(config_path, warehouse_url)
    rid = record_id(cfg, record)
    _action_out(_steward_call(lambda: unmerge(cfg, open_warehouse(cfg), rid, by, reason)), as_json)


@steward.command("former-name")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("golden_id")
@click.argument("name")
@BY_OPT
@REASON_OPT
def steward_former_name(config_path: str, warehouse_url: str | None, as_json: bool, golden_id: str, name: str,
                        by: str, reason: str | None) -> None:
    """Give GOLDEN_ID a former name (曾用名) NAME: from the next run its records are matched under it too
    (records typed with the old name join it). Undo it with `hub steward undo`."""
    from pipelines.steward.actions import add_former_name

    cfg = load(config_path, warehouse_url)
    _action_out(_steward_call(lambda: add_former_name(cfg, open_warehouse(cfg), golden_id, name, by, reason)),
                as_json)


@steward.command("undo")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("action_id")
@BY_OPT
@REASON_OPT
def steward_undo(config_path: str, warehouse_url: str | None, as_json: bool, action_id: str, by: str,
                 reason: str | None) -> None:
    """Undo a decide, merge, unmerge or former name (ACTION_ID from `hub steward history`)."""
    from pipelines.steward.actions import undo

    cfg = load(config_path, warehouse_url)
    _action_out(_steward_call(lambda: undo(cfg, open_warehouse(cfg), action_id, by, reason)), as_json)


@steward.command("history")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("subject", required=False)
@click.option("--actor", default=None)
@click.option("--action", type=click.Choice(["decide", "merge", "unmerge", "undo"]), default=None)
@click.option("--limit", type=int, default=20, show_default=True)
def steward_history(config_path: str, warehouse_url: str | None, as_json: bool, subject: str | None,
                    actor: str | None, action: str | None, limit: int) -> None:
    """Steward actions, newest first; SUBJECT narrows to a golden ID or a record."""
    from pipelines.steward.audit import history

    cfg = load(config_path, warehouse_url)
    golden = subject if subject and subject[:1] == "G" and subject[1:].isdigit() else None
    record = record_id(cfg, subject) if subject and not golden else None
    data = _steward_call(lambda: history(open_warehouse(cfg), golden, record, actor, action, limit))
    if as_json:
        _print_json(data)
        return
    click.echo(f"{data['total']:,} action(s)")
    for a in data["actions"]:
        state = f"  [undone by {a['undone_by']}]" if a["undone_by"] else ""
        click.echo(f"{a['action_id']}  {a['acted_at']}  {a['actor']:<12} {a['action']:<8} "
                   f"{' '.join(a['golden_ids'])}  {', '.join(a['records'])}"
                   + (f"  “{a['reason']}”" if a["reason"] else "") + state)


@steward.command("search")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("text")
@click.option("--limit", type=int, default=20, show_default=True)
def steward_search(config_path: str, warehouse_url: str | None, as_json: bool, text: str, limit: int) -> None:
    """Golden customers by name (as written, in pinyin or by initials), contact, address, tax code (USCC), phone
    or golden ID; similar names too."""
    from pipelines.steward.customers import search_customers

    cfg = load(config_path, warehouse_url)
    rows = _steward_call(lambda: search_customers(open_warehouse(cfg), text, limit))
    if as_json:
        _print_json({"version": 1, "results": rows})
        return
    for r in rows:
        click.echo(f"{r['golden_id']}  {r['name'] or '':<30} {r['uscc'] or '':<20} {r['phone'] or '':<18} "
                   f"{r['city'] or '':<8} {r['source_count']} record(s)  (by {r['matched_on']})")
    if not rows:
        click.echo("no golden customer found")


@steward.command("customer")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("golden_id")
def steward_customer(config_path: str, warehouse_url: str | None, as_json: bool, golden_id: str) -> None:
    """A golden customer: attributes and their sources, records, hierarchy, history."""
    from pipelines.steward.customers import golden_detail

    cfg = load(config_path, warehouse_url)
    d = _steward_call(lambda: golden_detail(cfg, open_warehouse(cfg), golden_id))
    if as_json:
        _print_json(d)
        return
    if d["retired"]:
        click.echo(d["message"])
        return
    click.echo(f"{golden_id}  {d['golden'].get('name')}")
    for a in d["attributes"]:
        if a["value"] is not None:
            click.echo(f"  {a['attribute']:<16} {a['value']!s:<40} from {a['source_record']}")
    click.echo(f"records ({len(d['records'])}):")
    for r in d["records"]:
        click.echo(f"  {r['record_id']:<32} {r['values'].get('name', '')}  ({r['matched_by']})")
    for n in d["former_names"]["sources"]:
        click.echo(f"former name: {n} (from a source record)")
    for n in d["former_names"]["stewards"]:
        click.echo(f"former name: {n['former_name']} (added by {n['added_by']}, {n['action_id']})")
    if d["parent"]:
        click.echo(f"branch of {d['parent']['golden_id']} {d['parent']['name']}")
    for b in d["branches"]:
        click.echo(f"branch: {b['golden_id']} {b['name']}")
    for h in d["history"]:
        click.echo(f"history: {h['text']} ({h['retired_at']})")
