"""`file` connector: CSV (any encoding), XLSX and JSON Lines files, one path or a glob, incremental by file."""

from connectors.file.source import FileSource, create_source

__all__ = ["FileSource", "create_source"]
