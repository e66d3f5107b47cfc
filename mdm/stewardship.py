"""Stewardship, the pure part: review-item identity and priority, record values for review, and
the re-clustering of a few golden customers under steward decisions. Pure functions over frames;
`pipelines/steward/` reads and writes the warehouse around them.

Decisions are keyed by the two record ids (`SOURCE:STREAM:KEY`), never by positions or golden
IDs, so they survive any rebuild. A pair is the same pair in either order: `pair_id` sorts it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.cluster import cluster
from mdm.engine import band_of

__all__ = [
    "EXCLUSIVE_RULES", "RAW_FIELDS", "REASONS", "STD_FIELDS", "VERDICTS", "band", "candidate_groups",
    "hard_rule_conflicts", "ordered_pair", "pair_id", "pair_ids", "priority", "recluster", "record_values",
    "revenue_by_golden", "settled", "split_record_id",
]

VERDICTS = ("same", "different")
# What a steward sees of each record: the source's values, then what standardization made of them.
RAW_FIELDS = ("name", "short_name", "former_name", "uscc", "phone", "mobile", "email", "address", "contact_name",
              "customer_number", "industry", "owner", "updated_at")
STD_FIELDS = ("name_norm", "name_key", "former_name_key", "branch", "uscc_std", "uscc_valid", "reg_no", "phone_std",
              "address_norm", "province", "city_any", "district", "name_district", "group_key")
SHOWN_FIELDS = RAW_FIELDS + STD_FIELDS
"""What a review item shows of each record (`record_values`)."""


# Why a pair is in review (mdm.review_queue.reason), by a short key for filters and links.
REASONS = {
    "review_band": "score in the review band",
    "match_band": "match-band pair in different clusters",
    "hard_rule": "kept apart by a hard rule",
    "several_customers": "short record matching several customers",
}
# The hard rules of clustering (`mdm.cluster`): a golden customer never holds two values of these columns.
EXCLUSIVE_RULES = {
    "uscc_valid_code": "one valid tax code per customer",
    "city_any": "one city per customer",
    "branch_key": "a head office and its branches (or two branches) are separate customers",
    "reg_no": "one registration number (注册号) per customer",
    "name_district": "an institution of one district is not the one of another",
    "group_key": "a group and a company of its brand are separate customers",
}
HEAD_OFFICE = "(none)"  # the branch_key of a record that names no branch


def ordered_pair(a: str, b: str) -> tuple[str, str]:
    """The two record ids of a pair in canonical (sorted) order."""
    return (a, b) if a <= b else (b, a)


def pair_id(a: str, b: str) -> str:
    """The review item id of a pair of record ids, the same in either order."""
    lo, hi = ordered_pair(a, b)
    return hashlib.sha1(f"{lo}|{hi}".encode()).hexdigest()[:16]


def pair_ids(left: Iterable[str], right: Iterable[str]) -> list[str]:
    return [pair_id(a, b) for a, b in zip(left, right, strict=True)]


def split_record_id(record_id: str) -> tuple[str, str, str]:
    """`SOURCE:STREAM:KEY` → (source, stream, key); the key may itself contain colons."""
    parts = record_id.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{record_id!r} is not a record id SOURCE:STREAM:KEY")
    return parts[0], parts[1], parts[2]


def band(prob: float | np.ndarray, match: float, review: float) -> Any:
    """`match`, `review` or `low` for probabilities (`mdm.engine.BANDS`, the one vocabulary of bands)."""
    p = np.asarray(prob, dtype=float)
    out = band_of(np.atleast_1d(p), match, review).astype(str)
    return str(out[0]) if p.ndim == 0 else out


def _jsonable(v: Any) -> Any:
    if v is None or (not isinstance(v, str | list | dict) and pd.isna(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.isoformat(sep=" ")
    return v if isinstance(v, str | int | float | bool) else str(v)


def record_values(records: pd.DataFrame, fields: Sequence[str] = SHOWN_FIELDS) -> list[str]:
    """Each record's source and standardized values as a JSON object (absent and empty fields left out): the
    text `json.dumps` writes (`ensure_ascii=False`), built a column at a time by Arrow (a review queue of a 10M
    run holds millions of records)."""
    cols = [f for f in fields if f in records.columns]
    pieces = [pc.binary_join_element_wise(json.dumps(c, ensure_ascii=False) + ": ", _json_texts(records[c]), "")
              for c in cols]
    if not pieces:
        return ["{}"] * len(records)
    body = pc.binary_join_element_wise(*pieces, ", ", null_handling="skip") if len(pieces) > 1 else \
        pc.fill_null(pieces[0], "")
    return pc.binary_join_element_wise("{", body, "}", "").to_pylist()


# What json.dumps escapes in text (ensure_ascii=False): the quote, the backslash and the control characters.
_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                 ("\b", "\\b"), ("\f", "\\f"))
_OTHER_CONTROL = "[\\x00-\\x07\\x0b\\x0e-\\x1f]"


def _json_texts(values: pd.Series) -> pa.Array:
    """Each value's JSON text (null for an absent or empty value, which `record_values` leaves out)."""
    try:
        text = pa.array(values.array if isinstance(values.dtype, pd.StringDtype) else values.astype(object),
                        pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: each distinct value through json.dumps
        codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
        dumped = [None if (v := _jsonable(u)) in (None, "") else json.dumps(v, ensure_ascii=False) for u in uniques]
        return pa.array(dumped, pa.string()).take(pa.array(codes, mask=codes < 0))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    if len(text) and pc.any(pc.match_substring_regex(text, _OTHER_CONTROL)).as_py():  # (rare: json.dumps them)
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in text.to_pylist()],
                        pa.string())
    for plain, escaped in _JSON_ESCAPES:
        text = pc.replace_substring(text, plain, escaped)
    return pc.binary_join_element_wise('"', text, '"', "")


