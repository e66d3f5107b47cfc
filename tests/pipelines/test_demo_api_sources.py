"""The demo config's API sources against the four fakes, with the legacy sources, through `hub run` twice.

The fakes serve the same universe of companies as the generated legacy sources (150 companies, seed 11, as
the `demo_project` fixture), so matching has to put API and legacy records of one company together.
"""

from __future__ import annotations

import re
import socket
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from connectors.fakes.serve import DEMO_VARIABLES, demo_env, start_all, stop_all
from hub.cli import main
from warehouse.engine import Warehouse

REPO = Path(__file__).resolve().parents[2]
API_SOURCES = ("wecom", "dingtalk", "fxiaoke", "kingdee")
LEGACY_SOURCES = ("crm_a", "crm_b", "erp")

# Each configured API stream: the fake's object it reads, and the landed key of one of that object's records.
Key = Callable[[Mapping[str, Any]], str]
STREAMS: dict[tuple[str, str], tuple[str, Key]] = {
    ("wecom", "external_contacts"): (
        "external_contacts", lambda r: f"{r['external_contact']['external_userid']}|{r['follow_info']['userid']}"),
    ("wecom", "users"): ("users", lambda r: r["userid"]),
    ("wecom", "departments"): ("departments", lambda r: str(r["id"])),
    ("dingtalk", "crm_customers"): ("crm_customer", lambda r: r["instanceId"]),
    ("dingtalk", "crm_contacts"): ("crm_contact", lambda r: r["instanceId"]),
    ("dingtalk", "users"): ("users", lambda r: r["userid"]),
    **{("fxiaoke", obj): (obj, lambda r: r["_id"]) for obj in
       ("AccountObj", "ContactObj", "LeadsObj", "NewOpportunityObj", "NewOpportunityStageChangeObj", "SalesOrderObj",
        "PaymentObj", "PersonnelObj")},
    ("kingdee", "BD_Customer"): ("BD_Customer", lambda r: r["FNumber"]),  # the demo keys customers by number
    **{("kingdee", form): (form, lambda r: str(r["FID"])) for form in
       ("SAL_SaleOrder", "AR_receivable", "AR_RECEIVEBILL")},
    ("kingdee", "salesmen"): ("BD_Empinfo", lambda r: str(r["FID"])),
}


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    """The four fakes over the demo_project's universe, on free loopback ports."""
    servers = start_all(entities=150, seed=11)
    yield servers
    stop_all(servers)


