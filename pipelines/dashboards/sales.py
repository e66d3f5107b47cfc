"""The sales cockpit's numbers, from the marts: revenue against target, the trend against the year before, the
attainment leaderboard, the lead-to-cash funnel and days per stage, channel ROI, the open pipeline, top customers.

Without a source filter, the monthly measures are `marts.sales_performance_monthly`'s: the company as a whole is
its team rows added up (a team's target is its own where the targets file sets one, else its reps'), a team or a
region its own rows, a rep (or a team and a region together) the rep rows. With a source filter the same measures
are added up from the fact marts of that source, attributed as the mart attributes them (an order or payment to
its rep, else to the rep owning the customer record on its date; team and region those of the rep's version on
the fact's date, for the open pipeline at the end of the month); targets are not per source, so they are left out.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from pipelines.dashboards.table import Filters, Table, add_months, fetch, pct, table

SPM = "marts.sales_performance_monthly"
# The rep version valid on a day (`{day}`: a SQL expression) for the rep `{rep}`.
_VERSION = ("LEFT JOIN marts.dim_sales_rep v ON v.rep_id = {rep} AND CAST({day} AS TIMESTAMP) >= v.valid_from "
            "AND (v.valid_to IS NULL OR CAST({day} AS TIMESTAMP) < v.valid_to)")
TOP_LIMIT = 20  # leaderboard rows
TOP_CUSTOMERS = 20
CUSTOMER_SORTS = ("lifetime_revenue", "revenue_12m", "outstanding_receivables", "open_pipeline")


# --- the period and the filters' choices ------------------------------------------------------------------------

def last_month(conn: Connection) -> dt.date:
    """The last month with a revenue order (else with any activity, else this month): the default period's end."""
    rows = fetch(conn, f"SELECT MAX(CASE WHEN orders > 0 THEN month END), MAX(month) FROM {SPM}")
    got = rows[0][0] or rows[0][1] if rows else None
    if got is None:
        today = dt.date.today()
        return dt.date(today.year, today.month, 1)
    return got.date() if isinstance(got, dt.datetime) else got


def fiscal_year_start(conn: Connection, month: dt.date) -> dt.date:
    """The first month of the fiscal year `month` belongs to (dim_date; January when the calendar lacks it)."""
    rows = fetch(conn, "SELECT MIN(month_start) FROM marts.dim_date WHERE fiscal_year = "
                       "(SELECT MAX(fiscal_year) FROM marts.dim_date WHERE date_day = :m)", {"m": month})
    got = rows[0][0] if rows else None
    if got is None:
        return dt.date(month.year, 1, 1)
    return got.date() if isinstance(got, dt.datetime) else got


def choices(conn: Connection) -> dict[str, list[Any]]:
    """What the filters offer: teams, regions, reps (id, name, team), source systems of the facts, channels."""
    reps = fetch(conn, "SELECT rep_id, name, team FROM marts.dim_sales_rep WHERE is_current ORDER BY name, rep_id")
    return {
        "teams": [r[0] for r in fetch(conn, "SELECT DISTINCT team FROM marts.dim_sales_rep WHERE team IS NOT NULL "
                                            "ORDER BY team")],
        "regions": [r[0] for r in fetch(conn, "SELECT DISTINCT region FROM marts.dim_sales_rep "
                                              "WHERE region IS NOT NULL ORDER BY region")],
        "reps": reps,
        "sources": [r[0] for r in fetch(conn, "SELECT DISTINCT source_name FROM marts.data_quality WHERE entity IN "
                                              "('sales_order', 'payment', 'opportunity', 'lead') ORDER BY 1")],
        "channels": [r[0] for r in fetch(conn, "SELECT DISTINCT channel FROM marts.channel_roi ORDER BY 1")],
    }


# --- monthly measures of the filtered scope ---------------------------------------------------------------------

def _mart_scope(f: Filters) -> tuple[str, dict[str, Any]]:
    """The rows of sales_performance_monthly that make up the filtered scope, once each."""
    if f.rep or (f.team and f.region):
        conds, params = ["level = 'rep'"], {}
        for col in ("rep", "team", "region"):
            value = getattr(f, col)
            if value:
                conds.append(f"{'rep_id' if col == 'rep' else col} = :{col}")
                params[col] = value
        return " AND ".join(conds), params
    if f.team:
        return "level = 'team' AND team = :team", {"team": f.team}
    if f.region:
        return "level = 'region' AND region = :region", {"region": f.region}
    return "level = 'team'", {}


