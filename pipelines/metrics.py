"""The master data's health after each run, kept as history: `mdm.run_metrics`, one row per run and measure.

The console's MDM health page draws its "over time" charts from it (golden customers, records, customers in
two or more systems, duplicates resolved, review queue, data quality per source and field, quarantined records).
Written by `hub run` once the marts are built, before the checks. A run that changed no table of the warehouse
since the last metrics writes nothing (its measures could not differ), so a nightly run without news adds no row
and leaves every version as it was.

Measures (`source_name`, `stream`, `field` empty unless said):

- `golden_customers`, `source_records` (rows of mdm.xref), `multi_system_customers` (golden customers held by two
  or more source systems), `merged_ids` (golden IDs ever retired into another: mdm.golden_id_history, reasons
  `merged` and `manual_merge`), `review_open` (open review items), `decisions_active` (steward decisions in force);
- per `source_name`: `source_records`;
- per `source_name` and `stream`: `quarantined` (records of the stream rejected at staging or refused at landing);
- per customer stream and `field` (marts.data_quality): `completeness_pct`, and `validity_pct` for fields a
  validity rule checks (tax code, phone, mobile, e-mail, owner).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import sqlalchemy as sa

from pipelines.stage import ensure_staging
from warehouse.changes import bump, set_watermark, watermark
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse, value

log = logging.getLogger("hub.metrics")

TABLE = "run_metrics"
COLUMNS: dict[str, str] = {"run_id": "text", "run_at": "timestamp", "measure": "text", "source_name": "text",
                           "stream": "text", "field": "text", "value": "float"}
GLOBAL_MEASURES = ("golden_customers", "source_records", "multi_system_customers", "merged_ids", "review_open",
                   "decisions_active")

# Every measure of one run, as (measure, source_name, stream, field, value); computed by the warehouse.
MEASURES_SQL = """
SELECT 'golden_customers' AS measure, CAST(NULL AS VARCHAR) AS source_name, CAST(NULL AS VARCHAR) AS stream,
       CAST(NULL AS VARCHAR) AS field, CAST(COUNT(*) AS DOUBLE PRECISION) AS value
FROM mdm.golden_customer
UNION ALL
SELECT 'multi_system_customers', NULL, NULL, NULL, CAST(COUNT(*) AS DOUBLE PRECISION)
FROM mdm.golden_customer WHERE system_count >= 2
UNION ALL
SELECT 'source_records', NULL, NULL, NULL, CAST(COUNT(*) AS DOUBLE PRECISION) FROM mdm.xref
UNION ALL
SELECT 'merged_ids', NULL, NULL, NULL, CAST(COUNT(*) AS DOUBLE PRECISION)
FROM mdm.golden_id_history WHERE reason IN ('merged', 'manual_merge')
UNION ALL
SELECT 'review_open', NULL, NULL, NULL, CAST(COUNT(*) AS DOUBLE PRECISION)
FROM mdm.review_queue WHERE status = 'open'
UNION ALL
SELECT 'decisions_active', NULL, NULL, NULL, CAST(COUNT(*) AS DOUBLE PRECISION)
FROM mdm.decisions WHERE active
UNION ALL
SELECT 'source_records', source_name, NULL, NULL, CAST(COUNT(*) AS DOUBLE PRECISION)
FROM mdm.xref GROUP BY source_name
UNION ALL
SELECT 'quarantined', source_name, stream, NULL, CAST(MAX(quarantined) AS DOUBLE PRECISION)
FROM marts.data_quality GROUP BY source_name, stream
UNION ALL
SELECT 'completeness_pct', source_name, stream, field, CAST(completeness_pct AS DOUBLE PRECISION)
FROM marts.data_quality WHERE entity = 'customer' AND field IS NOT NULL
UNION ALL
SELECT 'validity_pct', source_name, stream, field, CAST(validity_pct AS DOUBLE PRECISION)
FROM marts.data_quality WHERE entity = 'customer' AND field IS NOT NULL AND checked > 0
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ensure_metrics(wh: Warehouse, conn: sa.Connection) -> None:
    """Create `mdm.run_metrics` if missing (idempotent)."""
    conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS mdm")
    wh.create_table(conn, "mdm", TABLE, COLUMNS)


def record_run_metrics(wh: Warehouse, now: dt.datetime | None = None) -> int:
    """Append this run's measures to `mdm.run_metrics` (in one transaction, bumping its version), unless no table
    changed since the last metrics were written; returns the rows written (0 when skipped)."""
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
        ensure_metrics(wh, conn)
        if not wh.table_exists(conn, "marts", "data_quality"):
            log.info("run metrics: no marts yet, nothing recorded")
            return 0
        seen: dict[str, int] = dict(conn.exec_driver_sql("SELECT table_name, version FROM raw._versions").fetchall())
        mark = watermark(conn, "metrics")
        if mark is not None and mark[1].get("versions") == seen:
            return 0
        run_id, run_at = uuid.uuid4().hex[:16], now or _now()
        conn.execute(sa.text(f"INSERT INTO mdm.{TABLE} (run_id, run_at, measure, source_name, stream, field, value) "
                             f"SELECT :run_id, :run_at, measure, source_name, stream, field, value "
                             f"FROM ({MEASURES_SQL}) m"), {"run_id": run_id, "run_at": run_at})
        rows = int(value(conn, f"SELECT count(*) FROM mdm.{TABLE} WHERE run_id = :r", {"r": run_id}) or 0)
        bump(conn, f"mdm.{TABLE}")
        after: dict[str, int] = dict(conn.exec_driver_sql("SELECT table_name, version FROM raw._versions").fetchall())
        set_watermark(conn, "metrics", 0, {"versions": after, "run_id": run_id})
    log.info("run metrics: %d measures recorded for run %s", rows, run_id)
    return rows
