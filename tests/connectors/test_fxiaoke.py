"""Fxiaoke connector against the Fxiaoke fake over loopback HTTP."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import SyncMode

from connectors.fakes import fxiaoke as fake
from connectors.fakes.sample import sample_universe
from connectors.fxiaoke import create_source


def _helpers() -> Any:
    """The sibling conftest's helpers, loaded once under a private name (no `tests` package)."""
    name = "_hub_connector_test_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conftest.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


h = _helpers()

OBJECTS = list(fake.OBJECTS)
INCREMENTAL = dict.fromkeys(OBJECTS, SyncMode.incremental)


@pytest.fixture(scope="module")
def server() -> Iterator[fake.FxiaokeFake]:
    # 300 entities, 20 reps → ~1,150 records over the six objects, created 2019-2026.
    universe, reps = sample_universe(n_entities=300, n_reps=20, seed=3)
    with fake.FxiaokeFake(fake.build_dataset(universe, reps, seed=3)) as srv:
        yield srv


@pytest.fixture
def fxiaoke(server: fake.FxiaokeFake) -> Iterator[fake.FxiaokeFake]:
    server.reset()
    yield server
    server.reset()


def config_for(server: fake.FxiaokeFake, **extra: Any) -> dict[str, Any]:
    return {"app_id": fake.APP_ID, "app_secret": fake.APP_SECRET, "permanent_code": fake.PERMANENT_CODE,
            "open_user_id": fake.ADMIN_OPEN_USER_ID, "base_url": server.url, "page_size": 50,
            "start_date": "2018-06-01", "slice_step": "P120D", "calls_per_20s": 100_000, "logins_per_minute": 1000,
            **h.FAST_RETRY, **extra}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["_id"] for r in records]


def expected(server: fake.FxiaokeFake, obj: str) -> list[str]:
    return ids(server.dataset.records(obj))


# --------------------------------------------------------------------------- standard suite


@pytest.fixture(params=["valid", "bad_secret"])
def scenario(request: pytest.FixtureRequest, server: fake.FxiaokeFake) -> Any:
    if request.param == "valid":
        return h.scenario("valid", config_for(server), status="succeed",
                          sections=("spec", "connection", "discovery", "basic_read"))
    return h.scenario("bad_secret", config_for(server, app_secret="not-the-secret-123"), status="failed",
                      sections=("connection",))


class TestFxiaokeStandardSuite(h.standard_suite_base("fxiaoke", create_source)):  # type: ignore[misc]
    """airbyte-cdk's standard tests: spec, check, discover, basic read."""

    __test__ = True


# --------------------------------------------------------------------------- behaviour


def test_given_fake_dataset_when_full_read_then_every_record_exactly_once(fxiaoke: fake.FxiaokeFake) -> None:
    output = h.read_streams(create_source, config_for(fxiaoke), INCREMENTAL)

    assert not output.errors, h.error_text(output)
    for obj in OBJECTS:
        h.assert_exactly(ids(h.records_of(output, obj)), expected(fxiaoke, obj))
    by_id = {r["_id"]: r for r in h.records_of(output, "SalesOrderObj")}
    for row in fxiaoke.dataset.records("SalesOrderObj"):
        assert by_id[row["_id"]] == row  # as the vendor returns it (money as strings, owner lists)
    # one checkpoint per 120-day window per object
    assert len(output.state_messages) > 6 * 20


def test_given_a_record_modified_while_its_window_is_paged_when_read_then_no_other_record_is_skipped(
    fxiaoke: fake.FxiaokeFake,
) -> None:
    """An account edited while the sync reads its window leaves the window; with offset paging every later record
    moved back one and the one at a page's edge was never read. Paged by `_id > last`, none is skipped."""
    want = expected(fxiaoke, "AccountObj")
    with h.edited_during_read(fxiaoke.dataset, "AccountObj", "_id", min(want),
                              {"last_modified_time": 4_070_908_800_000}):  # (2099)
        output = h.read_streams(create_source, config_for(fxiaoke, page_size=30, slice_step="P20000D"),
                                {"AccountObj": SyncMode.incremental})
    assert not output.errors, h.error_text(output)
    h.assert_exactly(ids(h.records_of(output, "AccountObj")), want)


