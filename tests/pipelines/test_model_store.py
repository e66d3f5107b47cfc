"""The trained-model store on both warehouses: a model's term frequencies are rows of `mdm.match_model_tf`, read
whole or for the values a run compares; a model stored before with them in its JSON reads as it was."""

from __future__ import annotations

import datetime as dt
import json
import random

import pandas as pd
import pytest
import sqlalchemy as sa

from mdm.classify import FellegiSunter
from pipelines.model_store import activate_model, active_model
from tests.mdm.test_classify import _model
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse

NOW = dt.datetime(2026, 12, 5, 10, 30)


@pytest.fixture
def wh(warehouse_url: str) -> Warehouse:
    w = Warehouse(warehouse_url)
    with w.begin() as conn:
        ensure_mdm(w, conn)
    return w


def model_with_tables() -> FellegiSunter:
    model = _model(random.Random(3), calibration=True)
    model.tf = {"name": {"华信": 0.2, "凯邦": 0.01, "同腾": 0.003}, "phone": {"123": 0.5}, "address": {}}
    model.tf_default["address"], model.tf_reference["address"] = 0.004, 0.02
    return model


def stored(wh: Warehouse, model: FellegiSunter, fingerprint: str = "fp", at: dt.datetime = NOW) -> None:
    with wh.begin() as conn:
        activate_model(wh, conn, model, fingerprint, at)


def test_a_model_is_stored_without_its_frequencies_and_reads_back_whole(wh: Warehouse) -> None:
    model = model_with_tables()
    stored(wh, model)
    assert active_model(wh, "fp") == model
    text = wh.read_frame("SELECT model FROM mdm.match_model")["model"].iloc[0]
    assert json.loads(text)["tf"] == {}
    rows = wh.read_frame("SELECT comparison, value, share FROM mdm.match_model_tf ORDER BY comparison, share")
    # a row without a value per comparison (address has an empty table), then one per value
    assert rows.astype(object).where(rows.notna(), None).values.tolist() == [
        ["address", None, None],
        ["name", "同腾", 0.003], ["name", "凯邦", 0.01], ["name", "华信", 0.2], ["name", None, None],
        ["phone", "123", 0.5], ["phone", None, None]]


def test_a_run_reads_the_frequencies_of_the_values_it_compares(wh: Warehouse) -> None:
    model = model_with_tables()
    stored(wh, model)
    some = active_model(wh, "fp", tf_values={"name": pd.Series(["华信", None, "华信", "不在表里"]), "phone": ["999"]})
    assert some is not None
    # every comparison keeps its table (an exact match on a value not in it takes the default), with the values asked
    assert some.tf == {"name": {"华信": 0.2}, "phone": {}, "address": {}}
    none = active_model(wh, "fp", tf_values={})
    assert none is not None and none.tf == {"name": {}, "phone": {}, "address": {}}
    assert (none.m, none.u, none.info, none.tf_default) == (model.m, model.u, model.info, model.tf_default)


def test_the_model_in_force_is_the_last_activated_for_its_spec(wh: Warehouse) -> None:
    first, second = model_with_tables(), model_with_tables()
    second.tf = {"name": {"凯邦": 0.4}}
    stored(wh, first, at=NOW)
    stored(wh, second, at=NOW + dt.timedelta(hours=1))
    assert active_model(wh, "fp") == second
    assert active_model(wh, "another spec") is None
    counts = wh.read_frame("SELECT model_id, count(*) AS n FROM mdm.match_model_tf GROUP BY model_id ORDER BY 1")
    assert counts["n"].tolist() == [7, 2]  # the first model's rows stay with it, inactive


def test_a_model_stored_with_its_frequencies_in_its_json_reads_as_it_was(wh: Warehouse) -> None:
    model = model_with_tables()
    with wh.begin() as conn:
        conn.execute(sa.text("INSERT INTO mdm.match_model (model_id, spec_fingerprint, created_at, active, model) "
                             "VALUES ('old', 'fp', :t, TRUE, :m)"), {"t": NOW, "m": model.to_json()})
    assert active_model(wh, "fp") == model
    assert active_model(wh, "fp", tf_values={"name": ["华信"]}) == model  # nothing stored apart: the JSON's tables


def test_a_warehouse_without_the_table_yet_reads_its_model(tmp_path: pytest.TempPathFactory) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path}/old.duckdb")
    model = model_with_tables()
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA mdm")
        conn.exec_driver_sql("CREATE TABLE mdm.match_model (model_id TEXT, spec_fingerprint TEXT, "
                             "created_at TIMESTAMP, active BOOLEAN, model TEXT)")
        conn.execute(sa.text("INSERT INTO mdm.match_model VALUES ('old', 'fp', :t, TRUE, :m)"),
                     {"t": NOW, "m": model.to_json()})
    assert active_model(wh, "fp") == model
