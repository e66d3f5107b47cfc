"""The first matcher: records sharing a valid-looking tax code or a normalized name are one customer.

Exact keys only; the probabilistic engine replaces it. Kept small and deterministic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_PUNCT = r"[\s()（）\[\]【】,，.。·\-_/\\'\"“”‘’:：;；]+"


def normalize_name(s: pd.Series) -> pd.Series:
    t = s.astype("string").str.normalize("NFKC").str.replace(_PUNCT, "", regex=True)
    return t.mask(t == "")


def normalize_uscc(s: pd.Series) -> pd.Series:
    t = s.astype("string").str.upper().str.replace(r"[^0-9A-Z]", "", regex=True)
    return t.where(t.str.len() == 18)


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label of each of `n` nodes given undirected edges."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def exact_clusters(records: pd.DataFrame) -> pd.DataFrame:
    """`records` (record_id, name, uscc) → record_id, cluster, matched_by."""
    n = len(records)
    keys = {"uscc": normalize_uscc(records["uscc"]), "name": normalize_name(records["name"])}
    left, right, how = [], [], pd.Series("unique", index=range(n))
    pos = np.arange(n)
    for label, key in keys.items():
        codes, _ = pd.factorize(key.to_numpy(dtype=object), use_na_sentinel=True)
        ok = codes >= 0
        first = pd.Series(pos[ok]).groupby(codes[ok]).transform("min").to_numpy()
        left.append(pos[ok])
        right.append(first)
        shared = pd.Series(codes[ok]).map(pd.Series(codes[ok]).value_counts()) > 1
        how.iloc[pos[ok][shared.to_numpy()]] = how.iloc[pos[ok][shared.to_numpy()]].where(
            how.iloc[pos[ok][shared.to_numpy()]] != "unique", label)
    labels = components(n, np.concatenate(left), np.concatenate(right))
    return pd.DataFrame({"record_id": records["record_id"].to_numpy(), "cluster": labels,
                         "matched_by": how.to_numpy()})