def revenue_by_golden(orders: pd.DataFrame, records: pd.DataFrame) -> pd.Series:
    """Order revenue per golden customer. `orders`: record_id, amount; `records`: record_id, golden_id."""
    if not len(orders):
        return pd.Series(dtype=float)
    per_record = orders.groupby("record_id")["amount"].sum()
    rec = records[["record_id", "golden_id"]].assign(amount=records["record_id"].map(per_record).fillna(0.0))
    return rec.groupby("golden_id")["amount"].sum().astype(float)


def priority(prob: np.ndarray, revenue: np.ndarray) -> np.ndarray:
    """How urgently a steward should look at a pair: its uncertainty (1 at probability 0.5, 0 at 0
    or 1) times one plus the customer's revenue on a log scale relative to the largest (0..1).
    A coin-flip pair of the biggest customer scores 2, a sure pair of a customer without orders 0."""
    prob = np.asarray(prob, dtype=float)
    rev = np.nan_to_num(np.asarray(revenue, dtype=float), nan=0.0).clip(min=0)
    uncertainty = 1 - np.abs(prob - 0.5) * 2
    top = np.log1p(rev.max()) if len(rev) and rev.max() > 0 else 1.0
    return uncertainty * (1 + np.log1p(rev) / top)


def recluster(records: pd.DataFrame, pairs: pd.DataFrame, decisions: pd.DataFrame, match: float, review: float,
              exclusive: Sequence[str], anchors: Sequence[str]) -> np.ndarray:
    """Cluster a few records again, as a run would, from their stored pairs and the decisions in force.

    `records`: record_id and the exclusive/anchor columns; `pairs`: left_record, right_record,
    prob; `decisions`: left_record, right_record, verdict (active ones). Returns a cluster label
    per record, aligned with `records`. Used for the immediate effect of an unmerge or of a
    `different` decision inside one golden customer.
    """
    n = len(records)
    pos = pd.Series(np.arange(n), index=records["record_id"].to_numpy())
    p = pairs[pairs["left_record"].isin(pos.index) & pairs["right_record"].isin(pos.index)]
    d = decisions[decisions["left_record"].isin(pos.index) & decisions["right_record"].isin(pos.index)]
    left, right = pos.reindex(p["left_record"]).to_numpy(), pos.reindex(p["right_record"]).to_numpy()
    dl, dr = pos.reindex(d["left_record"]).to_numpy(), pos.reindex(d["right_record"]).to_numpy()
    same = (d["verdict"] == "same").to_numpy()
    excl = {c: records[c].to_numpy() for c in exclusive}
    anchored = np.zeros(n, bool) if anchors else np.ones(n, bool)
    for c in anchors:
        col = records[c]
        anchored |= (col.notna() & (col.astype(str) != "")).to_numpy()
    res = cluster(n, left, right, p["prob"].to_numpy(dtype=float), match, review, excl, anchored,
                  must=(dl[same], dr[same]), cannot=(dl[~same], dr[~same]))
    return res.labels


