"""Golden records: stable IDs for clusters, and attribute-level survivorship.

IDs (`G0000000001`, …) are issued in sequence and never reused, so a smaller number is an
older ID. Given this run's clusters and the previous run's xref:

- a cluster whose records carried one golden ID keeps it (unchanged input → identical IDs;
  new records joining a cluster take its ID);
- a cluster whose records carried several IDs (clusters merged) keeps the oldest; the others
  are retired into the history with reason `merged` and their survivor;
- an ID whose records are now split over several clusters stays with the cluster holding the
  most of them (ties: the cluster with the smallest record id); the others get new IDs and
  the history records `split`;
- a cluster with no previous ID gets a new one; clusters are numbered in order of their
  smallest record id so that a rebuild is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ID_PREFIX = "G"
ID_WIDTH = 10


def format_id(n: int | pd.Series) -> str | pd.Series:
    if isinstance(n, pd.Series):
        return ID_PREFIX + n.astype("int64").astype(str).str.zfill(ID_WIDTH)
    return f"{ID_PREFIX}{int(n):0{ID_WIDTH}d}"


def id_number(golden_id: pd.Series) -> pd.Series:
    return pd.to_numeric(golden_id.str.slice(len(ID_PREFIX)), errors="coerce").fillna(0).astype("int64")


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


def assign_ids(clusters: pd.DataFrame, previous: pd.DataFrame | None, next_number: int = 1) -> Assignment:
    """Give each cluster a golden ID, as stable as the previous xref allows.

    `clusters`: record_id, cluster (any hashable label). `previous`: record_id, golden_id.
    `next_number`: the first number free for new IDs (one past the largest ever issued).
    """
    df = clusters[["record_id", "cluster"]].copy()
    # Record ids as sorted integer ranks: group minima on integers, not Python strings.
    df["rank"] = sorted_codes(df["record_id"])[0]
    cmin = df.groupby("cluster")["rank"].min().rename("cluster_min")
    if previous is not None and len(previous):
        prev = previous[["record_id", "golden_id"]].drop_duplicates("record_id")
        df = df.merge(prev, on="record_id", how="left")
        next_number = max(next_number, int(id_number(prev["golden_id"]).max()) + 1)
    else:
        df["golden_id"] = None
    cand = df.dropna(subset=["golden_id"]).groupby(["cluster", "golden_id"]).size().rename("n").reset_index()
    cand = cand.join(cmin, on="cluster")
    # Each previous ID goes to the cluster with most of its records (then the oldest cluster).
    owners = cand.sort_values(["golden_id", "n", "cluster_min"], ascending=[True, False, True]) \
        .drop_duplicates("golden_id")
    owners = owners.assign(num=id_number(owners["golden_id"])).sort_values(["cluster", "num"])
    survivors = owners.drop_duplicates("cluster")[["cluster", "golden_id"]]
    merged = owners[~owners.index.isin(survivors.index)][["cluster", "golden_id"]] \
        .merge(survivors, on="cluster", suffixes=("", "_survivor"))
    lost = cand[~cand.set_index(["cluster", "golden_id"]).index.isin(
        owners.set_index(["cluster", "golden_id"]).index)]
    # New IDs for clusters that own none, in order of their smallest record id.
    need = cmin[~cmin.index.isin(survivors["cluster"])].sort_values(kind="stable")
    new = pd.DataFrame({"cluster": need.index,
                        "golden_id": format_id(pd.Series(range(next_number, next_number + len(need))))})
    cluster_id = pd.concat([survivors, new], ignore_index=True)
    ids = df[["record_id", "cluster"]].merge(cluster_id, on="cluster", how="left")[["record_id", "golden_id"]]
    split = lost.merge(cluster_id, on="cluster", suffixes=("", "_survivor"))
    split = split[~split["golden_id"].isin(merged["golden_id"])]
    history = pd.concat([
        pd.DataFrame({"retired_id": merged["golden_id"], "survivor_id": merged["golden_id_survivor"],
                      "reason": "merged"}),
        pd.DataFrame({"retired_id": split["golden_id"], "survivor_id": split["golden_id_survivor"],
                      "reason": "split"}),
    ], ignore_index=True)
    return Assignment(ids=ids, history=history)


# --- survivorship -----------------------------------------------------------------------------------------

RULES = ("source_priority", "most_recent", "most_frequent", "most_complete", "valid_only")
FALLBACK_RULES = ("source_priority", "most_recent")  # an attribute without rules of its own
_RULE_TEXT = {"source_priority": "the most trusted source", "most_recent": "the most recently changed record",
              "most_frequent": "the value most records agree on", "most_complete": "the longest (most complete) value",
              "valid_only": "valid values only"}


def describe_rules(rules: Sequence[str], source_priority: Sequence[str]) -> str:
    """Survivorship rules as a sentence a steward reads beside the value they chose:
    `valid values only; the most trusted source (erp > crm_a > crm_b), then the most recently changed record`."""
    valid = "valid_only" in rules
    order = [r for r in rules if r != "valid_only"]
    parts = [_RULE_TEXT.get(r, r) + (f" ({' > '.join(source_priority)})" if r == "source_priority" and source_priority
                                     else "") for r in order]
    text = ", then ".join(parts)
    return f"{_RULE_TEXT['valid_only']}; {text}" if valid and text else (_RULE_TEXT["valid_only"] if valid else text)


def _first_per_group(group: np.ndarray, keys: list[np.ndarray]) -> np.ndarray:
    """Positions of the best row of each group: rows sorted by `keys` (first = most important,
    all ascending), then the first row of every group."""
    order = np.lexsort([*reversed(keys), group]) if keys else np.lexsort([group])
    g = group[order]
    first = np.ones(len(g), bool)
    first[1:] = g[1:] != g[:-1]
    return order[first]


def _present(col: pd.Series) -> np.ndarray:
    """Values that are neither missing nor blank (whitespace only), trimmed by Arrow, not per value in Python."""
    present = col.notna().to_numpy(dtype=bool)
    if col.dtype == object or isinstance(col.dtype, pd.StringDtype):
        try:
            text = pa.array(col, pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: each value as its text
            text = pa.array(col.astype("string"), pa.string(), from_pandas=True)
        blank = pc.equal(pc.utf8_trim_whitespace(text), "").fill_null(True)
        present &= ~blank.to_numpy(zero_copy_only=False)
    return present


def survive(records: pd.DataFrame, attributes: Sequence[str], rules: dict[str, list[str]],
            source_priority: Sequence[str], valid: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per golden_id with each attribute chosen by its rules, and who supplied it.

    `records`: golden_id, record_id, source_name, updated_at and the attributes.
    `rules[attr]`: an ordered list from RULES, applied as successive sort keys (ties broken by
    the next rule, finally by record_id). `valid[attr]`: a boolean column; with `valid_only`
    invalid values are never chosen. Output columns: golden_id, <attr>, <attr>_source.
    Vectorized: lexsorts over integer keys, shared by attributes whose order does not look at their values.
    """
    valid = valid or {}
    rank = {s: i for i, s in enumerate(source_priority)}
    gcode, gids = sorted_codes(records["golden_id"])
    prio = records["source_name"].map(rank).fillna(len(rank)).to_numpy(dtype=np.int64)
    recent = pd.to_datetime(records["updated_at"], errors="coerce") if "updated_at" in records else \
        pd.Series(pd.NaT, index=records.index)
    # Newest first; unknown dates last.
    recent_key = -recent.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    recent_key = np.where(recent.isna().to_numpy(), np.iinfo(np.int64).max, recent_key)
    rid_rank = sorted_codes(records["record_id"])[0]
    fixed = {"source_priority": prio, "most_recent": recent_key}  # sort keys that do not look at the values
    shared: dict[tuple[str, ...], np.ndarray] = {}
    out = pd.DataFrame({"golden_id": gids})
    for attr in attributes:
        attr_rules = rules.get(attr) or list(FALLBACK_RULES)
        col = records[attr]
        present = _present(col)
        if "valid_only" in attr_rules and attr in valid:
            present &= records[valid[attr]].astype("boolean").fillna(False).to_numpy(dtype=bool)
        order_rules = tuple(r for r in attr_rules if r != "valid_only")
        if set(order_rules) <= {"source_priority", "most_recent"}:
            # Orders that do not depend on the values are sorted once over all records and shared;
            # keeping the present rows of a sorted order keeps it sorted.
            if order_rules not in shared:
                shared[order_rules] = np.lexsort([rid_rank, *reversed([fixed[r] for r in order_rules]), gcode])
            order = shared[order_rules]
            order = order[present[order]]
            g = gcode[order]
            first = np.ones(len(g), bool)
            first[1:] = g[1:] != g[:-1]
            best = order[first]
        else:
            best = _best_rows(col, present, attr_rules, gcode, fixed, rid_rank)
        col_out = pd.Series([None] * len(gids), dtype=object)
        src_out = pd.Series([None] * len(gids), dtype=object)
        col_out.iloc[gcode[best]] = col.to_numpy(dtype=object)[best]
        src_out.iloc[gcode[best]] = records["record_id"].to_numpy(dtype=object)[best]
        out[attr] = col_out.to_numpy()
        out[f"{attr}_source"] = src_out.to_numpy()
    return out


def _best_rows(col: pd.Series, present: np.ndarray, attr_rules: Sequence[str], gcode: np.ndarray,
               fixed: dict[str, np.ndarray], rid_rank: np.ndarray) -> np.ndarray:
    """The chosen row of each golden record for rules that look at the values themselves."""
    idx = np.flatnonzero(present)
    keys: list[np.ndarray] = []
    for rule in attr_rules:
        if rule in fixed:
            keys.append(fixed[rule][idx])
        elif rule == "most_frequent":
            vcode = pd.factorize(col.astype("string").to_numpy()[idx])[0]
            pair = pd.Series(gcode[idx].astype(np.int64) * (vcode.max() + 1 if len(vcode) else 1) + vcode)
            keys.append(-pair.map(pair.value_counts()).to_numpy())
        elif rule == "most_complete":
            keys.append(-col.astype("string").str.len().fillna(0).to_numpy(dtype=np.int64)[idx])
    keys.append(rid_rank[idx])
    return idx[_first_per_group(gcode[idx], keys)]
