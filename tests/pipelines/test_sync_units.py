"""`pipelines/sync.py` piece by piece, on DuckDB: the config a connector is handed, the catalog chosen from what it
offers, state messages both ways, quarantine rows of unparsable records, schema changes, streams and sources that
left the configuration, and what a sync does with a mass delete, its progress and an API connector's messages.
Written from the survivors of its mutation run (`bench/results/mutation-sync-unit-20261205.md`)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteMessage,
    AirbyteStream,
    DestinationSyncMode,
    SyncMode,
    Type,
)

from core.config import HubConfig
from pipelines.progress import Progress
from pipelines.sync import (
    StreamResult,
    SyncResult,
    _detects_deletes,
    _pk_paths,
    _state_messages,
    _state_of,
    build_catalog,
    connector_config,
    detect_schema_changes,
    extraction_errors,
    forget_removed,
    sync_source,
)
from warehouse.engine import Warehouse
from warehouse.raw import LoadStats, RawStore


def hub(sources: dict[str, Any]) -> HubConfig:
    return HubConfig.model_validate({"sources": sources})


@pytest.fixture
def wh(tmp_path: Path) -> Any:
    w = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    yield w
    w.dispose()


# --- the connector's config ----------------------------------------------------------------------------------


def test_a_file_source_hands_its_connector_each_stream_with_the_keys_it_sets() -> None:
    cfg = hub(
        {
            "erp": {
                "connector": "file",
                "config": {"path": "exports/*.csv", "encoding": "gbk"},
                "streams": {
                    "customers": {
                        "path": "c/*.xlsx",
                        "format": "xlsx",
                        "sheet": ["1月", "2月"],
                        "header_row": 3,
                        "fill_down": ["区域"],
                        "excel_dates": ["签约日期"],
                        "order": "mtime",
                        "primary_key": "编号",
                        "detect_deletes": False,
                        "max_delete_share": 0.2,
                    },
                    "orders": {"primary_key": ["单号", "行号"], "encoding": "utf-8", "fill_down": []},
                },
            }
        }
    )
    src = cfg.sources["erp"]
    assert connector_config(src) == {
        "path": "exports/*.csv",
        "encoding": "gbk",
        "streams": [
            {
                "name": "customers",
                "path": "c/*.xlsx",
                "format": "xlsx",
                "sheet": ["1月", "2月"],
                "order": "mtime",
                "header_row": 3,
                "fill_down": ["区域"],
                "excel_dates": ["签约日期"],
                "primary_key": "编号",
            },
            {"name": "orders", "encoding": "utf-8", "primary_key": ["单号", "行号"]},
        ],
    }
    assert src.config == {"path": "exports/*.csv", "encoding": "gbk"}  # the source's own config is not changed


def test_a_sql_stream_hands_over_its_table_query_cursor_and_windows() -> None:
    cfg = hub(
        {
            "crm": {
                "connector": "sql",
                "config": {"url": "sqlite:///crm.db"},
                "streams": {
                    "customers": {
                        "table": "t_customer",
                        "primary_key": "id",
                        "cursor_field": "updated_at",
                        "lookback": "1h",
                        "future_tolerance": "10m",
                    },
                    "recent": {"query": "SELECT * FROM t_customer"},
                },
            }
        }
    )
    assert connector_config(cfg.sources["crm"]) == {
        "url": "sqlite:///crm.db",
        "streams": [
            {
                "name": "customers",
                "table": "t_customer",
                "lookback": "1h",
                "future_tolerance": "10m",
                "primary_key": "id",
                "cursor_field": "updated_at",
            },
            {"name": "recent", "query": "SELECT * FROM t_customer"},
        ],
    }


def test_an_api_source_hands_over_its_config_alone() -> None:
    cfg = hub(
        {
            "wecom": {
                "connector": "wecom",
                "config": {"corp_id": "c", "secret": "s"},
                "streams": {"users": {"primary_key": "userid"}},
            }
        }
    )
    assert connector_config(cfg.sources["wecom"]) == {"corp_id": "c", "secret": "s"}


# --- keys, catalog, state ------------------------------------------------------------------------------------


def test_primary_key_paths_of_a_connector_split_dotted_names_and_keep_lists() -> None:
    assert _pk_paths(None) == [] and _pk_paths([]) == [] and _pk_paths("") == []
    assert _pk_paths("id") == [["id"]]
    assert _pk_paths("contact.id") == [["contact", "id"]]
    assert _pk_paths([["a", "b"], "c.d", "e"]) == [["a", "b"], ["c", "d"], ["e"]]
    assert _pk_paths([1]) == [["1"]]


def stream(name: str, modes: list[SyncMode], pk: Any = None, cursor: list[str] | None = None) -> AirbyteStream:
    return AirbyteStream(
        name=name,
        json_schema={"properties": {"id": {}}},
        supported_sync_modes=modes,
        source_defined_primary_key=pk,
        default_cursor_field=cursor,
    )


OFFERED = AirbyteCatalog(
    streams=[
        stream("users", [SyncMode.full_refresh], pk=[["userid"]]),
        stream(
            "contacts",
            [SyncMode.full_refresh, SyncMode.incremental],
            pk=[["contact", "id"], ["owner"]],
            cursor=["updated"],
        ),
        stream("logs", [SyncMode.incremental], pk=None, cursor=None),
        stream("tags", [], pk=None),
    ]
)


def test_the_catalog_reads_incrementally_what_the_connector_can_with_its_cursor_and_keys() -> None:
    src = hub(
        {"w": {"connector": "wecom", "streams": {"contacts": {}, "users": {"primary_key": "a.b"}, "logs": {}}}}
    ).sources["w"]
    catalog, pks = build_catalog("w", src, OFFERED)
    assert pks == {"contacts": [["contact", "id"], ["owner"]], "users": [["a", "b"]], "logs": []}
    got = [
        (s.stream.name, s.sync_mode, s.destination_sync_mode, s.cursor_field, s.primary_key) for s in catalog.streams
    ]
    assert got == [
        ("contacts", SyncMode.incremental, DestinationSyncMode.append, ["updated"], [["contact", "id"], ["owner"]]),
        ("users", SyncMode.full_refresh, DestinationSyncMode.append, None, [["a", "b"]]),
        ("logs", SyncMode.incremental, DestinationSyncMode.append, [], None),
    ]


def test_without_streams_configured_the_catalog_takes_every_stream_offered() -> None:
    catalog, pks = build_catalog("w", hub({"w": {"connector": "wecom"}}).sources["w"], OFFERED)
    assert [s.stream.name for s in catalog.streams] == ["users", "contacts", "logs", "tags"]
    assert [s.sync_mode for s in catalog.streams][-1] == SyncMode.full_refresh  # no modes given: read whole
    assert catalog.streams[-1].cursor_field is None
    assert pks["tags"] == [] and pks["users"] == [["userid"]]


def test_streams_not_offered_fail_naming_each_and_what_is_offered() -> None:
    from pipelines.sync import SyncError

    src = hub({"w": {"connector": "wecom", "streams": {"users": {}, "mars": {}, "venus": {}}}}).sources["w"]
    with pytest.raises(SyncError) as e:
        build_catalog("w", src, OFFERED)
    assert str(e.value) == (
        "source w: stream(s) mars, venus not offered by connector wecom; it offers: users, contacts, logs, tags"
    )


def test_state_messages_name_their_stream_and_read_back_as_they_were_saved() -> None:
    msgs = _state_messages({"users": {"cursor": "2024-01-01", "n": 2}, "tags": {}})
    assert [m.stream.stream_descriptor.name for m in msgs] == ["users", "tags"]
    assert [m.type.value for m in msgs] == ["STREAM", "STREAM"]
    back = [_state_of(AirbyteMessage(type=Type.STATE, state=m)) for m in msgs]
    assert back == [("users", {"cursor": "2024-01-01", "n": 2}), ("tags", {})]


def test_a_legacy_state_message_has_no_stream_and_keeps_its_data() -> None:
    from airbyte_cdk.models import AirbyteStateMessage

    msg = AirbyteMessage(type=Type.STATE, state=AirbyteStateMessage(data={"users": {"cursor": 3}}))
    assert _state_of(msg) == (None, {"users": {"cursor": 3}})


def test_a_stream_state_message_without_its_type_still_names_its_stream() -> None:
    from airbyte_cdk.models import AirbyteStateBlob, AirbyteStateMessage, AirbyteStreamState, StreamDescriptor

    untyped = AirbyteStateMessage(
        stream=AirbyteStreamState(
            stream_descriptor=StreamDescriptor(name="users"), stream_state=AirbyteStateBlob({"cursor": 5})
        )
    )
    assert _state_of(AirbyteMessage(type=Type.STATE, state=untyped)) == ("users", {"cursor": 5})
    empty = AirbyteStateMessage(stream=AirbyteStreamState(stream_descriptor=StreamDescriptor(name="tags")))
    assert _state_of(AirbyteMessage(type=Type.STATE, state=empty)) == ("tags", {})


def test_records_a_connector_could_not_parse_are_quarantined_whole_with_their_key_and_reasons() -> None:
    bad = [
        {"id": " K1 ", "name": "甲", "_hub_errors": ["field 'name': bad bytes", "line 3: 4 cells"], "_hub_row": 7},
        {"name": "乙", "_hub_errors": []},
    ]
    rows = extraction_errors("erp", "customers", "s1", bad, [["id"]])
    assert [
        {k: r[k] for k in ("source", "stream", "sync_id", "stage", "record_key", "reason", "action", "field")}
        for r in rows
    ] == [
        {
            "source": "erp",
            "stream": "customers",
            "sync_id": "s1",
            "stage": "extract",
            "record_key": "K1",
            "reason": "field 'name': bad bytes; line 3: 4 cells",
            "action": "rejected",
            "field": None,
        },
        {
            "source": "erp",
            "stream": "customers",
            "sync_id": "s1",
            "stage": "extract",
            "record_key": None,
            "reason": "",
            "action": "rejected",
            "field": None,
        },
    ]
    assert [json.loads(r["record"]) for r in rows] == [
        {"id": " K1 ", "name": "甲", "_hub_errors": ["field 'name': bad bytes", "line 3: 4 cells"]},
        {"name": "乙", "_hub_errors": []},
    ]


def test_deletes_are_detected_unless_a_configured_stream_turns_them_off() -> None:
    src = hub(
        {
            "f": {
                "connector": "file",
                "config": {"path": "x"},
                "streams": {"a": {}, "b": {"detect_deletes": False}, "c": {"detect_deletes": True}},
            }
        }
    ).sources["f"]
    assert [_detects_deletes(src, s) for s in ("a", "b", "c", "other")] == [True, False, True, True]


def test_a_sync_result_adds_up_its_streams() -> None:
    r = SyncResult(
        "s",
        "id",
        streams={"a": StreamResult(LoadStats(5, 3, 2, 1, 4)), "b": StreamResult(LoadStats(10, 20, 30, 40, 50))},
    )
    assert r.stats == LoadStats(15, 23, 32, 41, 54)
    assert SyncResult("s", "id").stats == LoadStats()


# --- schema changes ------------------------------------------------------------------------------------------


def columns(*names: str) -> dict[str, Any]:
    return {"type": "object", "properties": {n: {"type": "string"} for n in names}}


def catalog_of(**streams: dict[str, Any] | None) -> Any:
    from airbyte_cdk.models import ConfiguredAirbyteCatalog, ConfiguredAirbyteStream

    return ConfiguredAirbyteCatalog(
        streams=[
            ConfiguredAirbyteStream(
                stream=AirbyteStream(name=n, json_schema=s, supported_sync_modes=[SyncMode.full_refresh]),
                sync_mode=SyncMode.full_refresh,
                destination_sync_mode=DestinationSyncMode.append,
            )
            for n, s in streams.items()
        ]
    )


def schema_rows(wh: Warehouse) -> list[tuple[str, str, str, str]]:
    return [
        tuple(r)
        for r in wh.read_frame(
            "SELECT source, stream, columns, sync_id FROM raw._schema ORDER BY source, stream"
        ).itertuples(index=False)
    ]


def test_schema_changes_are_reported_per_stream_and_source_and_remembered(
    wh: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    store = RawStore(wh)
    first = SyncResult("erp", "s1")
    detect_schema_changes(store, "erp", "s1", catalog_of(a=columns("id", "名称"), b=columns("x"), c=None), first)
    assert {n: s.schema_changes for n, s in first.streams.items()} == {"a": [], "b": [], "c": []}
    assert schema_rows(wh) == [("erp", "a", '["id", "名称"]', "s1"), ("erp", "b", '["x"]', "s1")]
    # another source with a stream of the same name is its own
    detect_schema_changes(store, "crm", "s2", catalog_of(a=columns("id")), SyncResult("crm", "s2"))
    caplog.set_level(logging.WARNING, logger="hub.sync")
    second = SyncResult("erp", "s3")
    detect_schema_changes(
        store, "erp", "s3", catalog_of(a=columns("id", "电话", "地址"), b=columns("x"), c=columns()), second
    )
    assert {n: s.schema_changes for n, s in second.streams.items()} == {
        "a": ["new column(s): 地址, 电话", "dropped column(s): 名称"],
        "b": [],
        "c": [],
    }
    assert [r.getMessage() for r in caplog.records] == [
        "erp.a: schema changed: new column(s): 地址, 电话; dropped column(s): 名称"
    ]
    assert schema_rows(wh) == [
        ("crm", "a", '["id"]', "s2"),
        ("erp", "a", '["id", "地址", "电话"]', "s3"),
        ("erp", "b", '["x"]', "s1"),
    ]
    third = SyncResult("erp", "s4")  # columns only dropped, or only added
    detect_schema_changes(store, "erp", "s4", catalog_of(a=columns("id"), b=columns("x", "y")), third)
    assert {n: s.schema_changes for n, s in third.streams.items()} == {
        "a": ["dropped column(s): 地址, 电话"],
        "b": ["new column(s): y"],
    }


# --- streams and sources that left the configuration ---------------------------------------------------------


def land(store: RawStore, source: str, stream: str, keys: list[str]) -> None:
    sync = store.start_sync(source)
    store.load(source, stream, sync, [{"id": k} for k in keys], [["id"]], 0)
    store.finish_sync(sync, "succeeded", LoadStats())


def live(wh: Warehouse) -> list[tuple[str, str, int]]:
    return [
        tuple(r)
        for r in wh.read_frame(
            "SELECT source, stream, count(*) AS n FROM raw._record_index WHERE record_hash IS NOT NULL "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ).itertuples(index=False)
    ]


def test_records_of_removed_streams_and_sources_are_deleted_only_when_allowed(wh: Warehouse) -> None:
    store = RawStore(wh)
    land(store, "crm", "customers", ["C1", "C2"])
    land(store, "crm", "orders", ["O1", "O2", "O3"])
    land(store, "crm", "contacts", ["P1"])
    land(store, "old", "customers", ["X1"])
    land(store, "all", "users", ["U1"])  # a source without `streams` reads every stream of its connector
    land(store, "off", "users", ["U2"])  # a disabled source keeps its records
    cfg = hub(
        {
            "crm": {"connector": "file", "config": {"path": "x"}, "streams": {"customers": {}}},
            "all": {"connector": "wecom"},
            "off": {"connector": "wecom", "enabled": False},
        }
    )
    said: list[str] = []
    refused = forget_removed(cfg, wh, progress=said.append)
    assert [
        (r.source, r.status, {n: (s.stats.deleted, s.error is not None) for n, s in r.streams.items()}) for r in refused
    ] == [
        ("crm", "failed", {"contacts": (0, True), "orders": (0, True)}),
        ("old", "failed", {"customers": (0, True)}),
    ]
    why = (
        "would be deleted because the stream is no longer in the configuration; a removed source's or stream's "
        "records are deleted only when a run is told to, so none were. If this is intended, run again with "
        "--allow-mass-delete (Dagster: the run config `allow_mass_delete: true` of the source's sync or of "
        "raw/removed_sources)"
    )
    assert refused[0].error == (
        f"crm.contacts: 1 of 1 records (100%) {why}; crm.orders: 3 of 3 records (100%) {why}"
    )
    assert said == [f"crm: {refused[0].error}", f"old: {refused[1].error}"]
    assert "because the source is no longer in the configuration" in (refused[1].error or "")
    assert live(wh) == [
        ("all", "users", 1),
        ("crm", "contacts", 1),
        ("crm", "customers", 2),
        ("crm", "orders", 3),
        ("off", "users", 1),
        ("old", "customers", 1),
    ]

    said.clear()
    done = forget_removed(cfg, wh, allow_mass_delete=True, progress=said.append)
    assert [(r.source, r.status, r.error, r.stats.deleted) for r in done] == [
        ("crm", "succeeded", None, 4),
        ("old", "succeeded", None, 1),
    ]
    assert said == [
        "crm: 4 records deleted (the stream is no longer in the configuration)",
        "old: 1 records deleted (the source is no longer in the configuration)",
    ]
    assert live(wh) == [("all", "users", 1), ("crm", "customers", 2), ("off", "users", 1)]
    syncs = wh.read_frame(
        "SELECT source, status, records_deleted, error FROM raw._syncs WHERE sync_id IN "
        f"('{done[0].sync_id}', '{done[1].sync_id}', '{refused[0].sync_id}') ORDER BY started_at"
    )
    assert syncs.values.tolist() == [
        ["crm", "failed", 0, refused[0].error],
        ["crm", "succeeded", 4, None],
        ["old", "succeeded", 1, None],
    ]
    tombstones = wh.read_frame("SELECT DISTINCT _sync_id FROM raw.crm__orders WHERE _deleted")["_sync_id"]
    assert tombstones.tolist() == [done[0].sync_id]  # each deletion is the removing sync's
    assert forget_removed(cfg, wh, allow_mass_delete=True) == []  # nothing left to forget


# --- a complete read that would delete too much, and what a sync says as it goes ----------------------------

HEADER = "客户编号,客户名称\n"


def file_hub(path: Path, orders: Path | None = None, **stream: Any) -> HubConfig:
    streams: dict[str, Any] = {"customers": {"primary_key": "客户编号", **stream}}
    if orders is not None:
        streams["orders"] = {"primary_key": "客户编号", "path": str(orders)}
    return hub({"daily": {"connector": "file", "config": {"path": str(path)}, "streams": streams}})


def unthrottled(said: list[str]) -> Progress:
    """Progress into `said` whose counters write no line between their first and last (however slow the machine)."""
    return Progress(said.append, interval=3600)


def untimed(said: list[str]) -> list[str]:
    """Progress lines without the time a counter adds to its last line when it ran a second or more."""
    return [re.sub(r" in \d+\.\d s \([^)]*\)$", "", m) for m in said]


def states(wh: Warehouse) -> list[str]:
    return wh.read_frame("SELECT stream FROM raw._state ORDER BY stream")["stream"].tolist()


def test_a_complete_read_deleting_more_than_the_streams_share_fails_and_forgets_its_state(
    tmp_path: Path, wh: Warehouse
) -> None:
    f = tmp_path / "export.csv"
    f.write_text(HEADER + "".join(f"K{i},客户{i}\n" for i in range(1, 6)), encoding="utf-8")
    orders = tmp_path / "orders.csv"
    orders.write_text(HEADER + "K1,客户1\n", encoding="utf-8")
    said: list[str] = []
    first = sync_source(file_hub(f, orders, max_delete_share=0.5), wh, "daily", progress=unthrottled(said))
    assert (first.status, first.stats.loaded, first.stats.deleted) == ("succeeded", 6, 0)
    assert untimed(said) == ["daily.customers: 5 read, 5 new or changed", "daily.orders: 1 read, 1 new or changed"]
    assert states(wh) == ["customers", "orders"]
    f.write_text(HEADER + "K1,客户1\nK2,客户2\n", encoding="utf-8")  # 3 of 5 gone: 60%
    refused = sync_source(file_hub(f, orders, max_delete_share=0.5), wh, "daily")
    why = (
        "daily.customers: 3 of 5 records (60%) would be deleted because they are missing from a complete read of "
        "the source; a run deletes at most 50% of a stream (max_delete_share), so none were. If this is "
        "intended, run again with --allow-mass-delete"
        " (Dagster: the run config `allow_mass_delete: true` of the source's sync or of raw/removed_sources)"
    )
    assert (refused.status, refused.error, refused.stats.deleted) == ("failed", f"source daily: {why}", 0)
    assert refused.streams["customers"].error == why
    assert states(wh) == ["orders"]  # the next sync reads customers whole again, and asks again; orders is done
    assert wh.scalar("SELECT count(*) FROM raw._record_index WHERE record_hash IS NOT NULL") == 6
    said.clear()
    allowed = sync_source(file_hub(f, orders, max_delete_share=0.6), wh, "daily", progress=unthrottled(said))
    assert (allowed.status, allowed.error, allowed.stats.deleted) == ("succeeded", None, 3)
    assert untimed(said) == [
        "daily.customers: 2 read, 0 new or changed",
        "daily.customers: 3 records deleted in the source",
        "daily.orders: 0 read, 0 new or changed",
    ]
    assert wh.read_frame(
        "SELECT status, records_deleted, error FROM raw._syncs ORDER BY started_at"
    ).values.tolist() == [
        ["succeeded", 0, None],
        ["failed", 0, f"source daily: {why}"],
        ["succeeded", 3, None],
    ]


def test_a_stream_that_does_not_detect_deletes_keeps_what_a_complete_read_misses(tmp_path: Path, wh: Warehouse) -> None:
    f = tmp_path / "export.csv"
    f.write_text(HEADER + "K1,甲\nK2,乙\n", encoding="utf-8")
    assert sync_source(file_hub(f, detect_deletes=False), wh, "daily").stats.loaded == 2
    f.write_text(HEADER + "K1,甲\n", encoding="utf-8")
    r = sync_source(file_hub(f, detect_deletes=False), wh, "daily")
    assert (r.status, r.stats.read, r.stats.deleted) == ("succeeded", 1, 0)
    assert wh.scalar("SELECT count(*) FROM raw._seen") == 0  # nothing noted for a read that tells no deletes
    r = sync_source(file_hub(f), wh, "daily")  # the file is done: not read again
    assert (r.status, r.stats.read, r.stats.deleted) == ("succeeded", 0, 0)
    r = sync_source(file_hub(f), wh, "daily", full_refresh=True)  # read whole, with detection (the default): K2 goes
    assert (r.status, r.stats.read, r.stats.unchanged, r.stats.deleted) == ("succeeded", 1, 1, 1)


# --- an API connector: batches, checkpoints, deletes of full reads -------------------------------------------

WECOM = {
    "connector": "wecom",
    "config": {"corp_id": "${WECOM_CORP_ID}", "secret": "${WECOM_SECRET}", "base_url": "${WECOM_BASE_URL}"},
}


@pytest.fixture
def wecom() -> Any:
    """A WeCom fake over 20 companies (40 users, 27 departments), its own: tests remove its records."""
    from connectors.fakes.serve import build_server

    server = build_server("wecom", entities=20, seed=3)
    server.start()
    yield server
    server.stop()


def wecom_hub(server: Any, tmp_path: Path, streams: dict[str, Any] | None = None) -> HubConfig:
    import yaml

    from connectors.fakes.serve import demo_env
    from core.config_file import load_config

    src = {**WECOM, **({"streams": streams} if streams is not None else {})}
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump({"sources": {"wecom": src}}), encoding="utf-8")
    return load_config(tmp_path / "hub.yaml", env=demo_env({"wecom": server.url}))


def test_an_api_source_lands_every_batch_size_records_and_its_full_reads_tell_deletes(
    tmp_path: Path, wh: Warehouse, wecom: Any
) -> None:
    cfg = wecom_hub(wecom, tmp_path, {"users": {"detect_deletes": False}, "departments": {}})
    said: list[str] = []
    first = sync_source(cfg, wh, "wecom", batch_size=20, progress=said.append)
    assert first.status == "succeeded"
    assert {n: (s.stats.read, s.stats.loaded, s.stats.deleted) for n, s in first.streams.items()} == {
        "users": (40, 40, 0),
        "departments": (27, 27, 0),
    }
    # (the connector reads its streams concurrently: the order of the streams' lines is not fixed; a stream's
    # progress is a counter: a line every few seconds while it reads, and its total at the end, not one per batch)
    assert sorted(untimed(said)) == ["wecom.departments: 27 read, 27 new or changed",
                                     "wecom.users: 40 read, 40 new or changed"]
    # the users' checkpoint came after their last full batch, with nothing left to land: it is saved all the same
    assert states(wh) == ["departments", "users"]
    rows = wh.read_frame("SELECT _key, _row FROM raw.wecom__users ORDER BY _row")
    assert rows["_row"].tolist() == list(range(40))  # the rows of a stream count on across its batches
    users = wecom.dataset.tables["users"].records
    for key in sorted(users)[:2]:  # a stream that does not detect deletes keeps them
        users.pop(key)
    wecom.dataset.tables["departments"].records.pop(27)  # a leaf department, with one user (read no more)
    said.clear()
    second = sync_source(cfg, wh, "wecom", progress=said.append)
    assert {n: (s.stats.read, s.stats.unchanged, s.stats.deleted) for n, s in second.streams.items()} == {
        "users": (37, 37, 0),
        "departments": (26, 26, 1),
    }
    assert sorted(untimed(said[:2])) == [
        "wecom.departments: 26 read, 0 new or changed",
        "wecom.users: 37 read, 0 new or changed",
    ]
    assert said[2:] == ["wecom.departments: 1 records deleted in the source"]
    deleted = wh.read_frame("SELECT _key FROM raw.wecom__departments WHERE _deleted")["_key"].tolist()
    assert deleted == ["27"]
    assert wh.scalar("SELECT count(*) FROM raw.wecom__users WHERE _deleted") == 0


def test_an_api_stream_without_config_may_delete_half_of_it_not_more(tmp_path: Path, wh: Warehouse, wecom: Any) -> None:
    cfg = wecom_hub(wecom, tmp_path)  # every stream the connector offers, none configured: the default 50%
    assert sync_source(cfg, wh, "wecom").status == "succeeded"
    users = wecom.dataset.tables["users"].records
    for key in sorted(users)[:21]:  # 21 of 40
        users.pop(key)
    r = sync_source(cfg, wh, "wecom")
    assert r.status == "failed" and r.streams["users"].stats.deleted == 0
    assert r.error == (
        "source wecom: wecom.users: 21 of 40 records (52%) would be deleted because they are "
        "missing from a complete read of the source; a run deletes at most 50% of a stream "
        "(max_delete_share), so none were. If this is intended, run again with --allow-mass-delete"
        " (Dagster: the run config `allow_mass_delete: true` of the source's sync or of raw/removed_sources)"
    )
    assert "users" not in states(wh)
    r = sync_source(cfg, wh, "wecom", allow_mass_delete=True)
    assert (r.status, r.streams["users"].stats.deleted) == ("succeeded", 21)


DINGTALK = {
    "connector": "dingtalk",
    "config": {
        "app_key": "${DINGTALK_APP_KEY}",
        "app_secret": "${DINGTALK_APP_SECRET}",
        "operator_user_id": "${DINGTALK_OPERATOR_USER_ID}",
        "base_url": "${DINGTALK_BASE_URL}",
        "oapi_base_url": "${DINGTALK_OAPI_BASE_URL}",
        "page_size": 10,
        "num_workers": 1,
    },
    "streams": {"crm_customers": {}},
}


@contextmanager
def dingtalk_fake(tmp_path: Path, streams: dict[str, Any]) -> Iterator[tuple[Any, HubConfig]]:
    """The DingTalk fake over a sample universe (300 companies: 72 CRM customers, 11 departments below the root),
    serving, and a config of the source `dingtalk` reading `streams` from it."""
    import yaml

    from connectors.fakes.serve import build_server, demo_env
    from core.config_file import load_config

    server = build_server("dingtalk", entities=300, seed=3, sample=True)
    server.start()
    try:
        conf = {**DINGTALK, "streams": streams}
        (tmp_path / "hub.yaml").write_text(yaml.safe_dump({"sources": {"dingtalk": conf}}), encoding="utf-8")
        yield server, load_config(tmp_path / "hub.yaml", env=demo_env({"dingtalk": server.url}))
    finally:
        server.stop()


def test_an_incremental_api_stream_reads_from_its_saved_cursor_on(tmp_path: Path, wh: Warehouse) -> None:
    # The bug this found: the source that reads was the one built to discover, without the saved state, and a
    # declarative source's concurrent streams take their state when built: every sync read the stream whole.
    with dingtalk_fake(tmp_path, DINGTALK["streams"]) as (server, cfg):  # 72 CRM customers
        first = sync_source(cfg, wh, "dingtalk")
        assert (first.status, first.stats.read, first.stats.loaded) == ("succeeded", 72, 72)
        latest = max(r["modifyTime"] for r in server.dataset.records("crm_customer"))
        assert json.loads(wh.scalar("SELECT state FROM raw._state")) == {"modifyTime": latest}
        # from the cursor on, that value included: the last modified customer alone
        second = sync_source(cfg, wh, "dingtalk")
        assert (second.status, second.stats.read, second.stats.unchanged) == ("succeeded", 1, 1)
        assert wh.scalar("SELECT count(*) FROM raw._seen") == 0  # an incremental read tells no deletes: notes none
        some = server.dataset.records("crm_customer")[5]
        changed = server.dataset.upsert(
            "crm_customer", {"instanceId": some["instanceId"], "data": {**some["data"], "customer_name": "改名公司"}}
        )
        third = sync_source(cfg, wh, "dingtalk")  # the changed one, and the one at the cursor again
        assert (third.status, third.stats.read, third.stats.loaded, third.stats.unchanged) == ("succeeded", 2, 1, 1)
        assert json.loads(wh.scalar("SELECT state FROM raw._state")) == {"modifyTime": changed["modifyTime"]}
        whole = sync_source(cfg, wh, "dingtalk", full_refresh=True)  # no saved state: from the start
        assert (whole.status, whole.stats.read, whole.stats.unchanged) == ("succeeded", 72, 72)


def test_a_record_deleted_through_the_fakes_control_api_is_tombstoned_by_the_next_full_read(
    tmp_path: Path, wh: Warehouse
) -> None:
    """`POST /_fake/delete` removes a record as the vendor's list no longer shows one deleted there: a user trying
    the connectors against `hub fakes serve` sees the delete reach raw."""
    import requests

    with dingtalk_fake(tmp_path, {"departments": {}}) as (server, cfg):  # 11 departments below the root
        assert sync_source(cfg, wh, "dingtalk").stats.loaded == 11
        records = server.dataset.tables["departments"].records.values()
        leaf = next(r for r in records if not any(o["parent_id"] == r["dept_id"] for o in records))
        gone = requests.post(f"{server.url}/_fake/delete", timeout=10,
                             json={"object": "departments", "record": {"dept_id": leaf["dept_id"]}})
        assert gone.status_code == 200, gone.text
        again = sync_source(cfg, wh, "dingtalk")
        assert (again.status, again.stats.read, again.stats.deleted) == ("succeeded", 10, 1)
        assert wh.read_frame("SELECT _key FROM raw.dingtalk__departments WHERE _deleted")["_key"].tolist() == [
            str(leaf["dept_id"])]


def test_a_full_api_read_after_one_that_failed_part_way_deletes_what_the_failed_read_saw(
    tmp_path: Path, wh: Warehouse
) -> None:
    # The bug this found: the state the CDK saves at the end of a full read ({"__ab_no_cursor_state_message": true},
    # which it reads itself as no state) was taken for a read to resume, so a full read after one that failed
    # part-way kept the keys the failed read had noted as seen: a department that read saw and the source deleted
    # afterwards was tombstoned a sync late.
    with dingtalk_fake(tmp_path, {"departments": {}}) as (server, cfg):  # 11 departments below the root
        first = sync_source(cfg, wh, "dingtalk")
        assert (first.status, first.stats.read, first.stats.loaded) == ("succeeded", 11, 11)
        assert json.loads(wh.scalar("SELECT state FROM raw._state")) == {"__ab_no_cursor_state_message": True}
        server.set_faults(quota_after=13)  # the quota runs out when 5 departments were read (test_sync.py)
        failed = sync_source(cfg, wh, "dingtalk")
        assert (failed.status, failed.stats.read, failed.stats.deleted) == ("failed", 5, 0)
        seen = wh.read_frame("SELECT record_key FROM raw._seen")["record_key"].tolist()
        assert len(seen) == 5
        server.set_faults(quota_after=None)
        records = server.dataset.tables["departments"].records
        popped = next(k for k in records if str(k) == seen[0])
        gone, children = {popped}, {popped}
        while children:  # the connector walks the tree: what was below the deleted department is not read either
            children = {r["dept_id"] for r in records.values() if r["parent_id"] in children}
            gone |= children
        records.pop(popped)
        third = sync_source(cfg, wh, "dingtalk")
        assert (third.status, third.stats.read, third.stats.deleted) == ("succeeded", 11 - len(gone), len(gone))
        deleted = wh.read_frame("SELECT _key FROM raw.dingtalk__departments WHERE _deleted")["_key"].tolist()
        assert sorted(deleted) == sorted(str(k) for k in gone) and seen[0] in deleted


# --- failures, and how a sync reports them -------------------------------------------------------------------


def test_failures_before_reading_name_the_source_and_what_went_wrong(
    tmp_path: Path, wh: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sources = {
        "refused": {
            "connector": "wecom",
            "config": {"corp_id": "c", "secret": "s", "base_url": f"http://127.0.0.1:{port}"},
        },
        "nodb": {
            "connector": "sql",
            "config": {"url": f"sqlite:///{tmp_path}/missing/x.db"},
            "streams": {"t": {"table": "t", "primary_key": "id"}},
        },
        "nodriver": {
            "connector": "sql",
            "config": {"url": "nosuch://x"},
            "streams": {"t": {"table": "t", "primary_key": "id"}},
        },
        "nofile": {
            "connector": "file",
            "config": {"path": f"{tmp_path}/none/*.csv"},
            "streams": {"t": {"primary_key": "id"}},
        },
    }
    cfg = hub(sources)
    caplog.set_level(logging.DEBUG, logger="hub.sync")
    got = {name: sync_source(cfg, wh, name) for name in sources}
    expected = {
        "refused": f"source refused: cannot connect to base_url http://127.0.0.1:{port} (connection refused): is the "
        "server running?",
        "nodb": f"source nodb: database sqlite:///{tmp_path}/missing/x.db: unable to open database file",
        "nodriver": "source nodriver: NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:nosuch",
        "nofile": f"source nofile: t: no file matches {tmp_path}/none/*.csv",
    }
    assert {n: (r.status, r.error) for n, r in got.items()} == {n: ("failed", e) for n, e in expected.items()}
    # a file stream fails alone at discovery (the others of its source would be read): its error is its own
    assert {n: {s: r.error for s, r in res.streams.items()} for n, res in got.items()} == {
        "refused": {}, "nodb": {}, "nodriver": {}, "nofile": {"t": f"no file matches {tmp_path}/none/*.csv"}}
    assert all(0 <= r.seconds < 600 for r in got.values())  # the time the sync took, not a clock reading
    logged = wh.read_frame("SELECT source, status, error, records_read FROM raw._syncs ORDER BY started_at")
    assert logged.values.tolist() == [[n, "failed", e, 0] for n, e in expected.items()]
    # an unexpected error is logged with its traceback, for debugging; the expected ones are not
    debug = [(r.getMessage(), r.exc_info[0].__name__) for r in caplog.records if r.name == "hub.sync" and r.exc_info]
    assert debug == [("sync of nodriver failed", "NoSuchModuleError")]


def test_a_failing_stream_does_not_stop_the_others_and_each_failure_is_named(tmp_path: Path, wh: Warehouse) -> None:
    (tmp_path / "a.csv").write_text("id,name\nA1,甲\nA2,乙\nA3,丙\nA4,丁\nA5,戊\n", encoding="utf-8")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "1.csv").write_text("id,name\nB1,甲\n", encoding="utf-8")
    (tmp_path / "b" / "2.dat").write_text("id,name\nB2,乙\n", encoding="utf-8")  # a format the reader cannot tell
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "1.csv").write_text("id,name\nC1,甲\n", encoding="utf-8")
    (tmp_path / "c" / "2.csv").write_text("name\n乙\n", encoding="utf-8")  # without the key column
    (tmp_path / "d.csv").write_text("id,name\nD1,甲\n", encoding="utf-8")
    cfg = hub(
        {
            "daily": {
                "connector": "file",
                "config": {"path": str(tmp_path / "a.csv")},
                "streams": {
                    "a": {"primary_key": "id"},
                    "b": {"primary_key": "id", "path": str(tmp_path / "b" / "*")},
                    "c": {"primary_key": "id", "path": str(tmp_path / "c" / "*.csv")},
                    "d": {"primary_key": "id", "path": str(tmp_path / "d.csv")},
                },
            }
        }
    )
    said: list[str] = []
    r = sync_source(cfg, wh, "daily", batch_size=2, progress=unthrottled(said))
    b_error = f"stream b: cannot tell the format of {tmp_path}/b/2.dat; set format: csv|xlsx|jsonl"
    c_error = "daily.c: primary_key column 'id' is not in the data; the columns are: name"
    assert (r.status, r.error) == ("failed", f"source daily: {b_error}; {c_error}")
    assert {n: (s.stats.read, s.stats.loaded, s.error) for n, s in r.streams.items()} == {
        "a": (5, 5, None),
        "b": (1, 1, b_error),
        "c": (1, 1, c_error),
        "d": (1, 1, None),
    }
    assert untimed(said) == [
        "daily.a: 5 read, 5 new or changed",
        "daily.b: FAILED after 1 records",
        "daily.c: FAILED",
        "daily.d: 1 read, 1 new or changed",
    ]
    # batches of 2 records (a bulk source is handed the batch size): a's five records land in three batches
    batches = wh.read_frame("SELECT stream, count(*) AS n FROM raw._batches GROUP BY stream ORDER BY stream")
    assert batches.values.tolist() == [["a", 3], ["b", 1], ["c", 1], ["d", 1]]


def test_a_sync_fails_on_its_failures_naming_its_warnings_too_and_logs_its_warnings(
    tmp_path: Path, wh: Warehouse
) -> None:
    (tmp_path / "bad.csv").write_text("id,name\n,甲\n,乙\nK3,丙\n", encoding="utf-8")  # 2 of 3 without a key
    (tmp_path / "empty.csv").write_text("id,name\n", encoding="utf-8")
    (tmp_path / "empty2.csv").write_text("id,name\n", encoding="utf-8")
    streams = {
        "bad": {"primary_key": "id", "path": str(tmp_path / "bad.csv")},
        "empty": {"primary_key": "id", "path": str(tmp_path / "empty.csv")},
        "empty2": {"primary_key": "id", "path": str(tmp_path / "empty2.csv")},
    }
    cfg = hub({"daily": {"connector": "file", "config": {"path": str(tmp_path / "bad.csv")}, "streams": streams}})
    r = sync_source(cfg, wh, "daily")
    failure = "bad: 2 of 3 rows read were quarantined (67%; see raw._quarantine), more than max_quarantined_share 20%"
    warnings = ["empty: the stream holds no record after the sync", "empty2: the stream holds no record after the sync"]
    assert (r.status, r.error, r.warnings) == ("failed", "source daily: " + "; ".join([failure, *warnings]), warnings)
    del streams["bad"]
    r = sync_source(hub({"daily": {"connector": "file", "config": {"path": "x"}, "streams": streams}}), wh, "daily")
    assert (r.status, r.error, r.warnings) == ("warning", None, warnings)
    logged = wh.read_frame("SELECT status, error FROM raw._syncs ORDER BY started_at")
    assert logged.values.tolist() == [
        ["failed", "source daily: " + "; ".join([failure, *warnings])],
        ["warning", "; ".join(warnings)],
    ]


class ScriptedConnector:
    """An Airbyte source that emits the protocol messages it is given, as a connector may that logs and reports its
    errors as messages (today's declarative connectors log through Python logging and raise their errors)."""

    def __init__(self, messages: list[AirbyteMessage]) -> None:
        self.messages = messages

    def read(self, logger: Any, config: Any, catalog: Any, state: Any = None) -> Any:
        yield from self.messages


def test_a_connectors_log_and_error_messages_are_logged_at_their_level_and_fail_the_sync_once_each(
    wh: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    from airbyte_cdk.models import (
        AirbyteErrorTraceMessage,
        AirbyteLogMessage,
        AirbyteRecordMessage,
        AirbyteTraceMessage,
        Level,
        TraceType,
    )

    from pipelines.health import HealthWatch
    from pipelines.sync import SyncError, _read_protocol, _Sync

    def log_(level: Level, text: str) -> AirbyteMessage:
        return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=text))

    def error(text: str) -> AirbyteMessage:
        trace = AirbyteTraceMessage(type=TraceType.ERROR, emitted_at=0, error=AirbyteErrorTraceMessage(message=text))
        return AirbyteMessage(type=Type.TRACE, trace=trace)

    record = AirbyteMessage(
        type=Type.RECORD, record=AirbyteRecordMessage(stream="users", data={"id": "U1"}, emitted_at=0)
    )
    messages = [
        record,
        log_(Level.INFO, "reading"),
        log_(Level.WARN, "slow"),
        error("page 3: 502"),
        log_(Level.ERROR, "retry failed"),
        log_(Level.FATAL, "giving up"),
        error("page 3: 502"),
        error("quota"),
    ]
    cfg = hub({"s": {"connector": "wecom"}})
    store = RawStore(wh)
    sync_id = store.start_sync("s")
    result = SyncResult("s", sync_id)
    run = _Sync(
        cfg,
        store,
        "s",
        sync_id,
        result,
        {"users": [["id"]]},
        Progress(lambda _: None),
        False,
        HealthWatch(cfg.sources["s"]),
    )
    caplog.set_level(logging.DEBUG, logger="hub.sync")
    with pytest.raises(SyncError) as e:
        _read_protocol(run, ScriptedConnector(messages), {}, catalog_of(users=columns("id")), {}, 10_000)
    assert str(e.value) == "source s: page 3: 502; quota"  # each error once, in the order first reported
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "hub.sync"] == [
        (logging.DEBUG, "s: reading"),
        (logging.WARNING, "s: slow"),
        (logging.ERROR, "s: retry failed"),
        (logging.ERROR, "s: giving up"),
    ]
    assert (result.streams["users"].stats.read, result.streams["users"].stats.loaded) == (1, 1)  # what was read stays


