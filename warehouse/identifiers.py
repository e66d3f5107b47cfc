"""Quoting of SQL identifiers that come from configuration.

Table, column and schema names from the config are never pasted into SQL as they are:
they are quoted here (embedded quotes doubled), so no config value can inject SQL.
"""

from __future__ import annotations

import re

SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def quote(name: str) -> str:
    """Quote one identifier: `a"b` → `"a""b"`. Rejects empty names and NUL bytes."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"invalid SQL identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_qualified(name: str) -> str:
    """Quote a possibly schema-qualified name given as `schema.table` (dots separate parts)."""
    return ".".join(quote(p) for p in name.split("."))


def safe_name(name: str, what: str = "name") -> str:
    """Return `name` if it is a plain identifier (letters, digits, _), else raise naming it."""
    if not SAFE_NAME.match(name or ""):
        raise ValueError(f"{what} {name!r} must be a letter or _ followed by letters, digits or _")
    return name
