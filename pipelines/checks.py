"""Data checks on the warehouse, shared by `hub run` and the Dagster asset checks.

Two checks on the golden records (`golden_ids_unique`, `staged_customers_in_xref`), and the checks declared as
data in `warehouse/marts/marts.yaml`, generated for every mart:

- `<mart>.unique`: no two rows share the mart's key;
- `<mart>.not_null.<column>`: the key's columns (but the nullable ones) and the `not_null` ones are never empty;
- `<mart>.references.<column>`: each filled value exists in the referenced mart (`col1+col2` for several columns);

and, for every configured stream of sales orders, payments and opportunities, `reconcile.<source>.<stream>`: the
stream's records as landed in raw (the latest version of each, its date and amount read from the raw text as
staging reads them) against the fact mart, record by record, with the totals per month: a record in raw but not in
the mart (rejected at staging, lost by a join), in the mart but not in raw, or with another month or amount fails.

Each check has a severity (`error` fails `hub run` with exit code 4, `warn` is only reported) and tolerates up to
`max_failing` failing rows and `max_failing_pct` % of its rows (both 0 by default): defaults in `marts.yaml`
(`checks:` of a mart), overridden per check name by the config's `marts.checks`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.config import CheckConfig, HubConfig
from pipelines.coerce import parse_date, parse_decimal
from pipelines.stage import JsonFields, latest_sql, mapping_sql
from predict.catalog import all_mart_docs
from warehouse.engine import Warehouse
from warehouse.identifiers import quote
from warehouse.marts.catalog import MartDoc
from warehouse.raw import raw_table

log = logging.getLogger("hub.checks")

_EXAMPLES = 5
SEVERITIES = ("error", "warn")


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, int | float | str] = field(default_factory=dict)
    severity: str = "error"

    @property
    def failed(self) -> bool:
        """Failed with severity error: `hub run` exits with 4."""
        return not self.passed and self.severity == "error"


@dataclass(frozen=True)
class Count:
    """What a check found: failing rows out of the rows checked, a sentence, numbers and examples."""

    failing: int
    rows: int
    description: str
    metadata: dict[str, int | float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckSpec:
    """One data check: its name, the asset it is about, what it checks and how bad a failure is."""

    name: str
    asset: str  # a mart's name, or "golden" for the golden records
    description: str
    count: Callable[[Warehouse], Count]
    severity: str = "error"
    max_failing: int = 0
    max_failing_pct: float = 0.0
    reads: tuple[str, ...] = ()  # other marts it reads (a reference's target)
    # of what it reads, where the marts' versions do not tell (the dict: digests shared by the checks of one pass)
    fingerprint: Callable[[Warehouse, dict[str, list[str]]], str] | None = None

    def run(self, wh: Warehouse) -> CheckOutcome:
        c = self.count(wh)
        pct = 100.0 * c.failing / c.rows if c.rows else 0.0
        passed = c.failing <= self.max_failing or pct <= self.max_failing_pct
        if c.failing and passed:
            tolerated = f"{self.max_failing:,} rows" if c.failing <= self.max_failing else f"{self.max_failing_pct}%"
            description = f"{c.description} (tolerated: up to {tolerated})"
        else:
            description = c.description
        return CheckOutcome(passed, description, {"failing": c.failing, "rows": c.rows,
                                                  "failing_pct": round(pct, 4), **c.metadata}, self.severity)

    def with_config(self, conf: CheckConfig | dict[str, Any] | None) -> CheckSpec:
        if conf is None:
            return self
        get = conf.get if isinstance(conf, dict) else lambda k: getattr(conf, k)
        changes: dict[str, Any] = {k: get(k) for k in ("severity", "max_failing", "max_failing_pct")
                                   if get(k) is not None}
        return replace(self, **changes) if changes else self


def _examples(wh: Warehouse, sql: str) -> str:
    rows = wh.read_frame(f"{sql} LIMIT {_EXAMPLES}")
    return ", ".join(str(v) for v in rows.iloc[:, 0]) if len(rows) else ""


# --- the golden records ------------------------------------------------------------------------------------


def golden_ids_unique(wh: Warehouse) -> CheckOutcome:
    """Each golden ID has exactly one golden record, and every golden ID of mdm.xref has one."""
    counts = wh.read_frame("SELECT COUNT(*) AS n, COUNT(DISTINCT golden_id) AS ids FROM mdm.golden_customer")
    n, ids = int(counts["n"][0]), int(counts["ids"][0])
    orphans = int(wh.scalar("SELECT COUNT(DISTINCT x.golden_id) FROM mdm.xref x LEFT JOIN mdm.golden_customer g "
                            "ON g.golden_id = x.golden_id WHERE g.golden_id IS NULL") or 0)
    dupes = _examples(wh, "SELECT golden_id FROM mdm.golden_customer GROUP BY golden_id HAVING COUNT(*) > 1 "
                          "ORDER BY golden_id") if n != ids else ""
    passed = n == ids and orphans == 0
    desc = (f"{ids:,} golden IDs, each with one golden record" if passed else
            f"{n - ids:,} duplicate golden record(s), {orphans:,} golden ID(s) of mdm.xref without a golden record")
    return CheckOutcome(passed, desc, {"golden_records": n, "golden_ids": ids, "duplicates": n - ids,
                                       "xref_ids_without_record": orphans, "examples": dupes})


def staged_customers_in_xref(wh: Warehouse) -> CheckOutcome:
    """Every staged customer record is in mdm.xref, with a golden ID."""
    missing_sql = ("SELECT c.source_name || ':' || c.stream || ':' || c.source_key AS record FROM staging.customer c "
                   "LEFT JOIN mdm.xref x ON x.source_name = c.source_name AND x.stream = c.stream "
                   "AND x.source_key = c.source_key WHERE x.golden_id IS NULL")
    counts = wh.read_frame(f"SELECT (SELECT COUNT(*) FROM staging.customer) AS staged, "
                           f"(SELECT COUNT(*) FROM ({missing_sql}) m) AS missing")
    staged, missing = int(counts["staged"][0]), int(counts["missing"][0])
    desc = (f"all {staged:,} staged customer records have a golden ID" if not missing else
            f"{missing:,} of {staged:,} staged customer records are not in mdm.xref")
    return CheckOutcome(missing == 0, desc, {"staged": staged, "missing": missing,
                                             "examples": _examples(wh, missing_sql + " ORDER BY 1") if missing else ""})


GOLDEN_CHECKS: dict[str, Callable[[Warehouse], CheckOutcome]] = {
    "golden_ids_unique": golden_ids_unique,
    "staged_customers_in_xref": staged_customers_in_xref,
}


# --- generated from marts.yaml -----------------------------------------------------------------------------


def _label(columns: tuple[str, ...], alias: str = "") -> str:
    """SQL text of a row's key for examples: `a:b:c`."""
    return " || ':' || ".join(f"COALESCE(CAST({alias}{quote(c)} AS VARCHAR), '')" for c in columns)