def _fact_scope(rep_sql: str, day_sql: str, f: Filters, alias: str) -> tuple[str, str, dict[str, Any]]:
    """(join, where, params) restricting a fact table `alias` to the filtered source, rep, team and region."""
    conds, params = [f"{alias}.source_name = :source"], {"source": f.source}
    join = ""
    if f.rep:
        conds.append(f"{rep_sql} = :rep")
        params["rep"] = f.rep
    if f.team or f.region:
        join = _VERSION.format(rep=rep_sql, day=day_sql)
        for col in ("team", "region"):
            if getattr(f, col):
                conds.append(f"v.{col} = :{col}")
                params[col] = getattr(f, col)
    return join, " AND ".join(conds), params


MONTHLY_COLUMNS = ("orders", "revenue", "target", "payments", "won", "lost", "won_amount", "open_pipeline")


def monthly_sql(f: Filters) -> tuple[str, dict[str, Any], bool]:
    """A query of (month, orders, revenue, target, payments, won, lost, won_amount, open_pipeline) per month of the
    scope, every month of the marts' calendar (no period: the callers cut it); whether targets are known."""
    grid = "SELECT DISTINCT month_start AS month FROM marts.dim_date"
    if not f.source:
        where, params = _mart_scope(f)
        return (f"""
            WITH m AS (
                SELECT month, SUM(orders) AS orders, SUM(revenue) AS revenue, SUM(target) AS target,
                       SUM(payments_collected) AS payments, SUM(opportunities_won) AS won,
                       SUM(opportunities_lost) AS lost, SUM(won_amount) AS won_amount,
                       SUM(open_pipeline) AS open_pipeline
                FROM {SPM} WHERE {where} GROUP BY month
            )
            SELECT g.month, COALESCE(m.orders, 0), COALESCE(m.revenue, 0), m.target, COALESCE(m.payments, 0),
                   COALESCE(m.won, 0), COALESCE(m.lost, 0), COALESCE(m.won_amount, 0), COALESCE(m.open_pipeline, 0)
            FROM ({grid}) g LEFT JOIN m ON m.month = g.month""", params, True)
    oj, ow, params = _fact_scope("COALESCE(o.rep_id, o.customer_owner_rep_id)", "o.order_date", f, "o")
    pj, pw, _ = _fact_scope("p.rep_id", "p.payment_date", f, "p")
    wj, ww, _ = _fact_scope("w.rep_id", "w.closed_at", f, "w")
    ej, ew, _ = _fact_scope("e.rep_id", "CAST(g.month + INTERVAL '1 month' AS DATE) - 1", f, "e")
    return (f"""
        WITH measure AS (
            SELECT o.order_month AS month, COUNT(*) AS orders, SUM(o.reporting_amount) AS revenue,
                   CAST(NULL AS DECIMAL(18, 2)) AS payments, 0 AS won, 0 AS lost,
                   CAST(NULL AS DECIMAL(18, 2)) AS won_amount, CAST(NULL AS DECIMAL(18, 2)) AS open_pipeline
            FROM marts.fct_sales_orders o {oj} WHERE o.is_revenue AND {ow} GROUP BY o.order_month
            UNION ALL
            SELECT p.payment_month, 0, NULL, SUM(p.reporting_amount), 0, 0, NULL, NULL
            FROM marts.fct_payments p {pj} WHERE {pw} GROUP BY p.payment_month
            UNION ALL
            SELECT CAST(date_trunc('month', CAST(w.closed_at AS TIMESTAMP)) AS DATE), 0, NULL, NULL,
                   COUNT(*) FILTER (WHERE w.outcome = 'won'), COUNT(*) FILTER (WHERE w.outcome = 'lost'),
                   SUM(w.reporting_amount) FILTER (WHERE w.outcome = 'won'), NULL
            FROM marts.fct_opportunities w {wj}
            WHERE w.outcome <> 'open' AND w.closed_at IS NOT NULL AND {ww}
            GROUP BY CAST(date_trunc('month', CAST(w.closed_at AS TIMESTAMP)) AS DATE)
            UNION ALL
            SELECT g.month, 0, NULL, NULL, 0, 0, NULL, SUM(e.reporting_amount)
            FROM ({grid}) g
            JOIN marts.fct_opportunities e
              ON e.created_month <= g.month
             AND NOT (e.outcome <> 'open' AND e.closed_month IS NOT NULL
                      AND GREATEST(e.closed_month, e.created_month) <= g.month)
            {ej}
            WHERE {ew} AND g.month <= (SELECT MAX(month) FROM {SPM})
            GROUP BY g.month
        ),
        m AS (
            SELECT month, SUM(orders) AS orders, SUM(revenue) AS revenue, SUM(payments) AS payments, SUM(won) AS won,
                   SUM(lost) AS lost, SUM(won_amount) AS won_amount, SUM(open_pipeline) AS open_pipeline
            FROM measure GROUP BY month
        )
        SELECT g.month, COALESCE(m.orders, 0), COALESCE(m.revenue, 0), CAST(NULL AS DECIMAL(18, 2)),
               COALESCE(m.payments, 0), COALESCE(m.won, 0), COALESCE(m.lost, 0), COALESCE(m.won_amount, 0),
               COALESCE(m.open_pipeline, 0)
        FROM ({grid}) g LEFT JOIN m ON m.month = g.month""", params, False)