def api_config(demo_project: Path, name: str = "hub_api.yaml") -> Path:
    """The demo's own config, all sources, next to the demo_project's data; client-side pacing lifted."""
    data = yaml.safe_load((REPO / "demo" / "hub.yaml").read_text(encoding="utf-8"))
    data["warehouse"]["url"] = "duckdb:///w.duckdb"
    data["sources"]["fxiaoke"]["config"].update(calls_per_20s=100_000, logins_per_minute=1_000)
    data["sources"]["dingtalk"]["config"].update(qps_per_api=1_000)
    path = demo_project.parent / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_demo_config_runs_its_api_sources_with_the_legacy_ones(
        demo_project: Path, fakes: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in demo_env({vendor: server.url for vendor, server in fakes.items()}).items():
        monkeypatch.setenv(name, value)
    config = api_config(demo_project)
    configured = yaml.safe_load(config.read_text(encoding="utf-8"))["sources"]
    assert {(s, t) for s in API_SOURCES for t in configured[s]["streams"]} == set(STREAMS)
    runner = CliRunner()

    first = runner.invoke(main, ["run", "-c", str(config)])
    assert first.exit_code == 0, first.output
    wh = Warehouse(f"duckdb:///{demo_project.parent / 'w.duckdb'}")

    # Every record a fake serves lands in raw exactly once, under the key the config gives it.
    raw_before = {}
    for (source, stream), (obj, key) in STREAMS.items():
        landed = wh.read_frame(f"SELECT _key FROM raw.{source}__{stream}")["_key"]
        served = [key(r) for r in fakes[source].dataset.records(obj)]
        assert len(served) > 0
        assert not landed.duplicated().any(), f"{source}.{stream}: a record landed twice"
        assert set(landed) == set(served) and len(landed) == len(served), f"{source}.{stream}"
        raw_before[source, stream] = len(landed)

    # Each mapped stream is staged: every landed record is staged or rejected with its reason.
    staged = summary_table(first.output, "staging")
    quarantine = wh.read_frame("SELECT source, stream, COUNT(DISTINCT record_key) AS n FROM raw._quarantine "
                               "WHERE stage = 'staging' AND action = 'rejected' GROUP BY source, stream")
    rejected = {(r.source, r.stream): int(r.n) for r in quarantine.itertuples()}
    for (source, stream), n in raw_before.items():
        entity = configured[source]["streams"][stream].get("entity")
        if entity is None:
            continue
        count = wh.read_frame(f"SELECT COUNT(*) AS n FROM staging.{entity} "
                              f"WHERE source_name = '{source}' AND stream = '{stream}'")["n"][0]
        assert count > 0 and count + rejected.get((source, stream), 0) == n, f"{source}.{stream}"
        assert staged[f"{source}.{stream}"] == count
    # Only WeCom contacts without any company name are rejected (personal WeChat users).
    assert set(rejected) <= {("wecom", "external_contacts")}

    # Facts point at their source's customers, and the marts find their golden customer.
    orders = wh.read_frame("SELECT source_name, COUNT(*) AS n, COUNT(golden_id) AS g FROM marts.fct_sales_orders "
                           "GROUP BY source_name").set_index("source_name")
    for source in ("erp", "fxiaoke", "kingdee"):
        assert orders.loc[source, "n"] == orders.loc[source, "g"] > 0

    # Every rep reference of every system (owner ids, login names, salesman numbers, names) finds its rep,
    # and the reps have the team and region the CRM user lists give them.
    unresolved = wh.read_frame("SELECT source_name, rep_ref FROM marts.bridge_sales_rep WHERE rep_id IS NULL")
    assert unresolved.empty, unresolved.head(10)
    reps = wh.read_frame("SELECT name, team, region FROM marts.dim_sales_rep")
    assert len(reps) > 1 and reps[["team", "region"]].isna().any(axis=1).sum() == 1
    assert reps.loc[reps["team"].isna(), "name"].tolist() == ["管理员"]  # DingTalk's administrator sells nothing

    # Matching puts API customer records together with the legacy ones of the same company.
    systems = wh.read_frame("SELECT golden_id, source_name FROM mdm.xref").groupby("golden_id")["source_name"].agg(set)
    with_api = systems[systems.map(lambda s: bool(s & set(API_SOURCES)))]
    combined = with_api.map(lambda s: bool(s & set(LEGACY_SOURCES)))
    assert combined.mean() > 0.8, f"only {combined.mean():.0%} of golden customers with API records have legacy ones"
    for source in API_SOURCES:
        assert with_api[combined].map(lambda s, src=source: src in s).sum() > 0, source
    kingdee = golden_share_with(wh, "kingdee", "erp")
    assert kingdee > 0.7, f"{kingdee:.0%} of Kingdee customers share a golden customer with the legacy ERP"

    # An analyst recomputing headline numbers from the sources themselves gets the marts' numbers.
    recompute_from_the_sources(wh, demo_project.parent / "data", fakes)

    xref = wh.read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    # The predictions: one score per open opportunity and open lead, a forecast, win/loss by channel.
    opened = wh.read_frame("SELECT COUNT(*) AS n FROM marts.fct_opportunities WHERE outcome = 'open'")["n"][0]
    scored = wh.read_frame("SELECT COUNT(*) AS n, MIN(probability) AS lo, MAX(probability) AS hi "
                           "FROM marts.opportunity_scores")
    assert scored["n"][0] == opened > 0 and 0 <= scored["lo"][0] < scored["hi"][0] <= 1
    assert wh.read_frame("SELECT COUNT(*) AS n FROM marts.pipeline_forecast WHERE forecast_type = 'current' "
                         "AND level = 'total'")["n"][0] >= 6
    assert wh.read_frame("SELECT COUNT(*) AS n FROM marts.win_loss WHERE dimension = 'lost_at_stage'")["n"][0] >= 3
    assert "predictions: " in first.output

    second = runner.invoke(main, ["run", "-c", str(config)])
    assert second.exit_code == 0, second.output
    assert "built marts." not in second.output and "predictions: " not in second.output  # nothing new: nothing built
    # Nothing new lands, nothing is duplicated, every golden ID stays.
    for source, (_, new, _, _) in summary_table(second.output, "sources").items():
        assert new == 0, f"{source}: the second run landed {new} records"
    for (source, stream), n in raw_before.items():
        assert wh.read_frame(f"SELECT COUNT(*) AS n FROM raw.{source}__{stream}")["n"][0] == n
    again = wh.read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    merged = xref.merge(again, on=["source_name", "stream", "source_key"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all() and (merged["golden_id_x"] == merged["golden_id_y"]).all()


def test_without_the_fakes_the_api_sources_fail_at_once_and_the_rest_runs(
        demo_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variables in DEMO_VARIABLES.values():
        for name in variables:
            monkeypatch.delenv(name, raising=False)
    closed = closed_port_url()
    for name in ("WECOM_BASE_URL", "DINGTALK_BASE_URL", "DINGTALK_OAPI_BASE_URL", "FXIAOKE_BASE_URL",
                 "KINGDEE_BASE_URL"):
        monkeypatch.setenv(name, closed)
    config = api_config(demo_project)

    r = CliRunner().invoke(main, ["run", "-c", str(config)])

    assert r.exit_code == 1
    sources = summary_table(r.output, "sources")
    assert {s for s, (read, _, _, _) in sources.items() if read > 0} == set(LEGACY_SOURCES)
    for source in API_SOURCES:
        # the URL came from the environment: it is masked like every ${VAR} value
        assert f"error: source {source}: cannot connect to base_url **** (connection refused)" in r.output
    wh = Warehouse(f"duckdb:///{demo_project.parent / 'w.duckdb'}")
    # The legacy sources went all the way: every order of the ERP, and only those, reached the mart.
    erp = demo_project.parent / "data" / "erp.sqlite"
    orders = pd.read_sql("SELECT count(*) AS n FROM T_SAL_ORDER", f"sqlite:///{erp}")["n"][0]
    assert wh.read_frame("SELECT source_name, COUNT(*) AS n FROM marts.fct_sales_orders GROUP BY source_name"
                         ).values.tolist() == [["erp", orders]]
    assert "4 source(s) failed" in r.output


def test_the_demo_config_loads_without_any_of_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config_file import load_config

    for variables in DEMO_VARIABLES.values():
        for name in variables:
            monkeypatch.delenv(name, raising=False)
    cfg = load_config(REPO / "demo" / "hub.yaml")
    assert set(API_SOURCES) <= set(cfg.sources)
    assert cfg.sources["kingdee"].config["base_url"].startswith("http://127.0.0.1:")


def _shanghai(ms: Any) -> pd.Timestamp:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").tz_convert("Asia/Shanghai").tz_localize(None)


def recompute_from_the_sources(wh: Warehouse, data: Path, fakes: dict[str, Any]) -> None:
    """Revenue of a month, the opportunities won in it, one rep's attainment and one channel's ROI, recomputed from
    the ERP's SQLite file, the reference files and the records the fakes serve (golden customers from mdm.xref),
    following the rules of docs/marts.md, and compared with the marts."""
    cents = Decimal("0.01")
    rates = pd.read_csv(data / "fx_rates.csv", encoding="utf-8-sig", dtype=str)
    usd = {m: Decimal(r) for m, c, r in rates[["month", "currency", "rate"]].itertuples(index=False) if c == "USD"}
    with sqlite3.connect(data / "erp.sqlite") as con:
        erp = pd.read_sql("SELECT s.FNAME AS rep, o.FDATE AS day, o.FAMOUNT AS amount, o.FCURRENCY AS currency, "
                          "o.FSTATUS AS status FROM T_SAL_ORDER o JOIN T_BD_SALESMAN s ON s.FID = o.FSALERID", con)
    people = {r["user_id"]: r["name"] for r in fakes["fxiaoke"].dataset.records("PersonnelObj")}
    orders = [(r, d[:7], Decimal(str(a)) * (usd[d[:7]] if c == "USD" else 1))  # booked: status C
              for r, d, a, c, st in erp.itertuples(index=False) if st == "C"]
    orders += [(r["FSalerId.FName"], r["FDate"][:7], Decimal(str(r["FBillAllAmount"])))
               for r in fakes["kingdee"].dataset.records("SAL_SaleOrder") if r["FDocumentStatus"] == "C"]
    orders += [(people[r["owner"][0]], _shanghai(r["order_time"]).strftime("%Y-%m"), Decimal(r["order_amount"]))
               for r in fakes["fxiaoke"].dataset.records("SalesOrderObj")]  # 已确认 / 已发货 / 已完成: booked
    sold = pd.DataFrame(orders, columns=["rep", "month", "amount"])
    sold["amount"] = sold["amount"].map(lambda a: a.quantize(cents, ROUND_HALF_UP))
    won_months = pd.Series([_shanghai(r["close_date"]).strftime("%Y-%m")
                            for r in fakes["fxiaoke"].dataset.records("NewOpportunityObj")
                            if r["sales_status"] == "赢单"])
    month = won_months.value_counts().index[0]  # the month with the most deals won

    def mart(sql: str) -> tuple[Any, ...]:
        with wh.begin() as c:
            return tuple(c.exec_driver_sql(sql).fetchall()[0])

    # revenue of the month: booked orders of the three systems, dollars at the month's rate
    assert mart(f"SELECT SUM(revenue) FROM marts.sales_performance_monthly WHERE level = 'region' "
                f"AND month = DATE '{month}-01'") == (sum(sold.loc[sold["month"] == month, "amount"]),)
    # opportunities won in the month: Fxiaoke's 赢单, by their close date
    won = [(Decimal(r["amount"]), r) for r in fakes["fxiaoke"].dataset.records("NewOpportunityObj")
           if r["sales_status"] == "赢单" and _shanghai(r["close_date"]).strftime("%Y-%m") == month]
    assert mart(f"SELECT SUM(opportunities_won), SUM(won_amount) FROM marts.sales_performance_monthly "
                f"WHERE level = 'region' AND month = DATE '{month}-01'") == (len(won), sum(a for a, _ in won))
    # one rep's attainment: the rep's booked orders in all three systems against the targets file
    targets = pd.read_csv(data / "targets.csv", encoding="utf-8-sig", dtype=str)
    in_month = sold[sold["month"] == month].groupby("rep")["amount"].sum()
    rep = in_month.index[in_month.argmax()]  # the rep who sold most that month
    target = Decimal(targets.loc[(targets["销售"] == rep) & (targets["月份"] == month), "目标金额"].iloc[0])
    revenue = sum(sold.loc[(sold["rep"] == rep) & (sold["month"] == month), "amount"])
    assert mart(f"SELECT revenue, target, attainment_pct FROM marts.sales_performance_monthly WHERE level = 'rep' "
                f"AND rep_name = '{rep}' AND month = DATE '{month}-01'") == (
        revenue, target, (revenue * 100 / target).quantize(cents, ROUND_HALF_UP))
    # one channel's ROI in the month most won in: an opportunity's channel is its credited lead's, else that of the
    # earliest lead that converted its customer before it, else its account's source (Fxiaoke writes no channel on
    # opportunities); leads and opportunities are Fxiaoke's, customers are golden customers (mdm.xref)
    xref = wh.read_frame("SELECT source_key, golden_id FROM mdm.xref WHERE source_name = 'fxiaoke' "
                         "AND stream = 'AccountObj'").set_index("source_key")["golden_id"]
    accounts = {r["_id"]: r for r in fakes["fxiaoke"].dataset.records("AccountObj")}
    opps = pd.DataFrame([{"id": r["_id"], "golden": xref.get(r.get("account_id")), "created": r["create_time"],
                          "won": r["sales_status"] == "赢单", "closed": _shanghai(r["close_date"]).strftime("%Y-%m"),
                          "amount": Decimal(r["amount"]),
                          "account_channel": (accounts.get(r.get("account_id")) or {}).get("account_source")}
                         for r in fakes["fxiaoke"].dataset.records("NewOpportunityObj")])
    leads = pd.DataFrame([{"id": r["_id"], "golden": xref.get(r.get("account_id")), "created": r["create_time"],
                           "channel": r.get("source") or None} for r in fakes["fxiaoke"].dataset.records("LeadsObj")])
    converted = leads[leads["golden"].notna()]
    # a converted lead's opportunity: its customer's earliest created on or after it; credited to its earliest lead
    linked = converted.merge(opps, on="golden", suffixes=("", "_opp"))
    linked = linked[linked["created_opp"] >= linked["created"]].sort_values(["created_opp", "id_opp"])
    linked = linked.groupby("id").head(1).sort_values(["created", "id"]).groupby("id_opp").head(1)
    credited = dict(zip(linked["id_opp"], linked["channel"], strict=True))
    before = converted[converted["channel"].notna()].merge(opps, on="golden", suffixes=("", "_opp"))
    before = before[before["created"] <= before["created_opp"]].sort_values(["created", "channel"])
    by_customer = dict(before.groupby("id_opp").head(1)[["id_opp", "channel"]].itertuples(index=False))
    opps["channel"] = [credited.get(o) or by_customer.get(o) or a or "(unknown)"
                       for o, a in zip(opps["id"], opps["account_channel"], strict=True)]
    costs = pd.read_csv(data / "channel_costs.csv", encoding="utf-8-sig", dtype=str)
    won_by = opps[opps["won"]].groupby(["channel", "closed"])["amount"].sum()
    channel, at = max((k for k in won_by.index if ((costs["channel"] == k[0]) & (costs["month"] == k[1])).any()),
                      key=lambda k: won_by[k])
    cost = Decimal(costs.loc[(costs["channel"] == channel) & (costs["month"] == at), "amount"].iloc[0])
    roi = ((won_by[(channel, at)] - cost) * 100 / cost).quantize(cents, ROUND_HALF_UP)
    assert mart(f"SELECT won_revenue, cost, roi_pct FROM marts.channel_roi WHERE channel = '{channel}' "
                f"AND month = DATE '{at}-01'") == (won_by[(channel, at)], cost, roi)


def golden_share_with(wh: Warehouse, source: str, other: str) -> float:
    """The share of `source`'s golden customers that also hold a record of `other`."""
    x = wh.read_frame("SELECT golden_id, source_name FROM mdm.xref")
    mine, theirs = set(x.loc[x.source_name == source, "golden_id"]), set(x.loc[x.source_name == other, "golden_id"])
    return len(mine & theirs) / len(mine)


def summary_table(output: str, section: str) -> dict[str, Any]:
    """Rows of the `sources` (name → read, new/changed, deleted, quarantined) or `staging` (source.stream →
    records in staging) section of `hub run`'s summary."""
    rows: dict[str, Any] = {}
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(section + " "))
    for line in lines[start + 1:]:
        if line.startswith("    "):  # an error or a schema change under a source
            continue
        if not line.startswith("  "):
            break
        parts = line.split()
        numbers = [int(p.replace(",", "")) for p in parts if re.fullmatch(r"[\d,]+", p)]
        rows[parts[0]] = tuple(numbers) if section == "sources" else numbers[0]
    return rows


def closed_port_url() -> str:
    """A loopback URL nothing listens on (a port just released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