def _unique(doc: MartDoc) -> Callable[[Warehouse], Count]:
    key = ", ".join(quote(c) for c in doc.key)

    def count(wh: Warehouse) -> Count:
        dup_sql = f"SELECT {_label(doc.key)} AS k FROM marts.{doc.name} GROUP BY {key} HAVING COUNT(*) > 1"
        got = wh.read_frame(f"SELECT (SELECT COUNT(*) FROM marts.{doc.name}) AS n, "
                            f"(SELECT COALESCE(SUM(c - 1), 0) FROM (SELECT COUNT(*) AS c FROM marts.{doc.name} "
                            f"GROUP BY {key} HAVING COUNT(*) > 1) d) AS extra")
        n, extra = int(got["n"][0]), int(got["extra"][0])
        desc = (f"{n:,} rows, one per {', '.join(doc.key)}" if not extra else
                f"{extra:,} of {n:,} rows repeat a key ({', '.join(doc.key)}) of another row")
        return Count(extra, n, desc, {"examples": _examples(wh, dup_sql + " ORDER BY 1") if extra else ""})

    return count


def _not_null(doc: MartDoc, column: str) -> Callable[[Warehouse], Count]:
    def count(wh: Warehouse) -> Count:
        got = wh.read_frame(f"SELECT COUNT(*) AS n, COUNT(*) - COUNT({quote(column)}) AS empty FROM marts.{doc.name}")
        n, empty = int(got["n"][0]), int(got["empty"][0])
        label = doc.key if column not in doc.key else tuple(c for c in doc.key if c != column) or doc.key
        desc = (f"{column} is filled on all {n:,} rows" if not empty else
                f"{empty:,} of {n:,} rows have no {column}")
        examples = _examples(wh, f"SELECT {_label(label)} FROM marts.{doc.name} WHERE {quote(column)} IS NULL "
                                 "ORDER BY 1") if empty else ""
        return Count(empty, n, desc, {"examples": examples})

    return count


