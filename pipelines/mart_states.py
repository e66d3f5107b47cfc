"""The marts whose refresh by golden ID needs more than the changed golden IDs, and what it needs.

Each such mart's SQL has a CTE whose rows relate golden customers to each other, and that a change of some customers
can change for others that did not change:

- `cross_sell`, the numbers it counts as telling (`telling`): a number shared by a few golden customers relates them.
  When a changed customer takes a number or leaves it, the number may begin or stop relating customers that did not
  change (six share a switchboard, which tells nothing; one leaves, and the other five become related). The golden
  customers holding a number that joined or left the set change.
- `customer_360`, the company names contacts write that name one golden customer (`customer_name`): a contact whose
  customer record is unknown belongs to that customer. A changed customer that takes or leaves a name changes which
  customer the name names, for contacts of customers that did not change (a second customer named like the first:
  the name names neither). The golden customers a name named before or names now change. (Its as-of date, the last
  revenue order date, is the mart's as a whole too, but a refresh cannot move it: fct_sales_orders refreshed by
  golden ID keeps its orders, their dates and statuses; when it was built whole and what customer_360 reads of it
  changed, customer_360 is built whole.)

Each write of the mart keeps the CTE's rows (a `raw` table, in the same transaction); a refresh works them out again
(into a temporary table the refresh's SELECT reads instead of the CTE), adds the golden customers of the rows that
joined or left to the changed ones, and keeps the new rows once the mart is written.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

from sqlalchemy.engine import Connection

from warehouse.engine import Warehouse


@dataclass(frozen=True)
class MartState:
    mart: str
    cte: str  # the CTE of the mart's SQL whose rows are kept
    state: str  # the table keeping them
    columns: tuple[str, ...]  # its columns (text)
    holders: str  # the golden customers (golden_id) whose rows depend on the rows `{moved}`
    counted: str  # the temporary table of the rows a refresh worked out

    @functools.cached_property
    def select(self) -> str:
        """The CTE's SELECT, as the mart's SQL writes it (one definition)."""
        sql = resources.files("warehouse.marts").joinpath(f"{self.mart}.sql").read_text(encoding="utf-8")
        found = re.search(rf"\b{self.cte} AS \(\s*(?P<select>SELECT .*?)\s*^\),", sql, re.M | re.S)
        assert found, f"{self.mart}.sql: no `{self.cte} AS (SELECT …)` to keep"
        return found["select"]

    def counted_sql(self, sql: str) -> str:
        """The mart's SELECT reading the rows `add_changed` worked out instead of working them out again."""
        assert self.select in sql, f"{self.mart}: the SELECT to refresh has no `{self.cte}`"
        return sql.replace(self.select, f"SELECT {', '.join(self.columns)} FROM {self.counted}")

    def _ensure(self, conn: Connection) -> None:
        """The kept rows' table (a warehouse written before it existed has none)."""
        conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {self.state} "
                             f"({', '.join(f'{c} VARCHAR' for c in self.columns)})")

    def keep(self, wh: Warehouse, conn: Connection, counted: bool) -> None:
        """Keep the rows of the mart just written (`counted`: those `add_changed` worked out, then dropped)."""
        self._ensure(conn)
        conn.exec_driver_sql(f"DELETE FROM {self.state}")
        rows = f"SELECT {', '.join(self.columns)} FROM {self.counted}" if counted else self.select
        conn.exec_driver_sql(f"INSERT INTO {self.state} {rows}")
        self.discard(conn)
        wh.dialect.analyze(conn, self.state)

    def discard(self, conn: Connection) -> None:
        """Drop the rows a refresh worked out (after it, or when it did not happen)."""
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.counted}")

    def add_changed(self, conn: Connection) -> None:
        """Work the rows out again (into the temporary table, for `keep` once the mart is written) and add to
        `_hub_changed` the golden customers of the rows that joined or left since the mart was last written."""
        self._ensure(conn)
        self.discard(conn)
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {self.counted} AS {self.select}")
        cols = ", ".join(self.columns)
        moved = (f"((SELECT {cols} FROM {self.counted} EXCEPT SELECT {cols} FROM {self.state}) UNION ALL "
                 f"(SELECT {cols} FROM {self.state} EXCEPT SELECT {cols} FROM {self.counted}))")
        conn.exec_driver_sql(f"INSERT INTO _hub_changed {self.holders.format(moved=moved)} "
                             "EXCEPT SELECT golden_id FROM _hub_changed")


STATES = {s.mart: s for s in (
    MartState("cross_sell", "telling", "raw._cross_sell_telling", ("phone",),
              "SELECT golden_id FROM marts.golden_phone WHERE phone IN {moved}", "_hub_telling"),
    MartState("customer_360", "customer_name", "raw._customer_360_names", ("name_norm", "golden_id"),
              "SELECT golden_id FROM {moved} d", "_hub_names"),
)}