def candidate_groups(items: pd.DataFrame) -> pd.Series:
    """For review items (item_id, left_record, right_record, reason), the short record whose candidates an
    item is one of, or None: items of reason `several_customers` that share a record are one question
    (which of these customers, if any, is this record?), grouped under the record they share most."""
    several = items["reason"].to_numpy() == REASONS["several_customers"]
    sub = items[several]
    counts = pd.concat([sub["left_record"], sub["right_record"]]).value_counts()
    lc = sub["left_record"].map(counts).to_numpy()
    rc = sub["right_record"].map(counts).to_numpy()
    key = np.where(rc > lc, sub["right_record"].to_numpy(), sub["left_record"].to_numpy())
    kc = np.maximum(lc, rc)
    out = pd.Series([None] * len(items), index=items.index, dtype=object)
    out[several] = np.where(kc >= 2, key, None)
    return out


def hard_rule_conflicts(members: pd.DataFrame, left_golden: str, right_golden: str,
                        exclusive: Sequence[str]) -> list[dict[str, Any]]:
    """Why clustering keeps two golden customers apart: per hard rule (an exclusive column) that their union
    would break, the values only one side holds and the records holding them. `members`: record_id,
    golden_id and the exclusive columns of (at least) every record of the two customers. A value is broken
    when the union holds more values than either side (as `mdm.cluster` refuses a union)."""
    out = []
    sides = {s: members[members["golden_id"] == g] for s, g in (("left", left_golden), ("right", right_golden))}
    for col in exclusive:
        vals = {s: {v: sorted(df.loc[df[col] == v, "record_id"]) for v in df[col].dropna().unique() if v != ""}
                for s, df in sides.items()}
        union = set(vals["left"]) | set(vals["right"])
        if not vals["left"] or not vals["right"] or len(union) <= max(len(vals["left"]), len(vals["right"])):
            continue
        out.append({"rule": col, "text": EXCLUSIVE_RULES.get(col, col),
                    **{s: [{"value": v, "records": r} for v, r in sorted(vals[s].items())
                           if v not in vals["right" if s == "left" else "left"]] for s in ("left", "right")}})
    return out


def settled(left: Sequence[str], right: Sequence[str], left_golden: Sequence[str], right_golden: Sequence[str],
            decisions: pd.DataFrame) -> np.ndarray:
    """Which review pairs (records `left`, `right` in golden customers `left_golden`, `right_golden` now) the
    stewards' active decisions already settle, so a run does not ask again.

    A decided pair is settled. A decision on records a, b also settles each record's relation to the
    customers the steward saw (a's and b's when decided) and to the other record's customer now: a pair of a
    with any record of those customers is settled (a steward who moved a record into one customer, or said
    it is not another, is not asked the same about that customer's other records), as long as neither a nor
    b changed since (content hash as when decided; decisions without hashes count as unchanged).

    `decisions`: left_record, right_record; left_golden_id, right_golden_id, left_record_hash,
    right_record_hash (when decided, may be null); left_golden_now, right_golden_now, left_hash_now,
    right_hash_now (now; null for a record that no longer exists)."""
    items = pd.DataFrame({"l": np.asarray(left, dtype=object), "r": np.asarray(right, dtype=object),
                          "lg": np.asarray(left_golden, dtype=object), "rg": np.asarray(right_golden, dtype=object)})
    if not len(items) or not len(decisions):
        return np.zeros(len(items), bool)
    d = decisions
    out = pd.Series(pair_ids(items["l"], items["r"])).isin(set(pair_ids(d["left_record"], d["right_record"])))
    same_content = pd.Series(True, index=d.index)
    for side in ("left", "right"):
        then, now = d[f"{side}_record_hash"], d[f"{side}_hash_now"]
        same_content &= now.notna() & (then.isna() | (then == now))
    d = d[same_content]
    known: set[str] = set()
    for rec, other in (("left_record", "right"), ("right_record", "left")):
        for gold in ("left_golden_id", "right_golden_id", f"{other}_golden_now"):
            has = d[gold].notna().to_numpy()
            known.update(d[rec][has].astype(str) + "\x00" + d[gold][has].astype(str))
    for rec, gold in (("l", "rg"), ("r", "lg")):
        out |= (items[rec] + "\x00" + items[gold].fillna("")).isin(known)
    return out.to_numpy(bool)