def test_given_more_than_10000_rows_in_a_window_when_read_then_keyset_paging_past_the_offset_limit() -> None:
    universe, reps = sample_universe(n_entities=2200, n_reps=20, seed=3)
    dataset = fake.build_dataset(universe, reps, seed=3, sizes=fake.Sizes(account_share=0.05, leads_per_entity=4.7))
    with fake.FxiaokeFake(dataset) as srv:
        assert len(srv.dataset.records("LeadsObj")) > 10_000  # arithmetic: 2,200 entities × 4.7 leads
        config = config_for(srv, page_size=100, slice_step="P20000D")  # one window holds every lead

        output = h.read_streams(create_source, config, {"LeadsObj": SyncMode.incremental})

        assert not output.errors, h.error_text(output)
        h.assert_exactly(ids(h.records_of(output, "LeadsObj")), expected(srv, "LeadsObj"))
        # offset paging alone would stop at 10013 "offset out of range 10000" after 101 pages
        assert h.fake_stats(srv.url)["calls"][fake.QUERY_PATH] == len(expected(srv, "LeadsObj")) // 100 + 1


def test_given_state_and_changed_records_when_incremental_read_then_only_changes_and_state_advances(
    fxiaoke: fake.FxiaokeFake,
) -> None:
    config = config_for(fxiaoke)
    first = h.read_streams(create_source, config, INCREMENTAL)
    states = h.state_messages(first)
    before = h.stream_state_values(states)
    account = fxiaoke.dataset.records("AccountObj")[7]
    fxiaoke.dataset.upsert("AccountObj", {"_id": account["_id"], "name": "改名后的客户"})
    added = fxiaoke.dataset.upsert("PaymentObj", {"name": "新回款", "payment_amount": "100.00"})

    second = h.read_streams(create_source, config, INCREMENTAL, state=states)

    changed = {"AccountObj": account["_id"], "PaymentObj": added["_id"]}
    for obj in OBJECTS:
        records = h.records_of(second, obj)
        boundary = int(before[obj]["last_modified_time"])
        assert all(r["last_modified_time"] == boundary for r in records if r["_id"] != changed.get(obj))
        if obj in changed:
            assert changed[obj] in ids(records)
    after = h.stream_state_values(h.state_messages(second))
    assert int(after["AccountObj"]["last_modified_time"]) > int(before["AccountObj"]["last_modified_time"])
    assert int(after["PaymentObj"]["last_modified_time"]) > int(before["PaymentObj"]["last_modified_time"])


def test_given_token_revoked_mid_paging_when_read_then_relogin_and_nothing_lost(fxiaoke: fake.FxiaokeFake) -> None:
    h.set_faults(fxiaoke.url, revoke_token_after=25)

    output = h.read_streams(create_source, config_for(fxiaoke), INCREMENTAL)

    assert not output.errors, h.error_text(output)
    for obj in OBJECTS:
        h.assert_exactly(ids(h.records_of(output, obj)), expected(fxiaoke, obj))
    stats = h.fake_stats(fxiaoke.url)
    assert stats["faults"]["token_revoked"] >= 3 and stats["tokens_issued"] >= 4


def test_given_frequency_limit_burst_when_read_then_backs_off_and_recovers(fxiaoke: fake.FxiaokeFake) -> None:
    h.set_faults(fxiaoke.url, rate_limit_burst=2)

    output = h.read_streams(create_source, config_for(fxiaoke), {"AccountObj": SyncMode.incremental})

    assert not output.errors, h.error_text(output)
    h.assert_exactly(ids(h.records_of(output, "AccountObj")), expected(fxiaoke, "AccountObj"))
    assert h.fake_stats(fxiaoke.url)["faults"]["rate_limited"] == 2


def test_given_5xx_errors_when_read_then_retried_and_nothing_lost(fxiaoke: fake.FxiaokeFake) -> None:
    h.set_faults(fxiaoke.url, error_5xx_rate=0.03, seed=3)

    output = h.read_streams(create_source, config_for(fxiaoke), {"ContactObj": SyncMode.incremental,
                                                                  "SalesOrderObj": SyncMode.incremental})

    assert not output.errors, h.error_text(output)
    h.assert_exactly(ids(h.records_of(output, "ContactObj")), expected(fxiaoke, "ContactObj"))
    h.assert_exactly(ids(h.records_of(output, "SalesOrderObj")), expected(fxiaoke, "SalesOrderObj"))
    assert h.fake_stats(fxiaoke.url)["faults"]["http_5xx"] >= 1