def _period(f: Filters) -> dict[str, Any]:
    assert f.start and f.end, "the period is set (Filters.period)"
    return {"start": f.start, "end": f.end, "prior_start": add_months(f.start, -12),
            "prior_end": add_months(f.end, -12)}


def revenue_vs_target(conn: Connection, f: Filters) -> Table:
    """Per month of the period: revenue, target and attainment."""
    sql, params, has_target = monthly_sql(f)
    cols = [("month", "month"), ("orders", "int"), ("revenue", "money")]
    if has_target:
        cols += [("target", "money"), ("attainment_pct", "pct")]
        select = ("month, orders, revenue, target, "
                  "CAST(CAST(revenue AS DECIMAL(18, 2)) * 100 / NULLIF(target, 0) AS DECIMAL(18, 2))")
    else:
        select = "month, orders, revenue"
    return table(conn, f"SELECT {select} FROM ({sql}) s (month, {', '.join(MONTHLY_COLUMNS)}) "
                       "WHERE month BETWEEN :start AND :end ORDER BY month", {**params, **_period(f)}, cols,
                 () if has_target else ("no_target_per_source",))


def revenue_trend(conn: Connection, f: Filters) -> Table:
    """Per month of the period: revenue, the same month a year before and the change in %."""
    sql, params, _ = monthly_sql(f)
    cols = [("month", "month"), ("revenue", "money"), ("revenue_prior_year", "money"), ("yoy_pct", "pct")]
    return table(conn, f"""
        WITH s (month, {', '.join(MONTHLY_COLUMNS)}) AS ({sql})
        SELECT c.month, c.revenue, p.revenue,
               CAST((c.revenue - p.revenue) * 100 / NULLIF(p.revenue, 0) AS DECIMAL(18, 2))
        FROM s c
        LEFT JOIN s p ON p.month = CAST(c.month - INTERVAL '12 months' AS DATE)
        WHERE c.month BETWEEN :start AND :end
        ORDER BY c.month""", {**params, **_period(f)}, cols)


