"""The trained-model store: `mdm.match_model` holds every model a full run fitted, one of them active (the model in
force, keyed by the fingerprint of the matching spec it was trained for). Matching, the match API's index and
service, explanations and the stewards' console read the model in force here; a full run that trains stores its
model here."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mdm.classify import FellegiSunter
from warehouse.engine import Warehouse, value


def active_model(wh: Warehouse, fingerprint: str, conn: Connection | None = None) -> FellegiSunter | None:
    """The model in force for the matching spec with this fingerprint (`pipelines.match.fingerprint`); None when
    there is none (no full run yet, or the spec changed since)."""
    rows = wh.read_frame("SELECT model FROM mdm.match_model WHERE active AND spec_fingerprint = :f",
                         {"f": fingerprint}, conn=conn)
    return FellegiSunter.from_json(rows["model"].iloc[0]) if len(rows) else None


def active_model_id(conn: Connection) -> str | None:
    """The id of the model in force (whatever its spec): what changes when a run trains a new one."""
    return value(conn, "SELECT max(model_id) FROM mdm.match_model WHERE active")


def activate_model(conn: Connection, model: FellegiSunter, fingerprint: str, now: dt.datetime) -> None:
    """Store `model`, trained at `now` for the spec with this fingerprint, as the model in force (the one before
    stays, inactive)."""
    conn.execute(sa.text("UPDATE mdm.match_model SET active = FALSE WHERE active"))
    conn.execute(sa.text("INSERT INTO mdm.match_model (model_id, spec_fingerprint, created_at, active, model) "
                         "VALUES (:i, :f, :t, TRUE, :m)"),
                 {"i": now.strftime("%Y%m%dT%H%M%S%f"), "f": fingerprint, "t": now, "m": model.to_json()})