def test_a_bulk_record_keeps_its_place_in_the_stream_past_the_rows_quarantined_before_it(
    tmp_path: Path, wh: Warehouse
) -> None:
    f = tmp_path / "export.csv"
    f.write_text(HEADER + "K1,甲\nK2,乙,多余\nK3,丙\n,无编号\nK5,戊\n", encoding="utf-8")  # lines 3 and 5 are bad
    r = sync_source(file_hub(f), wh, "daily")
    assert (r.status, r.stats.read, r.stats.loaded, r.stats.quarantined) == ("failed", 5, 3, 2)  # 40% quarantined
    rows = wh.read_frame("SELECT _key, _row FROM raw.daily__customers ORDER BY _row")
    assert rows.values.tolist() == [["K1", 0], ["K3", 2], ["K5", 4]]  # the row of each in the file, not in the batch


def test_a_complete_bulk_read_after_one_that_failed_part_way_deletes_what_the_failed_read_saw(
    tmp_path: Path, wh: Warehouse
) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    (d / "1.csv").write_text(HEADER + "K1,甲\nK2,乙\n", encoding="utf-8")
    (d / "2.csv").write_text(HEADER + "K3,丙\n", encoding="utf-8")
    cfg = file_hub(d / "*")
    assert sync_source(cfg, wh, "daily").stats.loaded == 3
    (d / "3.dat").write_text(HEADER, encoding="utf-8")  # a format the reader cannot tell: the read fails after 2.csv
    failed = sync_source(cfg, wh, "daily", full_refresh=True)
    assert (failed.status, failed.stats.read, failed.stats.unchanged, failed.stats.deleted) == ("failed", 3, 3, 0)
    (d / "3.dat").unlink()
    (d / "1.csv").write_text(HEADER + "K2,乙\n", encoding="utf-8")  # K1 deleted in the source since
    r = sync_source(cfg, wh, "daily", full_refresh=True)
    assert (r.status, r.stats.read, r.stats.deleted) == ("succeeded", 2, 1)
    assert wh.read_frame("SELECT _key FROM raw.daily__customers WHERE _deleted")["_key"].tolist() == ["K1"]