def kpis(conn: Connection, f: Filters) -> Table:
    """The period at a glance, one row: revenue, target, attainment, the year before and the change, orders,
    payments, won deals and amount, win rate, open pipeline at the period's end."""
    sql, params, has_target = monthly_sql(f)
    cols = [("revenue", "money"), ("target", "money"), ("attainment_pct", "pct"), ("revenue_prior_year", "money"),
            ("yoy_pct", "pct"), ("orders", "int"), ("payments", "money"), ("won", "int"), ("won_amount", "money"),
            ("win_rate_pct", "pct"), ("open_pipeline", "money")]
    return table(conn, f"""
        WITH s (month, {', '.join(MONTHLY_COLUMNS)}) AS ({sql}),
        cur AS (
            SELECT SUM(revenue) AS revenue, SUM(target) AS target, SUM(orders) AS orders, SUM(payments) AS payments,
                   SUM(won) AS won, SUM(lost) AS lost, SUM(won_amount) AS won_amount,
                   SUM(CASE WHEN month = :end THEN open_pipeline END) AS open_pipeline
            FROM s WHERE month BETWEEN :start AND :end
        ),
        prior AS (SELECT SUM(revenue) AS revenue FROM s WHERE month BETWEEN :prior_start AND :prior_end)
        SELECT c.revenue, c.target,
               CAST(CAST(c.revenue AS DECIMAL(18, 2)) * 100 / NULLIF(c.target, 0) AS DECIMAL(18, 2)),
               p.revenue, CAST((c.revenue - p.revenue) * 100 / NULLIF(p.revenue, 0) AS DECIMAL(18, 2)),
               c.orders, c.payments, c.won, c.won_amount,
               CAST(CAST(c.won AS DECIMAL(18, 2)) * 100 / NULLIF(c.won + c.lost, 0) AS DECIMAL(9, 2)),
               c.open_pipeline
        FROM cur c CROSS JOIN prior p""", {**params, **_period(f)}, cols,
                 () if has_target else ("no_target_per_source",))


def leaderboard(conn: Connection, f: Filters) -> Table:
    """Reps of the scope over the period, best attainment first (then revenue): revenue, target, attainment."""
    if not f.source:
        conds, params = ["level = 'rep'", "rep_id IS NOT NULL", "month BETWEEN :start AND :end"], _period(f)
        for col in ("team", "region"):
            if getattr(f, col):
                conds.append(f"{col} = :{col}")
                params[col] = getattr(f, col)
        if f.rep:
            conds.append("rep_id = :rep")
            params["rep"] = f.rep
        inner = (f"SELECT rep_id, SUM(revenue) AS revenue, SUM(target) AS target FROM {SPM} "
                 f"WHERE {' AND '.join(conds)} GROUP BY rep_id")
        cols = [("rep_id", "text"), ("rep_name", "text"), ("team", "text"), ("revenue", "money"),
                ("target", "money"), ("attainment_pct", "pct")]
        select = ("r.rep_id, d.name, d.team, r.revenue, r.target, "
                  "CAST(CAST(r.revenue AS DECIMAL(18, 2)) * 100 / NULLIF(r.target, 0) AS DECIMAL(18, 2)) AS att")
        order = "att DESC NULLS LAST, r.revenue DESC, r.rep_id"
        notes: tuple[str, ...] = ()
    else:
        join, where, params = _fact_scope("COALESCE(o.rep_id, o.customer_owner_rep_id)", "o.order_date", f, "o")
        params.update(_period(f))
        rep = "COALESCE(o.rep_id, o.customer_owner_rep_id)"
        inner = (f"SELECT {rep} AS rep_id, SUM(o.reporting_amount) AS revenue "
                 f"FROM marts.fct_sales_orders o {join} WHERE o.is_revenue AND {where} "
                 f"AND o.order_month BETWEEN :start AND :end AND {rep} IS NOT NULL GROUP BY {rep}")
        cols = [("rep_id", "text"), ("rep_name", "text"), ("team", "text"), ("revenue", "money")]
        select = "r.rep_id, d.name, d.team, r.revenue"
        order = "r.revenue DESC, r.rep_id"
        notes = ("no_target_per_source",)
    got = table(conn, f"SELECT {select} FROM ({inner}) r "
                      f"LEFT JOIN marts.dim_sales_rep d ON d.rep_id = r.rep_id AND d.is_current "
                      f"ORDER BY {order} LIMIT {TOP_LIMIT + 1}", params, cols, notes)
    if len(got.rows) > TOP_LIMIT:
        total = fetch(conn, f"SELECT COUNT(*) FROM ({inner}) r", params)[0][0]
        return Table(got.columns, got.kinds, got.rows[:TOP_LIMIT], (*got.notes, "top_rows"), int(total))
    return got


# --- leads, channels and the pipeline ----------------------------------------------------------------------------

