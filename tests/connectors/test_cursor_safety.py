"""Cursor safety (issue 14 #8): a future-dated cursor value (a 2027 typo in legacy data) is read but does not
become the saved cursor, so later updates are not skipped; a lookback window re-reads rows that arrive late with
an older cursor value, idempotently."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors.cursors import future_mask, is_future, looked_back, seconds
from core.config import HubConfig
from pipelines.sync import sync_source
from warehouse.engine import Warehouse
from warehouse.raw import RawStore

NOW = dt.datetime.now().replace(microsecond=0)


def ts(t: dt.datetime) -> str:
    return t.isoformat(sep=" ")


def crm(path: Path) -> str:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, updated_at TEXT)")
    con.executemany("INSERT INTO customers VALUES (?, ?, ?)", [
        ("C1", "甲", ts(NOW - dt.timedelta(days=30))),
        ("C2", "乙", ts(NOW - dt.timedelta(days=20))),
        ("C3", "丙（旧数据）", ts(NOW + dt.timedelta(days=400))),  # a legacy typo: next year
    ])
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def execute(url: str, sql: str, *args: Any) -> None:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    con.execute(sql, args)
    con.commit()
    con.close()


def config(url: str, **stream: Any) -> HubConfig:
    return HubConfig.model_validate({"sources": {"crm": {"connector": "sql", "config": {"url": url}, "streams": {
        "customers": {"table": "customers", "primary_key": "id", "cursor_field": "updated_at", **stream}}}}})


def names(wh: Warehouse) -> dict[str, str]:
    import json
    df = wh.read_frame("SELECT _key, _data FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY _key ORDER BY _batch DESC, "
                       "_row DESC) AS rn FROM raw.crm__customers) v WHERE rn = 1")
    return {k: json.loads(d)["name"] for k, d in zip(df["_key"], df["_data"], strict=True)}


def test_a_future_cursor_value_is_reported_and_does_not_freeze_the_stream(tmp_path: Path) -> None:
    url = crm(tmp_path / "crm.sqlite")
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    r = sync_source(config(url), wh, "crm")
    assert r.status == "warning" and r.stats.read == 3
    assert len(r.warnings) == 1 and "1 rows have updated_at beyond now + 1d (up to " in r.warnings[0]
    assert RawStore(wh).get_state("crm")["customers"] == {"updated_at": ts(NOW - dt.timedelta(days=20))}
    # a later, ordinary update is read (with the 2027 value saved, it was skipped for good)
    execute(url, "UPDATE customers SET name = '甲（新）', updated_at = ? WHERE id = 'C1'",
            ts(NOW - dt.timedelta(days=1)))
    r = sync_source(config(url), wh, "crm")
    assert names(wh)["C1"] == "甲（新）"
    assert r.stats.loaded == 1  # the future row is read again, but unchanged: nothing lands twice
    wh.dispose()


def test_a_saved_future_cursor_is_dropped_and_the_table_read_again(tmp_path: Path) -> None:
    url = crm(tmp_path / "crm.sqlite")
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    store = RawStore(wh)
    sync_id = store.start_sync("crm")
    store.save_state("crm", "customers", sync_id, {"updated_at": ts(NOW + dt.timedelta(days=400))})  # an old run's
    r = sync_source(config(url), wh, "crm")
    assert r.stats.read == 3 and set(names(wh)) == {"C1", "C2", "C3"}
    assert any("is in the future: read whole again" in w for w in r.warnings)
    wh.dispose()


def test_a_lookback_window_reads_late_arrivals_once(tmp_path: Path) -> None:
    url = crm(tmp_path / "crm.sqlite")
    execute(url, "DELETE FROM customers WHERE id = 'C3'")
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    assert sync_source(config(url, lookback="2h"), wh, "crm").status == "succeeded"
    # committed late: its cursor value is an hour before the saved one
    execute(url, "INSERT INTO customers VALUES ('C4', '丁', ?)", ts(NOW - dt.timedelta(days=20, hours=1)))
    r = sync_source(config(url, lookback="2h"), wh, "crm")
    assert (r.stats.read, r.stats.loaded) == (2, 1) and "C4" in names(wh)
    r = sync_source(config(url, lookback="2h"), wh, "crm")  # idempotent: the window is read again, nothing lands
    assert r.stats.loaded == 0
    assert int(wh.scalar("SELECT count(*) FROM raw.crm__customers")) == 3
    # without the window the late row is never read
    execute(url, "INSERT INTO customers VALUES ('C5', '戊', ?)", ts(NOW - dt.timedelta(days=20, hours=1)))
    sync_source(config(url), wh, "crm")
    assert "C5" not in names(wh)
    wh.dispose()


@pytest.mark.parametrize(("last", "lookback", "expected"), [
    ("2024-03-01 10:00:00", "2h", "2024-03-01 08:00:00"),
    ("2024-03-01T10:00:00.250000", "30m", "2024-03-01T09:30:00.250000"),
    ("2024-03-02", "1d", "2024-03-01"),
    (dt.datetime(2024, 3, 1, 10), 3600, dt.datetime(2024, 3, 1, 9)),
    (1500, 100, 1400),
    ("abc", "1h", "abc"),
    ("2024-03-01 10:00:00", None, "2024-03-01 10:00:00"),
])
def test_looked_back_keeps_the_cursor_type_and_form(last: Any, lookback: Any, expected: Any) -> None:
    assert looked_back(last, lookback) == expected


def test_future_values_of_each_cursor_type() -> None:
    later, earlier = dt.datetime.now() + dt.timedelta(days=3), dt.datetime.now() - dt.timedelta(days=3)
    assert future_mask(pa.chunked_array([[earlier, later, None]])).to_pylist() == [False, True, False]
    assert future_mask(pa.chunked_array([[earlier.date(), later.date()]])).to_pylist() == [False, True]
    assert future_mask(pa.chunked_array([[ts(earlier), ts(later)]])).to_pylist() == [False, True]
    assert future_mask(pa.chunked_array([[1, 2]])) is None and future_mask(pa.chunked_array([["x"]])) is None
    assert is_future(ts(later)) and not is_future(ts(later), "7d") and not is_future(12345)
    assert seconds("1d") == 86400 and seconds(90) == 90
    with pytest.raises(ValueError, match="'2 hours'"):
        seconds("2 hours")


def test_a_periodic_full_refresh_catches_what_the_cursor_missed(tmp_path: Path) -> None:
    url = crm(tmp_path / "crm.sqlite")
    execute(url, "DELETE FROM customers WHERE id = 'C3'")
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    cfg = config(url, full_refresh_every="7d")
    assert sync_source(cfg, wh, "crm").stats.read == 2  # the first read is whole
    # an update that did not touch the cursor column (a script, a restore)
    execute(url, "UPDATE customers SET name = '甲（改）' WHERE id = 'C1'")
    assert sync_source(cfg, wh, "crm").stats.read == 1  # incremental: only the row at the last cursor value
    assert names(wh)["C1"] == "甲"
    # a week later: the stream is read whole again, once
    with wh.begin() as conn:
        conn.exec_driver_sql("UPDATE raw._full_reads SET read_at = read_at - INTERVAL 8 DAY")
    r = sync_source(cfg, wh, "crm")
    assert (r.stats.read, r.stats.loaded) == (2, 1) and names(wh)["C1"] == "甲（改）"
    assert sync_source(cfg, wh, "crm").stats.read == 1
    wh.dispose()
