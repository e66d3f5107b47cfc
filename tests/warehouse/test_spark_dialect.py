"""Spark SQL's differences from the portable SQL (`warehouse.spark.dialect`), and that no DuckDB run loads pyspark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.spark.dialect import spark_sql

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("portable", "spark"), [
    ('SELECT r."name" AS "a""b"', "SELECT r.`name` AS `a\"b`"),
    ("SELECT 'say \"hi\"', 'it''s'", "SELECT 'say \"hi\"', 'it''s'"),  # string literals untouched
    ("CAST(x AS VARCHAR), CAST(y AS TEXT), CAST(z AS VARCHAR(10))",
     "CAST(x AS STRING), CAST(y AS STRING), CAST(z AS VARCHAR(10))"),
    ("CAST(t AS TIMESTAMP), TIMESTAMP '1900-01-01 00:00:00'",
     "CAST(t AS TIMESTAMP_NTZ), TIMESTAMP_NTZ '1900-01-01 00:00:00'"),
    ("string_agg(source_name, ', ' ORDER BY source_name)", "array_join(array_sort(collect_list(source_name)), ', ')"),
    ("string_agg(DISTINCT r.source_name, ', ' ORDER BY r.source_name)",
     "array_join(array_sort(collect_set(r.source_name)), ', ')"),
    ("string_agg(product, ', ' ORDER BY amount DESC, product)",
     "listagg(product, ', ') WITHIN GROUP (ORDER BY amount DESC, product)"),
    ("regexp_replace(phone, '[^0-9]', '', 'g')", "regexp_replace(phone, '[^0-9]', '')"),
    ("n.code SIMILAR TO '[0-9A-Z]{18}'", "n.code RLIKE '^(?:[0-9A-Z]{18})$'"),
    ("strpos(name, '公司')", "instr(name, '公司')"),
    ("EXTRACT(isodow FROM d), EXTRACT(isoyear FROM d)", "EXTRACT(DAYOFWEEK_ISO FROM d), EXTRACT(YEAROFWEEK FROM d)"),
    ("GREATEST(CAST(COALESCE(n.left_at, n.entered_at) AS DATE) - CAST(n.entered_at AS DATE), 0)",
     "GREATEST(CAST(datediff(CAST(COALESCE(n.left_at, n.entered_at) AS DATE), CAST(n.entered_at AS DATE)) AS BIGINT), "
     "0)"),
    ("l.won_date - l.opportunity_date AS days", "CAST(datediff(l.won_date, l.opportunity_date) AS BIGINT) AS days"),
    ("SELECT '--x' -- a comment with \"quotes\" and AS VARCHAR\n;", "SELECT '--x'"),
])
def test_portable_sql_is_rewritten_for_spark(portable: str, spark: str) -> None:
    assert spark_sql(portable) == spark


def test_a_duckdb_run_never_loads_pyspark() -> None:
    """The CLI, the DuckDB run and even the Spark engine's modules import pyspark only when a session is made."""
    code = ("import sys, hub.cli, pipelines.run, pipelines.spark_run, pipelines.spark_match, "
            "warehouse.spark.lakehouse, dagster_project.definitions; "
            "assert 'pyspark' not in sys.modules, 'pyspark was imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