def _lead_scope(f: Filters) -> tuple[str, dict[str, Any]]:
    conds, params = ["month BETWEEN :start AND :end"], dict(_period(f))
    if f.channel:
        conds.append("channel = :channel")
        params["channel"] = f.channel
    return " AND ".join(conds), params


FUNNEL_STAGES = ("leads", "opportunities", "won", "ordered", "paid")


def funnel(conn: Connection, f: Filters) -> Table:
    """The lead-to-cash funnel of the leads created in the period (lead_to_cash): each stage's leads, the share
    of the stage before and of all leads."""
    where, params = _lead_scope(f)
    [sums] = fetch(conn, f"SELECT {', '.join(f'COALESCE(SUM({s}), 0)' for s in FUNNEL_STAGES)} "
                         f"FROM marts.lead_to_cash WHERE {where}", params)
    rows: list[tuple[str, int, Decimal | None, Decimal | None]] = []
    before = None
    for stage, n in zip(FUNNEL_STAGES, sums, strict=True):
        rows.append((stage, int(n), pct(n, before) if before is not None else None, pct(n, sums[0])))
        before = n
    return Table(("stage", "leads", "of_previous_pct", "of_leads_pct"), ("text", "int", "pct", "pct"), rows,
                 ("not_by_rep_or_source",))


STAGE_DAYS = (("lead_to_opportunity", "median_days_lead_to_opportunity", "opportunities"),
              ("opportunity_to_won", "median_days_opportunity_to_won", "won"),
              ("won_to_order", "median_days_won_to_order", "ordered"),
              ("order_to_paid", "median_days_order_to_paid", "paid"))


def stage_days(conn: Connection, f: Filters) -> Table:
    """Days per stage of the funnel: lead_to_cash's median per month and channel, averaged over the period's
    months and channels weighted by the leads that reached the stage."""
    where, params = _lead_scope(f)
    parts = [f"SELECT '{name}' AS stage, {i} AS pos, "
             f"CAST(SUM({median} * {weight}) / NULLIF(SUM(CASE WHEN {median} IS NOT NULL THEN {weight} END), 0) "
             f"AS DECIMAL(9, 1)) AS days, SUM(CASE WHEN {median} IS NOT NULL THEN {weight} ELSE 0 END) AS n "
             f"FROM marts.lead_to_cash WHERE {where}"
             for i, (name, median, weight) in enumerate(STAGE_DAYS)]
    return table(conn, f"SELECT stage, days, n FROM ({' UNION ALL '.join(parts)}) d ORDER BY pos", params,
                 [("stage", "text"), ("days", "days"), ("leads", "int")],
                 ("stage_days_weighted", "not_by_rep_or_source"))


def channel_roi(conn: Connection, f: Filters) -> Table:
    """Per channel over the period (channel_roi's months added up): leads, opportunities, won, revenue won, cost,
    cost per lead and ROI."""
    where, params = _lead_scope(f)
    return table(conn, f"""
        SELECT channel, SUM(leads), SUM(opportunities), SUM(won_opportunities), SUM(won_revenue), SUM(cost),
               CAST(SUM(cost) / NULLIF(SUM(leads), 0) AS DECIMAL(18, 2)),
               CAST((SUM(won_revenue) - SUM(cost)) * 100 / NULLIF(SUM(cost), 0) AS DECIMAL(18, 2))
        FROM marts.channel_roi WHERE {where}
        GROUP BY channel ORDER BY SUM(won_revenue) DESC, channel""", params,
                 [("channel", "text"), ("leads", "int"), ("opportunities", "int"), ("won", "int"),
                  ("won_revenue", "money"), ("cost", "money"), ("cost_per_lead", "money"), ("roi_pct", "pct")],
                 ("not_by_rep_or_source",))


def pipeline_trend(conn: Connection, f: Filters) -> Table:
    """Per month of the period: the open pipeline at the month's end, deals won and their amount, win rate."""
    sql, params, _ = monthly_sql(f)
    return table(conn, f"""
        SELECT month, open_pipeline, won, won_amount,
               CAST(CAST(won AS DECIMAL(18, 2)) * 100 / NULLIF(won + lost, 0) AS DECIMAL(9, 2))
        FROM ({sql}) s (month, {', '.join(MONTHLY_COLUMNS)})
        WHERE month BETWEEN :start AND :end ORDER BY month""", {**params, **_period(f)},
                 [("month", "month"), ("open_pipeline", "money"), ("won", "int"), ("won_amount", "money"),
                  ("win_rate_pct", "pct")])


