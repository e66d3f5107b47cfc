"""What a refresh of `marts.customer_360` needs beyond the changed golden IDs: the names contacts write.

A contact whose customer record is unknown belongs to the golden customer its company name names, when one golden
customer alone has that name or short name (`customer_name` in customer_360.sql). A changed customer that takes or
leaves a name changes which customer the name names, for contacts of customers that did not change (a second
customer named like the first: the name names neither). Each write of the mart keeps those names
(`raw._customer_360_names`); a refresh works them out again and adds the golden customers a name named before or
names now, for each name whose customer changed, to the changed ones, as `pipelines.cross_sell_state` does for
telling phone numbers.

(Its as-of date, the last revenue order date, is the mart's as a whole too, but a refresh cannot move it:
fct_sales_orders refreshed by golden ID keeps its orders, their dates and statuses; when it was built whole and
what customer_360 reads of it changed, customer_360 is built whole.)
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from sqlalchemy.engine import Connection

from warehouse.engine import Warehouse

MART = "customer_360"
STATE = "raw._customer_360_names"
COUNTED = "_hub_names"
_NAMES = re.compile(r"\bcustomer_name AS \(\s*(?P<select>SELECT .*?)\s*^\),", re.M | re.S)


@functools.cache
def names_sql() -> str:
    """The SELECT of the names contacts write that name one golden customer (name_norm, golden_id), as
    customer_360.sql writes it (one definition)."""
    found = _NAMES.search(resources.files("warehouse.marts").joinpath(f"{MART}.sql").read_text(encoding="utf-8"))
    assert found, "customer_360.sql: no `customer_name AS (SELECT …)` to keep"
    return found["select"]


def counted_sql(sql: str) -> str:
    """The mart's SELECT reading the names `add_changed` worked out instead of working them out again."""
    assert names_sql() in sql, "customer_360: the SELECT to refresh has no `customer_name`"
    return sql.replace(names_sql(), f"SELECT name_norm, golden_id FROM {COUNTED}")


def _ensure_state(conn: Connection) -> None:
    conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {STATE} (name_norm VARCHAR, golden_id VARCHAR)")


def keep(wh: Warehouse, conn: Connection, counted: bool) -> None:
    """Keep the names of the mart just written (`counted`: those `add_changed` worked out, then dropped)."""
    _ensure_state(conn)
    conn.exec_driver_sql(f"DELETE FROM {STATE}")
    names = f"SELECT name_norm, golden_id FROM {COUNTED}" if counted else names_sql()
    conn.exec_driver_sql(f"INSERT INTO {STATE} {names}")
    discard(conn)
    wh.dialect.analyze(conn, STATE)


def discard(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {COUNTED}")


def add_changed(conn: Connection) -> None:
    """Work the names out again (into `_hub_names`, for `keep` once the mart is written) and add to `_hub_changed`
    the golden customers a name named before or names now, for each name whose customer changed."""
    _ensure_state(conn)
    discard(conn)
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {COUNTED} AS {names_sql()}")
    conn.exec_driver_sql(
        "INSERT INTO _hub_changed SELECT golden_id FROM ("
        f"(SELECT name_norm, golden_id FROM {COUNTED} EXCEPT SELECT name_norm, golden_id FROM {STATE}) UNION ALL "
        f"(SELECT name_norm, golden_id FROM {STATE} EXCEPT SELECT name_norm, golden_id FROM {COUNTED})"
        ") d EXCEPT SELECT golden_id FROM _hub_changed")
