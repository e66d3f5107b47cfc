"""What the predictions read: the marts, as frames, and the date the data speaks for.

Every frame is one set-based query over a mart; times are naive timestamps (the warehouse's). Static attributes
(a customer's industry, a rep's team) are taken as they are now; everything that happens (stages entered, deals
closed, orders, payments, leads converting) keeps its time, so the features can be computed as of any past date.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from warehouse.engine import Warehouse

INPUT_MARTS = ("fct_opportunities", "fct_opportunity_stages", "fct_leads", "fct_sales_orders", "fct_payments",
               "dim_customer", "dim_sales_rep")
"""The marts the predictions read: they are rerun when one of these changed version."""

_SQL = {
    "opportunities": """
        SELECT o.source_name, o.stream, o.opportunity_key, o.name, o.golden_id, o.rep_id, o.lead_key,
               CAST(COALESCE(o.reporting_amount, o.amount) AS DOUBLE PRECISION) AS amount, o.stage, o.outcome,
               o.channel, o.customer_channel, o.created_at, o.closed_at,
               CAST(o.probability AS DOUBLE PRECISION) AS probability, o.lost_reason, o.updated_at
        FROM marts.fct_opportunities o
        WHERE o.created_at IS NOT NULL
        ORDER BY o.source_name, o.stream, o.opportunity_key""",
    "stages": """
        SELECT source_name, stream, opportunity_key, stage_number, stage, entered_at,
               CAST(probability AS DOUBLE PRECISION) AS probability
        FROM marts.fct_opportunity_stages
        ORDER BY source_name, stream, opportunity_key, stage_number""",
    "leads": """
        SELECT l.source_name, l.stream, l.lead_key, l.company_name, l.contact_name, l.phone, l.channel, l.status,
               l.is_open, l.owner, l.rep_id, l.opportunity_key, l.created_at, l.converted_at,
               l.opportunity_credited
        FROM marts.fct_leads l
        WHERE l.created_at IS NOT NULL
        ORDER BY l.source_name, l.stream, l.lead_key""",
    "orders": """
        SELECT golden_id, source_name, CAST(order_date AS TIMESTAMP) AS at,
               CAST(COALESCE(reporting_amount, 0) AS DOUBLE PRECISION) AS amount
        FROM marts.fct_sales_orders
        WHERE golden_id IS NOT NULL AND order_date IS NOT NULL AND is_revenue
          AND golden_id IN (SELECT golden_id FROM marts.fct_opportunities)
        ORDER BY 1, 2, 3, 4""",
    "payments": """
        SELECT golden_id, source_name, CAST(payment_date AS TIMESTAMP) AS at,
               CAST(COALESCE(reporting_amount, 0) AS DOUBLE PRECISION) AS amount
        FROM marts.fct_payments
        WHERE golden_id IS NOT NULL AND payment_date IS NOT NULL
          AND golden_id IN (SELECT golden_id FROM marts.fct_opportunities)
        ORDER BY 1, 2, 3, 4""",
    "latest": """
        SELECT (SELECT MAX(CAST(order_date AS TIMESTAMP)) FROM marts.fct_sales_orders
                WHERE golden_id IS NOT NULL AND is_revenue) AS orders,
               (SELECT MAX(CAST(payment_date AS TIMESTAMP)) FROM marts.fct_payments
                WHERE golden_id IS NOT NULL) AS payments""",
    "customers": """
        SELECT golden_id, name, industry, parent_golden_id
        FROM marts.dim_customer
        WHERE golden_id IN (SELECT golden_id FROM marts.fct_opportunities)
        ORDER BY golden_id""",
    "reps": """
        SELECT rep_id, name, team, region
        FROM marts.dim_sales_rep
        WHERE is_current
        ORDER BY rep_id""",
}


@dataclass
class Inputs:
    """The marts' rows the predictions read, one frame each."""

    opportunities: pd.DataFrame
    stages: pd.DataFrame
    leads: pd.DataFrame
    orders: pd.DataFrame
    payments: pd.DataFrame
    customers: pd.DataFrame
    reps: pd.DataFrame
    latest: pd.DataFrame | None = None
    """The latest order and payment of any customer (one row, columns `orders`, `payments`), when `orders` and
    `payments` hold only those of the customers with opportunities (all the features read: a warehouse of a
    million orders and few deals reads few); None when they hold every one."""

    def __post_init__(self) -> None:
        for frame, cols in ((self.opportunities, ("created_at", "closed_at", "updated_at")),
                            (self.stages, ("entered_at",)), (self.leads, ("created_at", "converted_at")),
                            (self.orders, ("at",)), (self.payments, ("at",))):
            for c in cols:
                frame[c] = pd.to_datetime(frame[c])

    def as_of(self) -> pd.Timestamp:
        """The date the data speaks for: its latest change (a deal created, entering a stage or closing, a lead
        coming in, an order or payment). Scores are as of this date, so an unchanged warehouse scores the same."""
        o = self.opportunities
        moments = [o["created_at"].max(), o.loc[o["outcome"] != "open", "closed_at"].max(), o["updated_at"].max(),
                   self.stages["entered_at"].max(), self.leads["created_at"].max(), self.orders["at"].max(),
                   self.payments["at"].max()]
        if self.latest is not None and len(self.latest):
            moments += [pd.to_datetime(self.latest["orders"].iloc[0]), pd.to_datetime(self.latest["payments"].iloc[0])]
        known = [m for m in moments if pd.notna(m)]
        return max(known) if known else pd.Timestamp("1970-01-01")

    def sizes(self) -> dict[str, int]:
        return {f.name: len(getattr(self, f.name)) for f in fields(self) if f.name != "latest"}


def read_inputs(wh: Warehouse) -> Inputs:
    """The prediction inputs, read from the marts (each frame one query): the customers, orders and payments of the
    customers with opportunities, and the latest order and payment of all of them. Each frame in the order of its
    key (rows equal in the order's columns are equal rows): the forecast's seeded simulation follows the rows'
    order, and a mart refreshed in place keeps its rows in another physical order than a rebuild."""
    return Inputs(**{name: wh.read_frame(" ".join(sql.split())) for name, sql in _SQL.items()})


def inputs_digest(inputs: Inputs, *also: str) -> str:
    """A digest of every row the predictions read, in any order (and of `also`: the settings they ran with): equal
    digests, equal predictions (scores are as of the data's own date)."""
    h = hashlib.sha1("\x1f".join(also).encode())
    for f in fields(inputs):
        frame = getattr(inputs, f.name)
        if frame is None:
            h.update(f"{f.name}:none".encode())
            continue
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)  # (a sum: the rows' order aside)
        total = int(rows.sum(dtype=np.uint64)) if len(rows) else 0
        h.update(f"{f.name}:{list(frame.columns)}:{len(frame)}:{total}".encode())
    return h.hexdigest()