def test_a_key_column_with_a_dot_in_its_name_is_found(tmp_path: Path, wh: Warehouse) -> None:
    f = tmp_path / "export.csv"
    f.write_text("No.,名称\nK1,甲\nK2,乙\n", encoding="utf-8")  # e.g. an Excel export's "No." column
    cfg = hub({"daily": {"connector": "file", "config": {"path": str(f)}, "streams": {"c": {"primary_key": "No."}}}})
    r = sync_source(cfg, wh, "daily")
    assert (r.status, r.error, r.stats.loaded) == ("succeeded", None, 2)
    assert sorted(wh.read_frame("SELECT _key FROM raw.daily__c")["_key"]) == ["K1", "K2"]


# --- written from the survivors of the second round (the functions the first did not reach) ------------------


def seen_keys(wh: Warehouse) -> list[str]:
    return wh.read_frame("SELECT record_key FROM raw._seen ORDER BY record_key")["record_key"].tolist()


def test_a_read_that_skipped_unchanged_files_tells_no_deletes_and_leaves_no_key_noted(
    tmp_path: Path, wh: Warehouse
) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    (d / "1.csv").write_text(HEADER + "K1,甲\nK2,乙\n", encoding="utf-8")
    (d / "2.csv").write_text(HEADER + "K3,丙\n", encoding="utf-8")
    assert sync_source(file_hub(d / "*"), wh, "daily").stats.loaded == 3
    # 1.csv is unchanged (not read again); 2.csv now repeats K2 as it was, drops K3 and adds K4
    (d / "2.csv").write_text(HEADER + "K2,乙\nK4,丁\n", encoding="utf-8")
    r = sync_source(file_hub(d / "*"), wh, "daily")
    assert (r.status, r.stats.read, r.stats.loaded, r.stats.unchanged, r.stats.deleted) == ("succeeded", 2, 1, 1, 0)
    assert seen_keys(wh) == []  # the unchanged K2 was noted as seen, and forgotten: the read was not whole
    live_keys = wh.read_frame("SELECT _key FROM raw.daily__customers WHERE NOT _deleted ORDER BY _key")["_key"]
    assert live_keys.tolist() == ["K1", "K2", "K3", "K4"]  # K3 is kept: 1.csv was not read, so nothing is told