def _references(doc: MartDoc, ref: Any) -> Callable[[Warehouse], Count]:
    filled = " AND ".join(f"f.{quote(c)} IS NOT NULL" for c in ref.columns)
    on = " AND ".join(f"r.{quote(t)} = f.{quote(c)}" for c, t in zip(ref.columns, ref.columns_to, strict=True))
    to = ", ".join(quote(t) for t in ref.columns_to)
    target = f"{ref.mart}({', '.join(ref.columns_to)})"
    # (the same rows two ways: DuckDB joins the distinct targets faster; PostgreSQL's anti-join of NOT EXISTS takes a
    # third of the time of its join to the distinct targets, 0.4 against 1.2 s for 1M orders)
    joined = (f"FROM marts.{doc.name} f LEFT JOIN (SELECT DISTINCT {to} FROM marts.{ref.mart}) r ON {on} "
              f"WHERE {filled} AND r.{quote(ref.columns_to[0])} IS NULL")
    anti = f"FROM marts.{doc.name} f WHERE {filled} AND NOT EXISTS (SELECT 1 FROM marts.{ref.mart} r WHERE {on})"

    def count(wh: Warehouse) -> Count:
        orphan = anti if wh.dialect.name == "postgresql" else joined
        got = wh.read_frame(f"SELECT (SELECT COUNT(*) FROM marts.{doc.name} f WHERE {filled}) AS n, "
                            f"(SELECT COUNT(*) {orphan}) AS orphans")
        n, orphans = int(got["n"][0]), int(got["orphans"][0])
        desc = (f"all {n:,} filled {ref.name} values are in {target}" if not orphans else
                f"{orphans:,} of {n:,} rows have a {ref.name} that is not in {target}")
        examples = _examples(wh, f"SELECT DISTINCT {_label(ref.columns, 'f.')} {orphan} ORDER BY 1") if orphans else ""
        return Count(orphans, n, desc, {"examples": examples})

    return count


def _range(doc: MartDoc, column: str) -> Callable[[Warehouse], Count]:
    low, high = doc.ranges[column]
    col = quote(column)

    def count(wh: Warehouse) -> Count:
        got = wh.read_frame(f"SELECT COUNT({col}) AS n, COUNT(*) FILTER (WHERE {col} < {low!r} OR {col} > {high!r}) "
                            f"AS outside, MIN({col}) AS lowest, MAX({col}) AS highest FROM marts.{doc.name}")
        n, outside = int(got["n"][0]), int(got["outside"][0])
        desc = (f"all {n:,} filled {column} values are between {low:g} and {high:g}" if not outside else
                f"{outside:,} of {n:,} rows have a {column} outside {low:g}…{high:g}")
        meta: dict[str, int | float | str] = {"lowest": str(got["lowest"][0]), "highest": str(got["highest"][0])}
        if outside and doc.key:
            meta["examples"] = _examples(wh, f"SELECT {_label(doc.key)} FROM marts.{doc.name} "
                                             f"WHERE {col} < {low!r} OR {col} > {high!r} ORDER BY 1")
        return Count(outside, n, desc, meta)

    return count


