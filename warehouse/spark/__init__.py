"""The Spark engine's side of the warehouse: the SparkSession, the Parquet lakehouse and Spark SQL's dialect.

Nothing here is imported by a DuckDB or PostgreSQL run: `pyspark` is imported inside the functions that need it
(`warehouse.spark.session.spark_session`), so the default engine never loads it.
"""
