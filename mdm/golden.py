"""Golden records: stable IDs for clusters, and attribute-level survivorship.

IDs (`G0000000001`, …) are issued in sequence and never reused, so a smaller number is an
older ID. Given this run's clusters and the previous run's xref:

- a cluster whose records carried one golden ID keeps it (unchanged input → identical IDs;
  new records joining a cluster take its ID);
- a cluster whose records carried several IDs (clusters merged) keeps the oldest; the others
  are retired into the history with reason `merged` and their survivor;
- an ID whose records are now split over several clusters stays with the cluster holding the
  most of them (ties: the cluster with the smallest record id); the others get new IDs and
  the history records `split` with the ID that stays active as `survivor_id`, the ID that took
  some of its records as `split_id` and no `retired_id` (nothing was retired);
- a cluster with no previous ID whose records held a retired ID when they were deleted from their sources
  (`revive`: an ID retired as `deleted`, held by no live customer) takes that ID again (the oldest, when they
  held several; an ID goes to the cluster holding most of those records), and the history records `revived`
  with the ID as `survivor_id` and no `retired_id`: a record that leaves its source and comes back keeps its
  golden ID. Such an ID that no cluster revives (its records came back into another customer) retires into the
  ID of the cluster holding most of them (`merged`);
- a cluster with no previous ID gets a new one; clusters are numbered in order of their
  smallest record id so that a rebuild is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.vocabulary import FALLBACK_RULES, SURVIVORSHIP_RULES

ID_PREFIX = "G"
ID_WIDTH = 10


def format_id(n: int | pd.Series) -> str | pd.Series:
    if isinstance(n, pd.Series):
        return ID_PREFIX + n.astype("int64").astype(str).str.zfill(ID_WIDTH)
    return f"{ID_PREFIX}{int(n):0{ID_WIDTH}d}"


def id_number(golden_id: pd.Series) -> pd.Series:
    return pd.to_numeric(golden_id.str.slice(len(ID_PREFIX)), errors="coerce").fillna(0).astype("int64")


def first_free_number(golden_ids: pd.Series) -> int:
    """The number of the next new golden ID after these (ever issued: current and retired): one more than the
    highest, 1 when there are none."""
    ids = golden_ids.dropna().astype(str)
    return int(id_number(ids).max()) + 1 if len(ids) else 1


@dataclass
class Assignment:
    ids: pd.DataFrame       # record_id, golden_id
    history: pd.DataFrame   # retired_id, survivor_id, reason


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize(values, sort=True)` for text keys without missing values, ranked by Arrow (several
    times faster than sorting Python strings); anything else goes to pandas."""
    if len(values) and values.notna().all():
        try:
            text = pa.array(values, pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            text = None
        if text is not None:
            codes = pc.rank(text, sort_keys="ascending", tiebreaker="dense").to_numpy().astype(np.int64) - 1
            at = np.empty(int(codes.max()) + 1, dtype=np.int64)
            at[codes] = np.arange(len(codes))  # a position holding each distinct value
            return codes, np.asarray(values.to_numpy(dtype=object)[at], dtype=object)
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def id_codes(record_ids: np.ndarray, held: pd.DataFrame | None) -> tuple[np.ndarray, pa.Array]:
    """The golden ID each of `record_ids` holds in `held` (record_id, golden_id) as a position in the distinct
    IDs (sorted, returned second), -1 for none."""
    ids = pa.array([], pa.string())
    codes = np.full(len(record_ids), -1, np.int64)
    if held is not None and len(held):
        p = held[["record_id", "golden_id"]].drop_duplicates("record_id").dropna(subset=["golden_id"])
        ids = pc.unique(pa.array(p["golden_id"].astype(str), pa.string())).sort()
        code = pd.Series(pc.index_in(pa.array(p["golden_id"].astype(str), pa.string()), value_set=ids)
                         .to_numpy(zero_copy_only=False), index=p["record_id"].to_numpy())
        codes = code.reindex(record_ids).fillna(-1).to_numpy(np.int64)
    return codes, ids


def assign_ids(clusters: pd.DataFrame, previous: pd.DataFrame | None, next_number: int = 1,
               revive: pd.DataFrame | None = None) -> Assignment:
    """Give each cluster a golden ID, as stable as the previous xref allows.

    `clusters`: record_id, cluster (any hashable label). `previous`: record_id, golden_id.
    `next_number`: the first number free for new IDs (one past the largest ever issued). `revive`: record_id,
    golden_id: the retired ID a deleted record held, which its cluster may take again (see the module docstring).
    """
    rid = clusters["record_id"]
    labels = pd.factorize(clusters["cluster"], sort=True)[0].astype(np.int64)  # (history in label order)
    rank = sorted_codes(rid)[0]  # record ids as sorted integer ranks: group minima on integers
    prev, prev_ids = id_codes(rid.to_numpy(), previous)
    back, back_ids = id_codes(rid.to_numpy(), revive)
    per_cluster, history = assign_codes(labels, rank, prev, prev_ids, next_number, back, back_ids)
    golden = per_cluster.take(pa.array(labels)).to_numpy(zero_copy_only=False)
    return Assignment(ids=pd.DataFrame({"record_id": rid.to_numpy(), "golden_id": golden}), history=history)


def format_ids(numbers: np.ndarray) -> pa.Array:
    """`format_id` for many numbers, as Arrow strings."""
    text = pc.utf8_lpad(pa.array(np.asarray(numbers, np.int64)).cast(pa.string()), ID_WIDTH, "0")
    return pc.binary_join_element_wise(ID_PREFIX, text, "")


def _claims(labels: np.ndarray, codes: np.ndarray, m: int, cmin: np.ndarray, nums: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which cluster owns each of `m` IDs its records hold (`codes`, -1 for none): the cluster with most of its
    records (then the oldest cluster). Returns every (cluster, ID) held, the owned ones sorted by cluster then
    ID age, and which of those each cluster keeps (its oldest)."""
    has = codes >= 0
    keys, n = np.unique(labels[has] * max(m, 1) + codes[has], return_counts=True)  # (cluster, ID) by cluster, ID
    c_cluster, c_code = keys // max(m, 1), keys % max(m, 1)
    order = np.lexsort((cmin[c_cluster], -n, c_code))
    firsts = order[np.r_[True, c_code[order][1:] != c_code[order][:-1]]] if len(order) else order
    o_cluster, o_code = c_cluster[firsts], c_code[firsts]
    order = np.lexsort((o_code, nums[o_code], o_cluster))
    o_cluster, o_code = o_cluster[order], o_code[order]
    survivor = np.r_[True, o_cluster[1:] != o_cluster[:-1]] if len(o_cluster) else np.zeros(0, bool)
    return c_cluster, c_code, o_cluster, o_code, survivor


def _numbers(ids: pa.Array) -> np.ndarray:
    return id_number(pd.Series(ids.to_numpy(zero_copy_only=False), dtype=object)).to_numpy(np.int64)


def assign_codes(labels: np.ndarray, rank: np.ndarray, prev: np.ndarray, prev_ids: pa.Array,
                 next_number: int = 1, back: np.ndarray | None = None,
                 back_ids: pa.Array | None = None) -> tuple[pa.Array, pd.DataFrame]:
    """`assign_ids` on integers, for millions of records (no Python string per record).

    `labels`: each record's cluster, 0..k-1; `rank`: each record's rank in record-id order; `prev`: the position
    in `prev_ids` (the distinct previous golden IDs, sorted) of the record's previous ID, -1 for none; `back`:
    likewise in `back_ids`, the retired ID a deleted record held, which a cluster owning no previous ID takes
    again (`revived`; an ID among `prev_ids` is never revived). Returns the golden ID of each cluster (Arrow
    strings, k of them) and the history rows."""
    k = int(labels.max()) + 1 if len(labels) else 0
    cmin = pd.Series(rank).groupby(labels).min().reindex(range(k)).to_numpy(np.int64)
    m = len(prev_ids)
    nums = _numbers(prev_ids)
    if m:
        next_number = max(next_number, int(nums.max()) + 1)
    c_cluster, c_code, o_cluster, o_code, survivor = _claims(labels, prev, m, cmin, nums)
    kept = np.full(k, -1, np.int64)
    kept[o_cluster[survivor]] = o_code[survivor]
    # Retired IDs revived by clusters that own none.
    b = len(back_ids) if back_ids is not None else 0
    revived = np.full(k, -1, np.int64)
    back_codes = None  # (the IDs records came back with that no record holds; none: no array per record)
    if b and back is not None and back_ids is not None:
        back_codes = back.copy()
        if m:
            back_codes[pc.is_in(back_ids, value_set=prev_ids).to_numpy(zero_copy_only=False)[np.maximum(back, 0)]
                       & (back >= 0)] = -1
        back_nums = _numbers(back_ids)
        free = (back_codes >= 0) & (kept[labels] < 0)
        _, _, r_cluster, r_code, first = _claims(labels, np.where(free, back_codes, -1), b, cmin, back_nums)
        revived[r_cluster[first]] = r_code[first]
    else:
        back_ids = pa.array([], pa.string())
    # New IDs for clusters that own none, in order of their smallest record id.
    need = np.flatnonzero((kept < 0) & (revived < 0))
    need = need[np.argsort(cmin[need], kind="stable")]
    number = np.zeros(k, np.int64)
    number[need] = np.arange(next_number, next_number + len(need))
    combined = pa.concat_arrays([prev_ids.cast(pa.string()), back_ids.cast(pa.string()), format_ids(number[need])])
    at = kept.copy()
    at[revived >= 0] = m + revived[revived >= 0]
    at[need] = m + b + np.arange(len(need))
    per_cluster = combined.take(pa.array(at))

    def text(codes: np.ndarray) -> np.ndarray:
        return prev_ids.take(pa.array(codes, pa.int64())).to_numpy(zero_copy_only=False)

    m_cluster, m_code = o_cluster[~survivor], o_code[~survivor]
    history = pd.DataFrame({"retired_id": text(m_code), "survivor_id": text(kept[m_cluster]), "reason": "merged"})
    owner = np.full(max(m, 1), -1, np.int64)
    owner[o_code] = o_cluster
    lost = owner[c_code] != c_cluster
    s_cluster, s_code = c_cluster[lost], c_code[lost]
    keep = ~np.isin(s_code, m_code)
    s_cluster, s_code = s_cluster[keep], s_code[keep]
    if len(s_code):  # the split ID stays active: it is no retirement (a later merge back makes no cycle)
        history = pd.concat([history, pd.DataFrame({
            "retired_id": None, "survivor_id": text(s_code),
            "split_id": per_cluster.take(pa.array(s_cluster)).to_numpy(zero_copy_only=False), "reason": "split"})],
            ignore_index=True)
    back_to = np.flatnonzero(revived >= 0)
    if len(back_to):
        history = pd.concat([history, pd.DataFrame({
            "retired_id": None, "survivor_id": back_ids.take(pa.array(revived[back_to])).to_numpy(zero_copy_only=False),
            "reason": "revived"})], ignore_index=True)
    if back_codes is not None:
        # An ID records came back with that no cluster revived retires into the ID of the cluster holding most of
        # them (they joined another customer: whoever stored the old ID is sent to it).
        _, _, q_cluster, q_code, _ = _claims(labels, back_codes, b, cmin, back_nums)
        gone = ~np.isin(q_code, revived[back_to])
        if gone.any():
            history = pd.concat([history, pd.DataFrame({
                "retired_id": back_ids.take(pa.array(q_code[gone])).to_numpy(zero_copy_only=False),
                "survivor_id": per_cluster.take(pa.array(q_cluster[gone])).to_numpy(zero_copy_only=False),
                "reason": "merged"})], ignore_index=True)
    return per_cluster, history


# --- survivorship ---------------------------------------------------------------------------------------------

RULES = SURVIVORSHIP_RULES  # (core.vocabulary: the one list, which the config validates with)
_RULE_TEXT = {"source_priority": "the most trusted source", "most_recent": "the most recently changed record",
              "most_frequent": "the value most records agree on", "most_complete": "the longest (most complete) value",
              "valid_only": "valid values only",
              "most_sources": "the value most sources confirm (their value is in it, spacing aside)",
              "cleanest": "the cleanest spelling (no stray spaces)"}
# Spacing aside: the key two spellings of one value share (ASCII and ideographic spaces removed).
_SPACES = "[[:space:]　]+"
# A stray space: at either end, doubled, or next to a Chinese character (北京 凯邦环保科技 有限责任公司).
_STRAY_SPACE = "^[[:space:]　]|[[:space:]　]$|[[:space:]　]{2}|[一-鿿][[:space:]　]|[[:space:]　][一-鿿]"


def describe_rules(rules: Sequence[str], source_priority: Sequence[str]) -> str:
    """Survivorship rules as a sentence a steward reads beside the value they chose:
    `valid values only; the most trusted source (erp > crm_a > crm_b), then the most recently changed record`."""
    valid = "valid_only" in rules
    order = [r for r in rules if r != "valid_only"]
    parts = [_RULE_TEXT.get(r, r) + (f" ({' > '.join(source_priority)})" if r == "source_priority" and source_priority
                                     else "") for r in order]
    text = ", then ".join(parts)
    return f"{_RULE_TEXT['valid_only']}; {text}" if valid and text else (_RULE_TEXT["valid_only"] if valid else text)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def survivorship_sql(relation: str, attributes: Sequence[str], rules: dict[str, list[str]],
                     source_priority: Sequence[str], valid: dict[str, str] | None = None,
                     first: dict[str, str] | None = None, text_order: Callable[[str], str] = lambda e: e) -> str:
    """SQL choosing each attribute of each golden customer by its rules, set-based (a window per attribute).

    `relation` has golden_id, record_id, source_name, updated_at and the attribute columns. `rules[attr]` is an
    ordered list from RULES, applied as successive sort keys, ties broken by record_id; a value is a candidate
    when present (not null, not blank) and, with `valid_only`, when its `valid[attr]` column is true. `first`:
    output column → a column taken from the first record (by record id) that has it. `text_order` wraps text
    sort keys for the backend (PostgreSQL sorts by its collation unless told `COLLATE "C"`). The result: one
    row per golden_id with <attr>, <attr>_source (the record that supplied it) and, for attributes in `valid`,
    <attr>_valid (that record's flag)."""
    valid = valid or {}
    prio = " ".join(f"WHEN {_literal(s)} THEN {i}" for i, s in enumerate(source_priority))
    prio_sql = f"CASE source_name {prio} ELSE {len(source_priority)} END" if prio else "0"
    rid = text_order("record_id")
    ctes, cols = [], []
    for i, attr in enumerate(attributes):
        a = _quote(attr)
        attr_rules = rules.get(attr) or list(FALLBACK_RULES)
        where = [f"{a} IS NOT NULL", f"TRIM(CAST({a} AS VARCHAR)) <> ''"]
        if "valid_only" in attr_rules and attr in valid:
            where.append(f"COALESCE({_quote(valid[attr])}, FALSE)")
        keys = []
        for rule in attr_rules:
            if rule == "source_priority":
                keys.append(prio_sql)
            elif rule == "most_recent":
                keys.append("updated_at DESC NULLS LAST")
            elif rule == "most_frequent":
                keys.append("_freq DESC")
            elif rule == "most_complete":
                keys.append(f"LENGTH(CAST({a} AS VARCHAR)) DESC")
            elif rule == "most_sources":
                keys.append("_sources DESC")
            elif rule == "cleanest":
                text = f"CAST({a} AS VARCHAR)"  # (regexp_replace: the same on DuckDB and PostgreSQL)
                keys.append(f"CASE WHEN regexp_replace({text}, {_literal(_STRAY_SPACE)}, '', 'g') <> {text} THEN 1 "
                            "ELSE 0 END")
        ok = f", {_quote(valid[attr])} AS ok" if attr in valid else ""
        freq = f", COUNT(*) OVER (PARTITION BY golden_id, {a}) AS _freq" if "most_frequent" in attr_rules else ""
        source = "_recs"
        if "most_sources" in attr_rules:
            # The sources confirming a value: those whose value of the golden customer it contains, spacing
            # aside (the legal name contains the short name; two spellings that differ by spaces contain each
            # other). A join inside each golden customer: PostgreSQL has no DISTINCT in a window.
            spaced = f"regexp_replace(CAST({a} AS VARCHAR), {_literal(_SPACES)}, '', 'g')"
            cond = " AND ".join(where)
            source = (f"(SELECT _r.*, _s._sources FROM _recs _r LEFT JOIN (SELECT _a.record_id AS _rid, "
                      f"COUNT(DISTINCT _b.source_name) AS _sources FROM (SELECT golden_id, record_id, {spaced} AS _k "
                      f"FROM _recs WHERE {cond}) _a JOIN (SELECT golden_id, source_name, {spaced} AS _k FROM _recs "
                      f"WHERE {cond}) _b ON _b.golden_id = _a.golden_id AND strpos(_a._k, _b._k) > 0 "
                      f"GROUP BY _a.record_id) _s ON _s._rid = _r.record_id)")
        ctes.append(f"a{i} AS (SELECT golden_id, v, src{', ok' if ok else ''} FROM (SELECT golden_id, {a} AS v, "
                    f"record_id AS src{ok}, ROW_NUMBER() OVER (PARTITION BY golden_id ORDER BY "
                    f"{', '.join([*keys, rid])}) AS _rn FROM (SELECT *{freq} FROM {source} _src "
                    f"WHERE {' AND '.join(where)}) c) r WHERE _rn = 1)")
        cols += [f"a{i}.v AS {a}", f"a{i}.src AS {_quote(attr + '_source')}"]
        if ok:
            cols.append(f"COALESCE(a{i}.ok, FALSE) AS {_quote(attr + '_valid')}")
    for j, (out, col) in enumerate((first or {}).items()):
        c = _quote(col)
        ctes.append(f"f{j} AS (SELECT golden_id, v FROM (SELECT golden_id, {c} AS v, ROW_NUMBER() OVER "
                    f"(PARTITION BY golden_id ORDER BY {rid}) AS _rn FROM _recs WHERE {c} IS NOT NULL) r "
                    "WHERE _rn = 1)")
        cols.append(f"f{j}.v AS {_quote(out)}")
    joins = " ".join(f"LEFT JOIN a{i} ON a{i}.golden_id = g.golden_id" for i in range(len(attributes)))
    joins += " " + " ".join(f"LEFT JOIN f{j} ON f{j}.golden_id = g.golden_id" for j in range(len(first or {})))
    ctes[:0] = [f"_recs AS (SELECT * FROM {relation} _rel)", "g AS (SELECT DISTINCT golden_id FROM _recs)"]
    return (f"WITH {', '.join(ctes)} SELECT g.golden_id{''.join(', ' + c for c in cols)} FROM g {joins} "
            "ORDER BY g.golden_id")


def survive(records: pd.DataFrame, attributes: Sequence[str], rules: dict[str, list[str]],
            source_priority: Sequence[str], valid: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per golden_id with each attribute chosen by its rules and who supplied it (`survivorship_sql`,
    run by an in-process DuckDB over the frame). Output columns: golden_id, <attr>, <attr>_source."""
    con = duckdb.connect()
    try:
        con.register("_recs", records)
        sql = survivorship_sql("_recs", attributes, rules, source_priority, valid)
        out = con.sql(sql).df()
    finally:
        con.close()
    return out[["golden_id", *[c for a in attributes for c in (a, f"{a}_source")]]]