def test_a_stream_landing_more_than_ten_thousand_records_refreshes_its_statistics_and_succeeds(
    tmp_path: Path, wh: Warehouse
) -> None:
    # (the planner's statistics are PostgreSQL's: on DuckDB the refresh is a no-op, the sync's result is the same)
    f = tmp_path / "export.csv"
    f.write_text(HEADER + "".join(f"K{i},客户{i}\n" for i in range(10_001)), encoding="utf-8")
    r = sync_source(file_hub(f), wh, "daily")
    assert (r.status, r.error, r.stats.read, r.stats.loaded) == ("succeeded", None, 10_001, 10_001)
    assert wh.scalar("SELECT count(*) FROM raw.daily__customers") == 10_001


def test_a_syncs_result_names_its_source_and_the_sync_logged_in_raw(tmp_path: Path, wh: Warehouse) -> None:
    f = tmp_path / "export.csv"
    f.write_text(HEADER + "K1,甲\n", encoding="utf-8")
    r = sync_source(file_hub(f), wh, "daily")
    logged = wh.read_frame("SELECT sync_id, source, status, records_loaded FROM raw._syncs").values.tolist()
    assert (r.source, r.status) == ("daily", "succeeded")
    assert logged == [[r.sync_id, "daily", "succeeded", 1]]
    assert wh.scalar("SELECT DISTINCT _sync_id FROM raw.daily__customers") == r.sync_id


