"""What the stewards already settled: the review pairs a run leaves out of the queue (`mdm.stewardship.settled`),
read from the active decisions with their records' golden customers and content hashes now."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from mdm.stewardship import settled
from warehouse.engine import Warehouse

DECISIONS_NOW_SQL = (
    "SELECT d.left_record, d.right_record, d.left_golden_id, d.right_golden_id, d.left_record_hash, "
    "d.right_record_hash, lr.golden_id AS left_golden_now, rr.golden_id AS right_golden_now, "
    "lr.record_hash AS left_hash_now, rr.record_hash AS right_hash_now FROM mdm.decisions d "
    "LEFT JOIN mdm.customer_records lr ON lr.record_id = d.left_record "
    "LEFT JOIN mdm.customer_records rr ON rr.record_id = d.right_record WHERE d.active")


def decisions_now(wh: Warehouse, conn: Connection) -> pd.DataFrame:
    """The active decisions, with their records' golden customers and content hashes as they were when decided
    and as they are now (`mdm.customer_records`)."""
    return wh.read_frame(DECISIONS_NOW_SQL, conn=conn)


def settled_pairs(wh: Warehouse, conn: Connection, left: Sequence[str], right: Sequence[str],
                  left_golden: Sequence[str], right_golden: Sequence[str]) -> np.ndarray:
    """For review pairs of records in golden customers (now): which ones the decisions in force settle."""
    if not len(left):
        return np.zeros(0, bool)
    return settled(left, right, left_golden, right_golden, decisions_now(wh, conn))


__all__ = ["decisions_now", "settled_pairs"]
