"""What Spark SQL needs differently from the portable SQL the hub writes (as `warehouse/dialects.py` holds it for
DuckDB and PostgreSQL): type names, the few functions spelled otherwise, the warehouse's column kinds as Spark
types. The mart and survivorship SQL is written once; `spark_sql` rewrites it for Spark."""

from __future__ import annotations

import re
from typing import Any

# The portable column kinds of `warehouse.dialects.Dialect.types` as Spark SQL types.
SPARK_TYPES: dict[str, str] = {
    "text": "STRING", "json": "STRING", "timestamp": "TIMESTAMP_NTZ", "date": "DATE", "decimal": "DECIMAL(18,2)",
    "rate": "DECIMAL(18,8)", "integer": "BIGINT", "float": "DOUBLE", "boolean": "BOOLEAN",
}

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    # CAST(x AS VARCHAR) / TEXT: Spark's text type is STRING (VARCHAR needs a length there)
    (re.compile(r"\bAS\s+(VARCHAR|TEXT)\b(?!\s*\()", re.IGNORECASE), "AS STRING"),
    (re.compile(r"::\s*(VARCHAR|TEXT)\b", re.IGNORECASE), "::STRING"),
    # a naive timestamp literal or cast stays naive (the warehouse's wall-clock times)
    (re.compile(r"\bAS\s+TIMESTAMP\b(?!_)", re.IGNORECASE), "AS TIMESTAMP_NTZ"),
    (re.compile(r"\bTIMESTAMP\s+'", re.IGNORECASE), "TIMESTAMP_NTZ '"),
    (re.compile(r"\bDOUBLE PRECISION\b", re.IGNORECASE), "DOUBLE"),
    # regexp_replace(s, p, r, 'g'): Spark always replaces every match (its fourth argument is a position)
    (re.compile(r",\s*'g'\s*\)"), ")"),
    # x SIMILAR TO 'p' (the whole text matches p) → x RLIKE '^(?:p)$'
    (re.compile(r"([\w.]+)\s+SIMILAR\s+TO\s+'([^']*)'", re.IGNORECASE), r"\1 RLIKE '^(?:\2)$'"),
    (re.compile(r"\bstrpos\(", re.IGNORECASE), "instr("),
    # EXTRACT's ISO fields under Spark's names
    (re.compile(r"\bEXTRACT\(\s*isodow\b", re.IGNORECASE), "EXTRACT(DAYOFWEEK_ISO"),
    (re.compile(r"\bEXTRACT\(\s*isoyear\b", re.IGNORECASE), "EXTRACT(YEAROFWEEK"),
    # the days between two dates: a number in DuckDB and PostgreSQL, an interval in Spark (see also _date_diffs)
    (re.compile(r"\b(s\.last_day)\s*-\s*(s\.first_day)\b"), r"CAST(datediff(\1, \2) AS BIGINT)"),
    (re.compile(r"\b([a-z]\.\w+_date)\s*-\s*([a-z]\.\w+_date)\b"), r"CAST(datediff(\1, \2) AS BIGINT)"),
)
_CAST_DATE_MINUS = re.compile(r"AS DATE\)\s*-\s*CAST\(", re.IGNORECASE)


def _date_diffs(sql: str) -> str:
    """`CAST(a AS DATE) - CAST(b AS DATE)` (days, in DuckDB and PostgreSQL) → `datediff(CAST(a AS DATE), CAST(b AS
    DATE))`: both operands found by their balanced parentheses."""
    while (m := _CAST_DATE_MINUS.search(sql)) is not None:
        close = m.start() + len("AS DATE")          # the ")" closing the left CAST(
        depth, i = 0, close
        while i >= 0:
            depth += {")": 1, "(": -1}.get(sql[i], 0)
            if depth == 0:
                break
            i -= 1
        start = i - len("CAST")
        j, depth = m.end() - 1, 0                   # the "(" opening the right CAST(
        while j < len(sql):
            depth += {"(": 1, ")": -1}.get(sql[j], 0)
            if depth == 0:
                break
            j += 1
        left, right = sql[start:close + 1], sql[m.end() - len("CAST("):j + 1]
        sql = f"{sql[:start]}CAST(datediff({left}, {right}) AS BIGINT){sql[j + 1:]}"
    return sql
# string_agg(x, ', ' ORDER BY y) → listagg(x, ', ') WITHIN GROUP (ORDER BY y)  (Spark 4)
_STRING_AGG = re.compile(r"\bstring_agg\(\s*([^,()]+?)\s*,\s*('[^']*')\s+ORDER BY\s+([^()]+?)\)", re.IGNORECASE)


_QUOTED = re.compile(r"'(?:[^']|'')*'|\"((?:[^\"]|\"\")*)\"|(--[^\n]*)")


def _identifiers(sql: str) -> str:
    """Standard SQL's "identifier" as Spark's `identifier`, comments dropped (string literals left alone)."""
    def repl(m: re.Match[str]) -> str:
        if m.group(2) is not None:
            return ""
        if m.group(1) is None:
            return m.group(0)
        return "`" + m.group(1).replace('""', '"').replace("`", "``") + "`"
    return _QUOTED.sub(repl, sql)


def _string_agg(m: re.Match[str]) -> str:
    """string_agg ordered by its own value: the sorted (distinct) values joined, which Spark plans reliably (two
    `listagg(DISTINCT ...) WITHIN GROUP` in one aggregate fail in Spark 4.3); any other order: `listagg`."""
    value, sep, order = m.group(1).strip(), m.group(2), m.group(3).strip()
    distinct = value.upper().startswith("DISTINCT ")
    bare = value[len("DISTINCT "):].strip() if distinct else value
    if order == bare:
        return f"array_join(array_sort({'collect_set' if distinct else 'collect_list'}({bare})), {sep})"
    return f"listagg({value}, {sep}) WITHIN GROUP (ORDER BY {order})"


def spark_sql(sql: str) -> str:
    """Portable SQL (as run on DuckDB and PostgreSQL) as Spark SQL."""
    out = _identifiers(sql)  # (comments go first: they may hold anything the rewrites would touch)
    out = _date_diffs(_STRING_AGG.sub(_string_agg, out))
    for pattern, repl in _REWRITES:
        out = pattern.sub(repl, out)
    return out.strip().rstrip(";").strip()


def spark_schema(columns: dict[str, str]) -> Any:
    """A Spark StructType of the warehouse's column kinds (name → kind)."""
    from pyspark.sql.types import StructType, _parse_datatype_string

    fields = ", ".join(f"`{name}` {SPARK_TYPES[kind]}" for name, kind in columns.items())
    parsed = _parse_datatype_string(fields)  # (a list of fields parses to a StructType)
    if not isinstance(parsed, StructType):
        raise TypeError(f"not a list of columns: {fields}")
    return parsed