def test_configured_columns_the_source_lacks_fail_the_sync_before_it_reads_naming_each(
    tmp_path: Path, wh: Warehouse
) -> None:
    f = tmp_path / "export.csv"
    f.write_text(HEADER + "K1,甲\n", encoding="utf-8")
    r = sync_source(file_hub(f, primary_key="客户号", cursor_field="updated"), wh, "daily")
    columns_ = "(its columns: '客户编号', '客户名称')"
    error = (
        f"source daily: stream customers: primary_key '客户号' is not a column of the source; did you mean "
        f"'客户编号'? {columns_}; stream customers: cursor_field 'updated' is not a column of the source {columns_}"
    )
    assert (r.status, r.error, r.stats.read) == ("failed", error, 0)
    assert wh.read_frame("SELECT status, error FROM raw._syncs").values.tolist() == [["failed", error]]
    assert wh.scalar("SELECT count(*) FROM raw._schema") == 0  # checked before anything is remembered or read


def test_a_bulk_sync_stopped_after_a_batch_keeps_that_batchs_checkpoint_and_resumes_after_it(
    tmp_path: Path, wh: Warehouse
) -> None:
    f = tmp_path / "export.csv"
    f.write_text(HEADER + "".join(f"K{i},客户{i}\n" for i in range(1, 6)), encoding="utf-8")

    def stop(line: str) -> None:  # the sync is stopped by its first progress line: after its first batch of 2
        raise RuntimeError(f"stopped at {line.split(' (')[0]}")

    r = sync_source(file_hub(f), wh, "daily", batch_size=2, progress=Progress(stop, interval=0))
    assert (r.status, r.error, r.stats.loaded) == ("failed", "source daily: RuntimeError: stopped at "
                                                   "daily.customers: 2 records", 2)
    current = json.loads(wh.scalar("SELECT state FROM raw._state WHERE stream = 'customers'"))["current"]
    assert (current["file"], current["rows"]) == ("export.csv", 2)
    r = sync_source(file_hub(f), wh, "daily")  # from the checkpoint on: the other 3
    assert (r.status, r.stats.read, r.stats.loaded) == ("succeeded", 3, 3)


