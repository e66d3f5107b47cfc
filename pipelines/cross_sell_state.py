"""What a refresh of `marts.cross_sell` needs beyond the changed golden IDs: the numbers it last counted as telling.

A number shared by a few golden customers relates them (the `telling` numbers of cross_sell.sql). When a changed
customer takes a number or leaves it, the number may begin or stop relating customers that did not change (six
share a switchboard, which tells nothing; one leaves, and the other five become related). Each write of the mart
keeps the telling numbers (`raw._cross_sell_telling`, in the same transaction); a refresh counts them again, adds the
golden customers holding a number that joined or left the set to the changed ones, and keeps the new set.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from sqlalchemy.engine import Connection

from warehouse.engine import Warehouse

MART = "cross_sell"
STATE = "raw._cross_sell_telling"
_TELLING = re.compile(r"\btelling AS \(\s*(?P<select>SELECT .*?)\s*^\),", re.M | re.S)


@functools.cache
def telling_sql() -> str:
    """The SELECT of the telling numbers, as cross_sell.sql writes it (one definition)."""
    found = _TELLING.search(resources.files("warehouse.marts").joinpath(f"{MART}.sql").read_text(encoding="utf-8"))
    assert found, "cross_sell.sql: no `telling AS (SELECT …)` to keep"
    return found["select"]


def counted_sql(sql: str) -> str:
    """The mart's SELECT reading the numbers `add_changed_holders` counted (`_hub_telling`) instead of counting them
    again (for a refresh, after it)."""
    assert telling_sql() in sql, "cross_sell: the SELECT to refresh has no `telling` count"
    return sql.replace(telling_sql(), "SELECT phone FROM _hub_telling")


def _ensure_state(conn: Connection) -> None:
    """The kept numbers' table (a warehouse written before it existed has none)."""
    conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {STATE} (phone VARCHAR)")


def keep_telling(wh: Warehouse, conn: Connection, counted: str | None = None) -> None:
    """Keep the telling numbers of the mart just written (`counted`: the temporary table holding them, dropped)."""
    _ensure_state(conn)
    conn.exec_driver_sql(f"DELETE FROM {STATE}")
    conn.exec_driver_sql(f"INSERT INTO {STATE} {f'SELECT phone FROM {counted}' if counted else telling_sql()}")
    if counted:
        conn.exec_driver_sql(f"DROP TABLE {counted}")
    wh.dialect.analyze(conn, STATE)


def add_changed_holders(conn: Connection) -> None:
    """Count the telling numbers again (into `_hub_telling`, for `keep_telling` once the mart is written) and add
    to `_hub_changed` the golden customers holding a number that began or stopped being telling since the mart was
    last written."""
    _ensure_state(conn)
    conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_telling")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_telling AS {telling_sql()}")
    conn.exec_driver_sql(
        "INSERT INTO _hub_changed SELECT golden_id FROM marts.golden_phone WHERE phone IN ("
        f"(SELECT phone FROM _hub_telling EXCEPT SELECT phone FROM {STATE}) UNION ALL "
        f"(SELECT phone FROM {STATE} EXCEPT SELECT phone FROM _hub_telling)"
        ") EXCEPT SELECT golden_id FROM _hub_changed")


def discard(conn: Connection) -> None:
    """Drop the numbers `add_changed_holders` counted (a refresh that did not happen)."""
    conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_telling")
