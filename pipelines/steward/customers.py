"""Customers as a steward finds and reads them: search by golden ID, tax code, phone or text (`CustomerSearch`
keeps the text index in memory), and the golden-customer view (attributes with their sources and rules, records,
hierarchy, ID history, actions, orders)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pandas as pd
import sqlalchemy as sa

from core.config import HubConfig
from core.entities import ENTITIES
from core.vocabulary import FALLBACK_RULES
from mdm.golden import describe_rules
from mdm.search import SearchIndex
from pipelines.match_outputs import DEFAULT_SURVIVORSHIP
from pipelines.steward.audit import history
from pipelines.steward.errors import StewardError
from pipelines.steward.former_names import active_former_names
from pipelines.steward.sql import QUEUE_JSON_VERSION, RECORD_ID_SQL, frame, in_list, plain_rows
from pipelines.steward.state import active_decisions, ready, record_rows
from warehouse.contract import GOLDEN_ATTRIBUTES, ensure_mdm
from warehouse.engine import Warehouse

log = logging.getLogger("hub.steward")

_USCC = re.compile(r"^[0-9A-Z]{15,18}$")


def search_customers(wh: Warehouse, q: str, limit: int = 20,
                     search: CustomerSearch | None = None) -> list[dict[str, Any]]:
    """Golden customers by golden ID, tax code (USCC), phone number, or text: any record's name or short name
    (as written, in pinyin or by initials), contact person or address, and similar names (`mdm.search`;
    `search` keeps its index between calls). Each result says how it was found (`matched_on`, `score`)."""
    q = (q or "").strip()
    if not q:
        return []
    cols = "g.golden_id, g.name, g.uscc, g.phone, g.city, g.source_count, g.is_branch"
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        if not wh.table_exists(conn, "mdm", "customer_records"):
            return []
        up = re.sub(r"\s", "", q).upper()
        digits = re.sub(r"\D", "", q)
        sql = None
        if re.fullmatch(r"G\d+", up):
            sql, params, how = "g.golden_id = :q", {"q": up}, "golden ID"
        elif _USCC.match(up) and re.search(r"\d", up) and (re.search(r"[A-Z]", up) or len(up) == 18):
            sql = "g.golden_id IN (SELECT golden_id FROM mdm.customer_records WHERE uscc_std = :q) OR g.uscc = :q"
            params, how = {"q": up}, "tax code"
        elif len(digits) >= 7 and digits == re.sub(r"[\s+()\-]", "", q):
            sql = ("g.golden_id IN (SELECT golden_id FROM mdm.customer_records WHERE phone_digits LIKE :q "
                   "OR phone_std LIKE :q)")
            params, how = {"q": f"%{digits[-8:]}"}, "phone"
        if sql is not None:
            df = frame(wh, conn, f"SELECT {cols} FROM mdm.golden_customer g WHERE {sql} "
                                 f"ORDER BY g.source_count DESC, g.golden_id LIMIT {int(limit)}", params)
            return [{**r, "matched_on": how, "score": 100.0} for r in plain_rows(df)]
    hits = (search or CustomerSearch(wh)).find(q, limit)
    if not hits:
        return []
    with wh.begin() as conn:
        gsql, gparams = in_list([g for g, _, _ in hits], "g")
        rows = {r["golden_id"]: r for r in plain_rows(frame(wh, conn, f"SELECT {cols} FROM mdm.golden_customer g "
                                                                      f"WHERE g.golden_id IN {gsql}", gparams))}
    return [{**rows[g], "matched_on": how, "score": score} for g, how, score in hits if g in rows]


class CustomerSearch:
    """The text search over the customer records (`mdm.search.SearchIndex`), kept in memory and rebuilt (only
    new names converted to pinyin again) when a run or a steward action changed the records; checked at
    most every `refresh_seconds`."""

    def __init__(self, wh: Warehouse, refresh_seconds: float = 30.0,
                 reading: Callable[[], AbstractContextManager[Any]] | None = None):
        self.wh, self.refresh_seconds = wh, refresh_seconds
        self.reading = reading or nullcontext  # held around warehouse reads (the console's DuckDB release)
        self._index: SearchIndex | None = None
        self._version: tuple[Any, ...] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._checked = float("-inf")

    def warm(self) -> threading.Thread:
        """Build the index in the background (converting every name to pinyin takes seconds on a large
        warehouse), so that the first search does not wait for it; errors are left to that search."""
        def build() -> None:
            try:
                self.index()
            except Exception:  # a warehouse not ready yet: the first search will say why
                log.info("customer search index not built ahead", exc_info=True)

        thread = threading.Thread(target=build, name="customer-search-index", daemon=True)
        thread.start()
        return thread

    def find(self, q: str, limit: int = 20) -> list[tuple[str, str, float]]:
        index = self.index()
        return index.find(q, limit) if index is not None else []

    def golden_ids(self, q: str | None, limit: int = 200) -> list[str]:
        """Golden IDs a text finds (for the queue's search); empty for an empty text."""
        return [g for g, _, _ in self.find(q, limit)] if q and q.strip() else []

    def index(self) -> SearchIndex | None:
        with self._lock:
            if time.monotonic() - self._checked > self.refresh_seconds:
                with self.reading(), self.wh.begin() as conn:
                    ensure_mdm(self.wh, conn)
                    if not self.wh.table_exists(conn, "mdm", "customer_records"):
                        return None
                    x = conn.execute(sa.text("SELECT count(*), max(updated_at) FROM mdm.xref")).fetchall()[0]
                version = (int(x[0]), str(x[1]))
                if self._index is None or version != self._version:
                    with self.reading():
                        recs = self.wh.read_frame("SELECT golden_id, name, short_name, name_norm, contact_name, "
                                                  "address, address_norm FROM mdm.customer_records")
                    self._index = SearchIndex.build(recs, self._index)  # pinyin: no connection held meanwhile
                    self._version = version
                self._checked = time.monotonic()
            return self._index


def survivorship_rules(cfg: HubConfig) -> tuple[dict[str, list[str]], list[str]]:
    """The survivorship rules in force per golden attribute (as `pipelines.match_outputs.golden_sql` applies them)
    and the source priority."""
    mcfg = cfg.mdm.customer
    configured = {k: [v] if isinstance(v, str) else list(v) for k, v in mcfg.survivorship.items()}
    rules = {**DEFAULT_SURVIVORSHIP, **configured}
    return ({a: list(rules.get(a) or FALLBACK_RULES) for a in GOLDEN_ATTRIBUTES},
            list(mcfg.source_priority or cfg.sources))


def history_text(h: dict[str, Any]) -> str:
    """One row of `mdm.golden_id_history` for people: a split and a revival retire nothing."""
    if h.get("reason") == "split":
        return f"{h['survivor_id']} split: {h.get('split_id')} took some of its records (split)"
    if h.get("reason") == "revived":
        return f"{h['survivor_id']} active again: a deleted record came back (revived)"
    if h.get("reason") == "deleted":
        return f"{h['retired_id']} retired: its records were deleted (deleted)"
    return f"{h['retired_id']} → {h['survivor_id']} ({h['reason']})"


def _history(hist: pd.DataFrame) -> list[dict[str, Any]]:
    return [{**h, "text": history_text(h)} for h in plain_rows(hist)]


def golden_detail(cfg: HubConfig, wh: Warehouse, golden_id: str) -> dict[str, Any]:
    """A golden customer: its attributes and which record supplied each, all its source records, its
    hierarchy (parent, branches), its ID history and the steward actions that touched it."""
    with wh.begin() as conn:
        ready(wh, conn)
        g = frame(wh, conn, "SELECT * FROM mdm.golden_customer WHERE golden_id = :g", {"g": golden_id})
        hist = frame(wh, conn, "SELECT * FROM mdm.golden_id_history WHERE retired_id = :g OR survivor_id = :g "
                               "OR split_id = :g ORDER BY retired_at DESC", {"g": golden_id})
        if not len(g):
            retired = hist[hist["retired_id"] == golden_id]
            if len(retired):
                survivor = retired["survivor_id"].iloc[0]
                said = f"was retired into {survivor}" if pd.notna(survivor) else "was retired: its records were deleted"
                return {"version": QUEUE_JSON_VERSION, "golden_id": golden_id, "retired": True,
                        "survivor_id": survivor if pd.notna(survivor) else None, "history": _history(hist),
                        "message": f"{golden_id} {said}"}
            raise StewardError(f"no golden customer {golden_id}")
        xref = frame(wh, conn, f"SELECT {RECORD_ID_SQL} AS record_id, match_score, matched_by, updated_at "
                               "FROM mdm.xref WHERE golden_id = :g ORDER BY 1", {"g": golden_id})
        recs = record_rows(wh, conn, xref["record_id"].tolist())
        parent = frame(wh, conn, "SELECT h.parent_golden_id AS golden_id, p.name, h.relation, h.evidence "
                                 "FROM mdm.customer_hierarchy h LEFT JOIN mdm.golden_customer p "
                                 "ON p.golden_id = h.parent_golden_id WHERE h.child_golden_id = :g", {"g": golden_id})
        branches = frame(wh, conn, "SELECT h.child_golden_id AS golden_id, c.name, h.relation, h.evidence "
                                   "FROM mdm.customer_hierarchy h LEFT JOIN mdm.golden_customer c "
                                   "ON c.golden_id = h.child_golden_id WHERE h.parent_golden_id = :g "
                                   "ORDER BY 1", {"g": golden_id})
        dec = active_decisions(wh, conn, xref["record_id"].tolist())
        named = active_former_names(wh, conn, golden_id)
        orders = frame(wh, conn, "SELECT count(*) AS n, sum(amount) AS amount FROM staging.sales_order "
                                 f"WHERE source_name || ':' || customer_stream || ':' || customer_key IN "
                                 f"(SELECT {RECORD_ID_SQL} FROM mdm.xref WHERE golden_id = :g)", {"g": golden_id}) \
            if wh.table_exists(conn, "staging", "sales_order") else pd.DataFrame({"n": [0], "amount": [None]})
    row = plain_rows(g)[0]
    rules, priority = survivorship_rules(cfg)
    attributes = []
    for a in GOLDEN_ATTRIBUTES:
        src = row.get(f"{a}_source")
        typed = recs.get(src, {}).get(a) if src else None  # the value as the source holds it (provenance)
        attributes.append({"attribute": a, "value": row.get(a), "source_record": src,
                           "source": (src or "").split(":", 1)[0] or None, "rules": rules[a],
                           "rule_text": describe_rules(rules[a], priority),
                           "typed": typed if typed != row.get(a) else None})
    records = []
    for x in plain_rows(xref):
        rec = recs.get(x["record_id"], {})
        records.append({**x, "source": x["record_id"].split(":", 1)[0],
                        "values": {f: rec.get(f) for f in ENTITIES["customer"].field_names if rec.get(f) is not None},
                        "uscc_valid": rec.get("uscc_valid"), "city": rec.get("city_any")})
    acts = history(wh, golden_id=golden_id, limit=50)["actions"]
    from_sources = sorted({str(r["values"]["former_name"]) for r in records if r["values"].get("former_name")})
    o = plain_rows(orders)[0] if len(orders) else {"n": 0, "amount": None}
    return {"version": QUEUE_JSON_VERSION, "golden_id": golden_id, "retired": False, "golden": row,
            "attributes": attributes, "records": records, "parent": next(iter(plain_rows(parent)), None),
            "branches": plain_rows(branches), "history": _history(hist), "actions": acts,
            "decisions": plain_rows(dec),
            "former_names": {"stewards": plain_rows(named), "sources": from_sources},
            "orders": {"count": int(o["n"] or 0), "amount": None if o["amount"] is None else float(o["amount"])}}