def _complete(doc: MartDoc) -> Callable[[Warehouse], Count]:
    rule = doc.complete
    assert rule is not None
    on = " AND ".join(f"m.{quote(c)} = o.{quote(t)}" for c, t in zip(rule.columns, rule.columns_to, strict=True))
    wanted = f"FROM marts.{rule.mart} o WHERE ({rule.where})"
    missing = f"{wanted} AND NOT EXISTS (SELECT 1 FROM marts.{doc.name} m WHERE {on})"

    def count(wh: Warehouse) -> Count:
        got = wh.read_frame(f"SELECT (SELECT COUNT(*) {wanted}) AS n, (SELECT COUNT(*) {missing}) AS missing")
        n, lost = int(got["n"][0]), int(got["missing"][0])
        desc = (f"each of the {n:,} rows of {rule.mart} where {rule.where} has its row" if not lost else
                f"{lost:,} of {n:,} rows of {rule.mart} where {rule.where} have no row in {doc.name}")
        examples = _examples(wh, f"SELECT {_label(rule.columns_to, 'o.')} {missing} ORDER BY 1") if lost else ""
        return Count(lost, n, desc, {"examples": examples})

    return count


def mart_checks(doc: MartDoc) -> list[CheckSpec]:
    """The checks marts.yaml declares for one mart, with its default severities and thresholds."""
    specs = []
    if doc.key:
        specs.append(CheckSpec(f"{doc.name}.unique", doc.name, f"one row per {', '.join(doc.key)}", _unique(doc)))
    specs += [CheckSpec(f"{doc.name}.not_null.{c}", doc.name, f"{c} is never empty", _not_null(doc, c))
              for c in doc.required]
    specs += [CheckSpec(f"{doc.name}.references.{r.name}", doc.name,
                        f"every {r.name} is in {r.mart}({', '.join(r.columns_to)})", _references(doc, r),
                        reads=(r.mart,))
              for r in doc.references]
    specs += [CheckSpec(f"{doc.name}.range.{c}", doc.name, f"{c} lies between {lo:g} and {hi:g}", _range(doc, c))
              for c, (lo, hi) in doc.ranges.items()]
    if doc.complete:
        c = doc.complete
        specs.append(CheckSpec(f"{doc.name}.complete", doc.name, f"a row for every row of {c.mart} where {c.where}",
                               _complete(doc), reads=(c.mart,)))
    return [s.with_config(doc.checks.get(s.name[len(doc.name) + 1:])) for s in specs]


# --- reconciliation with raw ---------------------------------------------------------------------------------

# entity → (its fact mart, the mart's key column, the entity's date field, the mart's month column)
RECONCILED: dict[str, tuple[str, str, str, str]] = {
    "sales_order": ("fct_sales_orders", "order_key", "order_date", "order_month"),
    "payment": ("fct_payments", "payment_key", "payment_date", "payment_month"),
    "opportunity": ("fct_opportunities", "opportunity_key", "created_at", "created_month"),
}


def _reconciled(cfg: HubConfig, source: str, stream: str) -> tuple[str, str, str, str]:
    """The mart, key, date field and month column a fact stream is reconciled with."""
    entity = cfg.source(source).streams[stream].entity
    assert entity is not None and entity in RECONCILED  # (reconciliation checks exist for those streams only)
    return RECONCILED[entity]


