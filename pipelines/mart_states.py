"""The marts whose refresh by golden ID needs more than the changed golden IDs, and what it needs.

Each keeps, with every write, what its rows depend on across golden customers; a refresh works it out again (into a
temporary table the refresh's SELECT reads), adds the golden customers it moved for to the changed ones, and keeps
it once the mart is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from pipelines import cross_sell_state, customer_360_state
from warehouse.engine import Warehouse


@dataclass(frozen=True)
class MartState:
    counted_sql: Callable[[str], str]  # the mart's SELECT reading what `add_changed` worked out
    add_changed: Callable[[Connection], None]  # work it out again, add the golden IDs it moved for to _hub_changed
    keep: Callable[[Warehouse, Connection, bool], None]  # after a write (True: keep what add_changed worked out)
    discard: Callable[[Connection], None]  # after a refresh that did not happen


STATES = {
    cross_sell_state.MART: MartState(
        cross_sell_state.counted_sql, cross_sell_state.add_changed_holders,
        lambda wh, conn, counted: cross_sell_state.keep_telling(wh, conn, "_hub_telling" if counted else None),
        cross_sell_state.discard),
    customer_360_state.MART: MartState(
        customer_360_state.counted_sql, customer_360_state.add_changed,
        customer_360_state.keep, customer_360_state.discard),
}