def pipeline_by_stage(conn: Connection, f: Filters) -> Table:
    """The opportunities open now, per sales stage: how many and their amount (rep, team and region: the owning
    rep's today)."""
    conds, params = ["o.outcome = 'open'"], {}
    if f.source:
        conds.append("o.source_name = :source")
        params["source"] = f.source
    if f.rep:
        conds.append("o.rep_id = :rep")
        params["rep"] = f.rep
    for col in ("team", "region"):
        if getattr(f, col):
            conds.append(f"d.{col} = :{col}")
            params[col] = getattr(f, col)
    return table(conn, f"""
        SELECT COALESCE(o.stage, '') AS stage, COUNT(*), SUM(o.reporting_amount)
        FROM marts.fct_opportunities o
        LEFT JOIN marts.dim_sales_rep d ON d.rep_id = o.rep_id AND d.is_current
        WHERE {' AND '.join(conds)}
        GROUP BY COALESCE(o.stage, '') ORDER BY SUM(o.reporting_amount) DESC NULLS LAST, 1""", params,
                 [("stage", "text"), ("opportunities", "int"), ("amount", "money")], ("open_now",))


def top_customers(conn: Connection, f: Filters) -> Table:
    """The golden customers first by `f.sort` (customer_360; lifetime revenue unless one of `CUSTOMER_SORTS`),
    optionally only those a source system holds."""
    sort = f.sort if f.sort in CUSTOMER_SORTS else CUSTOMER_SORTS[0]
    conds, params = [f"{sort} IS NOT NULL", f"{sort} <> 0"], {}
    if f.source:
        conds.append("(', ' || systems || ', ') LIKE :source_like")
        params["source_like"] = f"%, {f.source}, %"
    cols = [("golden_id", "text"), ("name", "text"), ("city", "text"), ("systems", "text"), ("orders", "int"),
            ("lifetime_revenue", "money"), ("revenue_12m", "money"), ("outstanding_receivables", "money"),
            ("open_pipeline", "money")]
    return table(conn, f"""
        SELECT {', '.join(c for c, _ in cols)} FROM marts.customer_360
        WHERE {' AND '.join(conds)} ORDER BY {sort} DESC, golden_id LIMIT {TOP_CUSTOMERS}""", params, cols,
                 ("customers_all_time",))


FORECAST = "marts.pipeline_forecast"


def forecast(conn: Connection, f: Filters) -> Table:
    """The forecast from today's open pipeline (`marts.pipeline_forecast`, current, per month): expected revenue
    won with its 80% prediction interval (10th to 90th percentile of the simulations), the stage-weighted pipeline
    beside it. For the company, or the team, region or rep filtered on (the forecast holds one of them: a rep
    before a team before a region); not per source system."""
    cols = [("month", "month"), ("open_opportunities", "int"), ("pipeline_amount", "money"), ("expected", "money"),
            ("low", "money"), ("high", "money"), ("stage_weighted", "money")]
    notes = ["forecast_ahead"]
    exists = fetch(conn, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'marts' "
                         "AND table_name = 'pipeline_forecast'")[0][0]
    if not exists:
        return Table(tuple(c for c, _ in cols), tuple(k for _, k in cols), [], ("forecast_missing",))
    level, key = (("rep", f.rep) if f.rep else ("team", f.team) if f.team else ("region", f.region) if f.region
                  else ("total", "all"))
    if f.team and f.region and not f.rep:
        notes.append("forecast_one_group")
    if f.source:
        notes.append("forecast_not_by_source")
    money = ", ".join(f"CAST({c} AS DECIMAL(18, 2))" for c in ("pipeline_amount", "expected", "low", "high",
                                                               "stage_weighted"))
    return table(conn, f"""
        SELECT period_start, open_opportunities, {money} FROM {FORECAST}
        WHERE forecast_type = 'current' AND period_type = 'month' AND level = :level AND group_key = :key
        ORDER BY period_start""", {"level": level, "key": key}, cols, notes)
