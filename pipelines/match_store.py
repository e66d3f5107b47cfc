"""The matching engine's memory in the warehouse, read and written set-based.

`mdm.customer_records` holds every staged customer standardized (with its content hash and golden ID),
`mdm.match_pairs` every scored candidate pair at review level or above (record ids, the rules that blocked
it, the comparison levels, weight and probability). An incremental run asks this module for what it needs and nothing
more: the records that changed since the last run, the records sharing a blocking key with them, the
*affected* records (everything the changes can reach through review-band pairs, steward links and
golden customers), and the pairs among those; then it writes back only rows that changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.entities import ENTITIES
from mdm.blocking import BlockingRule
from warehouse.contract import STD_COLUMNS
from warehouse.engine import Warehouse, value
from warehouse.identifiers import quote

RECORDS = "mdm.customer_records"
PAIRS = "mdm.match_pairs"
CHUNK = 200_000  # records standardized at a time by a full run (its xref is written CHUNK * 5 rows at a time)
ENTITY_FIELDS = ENTITIES["customer"].field_names
RECORD_COLUMNS = ["record_id", "record_hash", "source_name", "stream", "source_key", *ENTITY_FIELDS, *STD_COLUMNS,
                  "golden_id"]


def _q(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def record_id_sql(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return f"{a}source_name || ':' || {a}stream || ':' || {a}source_key"


def sort_records(df: pd.DataFrame) -> pd.DataFrame:
    """Records in the engine's order, by record id (code point order, the same in every backend and in a
    subset as in the whole): positions decide ties, so a subset keeps the order they have in a rebuild."""
    return df.sort_values("record_id", kind="stable", ignore_index=True)


def as_arrow_strings(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns held as Arrow strings (a fraction of the memory of Python objects)."""
    out = {}
    for c in df.columns:
        col = df[c]
        if col.dtype == object:
            try:
                out[c] = col.astype(pd.StringDtype("pyarrow"))
                continue
            except (TypeError, ValueError, pa.ArrowInvalid, pa.ArrowTypeError):
                pass
        out[c] = col
    return pd.DataFrame(out, index=df.index)


