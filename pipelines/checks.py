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

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hub.config import CheckConfig, HubConfig
from pipelines.coerce import parse_date, parse_decimal
from pipelines.stage import latest_sql, mapping_sql
from warehouse.engine import Warehouse
from warehouse.identifiers import quote
from warehouse.marts.catalog import MartDoc, mart_docs
from warehouse.raw import raw_table

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
        out = self
        for key in ("severity", "max_failing", "max_failing_pct"):
            if get(key) is not None:
                out = replace(out, **{key: get(key)})
        return out


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
                          "ORDER BY golden_id")
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
    missing = int(wh.scalar(f"SELECT COUNT(*) FROM ({missing_sql}) m") or 0)
    staged = int(wh.scalar("SELECT COUNT(*) FROM staging.customer") or 0)
    desc = (f"all {staged:,} staged customer records have a golden ID" if not missing else
            f"{missing:,} of {staged:,} staged customer records are not in mdm.xref")
    return CheckOutcome(missing == 0, desc, {"staged": staged, "missing": missing,
                                             "examples": _examples(wh, missing_sql + " ORDER BY 1")})


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
    orphan = (f"FROM marts.{doc.name} f LEFT JOIN (SELECT DISTINCT {to} FROM marts.{ref.mart}) r ON {on} "
              f"WHERE {filled} AND r.{quote(ref.columns_to[0])} IS NULL")

    def count(wh: Warehouse) -> Count:
        got = wh.read_frame(f"SELECT (SELECT COUNT(*) FROM marts.{doc.name} f WHERE {filled}) AS n, "
                            f"(SELECT COUNT(*) {orphan}) AS orphans")
        n, orphans = int(got["n"][0]), int(got["orphans"][0])
        desc = (f"all {n:,} filled {ref.name} values are in {target}" if not orphans else
                f"{orphans:,} of {n:,} rows have a {ref.name} that is not in {target}")
        examples = _examples(wh, f"SELECT DISTINCT {_label(ref.columns, 'f.')} {orphan} ORDER BY 1") if orphans else ""
        return Count(orphans, n, desc, {"examples": examples})

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
    return [s.with_config(doc.checks.get(s.name[len(doc.name) + 1:])) for s in specs]


# --- reconciliation with raw ---------------------------------------------------------------------------------

# entity → (its fact mart, the mart's key column, the entity's date field, the mart's month column)
RECONCILED: dict[str, tuple[str, str, str, str]] = {
    "sales_order": ("fct_sales_orders", "order_key", "order_date", "order_month"),
    "payment": ("fct_payments", "payment_key", "payment_date", "payment_month"),
    "opportunity": ("fct_opportunities", "opportunity_key", "created_at", "created_month"),
}


def _raw_records(cfg: HubConfig, wh: Warehouse, source: str, stream: str) -> pd.DataFrame | None:
    """The latest landed version of each record of a stream: key, month and amount in cents, read from the raw
    text as staging reads it."""
    sc = cfg.source(source).streams[stream]
    _, _, date_field, _ = RECONCILED[sc.entity]
    table = raw_table(source, stream)
    with wh.begin() as conn:
        if not wh.table_exists(conn, "raw", table):
            return None
    date_sql, date_fmt = mapping_sql(wh, sc.mapping[date_field])
    amount_sql = mapping_sql(wh, sc.mapping["amount"])[0] if "amount" in sc.mapping else "NULL"
    raw = wh.read_frame(f"SELECT _key AS k, {date_sql} AS d, {amount_sql} AS a FROM ({latest_sql(table)}) r")
    day, _ = parse_date(raw["d"], date_fmt, cfg.timezone)
    return pd.DataFrame({"k": raw["k"].astype(str), "month": _month_text(day),
                         "cents": _cents(pa.array(parse_decimal(raw["a"])[0]))})


def _month_text(day: pd.Series) -> pd.Series:
    day = pd.to_datetime(day)
    return day.dt.strftime("%Y-%m").where(day.notna(), "(no date)")


def _cents(amounts: pa.Array) -> pd.Series:
    """Decimal amounts as whole cents (Int64; empty stays empty)."""
    if pa.types.is_null(amounts.type) or not len(amounts):
        return pd.Series(pd.array([None] * len(amounts), dtype="Int64"))
    if not pa.types.is_decimal(amounts.type):
        amounts = amounts.cast(pa.string()).cast(pa.decimal128(18, 2))
    cents = pc.multiply(amounts.cast(pa.decimal128(18, 2)), pa.scalar(Decimal(100), pa.decimal128(3, 0)))
    return pd.Series(cents.cast(pa.int64()).to_pandas(types_mapper=pd.ArrowDtype)).astype("Int64")