def _raw_records(cfg: HubConfig, wh: Warehouse, source: str, stream: str) -> pa.Table | None:
    """The latest landed version of each record of a stream: key, month (yyyymm) and amount in cents, read from the
    raw text as staging reads it (each distinct date text parsed once)."""
    sc = cfg.source(source).streams[stream]
    _, _, date_field, _ = _reconciled(cfg, source, stream)
    table = raw_table(source, stream)
    with wh.begin() as conn:
        if not wh.table_exists(conn, "raw", table):
            return None
    fields = JsonFields(wh)
    date_sql, date_fmt = mapping_sql(wh, sc.mapping[date_field], fields)
    amount_sql = mapping_sql(wh, sc.mapping["amount"], fields)[0] if "amount" in sc.mapping else "NULL"
    records = fields.records(latest_sql(table))
    raw = wh.read_arrow(f"SELECT _key AS k, CAST({date_sql} AS VARCHAR) AS d, CAST({amount_sql} AS VARCHAR) AS a "
                        f"FROM ({records}) r WHERE NOT COALESCE(_deleted, FALSE)")
    dates = pc.dictionary_encode(raw.column("d").combine_chunks().cast(pa.string()))
    day, _ = parse_date(pd.Series(dates.dictionary.to_pylist(), dtype=object), date_fmt, cfg.timezone)
    day = pd.to_datetime(day)
    months = pa.array((day.dt.year * 100 + day.dt.month).astype("Int32"), pa.int32(), from_pandas=True)
    amounts = pd.Series(raw.column("a").combine_chunks().cast(pa.string()).to_numpy(zero_copy_only=False))
    return pa.table({"k": raw.column("k").combine_chunks().cast(pa.string()),
                     "month": pc.take(months, dates.indices) if len(months) else pa.nulls(raw.num_rows, pa.int32()),
                     "cents": _cents(pa.array(parse_decimal(amounts)[0]))})


def _cents(amounts: pa.Array) -> pa.Array:
    """Decimal amounts as whole cents (int64; empty stays empty)."""
    if not len(amounts):
        return pa.array([], pa.int64())
    cents = pc.multiply(amounts.cast(pa.decimal128(18, 2)), pa.scalar(Decimal(100), pa.decimal128(3, 0)))
    return cents.cast(pa.int64())


def _raw_side(cfg: HubConfig, wh: Warehouse, source: str, stream: str) -> str | None:
    """The table holding `_raw_records` of a stream (k, month, cents), kept in the warehouse beside the raw table
    and read again only when the raw table has a new version or the stream's date or amount mapping changed (a
    run that changed customers only does not parse a million order dates again). None: never synced."""
    import json

    from warehouse.changes import set_watermark, versions, watermark

    table = raw_table(source, stream)
    kept = f"_reconcile__{table}"
    sc = cfg.source(source).streams[stream]
    want = {"version": 0, "mapping": json.dumps([sc.mapping.get(_reconciled(cfg, source, stream)[2]),
                                                 sc.mapping.get("amount"),
                                                 cfg.timezone], sort_keys=True, default=str)}
    with wh.begin() as conn:
        if not wh.table_exists(conn, "raw", table):
            return None
        want["version"] = versions(conn, [f"raw.{table}"])[f"raw.{table}"]
        mark = watermark(conn, f"reconcile:{table}")
        if mark is not None and mark[1] == want and wh.table_exists(conn, "raw", kept):
            return f"raw.{quote(kept)}"
    raw = _raw_records(cfg, wh, source, stream)
    assert raw is not None
    with wh.begin() as conn:
        wh.replace_table(conn, "raw", kept, {"k": "text", "month": "integer", "cents": "integer"}, None, raw)
        wh.dialect.analyze(conn, f"raw.{quote(kept)}")
        set_watermark(conn, f"reconcile:{table}", 0, want)
    return f"raw.{quote(kept)}"


