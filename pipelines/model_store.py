"""The trained-model store: `mdm.match_model` holds every model a full run fitted, one of them active (the model in
force, keyed by the fingerprint of the matching spec it was trained for). Matching, the match API's index and
service, explanations and the stewards' console read the model in force here; a full run that trains stores its
model here.

A model's term-frequency tables (the share of records holding each value, per comparison: 840,000 values and 30 MB
of JSON at 1M records) are rows of `mdm.match_model_tf`, not part of its JSON, so that an incremental run reads the
frequencies of the values it compares (a few thousand records' worth) instead of parsing all of them. Models stored
before keep theirs in their JSON and are read as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from contextlib import nullcontext

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mdm.classify import FellegiSunter
from warehouse.engine import Warehouse, value

TF_TABLE = "mdm.match_model_tf"


def active_model(wh: Warehouse, fingerprint: str, conn: Connection | None = None,
                 tf_values: Mapping[str, Iterable[object]] | None = None) -> FellegiSunter | None:
    """The model in force for the matching spec with this fingerprint (`pipelines.match.fingerprint`); None when
    there is none (no full run yet, or the spec changed since). `tf_values` (comparison → values): read the term
    frequencies of these values only (what scoring pairs among them looks up); None: all of them."""
    rows = wh.read_frame("SELECT model_id, model FROM mdm.match_model WHERE active AND spec_fingerprint = :f",
                         {"f": fingerprint}, conn=conn)
    if not len(rows):
        return None
    model = FellegiSunter.from_json(rows["model"].iloc[0])
    with nullcontext(conn) if conn is not None else wh.begin() as c:
        stored = _stored_tf(wh, c, str(rows["model_id"].iloc[0]), tf_values)
    if stored is not None:
        model.tf = stored
    return model


def active_model_id(conn: Connection) -> str | None:
    """The id of the model in force (whatever its spec): what changes when a run trains a new one."""
    return value(conn, "SELECT max(model_id) FROM mdm.match_model WHERE active")


def activate_model(wh: Warehouse, conn: Connection, model: FellegiSunter, fingerprint: str, now: dt.datetime) -> None:
    """Store `model`, trained at `now` for the spec with this fingerprint, as the model in force (the one before
    stays, inactive): its JSON without the term frequencies, which go to `mdm.match_model_tf`."""
    model_id = now.strftime("%Y%m%dT%H%M%S%f")
    conn.execute(sa.text("UPDATE mdm.match_model SET active = FALSE WHERE active"))
    conn.execute(sa.text("INSERT INTO mdm.match_model (model_id, spec_fingerprint, created_at, active, model) "
                         "VALUES (:i, :f, :t, TRUE, :m)"),
                 {"i": model_id, "f": fingerprint, "t": now, "m": model.to_json(tf=False)})
    wh.insert_frame(conn, "mdm", "match_model_tf", tf_rows(model_id, model.tf))


def tf_rows(model_id: str, tf: Mapping[str, Mapping[str, float]]) -> pa.Table:
    """The rows of `mdm.match_model_tf` for a model's term-frequency tables: a row with no value per comparison
    (it has a table, even an empty one), then one per value."""
    names, values, shares = [], [], []
    for name, table in tf.items():
        names.append(pa.array([name] * (len(table) + 1), pa.string()))
        values.append(pa.array([None, *table], pa.string()))
        shares.append(pa.array([None, *table.values()], pa.float64()))
    n = sum(len(a) for a in names)
    return pa.table({"model_id": pa.array([model_id] * n, pa.string()),
                     "comparison": pa.chunked_array(names, pa.string()),
                     "value": pa.chunked_array(values, pa.string()),
                     "share": pa.chunked_array(shares, pa.float64())})


def _distinct_texts(values: Iterable[object]) -> pa.Array:
    """The distinct values, as text, of a column (a pandas Series, an Arrow array or any sequence), nulls left out."""
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(
        values if isinstance(values, pd.Series) else list(values), from_pandas=True)
    return pc.unique(pc.drop_null(arr.cast(pa.string())))


def _stored_tf(wh: Warehouse, conn: Connection, model_id: str, tf_values: Mapping[str, Iterable[object]] | None
               ) -> dict[str, dict[str, float]] | None:
    """The model's term-frequency tables from `mdm.match_model_tf` (of the values `tf_values` names, when given);
    None when it has no rows there (a model stored with its tables in its JSON)."""
    if not wh.table_exists(conn, "mdm", "match_model_tf"):  # (a warehouse no run of this version wrote yet)
        return None
    params = {"m": model_id}
    marks = conn.execute(sa.text(f"SELECT comparison FROM {TF_TABLE} WHERE model_id = :m AND value IS NULL"),
                         params).fetchall()
    if not marks:
        return None
    out: dict[str, dict[str, float]] = {str(r[0]): {} for r in marks}
    if tf_values is None:
        got = wh.read_arrow(f"SELECT comparison, value, share FROM {TF_TABLE} WHERE model_id = :m "
                            "AND value IS NOT NULL", params, conn=conn)
    else:
        wanted = [(name, _distinct_texts(vals)) for name, vals in tf_values.items() if name in out]
        asked = pa.table({"comparison": pa.chunked_array([pa.array([n] * len(v), pa.string()) for n, v in wanted],
                                                         pa.string()),
                          "value": pa.chunked_array([v for _, v in wanted], pa.string())})
        with wh.dialect.arrow_relation(conn, "_hub_tf_asked", asked) as a:
            got = wh.read_arrow(f"SELECT t.comparison, t.value, t.share FROM {TF_TABLE} t JOIN {a} q "
                                "ON q.comparison = t.comparison AND q.value = t.value WHERE t.model_id = :m",
                                params, conn=conn)
    for name in out:
        rows = got.filter(pc.equal(got.column("comparison"), name))
        out[name] = dict(zip(rows.column("value").to_pylist(), rows.column("share").to_pylist(), strict=True))
    return out


def model_tf(wh: Warehouse, fingerprint: str) -> pa.Table:
    """The term frequencies of the model in force (comparison, value, share), wherever they are stored (rows of
    `mdm.match_model_tf`, or the JSON of a model stored before); empty without a model."""
    model = active_model(wh, fingerprint)
    rows = tf_rows("", model.tf if model is not None else {})
    return rows.filter(pc.is_valid(rows.column("value"))).select(["comparison", "value", "share"])
