"""`sql` connector: any SQLAlchemy-readable database table or query, incremental on a cursor column."""

from connectors.sql.source import SqlSource, create_source

__all__ = ["SqlSource", "create_source"]