# --- written from the survivors of the third round (`_Sync.land` 36–78, `_Sync.finish_stream` 13–34) ------------


def test_json_lines_read_row_by_row_land_a_later_files_version_and_quarantine_what_is_not_json(
    tmp_path: Path, wh: Warehouse
) -> None:
    # JSON lines (like XLSX) reach the raw layer as record dicts, not as an Arrow table: the other way of landing
    d = tmp_path / "exports"
    d.mkdir()
    first = [{"客户编号": "K1", "客户名称": "甲"}, {"客户编号": "K2", "客户名称": "乙"}]
    (d / "1.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in first), encoding="utf-8")
    later = json.dumps({"客户编号": "K1", "客户名称": "甲二"}, ensure_ascii=False)
    (d / "2.jsonl").write_text(later + "\nnot json\n", encoding="utf-8")
    r = sync_source(file_hub(d / "*.jsonl"), wh, "daily")
    assert (r.status, r.error) == (
        "failed",
        "source daily: customers: 1 of 4 rows read were quarantined (25%; see raw._quarantine), more than "
        "max_quarantined_share 20%",
    )
    assert (r.stats.read, r.stats.loaded, r.stats.unchanged, r.stats.quarantined) == (4, 3, 0, 1)
    # K1 of 2.jsonl is a later version (the next part of the read), not a duplicate of 1.jsonl's
    rows = wh.read_frame("SELECT _key, _row, _sync_id, _data FROM raw.daily__customers ORDER BY _row").values.tolist()
    assert [[key, row, sync, json.loads(data)["客户名称"]] for key, row, sync, data in rows] == [
        ["K1", 0, r.sync_id, "甲"],
        ["K2", 1, r.sync_id, "乙"],
        ["K1", 2, r.sync_id, "甲二"],
    ]
    quarantined = wh.read_frame("SELECT stage, sync_id, reason FROM raw._quarantine").values.tolist()
    assert quarantined == [
        ["extract", r.sync_id, "line 2: not a JSON object (Expecting value: line 1 column 1 (char 0))"]
    ]


def test_a_complete_bulk_read_notes_as_seen_only_the_keys_it_did_not_land(tmp_path: Path, wh: Warehouse) -> None:
    # the keys a complete read lands are told by the record index (landed in this sync), not noted in raw._seen:
    # a first read of a million rows writes no million keys there (as a failed read shows, which keeps what it noted)
    d = tmp_path / "exports"
    d.mkdir()
    (d / "1.csv").write_text(HEADER + "K1,甲\nK2,乙\n", encoding="utf-8")
    (d / "2.csv").write_text(HEADER + "K3,丙\n", encoding="utf-8")
    assert sync_source(file_hub(d / "*"), wh, "daily").stats.loaded == 3
    assert seen_keys(wh) == []  # a complete read that ended forgets what it noted
    (d / "1.csv").write_text(HEADER + "K1,甲改\nK2,乙\n", encoding="utf-8")  # K1 changed
    (d / "3.dat").write_text(HEADER, encoding="utf-8")  # a format the reader cannot tell: the read fails after 2.csv
    failed = sync_source(file_hub(d / "*"), wh, "daily", full_refresh=True)
    assert (failed.status, failed.stats.read, failed.stats.loaded, failed.stats.unchanged) == ("failed", 3, 1, 2)
    assert seen_keys(wh) == ["K2", "K3"]  # K1 landed