class MatchStore:
    """Reads and writes `mdm.customer_records` and `mdm.match_pairs` inside one connection's transaction."""

    def __init__(self, wh: Warehouse, conn: Connection):
        self.wh, self.conn = wh, conn

    def frame(self, sql: str, params: dict[str, object] | None = None) -> pd.DataFrame:
        """A query's result with Arrow-backed text columns."""
        return self.wh.read_frame(sql, params, conn=self.conn, arrow_strings=True)

    def has_records(self) -> bool:
        return self.wh.table_exists(self.conn, "mdm", "customer_records") and bool(
            value(self.conn, f"SELECT count(*) FROM {RECORDS}"))

    def record_columns(self) -> list[str]:
        return self.wh.columns(self.conn, "mdm", "customer_records") if self.wh.table_exists(
            self.conn, "mdm", "customer_records") else []

    # --- what changed ------------------------------------------------------------------------------------

    def changed_keys(self, after: int) -> tuple[pd.DataFrame, int]:
        """(record ids staged or removed since change `after`, the last change number)."""
        top = int(value(self.conn, "SELECT COALESCE(MAX(seq), 0) FROM staging._changes WHERE entity = 'customer'")
                  or 0)
        keys = self.frame(f"SELECT DISTINCT {record_id_sql()} AS record_id, source_name, stream, source_key "
                          "FROM staging._changes WHERE entity = 'customer' AND seq > :a AND seq <= :t",
                          {"a": after, "t": top})
        return keys, top

    def changed_since(self, after: int) -> bool:
        """Whether staging logged a customer change after change `after`."""
        return value(self.conn, "SELECT 1 FROM staging._changes WHERE entity = 'customer' AND seq > :a LIMIT 1",
                     {"a": after}) is not None

    def staged_rows(self, keys: pd.DataFrame, hash_sql: str) -> pd.DataFrame:
        """The staged customers among `keys` (record_id, ...), with their content hash (`hash_sql`, alias s)."""
        with self.relation("_hub_keys", keys[["record_id"]]) as k:
            return self.frame(f"SELECT s.*, {record_id_sql('s')} AS record_id, {hash_sql} AS record_hash "
                              f"FROM staging.customer s WHERE {record_id_sql('s')} IN (SELECT record_id FROM {k})")

    def stored(self, record_ids: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
        """Columns of stored records by id."""
        with self.relation("_hub_ids", pd.DataFrame({"record_id": list(record_ids)})) as k:
            cols = ", ".join(quote(c) for c in dict.fromkeys(["record_id", *columns]))
            return self.frame(f"SELECT {cols} FROM {RECORDS} WHERE record_id IN (SELECT record_id FROM {k})")

    # --- neighbourhoods and closure -----------------------------------------------------------------------

    def neighbours(self, records: pd.DataFrame, rules: Sequence[BlockingRule], exclude: Sequence[str],
                   columns: Sequence[str] = ()) -> pd.DataFrame:
        """`columns` of the stored records (not in `exclude`) that share a blocking key with `records` under some
        rule, by record id: one query (the rules' joins a union inside it; no id list through Python)."""
        cols = sorted({c for r in rules for c in r.columns})
        probe = records[["record_id", *cols]].copy()
        wanted = ", ".join(quote(c) for c in dict.fromkeys(["record_id", *columns]))
        with self.relation("_hub_probe", probe) as p, self.relation(
                "_hub_exclude", pd.DataFrame({"record_id": list(exclude)})) as x:
            joins = []
            for rule in rules:
                on = " AND ".join(f"r.{quote(c)} = p.{quote(c)}" for c in rule.columns)
                present = " AND ".join(f"p.{quote(c)} IS NOT NULL AND p.{quote(c)} <> ''" for c in rule.columns)
                joins.append(f"SELECT r.record_id FROM {RECORDS} r JOIN {p} p ON {on} WHERE {present}")
            if not joins:
                return pd.DataFrame(columns=list(dict.fromkeys(["record_id", *columns])))
            return self.frame(f"SELECT {wanted} FROM {RECORDS} WHERE record_id IN ({' UNION '.join(joins)}) "
                              f"AND record_id NOT IN (SELECT record_id FROM {x}) ORDER BY record_id")

    def closure(self, seeds: Sequence[str], review: float) -> list[str]:
        """Every record the seeds reach through pairs at or above `review`, active `same` decisions and shared
        golden IDs: the records whose clusters, golden IDs and queue items a change can alter."""
        conn, wh = self.conn, self.wh
        text = wh.dialect.type_sql("text")
        for t in ("_hub_aff", "_hub_front", "_hub_next"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {t} (record_id {text})")
        seed = pa.table({"record_id": pa.array(sorted(set(seeds)), pa.string())})
        wh.dialect.bulk_insert(conn, "_hub_aff", seed)
        wh.dialect.bulk_insert(conn, "_hub_front", seed)
        while True:
            wh.dialect.analyze(conn, "_hub_front")
            conn.execute(sa.text(
                "INSERT INTO _hub_next SELECT DISTINCT n FROM ("
                f"SELECT p.right_record AS n FROM {PAIRS} p JOIN _hub_front f ON p.left_record = f.record_id "
                "WHERE p.prob >= :r "
                f"UNION ALL SELECT p.left_record FROM {PAIRS} p JOIN _hub_front f ON p.right_record = f.record_id "
                "WHERE p.prob >= :r "
                f"UNION ALL SELECT m.record_id FROM {RECORDS} m JOIN {RECORDS} o ON m.golden_id = o.golden_id "
                "JOIN _hub_front f ON o.record_id = f.record_id "
                "UNION ALL SELECT d.right_record FROM mdm.decisions d JOIN _hub_front f ON d.left_record = f.record_id "
                "WHERE d.active AND d.verdict = 'same' "
                "UNION ALL SELECT d.left_record FROM mdm.decisions d JOIN _hub_front f ON d.right_record = f.record_id "
                "WHERE d.active AND d.verdict = 'same') x "
                "WHERE n IS NOT NULL AND n NOT IN (SELECT record_id FROM _hub_aff)"), {"r": review})
            grown = int(value(conn, "SELECT count(*) FROM _hub_next") or 0)
            if not grown:
                break
            conn.exec_driver_sql("INSERT INTO _hub_aff SELECT record_id FROM _hub_next")
            conn.exec_driver_sql("DELETE FROM _hub_front")
            conn.exec_driver_sql("INSERT INTO _hub_front SELECT record_id FROM _hub_next")
            conn.exec_driver_sql("DELETE FROM _hub_next")
        out = [r[0] for r in conn.execute(sa.text("SELECT record_id FROM _hub_aff")).fetchall()]
        for t in ("_hub_aff", "_hub_front", "_hub_next"):
            conn.exec_driver_sql(f"DROP TABLE {t}")
        return sorted(out)

    def pairs_among(self, record_ids: Sequence[str], min_prob: float | None = None) -> pd.DataFrame:
        """Stored pairs with both records in `record_ids` (and a probability of at least `min_prob`)."""
        with self.relation("_hub_among", pd.DataFrame({"record_id": list(record_ids)})) as a:
            cond = "" if min_prob is None else " AND p.prob >= :m"
            return self.frame(f"SELECT p.* FROM {PAIRS} p WHERE p.left_record IN (SELECT record_id FROM {a}) "
                              f"AND p.right_record IN (SELECT record_id FROM {a}){cond}",
                              {"m": min_prob} if min_prob is not None else None)

    def pairs_touching(self, record_ids: Sequence[str], min_prob: float | None = None) -> pd.DataFrame:
        """Stored pairs with either record in `record_ids` (and a probability of at least `min_prob`). Each end is
        looked up on its own (a UNION, not an OR of the two, which PostgreSQL can only test on every stored pair)."""
        with self.relation("_hub_touch", pd.DataFrame({"record_id": list(record_ids)})) as a:
            cond = "" if min_prob is None else " AND p.prob >= :m"
            sides = [f"SELECT p.left_record, p.right_record, p.prob FROM {PAIRS} p "
                     f"WHERE p.{end} IN (SELECT record_id FROM {a}){cond}" for end in ("left_record", "right_record")]
            return self.frame(" UNION ".join(sides), {"m": min_prob} if min_prob is not None else None)

    # --- writes ------------------------------------------------------------------------------------------

    def delete_pairs_touching(self, record_ids: Sequence[str]) -> None:
        """Delete the stored pairs with either record in `record_ids`: by one end, then the other (each through its
        index on PostgreSQL: 0.21 → 0.09 s for 10,000 records among 860,000 pairs)."""
        with self.relation("_hub_gone", pd.DataFrame({"record_id": list(record_ids)})) as g:
            for end in ("left_record", "right_record"):
                self.conn.exec_driver_sql(f"DELETE FROM {PAIRS} WHERE {end} IN (SELECT record_id FROM {g})")

    def strip_rule(self, bit: int, members: Sequence[str]) -> int:
        """Pairs between `members` (the records of blocks that outgrew the rule's limit) lose the rule's bit;
        pairs left with no rule are deleted, as a rebuild would not block them. Returns pairs deleted."""
        mask = 1 << bit
        with self.relation("_hub_block", pd.DataFrame({"record_id": list(members)})) as b:
            inside = (f"left_record IN (SELECT record_id FROM {b}) AND right_record IN (SELECT record_id FROM {b}) "
                      f"AND (rules & {mask}) <> 0")
            self.conn.exec_driver_sql(f"UPDATE {PAIRS} SET rules = rules - {mask} WHERE {inside}")
        gone = int(value(self.conn, f"SELECT count(*) FROM {PAIRS} WHERE rules = 0") or 0)
        if gone:
            self.conn.exec_driver_sql(f"DELETE FROM {PAIRS} WHERE rules = 0")
        return gone

    def relation(self, name: str, frame: pd.DataFrame) -> _Relation:
        return _Relation(self, name, frame)


class _Relation:
    """A small frame readable by SQL for a block (`with store.relation("_t", df) as t:`)."""

    def __init__(self, store: MatchStore, name: str, frame: pd.DataFrame):
        self.store, self.name = store, name
        self.table = pa.Table.from_pandas(frame.astype(object).where(frame.notna(), None), preserve_index=False) \
            if len(frame.columns) else pa.table({})
        if len(frame) == 0:
            self.table = pa.table({c: pa.array([], pa.string()) for c in frame.columns})
        self._cm: AbstractContextManager[str] | None = None

    def __enter__(self) -> str:
        self._cm = self.store.wh.dialect.arrow_relation(self.store.conn, self.name, _text_columns(self.table))
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        assert self._cm is not None
        self._cm.__exit__(*exc)


def _text_columns(table: pa.Table) -> pa.Table:
    """Every column as text (keys and blocking values are compared as text)."""
    cols = []
    for col in table.columns:
        if not pa.types.is_string(col.type):
            col = pa.chunked_array([pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())]) \
                if not pa.types.is_null(col.type) else col.cast(pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)
