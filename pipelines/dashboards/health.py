"""The master data's health: from the per-run history `mdm.run_metrics` (golden customers, records, customers in
two or more systems, duplicates resolved, the review queue, data quality and quarantine per source over time),
the steward decisions (throughput per week and steward) and today's marts (records per golden customer, data
quality per source and field, quarantined records).

The period filter (`start`/`end` months) picks the runs and the decisions by their time (UTC); without it, all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from pipelines.dashboards.table import Filters, Table, fetch, table
from pipelines.metrics import TABLE as METRICS

RUNS = f"mdm.{METRICS}"
DQ_FIELDS = ("name", "uscc", "phone", "mobile", "email", "address", "contact_name", "owner")
TREND_FIELDS = ("uscc", "phone")


def _runs_where(f: Filters, column: str = "run_at") -> tuple[str, dict[str, Any]]:
    conds, params = ["1 = 1"], {}
    if f.start:
        conds.append(f"{column} >= :start")
        params["start"] = f.start
    if f.end_exclusive:
        conds.append(f"{column} < :end_x")
        params["end_x"] = f.end_exclusive
    return " AND ".join(conds), params


def _measure(name: str, alias: str | None = None) -> str:
    return (f"MAX(CASE WHEN measure = '{name}' AND source_name IS NULL THEN value END) "
            f"AS {alias or name}")


def _per_run(f: Filters) -> str:
    """The global measures, one row per run in the period."""
    where, _ = _runs_where(f)
    return f"""
        SELECT run_id, MIN(run_at) AS run_at, {_measure('golden_customers')}, {_measure('source_records')},
               {_measure('multi_system_customers')}, {_measure('merged_ids')}, {_measure('review_open')},
               {_measure('decisions_active')}
        FROM {RUNS} WHERE {where} GROUP BY run_id"""


def golden_trend(conn: Connection, f: Filters) -> Table:
    """Per run: golden customers, source records, records per golden customer, share in two or more systems."""
    _, params = _runs_where(f)
    return table(conn, f"""
        SELECT run_at, CAST(golden_customers AS BIGINT), CAST(source_records AS BIGINT),
               CAST(CAST(source_records AS DECIMAL(18, 2)) / NULLIF(CAST(golden_customers AS DECIMAL(18, 2)), 0)
                    AS DECIMAL(9, 2)),
               CAST(CAST(multi_system_customers AS DECIMAL(18, 2)) * 100
                    / NULLIF(CAST(golden_customers AS DECIMAL(18, 2)), 0) AS DECIMAL(9, 2))
        FROM ({_per_run(f)}) r ORDER BY run_at""", params,
                 [("run_at", "time"), ("golden_customers", "int"), ("source_records", "int"),
                  ("records_per_golden", "ratio"), ("multi_system_pct", "pct")])


def duplicates_resolved(conn: Connection, f: Filters) -> Table:
    """Per run: duplicates resolved (source records beyond one per golden customer, compared with the run before;
    the first run counts them all) and golden IDs merged into another since the run before."""
    _, params = _runs_where(f)
    every = Filters()  # the run before the period's first counts too
    return table(conn, f"""
        WITH r AS (
            SELECT run_at, source_records - golden_customers AS duplicates, merged_ids,
                   LAG(source_records - golden_customers) OVER (ORDER BY run_at) AS duplicates_before,
                   LAG(merged_ids) OVER (ORDER BY run_at) AS merged_before
            FROM ({_per_run(every)}) x
        )
        SELECT run_at, CAST(duplicates - COALESCE(duplicates_before, 0) AS BIGINT),
               CAST(merged_ids - COALESCE(merged_before, 0) AS BIGINT), CAST(duplicates AS BIGINT)
        FROM r WHERE {_runs_where(f)[0]} ORDER BY run_at""", params,
                 [("run_at", "time"), ("duplicates_resolved", "int"), ("ids_merged", "int"),
                  ("duplicate_records", "int")])


def review_trend(conn: Connection, f: Filters) -> Table:
    """Per run: open review items and steward decisions in force."""
    _, params = _runs_where(f)
    return table(conn, f"""
        SELECT run_at, CAST(review_open AS BIGINT), CAST(decisions_active AS BIGINT)
        FROM ({_per_run(f)}) r ORDER BY run_at""", params,
                 [("run_at", "time"), ("review_open", "int"), ("decisions_active", "int")])


def steward_throughput(conn: Connection, f: Filters) -> Table:
    """Decisions per week (Monday, UTC) and steward, undone ones included."""
    where, params = _runs_where(f, "decided_at")
    return table(conn, f"""
        SELECT CAST(date_trunc('week', decided_at) AS DATE) AS week, decided_by, COUNT(*)
        FROM mdm.decisions WHERE {where}
        GROUP BY CAST(date_trunc('week', decided_at) AS DATE), decided_by ORDER BY week, decided_by""", params,
                 [("week", "date"), ("steward", "text"), ("decisions", "int")])


def records_per_golden(conn: Connection, f: Filters) -> Table:
    """Golden customers today by how many source records they merge (1, 2, … 5, then 6 or more)."""
    return table(conn, """
        SELECT CASE WHEN source_count >= 6 THEN '6+' ELSE CAST(source_count AS VARCHAR) END AS records,
               COUNT(*),
               CAST(CAST(COUNT(*) AS DECIMAL(18, 2)) * 100 / NULLIF(SUM(COUNT(*)) OVER (), 0) AS DECIMAL(9, 2))
        FROM marts.dim_customer WHERE source_count IS NOT NULL
        GROUP BY CASE WHEN source_count >= 6 THEN '6+' ELSE CAST(source_count AS VARCHAR) END
        ORDER BY 1""", {},
                 [("records", "text"), ("golden_customers", "int"), ("share_pct", "pct")], ("now",))


def _source(f: Filters, column: str = "source_name") -> tuple[str, dict[str, Any]]:
    return (f" AND {column} = :source", {"source": f.source}) if f.source else ("", {})


def _dq_now(conn: Connection, f: Filters, measure: str) -> Table:
    cond, params = _source(f)
    fields = ", ".join(f"'{x}'" for x in DQ_FIELDS)
    checked = " AND checked > 0" if measure == "validity_pct" else ""
    return table(conn, f"""
        SELECT source_name, stream, field, {measure}
        FROM marts.data_quality
        WHERE entity = 'customer' AND field IN ({fields}){checked}{cond}
        ORDER BY source_name, stream, field""", params,
                 [("source_name", "text"), ("stream", "text"), ("field", "text"), (measure, "pct")], ("now",))


def completeness_now(conn: Connection, f: Filters) -> Table:
    """Completeness per customer stream and field, today (marts.data_quality)."""
    return _dq_now(conn, f, "completeness_pct")


def validity_now(conn: Connection, f: Filters) -> Table:
    """Validity per customer stream and field a rule checks (tax code, phones, e-mail, owner), today."""
    return _dq_now(conn, f, "validity_pct")


def _dq_trend(conn: Connection, f: Filters, measure: str) -> Table:
    where, params = _runs_where(f)
    cond, sparams = _source(f)
    fields = ", ".join(f"'{x}'" for x in TREND_FIELDS)
    return table(conn, f"""
        SELECT MIN(run_at) AS run_at, source_name, stream, field, MAX(value)
        FROM {RUNS}
        WHERE {where} AND measure = '{measure}' AND field IN ({fields}){cond}
        GROUP BY run_id, source_name, stream, field ORDER BY run_at, source_name, stream, field""",
                 {**params, **sparams},
                 [("run_at", "time"), ("source_name", "text"), ("stream", "text"), ("field", "text"),
                  (measure, "pct")])


def completeness_trend(conn: Connection, f: Filters) -> Table:
    """Per run, customer stream and field (tax code and phone): completeness."""
    return _dq_trend(conn, f, "completeness_pct")


def validity_trend(conn: Connection, f: Filters) -> Table:
    """Per run, customer stream and field (tax code and phone): validity."""
    return _dq_trend(conn, f, "validity_pct")


def quarantine_now(conn: Connection, f: Filters) -> Table:
    """Quarantined records per source stream today (rejected at staging or refused at landing)."""
    cond, params = _source(f)
    return table(conn, f"""
        SELECT source_name, stream, MAX(entity), CAST(MAX(quarantined) AS BIGINT), CAST(MAX(records) AS BIGINT)
        FROM marts.data_quality WHERE 1 = 1{cond}
        GROUP BY source_name, stream HAVING MAX(quarantined) > 0
        ORDER BY MAX(quarantined) DESC, source_name, stream""", params,
                 [("source_name", "text"), ("stream", "text"), ("entity", "text"), ("quarantined", "int"),
                  ("records", "int")], ("now",))


def quarantine_trend(conn: Connection, f: Filters) -> Table:
    """Per run and source: quarantined records (all its streams)."""
    where, params = _runs_where(f)
    cond, sparams = _source(f)
    return table(conn, f"""
        SELECT MIN(run_at) AS run_at, source_name, CAST(SUM(value) AS BIGINT)
        FROM {RUNS} WHERE {where} AND measure = 'quarantined'{cond}
        GROUP BY run_id, source_name ORDER BY run_at, source_name""", {**params, **sparams},
                 [("run_at", "time"), ("source_name", "text"), ("quarantined", "int")])


def sources(conn: Connection) -> list[str]:
    """The source systems the health charts can be filtered by."""
    return [r[0] for r in fetch(conn, "SELECT DISTINCT source_name FROM marts.data_quality ORDER BY 1")]