def _reconcile(cfg: HubConfig, source: str, stream: str) -> Callable[[Warehouse], Count]:
    mart, key, _, month = _reconciled(cfg, source, stream)
    mart_rows = (f"SELECT {key} AS k, CAST(EXTRACT(year FROM {month}) * 100 + EXTRACT(month FROM {month}) AS INTEGER) "
                 f"AS month, CAST(amount * 100 AS BIGINT) AS cents FROM marts.{mart} "
                 f"WHERE source_name = :s AND stream = :t")
    differs = "(r.month <> m.month OR COALESCE(r.cents, -1) <> COALESCE(m.cents, -1))"

    def count(wh: Warehouse) -> Count:
        raw_side = _raw_side(cfg, wh, source, stream)
        if raw_side is None:
            return Count(0, 0, f"no raw records of {source}.{stream} (never synced)")
        both = f"FROM {raw_side} r FULL OUTER JOIN ({mart_rows}) m ON m.k = r.k"
        params = {"s": source, "t": stream}
        with wh.begin() as conn:  # the raw side against the mart, in SQL
            found = wh.read_frame(
                "SELECT COUNT(*) FILTER (WHERE m.k IS NULL) AS missing, COUNT(*) FILTER (WHERE r.k IS NULL) AS extra, "
                f"COUNT(*) FILTER (WHERE r.k IS NOT NULL AND m.k IS NOT NULL AND {differs}) AS differ, "
                f"COUNT(m.k) AS mart_records {both}", params, conn=conn).iloc[0]
            examples = wh.read_frame(f"SELECT COALESCE(r.k, m.k) AS k {both} WHERE m.k IS NULL OR r.k IS NULL "
                                     f"OR {differs} ORDER BY 1 LIMIT {_EXAMPLES}", params, conn=conn)["k"]
            months = wh.read_frame(
                "SELECT month, SUM(raw_records) AS raw_records, SUM(raw_cents) AS raw_cents, "
                "SUM(mart_records) AS mart_records, SUM(mart_cents) AS mart_cents FROM ("
                f"SELECT month, COUNT(*) AS raw_records, COALESCE(SUM(cents), 0) AS raw_cents, 0 AS mart_records, "
                f"0 AS mart_cents FROM {raw_side} GROUP BY month UNION ALL "
                f"SELECT month, 0, 0, COUNT(*), COALESCE(SUM(cents), 0) FROM ({mart_rows}) m GROUP BY month) t "
                "GROUP BY month ORDER BY month", params, conn=conn)
        missing, extra, differ = int(found["missing"]), int(found["extra"]), int(found["differ"])
        raw_records = int(months["raw_records"].sum())
        for c in ("raw_records", "raw_cents", "mart_records", "mart_cents"):
            months[c] = months[c].astype("int64")
        off = months[(months["raw_records"] != months["mart_records"]) | (months["raw_cents"] != months["mart_cents"])]
        raw_total, mart_total = _money(months["raw_cents"].sum()), _money(months["mart_cents"].sum())
        failing = missing + extra + differ
        meta: dict[str, int | float | str] = {
            "raw_records": raw_records, "mart_records": int(found["mart_records"]), "missing_from_mart": missing,
            "not_in_raw": extra, "different": differ, "raw_total": str(raw_total), "mart_total": str(mart_total),
            "difference": str(mart_total - raw_total),
            "months_off": "; ".join(f"{_month_label(r.month)}: raw {r.raw_records:,} / {_money(r.raw_cents):,}, "
                                    f"mart {r.mart_records:,} / {_money(r.mart_cents):,}"
                                    for r in off.head(_EXAMPLES).itertuples()),
            "examples": ", ".join(str(k) for k in examples),
        }
        if not failing:
            desc = (f"{raw_records:,} records totalling {raw_total:,} in raw {source}.{stream} and in "
                    f"marts.{mart}, month by month")
        else:
            desc = (f"raw {source}.{stream} vs marts.{mart}: {missing:,} record(s) missing from the mart, "
                    f"{extra:,} not in raw, {differ:,} with another month or amount; {len(off):,} month(s) off")
        return Count(failing, raw_records, desc, meta)

    return count


def _month_label(month: Any) -> str:
    return "(no date)" if month is None or pd.isna(month) else f"{int(month) // 100:04d}-{int(month) % 100:02d}"