@pytest.mark.parametrize(
    ("bad", "vendor_text"),
    [({"app_secret": "not-the-secret-123"}, "appSecret is missing or illegal"),
     ({"permanent_code": "NOT-THE-CODE-123"}, "permanentCode is illegal")],
)
def test_given_bad_credentials_when_check_and_read_then_fail_with_fxiaoke_message(
    fxiaoke: fake.FxiaokeFake, bad: dict[str, str], vendor_text: str
) -> None:
    config = config_for(fxiaoke, **bad)

    status = create_source(config).check(logging.getLogger("test"), config)
    output = h.read_streams(create_source, config, INCREMENTAL, expect_failure=True)

    assert status.status.name == "FAILED" and vendor_text in status.message
    assert not output.records and vendor_text in h.error_text(output)


def test_given_unknown_open_user_when_read_then_fails_with_permission_message(fxiaoke: fake.FxiaokeFake) -> None:
    output = h.read_streams(create_source, config_for(fxiaoke, open_user_id="FSUID_NOBODY"), INCREMENTAL,
                            expect_failure=True)

    assert not output.records
    assert "20012" in h.error_text(output) and "currentOpenUserId not found" in h.error_text(output)


def test_given_daily_quota_exhausted_when_read_then_fails_without_retrying(fxiaoke: fake.FxiaokeFake) -> None:
    h.set_faults(fxiaoke.url, quota_exhausted=True)
    config = config_for(fxiaoke, slice_step="P20000D")  # one window, so one request per object

    output = h.read_streams(create_source, config, INCREMENTAL, expect_failure=True)

    assert not output.records and "30002" in h.error_text(output)
    assert h.fake_stats(fxiaoke.url)["faults"]["quota_exceeded"] == len(OBJECTS)  # none retried


def test_given_sync_interrupted_when_resumed_from_last_state_then_every_record_kept(
    fxiaoke: fake.FxiaokeFake,
) -> None:
    h.assert_resumes_exactly(
        create_source,
        config_for(fxiaoke, num_workers=1, slice_step="P60D"),
        INCREMENTAL,
        expected={obj: set(expected(fxiaoke, obj)) for obj in OBJECTS},
        key_of=lambda stream, record: record["_id"],
        cursor_field=lambda stream: "last_modified_time",
        stop_after_records=500,
    )


def test_given_malformed_records_when_read_then_every_record_still_emitted(fxiaoke: fake.FxiaokeFake) -> None:
    # one bad record per object (a text timestamp, a list id, an impossible date, "十二万" as amount)
    h.set_faults(fxiaoke.url, malformed_record=True)

    output = h.read_streams(create_source, config_for(fxiaoke), INCREMENTAL)

    assert not output.errors, h.error_text(output)
    malformed = h.fake_stats(fxiaoke.url)["malformed_ids"]
    for obj in OBJECTS:
        h.assert_exactly(ids(h.records_of(output, obj)), expected(fxiaoke, obj))
        assert malformed[obj] in ids(h.records_of(output, obj))  # left for the hub to quarantine


def test_given_secret_and_tokens_when_sync_then_neither_in_messages_or_logs(fxiaoke: fake.FxiaokeFake) -> None:
    h.set_faults(fxiaoke.url, revoke_token_after=30, rate_limit_burst=1)

    good = h.read_in_process(create_source, config_for(fxiaoke), INCREMENTAL, log_level=logging.DEBUG)
    bad = h.read_in_process(create_source, config_for(fxiaoke, app_secret="wrong-secret-value-42"),
                            INCREMENTAL, log_level=logging.DEBUG)
    tokens = list(fxiaoke.tokens._tokens)

    assert good.error is None and good.records
    # refused with the vendor's reason, not an empty success
    assert bad.error is not None and "Fxiaoke login failed (10006)" in str(bad.error) and not bad.records
    for run, secrets in ((good, [fake.APP_SECRET, fake.PERMANENT_CODE]), (bad, ["wrong-secret-value-42"])):
        text = run.visible_text()
        assert not [secret for secret in secrets if secret in text]
        assert not [token for token in tokens if token in text]