def _reconcile(cfg: HubConfig, source: str, stream: str) -> Callable[[Warehouse], Count]:
    entity = cfg.source(source).streams[stream].entity
    mart, key, _, month = RECONCILED[entity]

    def count(wh: Warehouse) -> Count:
        raw = _raw_records(cfg, wh, source, stream)
        if raw is None:
            return Count(0, 0, f"no raw records of {source}.{stream} (never synced)")
        got = wh.read_arrow(f"SELECT {key} AS k, {month} AS m, amount AS a FROM marts.{mart} "
                            "WHERE source_name = :s AND stream = :t", {"s": source, "t": stream})
        marts = pd.DataFrame({"k": got.column("k").to_pandas().astype(str),
                              "month": _month_text(got.column("m").to_pandas()),
                              "cents": _cents(got.column("a").combine_chunks())})
        both = raw.merge(marts, on="k", how="outer", suffixes=("_raw", "_mart"), indicator=True)
        missing = both["_merge"] == "left_only"
        extra = both["_merge"] == "right_only"
        differ = (both["_merge"] == "both") & ((both["month_raw"] != both["month_mart"])
                                               | (both["cents_raw"].fillna(-1) != both["cents_mart"].fillna(-1)))
        failing = int(missing.sum() + extra.sum() + differ.sum())
        months = _per_month(raw, marts)
        off = months[(months["raw_records"] != months["mart_records"]) | (months["raw_cents"] != months["mart_cents"])]
        raw_total, mart_total = _money(months["raw_cents"].sum()), _money(months["mart_cents"].sum())
        meta: dict[str, int | float | str] = {
            "raw_records": len(raw), "mart_records": len(marts), "missing_from_mart": int(missing.sum()),
            "not_in_raw": int(extra.sum()), "different": int(differ.sum()),
            "raw_total": str(raw_total), "mart_total": str(mart_total), "difference": str(mart_total - raw_total),
            "months_off": "; ".join(f"{r.month}: raw {r.raw_records:,} / {_money(r.raw_cents):,}, mart "
                                    f"{r.mart_records:,} / {_money(r.mart_cents):,}"
                                    for r in off.head(_EXAMPLES).itertuples()),
            "examples": ", ".join(both.loc[missing | extra | differ, "k"].head(_EXAMPLES)),
        }
        if not failing:
            desc = (f"{len(raw):,} records totalling {raw_total:,} in raw {source}.{stream} and in "
                    f"marts.{mart}, month by month")
        else:
            desc = (f"raw {source}.{stream} vs marts.{mart}: {int(missing.sum()):,} record(s) missing from the mart, "
                    f"{int(extra.sum()):,} not in raw, {int(differ.sum()):,} with another month or amount; "
                    f"{len(off):,} month(s) off")
        return Count(failing, len(raw), desc, meta)

    return count


def _money(cents: Any) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def _per_month(raw: pd.DataFrame, marts: pd.DataFrame) -> pd.DataFrame:
    """Records and total cents per month on each side."""
    def totals(df: pd.DataFrame, side: str) -> pd.DataFrame:
        return df.groupby("month").agg(**{f"{side}_records": ("k", "size"), f"{side}_cents": ("cents", "sum")})

    out = totals(raw, "raw").join(totals(marts, "mart"), how="outer").fillna(0).reset_index()
    for c in ("raw_records", "mart_records", "raw_cents", "mart_cents"):
        out[c] = out[c].astype("int64")
    return out.sort_values("month")


def reconcile_checks(cfg: HubConfig) -> list[CheckSpec]:
    """A reconciliation check for every enabled stream of sales orders, payments and opportunities."""
    return [CheckSpec(f"reconcile.{name}.{stream}", RECONCILED[sc.entity][0],
                      f"raw {name}.{stream} record by record and month by month against marts."
                      f"{RECONCILED[sc.entity][0]}", _reconcile(cfg, name, stream))
            for name, src in cfg.sources.items() if src.enabled
            for stream, sc in src.streams.items() if sc.entity in RECONCILED]


# --- all together -------------------------------------------------------------------------------------------


def planned_checks(cfg: HubConfig | None = None) -> dict[str, CheckSpec]:
    """Every data check on the marts, by name, with the config's severities and thresholds applied."""
    specs = [s for doc in mart_docs().values() for s in mart_checks(doc)]
    specs += reconcile_checks(cfg) if cfg is not None else []
    overrides = cfg.marts.checks if cfg is not None else {}
    return {s.name: s.with_config(overrides.get(s.name)) for s in specs}


def unknown_check_names(cfg: HubConfig) -> list[str]:
    """Names in the config's `marts.checks` that are no check."""
    known = set(planned_checks(cfg)) | set(GOLDEN_CHECKS)
    return [n for n in cfg.marts.checks if n not in known]


def run_checks(wh: Warehouse, cfg: HubConfig | None = None) -> dict[str, CheckOutcome]:
    """The golden-record checks, then every mart check (and, given the config, the reconciliations), by name."""
    out = {name: check(wh) for name, check in GOLDEN_CHECKS.items()}
    if cfg is not None:
        for name in unknown_check_names(cfg):
            out[f"config.marts.checks.{name}"] = CheckOutcome(
                False, f"marts.checks: there is no check named {name!r} (see `hub checks list`)")
    out.update({name: spec.run(wh) for name, spec in planned_checks(cfg).items()})
    return out