def _money(cents: Any) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def _reconcile_fingerprint(cfg: HubConfig, source: str, stream: str
                           ) -> Callable[[Warehouse, dict[str, list[str]]], str]:
    """What a reconciliation reads: the raw table's version, the stream's date and amount mapping, and a digest of
    the mart's key, month and amount (a mart refreshed for other golden customers reads the same), computed once
    per pass for the streams of one mart (`digests`)."""
    import json

    from warehouse.changes import versions

    mart, key, date_field, month = _reconciled(cfg, source, stream)
    sc = cfg.source(source).streams[stream]

    def fingerprint(wh: Warehouse, digests: dict[str, list[str]]) -> str:
        table = raw_table(source, stream)
        sql = wh.dialect.digest_sql(f"marts.{mart}", [["source_name", "stream", key, month, "amount"]])
        with wh.begin() as conn:
            raw = versions(conn, [f"raw.{table}"])[f"raw.{table}"]
            if sql not in digests:
                digests[sql] = [str(v) for v in conn.exec_driver_sql(sql).fetchall()[0]] if \
                    wh.table_exists(conn, "marts", mart) else ["no mart"]
        return json.dumps([raw, sc.mapping.get(date_field), sc.mapping.get("amount"), cfg.timezone, digests[sql]],
                          sort_keys=True, default=str)

    return fingerprint


def reconcile_checks(cfg: HubConfig) -> list[CheckSpec]:
    """A reconciliation check for every enabled stream of sales orders, payments and opportunities."""
    return [CheckSpec(f"reconcile.{name}.{stream}", RECONCILED[sc.entity][0],
                      f"raw {name}.{stream} record by record and month by month against marts."
                      f"{RECONCILED[sc.entity][0]}", _reconcile(cfg, name, stream),
                      fingerprint=_reconcile_fingerprint(cfg, name, stream))
            for name, src in cfg.sources.items() if src.enabled
            for stream, sc in src.streams.items() if sc.entity in RECONCILED]


# --- all together -------------------------------------------------------------------------------------------


def planned_checks(cfg: HubConfig | None = None) -> dict[str, CheckSpec]:
    """Every data check on the marts, by name, with the config's severities and thresholds applied."""
    specs = [s for doc in all_mart_docs().values() for s in mart_checks(doc)]
    specs += reconcile_checks(cfg) if cfg is not None else []
    overrides = cfg.marts.checks if cfg is not None else {}
    return {s.name: s.with_config(overrides.get(s.name)) for s in specs}


def unknown_check_names(cfg: HubConfig) -> list[str]:
    """Names in the config's `marts.checks` that are no check."""
    known = set(planned_checks(cfg)) | set(GOLDEN_CHECKS)
    return [n for n in cfg.marts.checks if n not in known]


def _mart_tables(spec: CheckSpec) -> list[str] | None:
    """The tables a check generated from marts.yaml reads (its mart and the marts it refers to); None for the
    others (reconciliations read raw too)."""
    if spec.name.startswith("reconcile."):
        return None
    return sorted({f"marts.{spec.asset}", *(f"marts.{m}" for m in spec.reads)})


def _signature(spec: CheckSpec) -> list[Any]:
    return [spec.description, spec.severity, spec.max_failing, spec.max_failing_pct]


