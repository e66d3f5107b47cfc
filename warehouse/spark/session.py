"""The SparkSession of a `engine: {kind: spark}` config, built once per process.

Defaults keep a local run small (a few shuffle partitions, no UI) and never download anything: no
`spark.jars.packages`, no Ivy. Everything in `engine.conf` is passed to Spark as given and wins over the defaults.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

# Settings for every session the hub builds; `engine.conf` overrides any of them.
DEFAULT_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.session.timeZone": "UTC",           # timestamps are the warehouse's naive wall-clock times
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.ansi.enabled": "false",             # the marts' SQL was written for DuckDB's and PostgreSQL's casts
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


class SparkMissing(RuntimeError):
    """pyspark (or Java) is not installed."""


def require_pyspark() -> Any:
    """The pyspark module, or an error saying how to install it."""
    try:
        import pyspark
    except ImportError:
        raise SparkMissing("engine kind spark needs pyspark: pip install 'customer-hub[spark]' (and Java 17)") from None
    return pyspark


def spark_session(master: str = "local[2]", conf: Mapping[str, Any] | None = None,
                  app_name: str = "customer-hub") -> SparkSession:
    """The process's SparkSession for `master` with the hub's defaults and `conf` (an existing active session is
    reused: Spark allows one per JVM)."""
    require_pyspark()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    if master.startswith("local"):  # the workers run this interpreter (a cluster's executors bring their own)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {**DEFAULT_CONF, **{k: _text(v) for k, v in (conf or {}).items()}}
    settings.setdefault("spark.local.dir", os.path.join(tempfile.gettempdir(), "hub-spark"))
    builder = SparkSession.builder.master(master).appName(app_name)
    for k, v in settings.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("HUB_SPARK_LOG_LEVEL", "ERROR"))
    for k, v in settings.items():  # a reused session takes the runtime (SQL) settings too
        if k.startswith("spark.sql.") and not k.startswith("spark.sql.catalogImplementation"):
            spark.conf.set(k, v)
    return spark


def _text(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)
