"""Point-in-time lookups, set-based: for many (key, date) questions at once, what the events of that key said by
that date. One sort of events and questions together, then running sums per key: no loop over rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def events_by(events: pd.DataFrame, key: str, time: str, queries: pd.DataFrame, qkey: str, qtime: str, *,
              inclusive: bool, sums: Sequence[str] = (), last: Sequence[str] = ()) -> pd.DataFrame:
    """For each row of `queries`: `n`, the number of `events` of its key dated before its time (at or before it with
    `inclusive`), the sums of the `sums` columns over them (`sum_<c>`) and the `last` columns of the latest of them
    (`last_<c>`); aligned with `queries`' index. Events without a key or a time count nowhere."""
    asked_keys = queries[qkey].dropna().unique()
    kept = events[events[key].isin(asked_keys) & events[time].notna()]  # events of keys nobody asks about: none
    ev = pd.DataFrame({"_k": kept[key].to_numpy(), "_t": kept[time].to_numpy(), "_i": -1,
                       **{f"_s_{c}": kept[c].to_numpy() for c in sums},
                       **{f"_l_{c}": kept[c].to_numpy() for c in last}})
    ev["_q"] = 0 if inclusive else 1  # at the same time: events first when inclusive, questions first when not
    q = pd.DataFrame({"_k": queries[qkey].to_numpy(), "_t": queries[qtime].to_numpy(), "_q": 1 if inclusive else 0,
                      "_i": np.arange(len(queries))})
    parts = [f for f in (ev, q[q["_k"].notna()]) if len(f)] or [ev]  # (concatenating an empty frame is deprecated)
    both = pd.concat(parts, ignore_index=True).reindex(columns=ev.columns).sort_values(["_k", "_t", "_q"],
                                                                                        kind="mergesort")
    is_event = both["_i"].to_numpy() < 0
    keys = both["_k"]
    asked = ~is_event
    at = both["_i"].to_numpy()[asked]

    def per_question(values: pd.Series, fill: object) -> np.ndarray:
        out = pd.Series([fill] * len(queries), dtype=values.dtype if fill is not None else object)
        out.iloc[at] = values.to_numpy()[asked]
        return out.to_numpy()

    out = pd.DataFrame(index=queries.index)
    out["n"] = per_question(pd.Series(is_event.astype(np.int64), index=both.index).groupby(keys, sort=False)
                            .cumsum(), 0).astype(np.int64)
    for c in sums:
        running = both[f"_s_{c}"].where(is_event, 0.0).astype(float).fillna(0.0).groupby(keys, sort=False).cumsum()
        out[f"sum_{c}"] = per_question(running, 0.0).astype(float)
    for c in last:
        carried = both[f"_l_{c}"].where(is_event).groupby(keys, sort=False).ffill()
        if pd.api.types.is_datetime64_any_dtype(carried) and getattr(carried.dtype, "tz", None) is None:
            # datetimes stay datetime64 (no Timestamp object per row); a question with no event before it: NaT
            when = np.full(len(queries), np.datetime64("NaT"), dtype="datetime64[ns]")
            when[at] = carried.to_numpy(dtype="datetime64[ns]")[asked]
            out[f"last_{c}"] = pd.Series(when, index=queries.index)
            continue
        out[f"last_{c}"] = pd.Series(per_question(carried.astype(object), None), index=queries.index)
        if pd.api.types.is_datetime64_any_dtype(kept[c]):
            out[f"last_{c}"] = pd.to_datetime(out[f"last_{c}"])
    return out


def month_starts(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """The first days of the months after `first` up to `last` (the snapshot dates)."""
    if pd.isna(first) or pd.isna(last) or last <= first:
        return pd.DatetimeIndex([])
    start = (first + pd.offsets.MonthBegin(1)).normalize()
    return pd.date_range(start, last, freq="MS")


def open_at(created: pd.Series, closed: pd.Series, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """(row, as_of) for every date on which a record was open: created on or before it, not closed by then."""
    if not len(dates) or not len(created):
        return pd.DataFrame({"row": pd.Series([], dtype=np.int64), "as_of": pd.Series([], dtype="datetime64[ns]")})
    c = created.to_numpy(dtype="datetime64[ns]")
    e = closed.to_numpy(dtype="datetime64[ns]")
    d = dates.to_numpy(dtype="datetime64[ns]")
    first = np.searchsorted(d, c, side="left")  # first date ≥ created
    ends = np.where(np.isnat(e), len(d), np.searchsorted(d, e, side="left"))  # dates < closed
    counts = np.clip(ends - first, 0, None)
    rows = np.repeat(np.arange(len(c)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return pd.DataFrame({"row": rows, "as_of": d[np.repeat(first, counts) + offsets]})