def run_checks_if_changed(wh: Warehouse, cfg: HubConfig | None = None, names: list[str] | None = None,
                          consumer: str = "checks") -> dict[str, CheckOutcome]:
    """`run_checks`, for the checks whose tables changed (through the pipeline) since the checks last ran: a mart
    check whose mart (and the marts it refers to) kept its version, and a reconciliation whose raw table, mapping
    and mart rows (`_reconcile_fingerprint`) are the same, with the same severity and thresholds, keeps its
    outcome; the golden checks run again whenever anything changed, and nothing runs when nothing changed (a
    nightly run with nothing new reads nothing). `names`: only those mart checks (no golden one), remembered under
    `consumer` (Dagster runs each mart's checks after it)."""
    import json

    from warehouse.changes import set_watermark, watermark

    with wh.begin() as conn:
        seen: dict[str, int] = dict(conn.exec_driver_sql("SELECT table_name, version FROM raw._versions").fetchall())
        mark = watermark(conn, consumer)
    specs = planned_checks(cfg)
    if names is not None:
        specs = {n: specs[n] for n in names}
    plan = sorted(specs)
    before = mark[1] if mark is not None else {}
    if mark is not None and before.get("versions") == seen and before.get("plan") == plan:
        return {name: CheckOutcome(**o) for name, o in before["outcomes"].items()}
    kept: dict[str, CheckOutcome] = {}
    earlier, signatures = before.get("versions") or {}, before.get("signatures") or {}
    shared: dict[str, list[str]] = {}
    prints = {name: spec.fingerprint(wh, shared) for name, spec in specs.items() if spec.fingerprint is not None}
    for name, spec in specs.items():
        if name not in (before.get("outcomes") or {}) or signatures.get(name) != _signature(spec):
            continue
        tables = _mart_tables(spec)
        if (name in prints and prints[name] == (before.get("fingerprints") or {}).get(name)) or (
                tables is not None and all(t in seen and seen[t] == earlier.get(t) for t in tables)):
            kept[name] = CheckOutcome(**before["outcomes"][name])
    log.debug("checks kept: %d; run again: %s", len(kept), ", ".join(n for n in specs if n not in kept))
    out = run_checks(wh, cfg, kept, names)
    with wh.begin() as conn:
        set_watermark(conn, consumer, 0, {"versions": seen, "plan": plan, "outcomes": {
            n: {"passed": o.passed, "description": o.description, "severity": o.severity,
                "metadata": json.loads(json.dumps(o.metadata, default=str))} for n, o in out.items()},
            "signatures": {n: _signature(s) for n, s in specs.items()}, "fingerprints": prints})
    return out


SESSIONS = 4
"""PostgreSQL sessions the checks of one pass run on at once: each check is a read-only query or two of its own,
and a server runs each session's on its own core (on DuckDB they run one after another: each query already uses
every core). Those sessions plan no parallel workers (`max_parallel_workers_per_gather = 0`): beside three other
sessions a query's workers only share the same cores (the 40 checks of a 1% rerun at 1M: 6.1–6.4 → 4.7–5.6 s)."""


def _each(wh: Warehouse, checks: list[Callable[[Warehouse], CheckOutcome]]) -> list[CheckOutcome]:
    """The outcome of each check, in order: on PostgreSQL `SESSIONS` at a time."""
    if wh.dialect.name != "postgresql" or len(checks) < 2:
        return [check(wh) for check in checks]
    serial = wh.with_postgres_settings(max_parallel_workers_per_gather="0")
    try:
        with ThreadPoolExecutor(SESSIONS, thread_name_prefix="check") as pool:
            return list(pool.map(lambda check: check(serial), checks))
    finally:
        serial.dispose()


def run_checks(wh: Warehouse, cfg: HubConfig | None = None, kept: dict[str, CheckOutcome] | None = None,
               names: list[str] | None = None) -> dict[str, CheckOutcome]:
    """The golden-record checks, then every mart check (and, given the config, the reconciliations), by name;
    those in `kept` are not run again (their outcome stands). `names`: only those mart checks."""
    out: dict[str, CheckOutcome] = {}
    if names is None:
        out.update(zip(GOLDEN_CHECKS, _each(wh, list(GOLDEN_CHECKS.values())), strict=True))
        for name in unknown_check_names(cfg) if cfg is not None else []:
            out[f"config.marts.checks.{name}"] = CheckOutcome(
                False, f"marts.checks: there is no check named {name!r} (see `hub checks list`)")
    specs = planned_checks(cfg)
    if names is not None:
        specs = {n: specs[n] for n in names}
    kept = kept or {}
    todo = [name for name in specs if name not in kept]
    ran = dict(zip(todo, _each(wh, [specs[name].run for name in todo]), strict=True))
    out.update({name: kept.get(name) or ran[name] for name in specs})
    return out
