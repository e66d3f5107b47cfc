"""DingTalk connector against the DingTalk fake (new-API CRM and old-API staff) over loopback HTTP."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.state_builder import StateBuilder

from connectors.dingtalk import create_source
from connectors.fakes import dingtalk as fake
from connectors.fakes.sample import sample_universe


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

CRM = {"crm_customers": "crm_customer", "crm_contacts": "crm_contact"}
INCREMENTAL = dict.fromkeys(CRM, SyncMode.incremental)
ALL_STREAMS = {**INCREMENTAL, "departments": SyncMode.full_refresh, "users": SyncMode.full_refresh}


def build_fake(**kwargs: Any) -> fake.DingTalkFake:
    # 300 entities, 20 reps → ~70 customers, ~110 contacts, 21 staff in 12 departments.
    universe, reps = sample_universe(n_entities=300, n_reps=20, seed=3)
    return fake.DingTalkFake(fake.build_dataset(universe, reps, seed=3), **kwargs)


@pytest.fixture(scope="module")
def server() -> Iterator[fake.DingTalkFake]:
    with build_fake() as srv:
        yield srv


@pytest.fixture
def dingtalk(server: fake.DingTalkFake) -> Iterator[fake.DingTalkFake]:
    server.reset()
    yield server
    server.reset()


def config_for(server: fake.DingTalkFake, **extra: Any) -> dict[str, Any]:
    return {"app_key": fake.APP_KEY, "app_secret": fake.APP_SECRET, "operator_user_id": fake.ADMIN_USERID,
            "base_url": server.url, "oapi_base_url": server.url, "page_size": 10, "qps_per_api": 1000,
            **h.FAST_RETRY, **extra}


def ids(records: list[dict[str, Any]], key: str = "instanceId") -> list[Any]:
    return [r[key] for r in records]


def expected(server: fake.DingTalkFake, obj: str, key: str = "instanceId") -> list[Any]:
    return ids(server.dataset.records(obj), key)


# --------------------------------------------------------------------------- standard suite


@pytest.fixture(params=["valid", "bad_secret"])
def scenario(request: pytest.FixtureRequest, server: fake.DingTalkFake) -> Any:
    if request.param == "valid":
        return h.scenario("valid", config_for(server), status="succeed",
                          sections=("spec", "connection", "discovery", "basic_read"))
    return h.scenario("bad_secret", config_for(server, app_secret="not-the-secret-123"), status="failed",
                      sections=("connection",))


class TestDingTalkStandardSuite(h.standard_suite_base("dingtalk", create_source)):  # type: ignore[misc]
    """airbyte-cdk's standard tests: spec, check, discover, basic read."""

    __test__ = True


# --------------------------------------------------------------------------- behaviour


def test_given_fake_dataset_when_full_read_then_every_record_exactly_once(dingtalk: fake.DingTalkFake) -> None:
    output = h.read_streams(create_source, config_for(dingtalk), ALL_STREAMS)

    assert not output.errors, h.error_text(output)
    for stream, obj in CRM.items():
        h.assert_exactly(ids(h.records_of(output, stream)), expected(dingtalk, obj))
    h.assert_exactly(ids(h.records_of(output, "users"), "userid"), expected(dingtalk, "users", "userid"))
    # department/listsub lists children: every department below the root (the company itself)
    h.assert_exactly(ids(h.records_of(output, "departments"), "dept_id"),
                     [d for d in expected(dingtalk, "departments", "dept_id") if d != 1])
    records = {r["instanceId"]: r for r in h.records_of(output, "crm_customers")}
    for row in dingtalk.dataset.records("crm_customer"):
        assert records[row["instanceId"]] == row  # kept as the vendor returns it


def test_given_state_and_changed_records_when_incremental_read_then_only_changes_and_state_advances(
    dingtalk: fake.DingTalkFake,
) -> None:
    config = config_for(dingtalk)
    first = h.read_streams(create_source, config, INCREMENTAL)
    states = h.state_messages(first)
    before = h.stream_state_values(states)
    changed = dingtalk.dataset.records("crm_customer")[3]
    dingtalk.dataset.upsert("crm_customer", {"instanceId": changed["instanceId"],
                                             "data": {**changed["data"], "customer_name": "改名后的客户"}})
    added = dingtalk.dataset.upsert("crm_contact", {"objectType": "crm_contact", "data": {"contact_name": "新联系人"}})

    second = h.read_streams(create_source, config, INCREMENTAL, state=states)

    customers, contacts = h.records_of(second, "crm_customers"), h.records_of(second, "crm_contacts")
    # besides the changes, only records sharing the previous checkpoint's second come again
    assert changed["instanceId"] in ids(customers) and added["instanceId"] in ids(contacts)
    assert all(r["modifyTime"] == before["crm_customers"]["modifyTime"]
               for r in customers if r["instanceId"] != changed["instanceId"])
    assert all(r["modifyTime"] == before["crm_contacts"]["modifyTime"]
               for r in contacts if r["instanceId"] != added["instanceId"])
    renamed = [r["data"]["customer_name"] for r in customers if r["instanceId"] == changed["instanceId"]]
    assert renamed == ["改名后的客户"]
    after = h.stream_state_values(h.state_messages(second))
    assert after["crm_customers"]["modifyTime"] > before["crm_customers"]["modifyTime"]
    assert after["crm_contacts"]["modifyTime"] > before["crm_contacts"]["modifyTime"]


@pytest.mark.parametrize("auth_status", [400, 401])
def test_given_token_revoked_mid_paging_when_read_then_relogin_and_nothing_lost(auth_status: int) -> None:
    with build_fake(auth_error_status=auth_status) as srv:
        h.set_faults(srv.url, revoke_token_after=25)

        output = h.read_streams(create_source, config_for(srv), ALL_STREAMS)

        assert not output.errors, h.error_text(output)
        for stream, obj in CRM.items():
            h.assert_exactly(ids(h.records_of(output, stream)), expected(srv, obj))
        h.assert_exactly(ids(h.records_of(output, "users"), "userid"), expected(srv, "users", "userid"))
        assert h.fake_stats(srv.url)["faults"]["token_revoked"] >= 2


def test_given_qps_limit_burst_when_read_then_backs_off_and_recovers(dingtalk: fake.DingTalkFake) -> None:
    # the first throttled calls are the new API's (HTTP 403 Forbidden.AccessDenied.QpsLimitForAppkeyAndApi)
    # or the old API's (errcode 90018), whichever come first
    h.set_faults(dingtalk.url, rate_limit_burst=3)

    output = h.read_streams(create_source, config_for(dingtalk), ALL_STREAMS)

    assert not output.errors, h.error_text(output)
    h.assert_exactly(ids(h.records_of(output, "crm_customers")), expected(dingtalk, "crm_customer"))
    h.assert_exactly(ids(h.records_of(output, "users"), "userid"), expected(dingtalk, "users", "userid"))
    assert h.fake_stats(dingtalk.url)["faults"]["rate_limited"] == 3


def test_given_5xx_errors_when_read_then_retried_and_nothing_lost(dingtalk: fake.DingTalkFake) -> None:
    h.set_faults(dingtalk.url, error_5xx_rate=0.05, seed=5)

    output = h.read_streams(create_source, config_for(dingtalk), INCREMENTAL)

    assert not output.errors, h.error_text(output)
    for stream, obj in CRM.items():
        h.assert_exactly(ids(h.records_of(output, stream)), expected(dingtalk, obj))
    assert h.fake_stats(dingtalk.url)["faults"]["http_5xx"] >= 1


def test_given_bad_secret_when_check_then_fails_with_dingtalk_message(dingtalk: fake.DingTalkFake) -> None:
    config = config_for(dingtalk, app_secret="not-the-secret-123")

    status = create_source(config).check(logging.getLogger("test"), config)
    output = h.read_streams(create_source, config, ALL_STREAMS, expect_failure=True)

    assert status.status.name == "FAILED"
    assert "invalidClientIdOrSecret" in status.message and "无效的clientId或者clientSecret" in status.message
    assert not output.records
    assert "不合法的appKey或appSecret" in h.error_text(output)  # the old API's own message


def test_given_unknown_operator_when_read_crm_then_fails_with_dingtalk_message(dingtalk: fake.DingTalkFake) -> None:
    # the fake models no per-API permission; an operator the CRM does not know is refused the same way
    output = h.read_streams(create_source, config_for(dingtalk, operator_user_id="nobody"), INCREMENTAL,
                            expect_failure=True)

    assert not output.records
    assert "param.error" in h.error_text(output) and "operatorUserId" in h.error_text(output)


def test_given_quota_exhausted_when_read_then_fails_fast_without_retrying(dingtalk: fake.DingTalkFake) -> None:
    h.set_faults(dingtalk.url, quota_exhausted=True)

    output = h.read_streams(create_source, config_for(dingtalk), ALL_STREAMS, expect_failure=True)

    assert not output.records
    assert "daily.call.limit" in h.error_text(output) and "90020" in h.error_text(output)
    # one refused call per stream and per department-tree walk: nothing retried
    assert h.fake_stats(dingtalk.url)["faults"]["quota_exceeded"] <= 6


def test_given_sync_interrupted_when_resumed_from_last_state_then_every_record_kept(
    dingtalk: fake.DingTalkFake,
) -> None:
    h.assert_resumes_exactly(
        create_source,
        config_for(dingtalk, num_workers=1),
        INCREMENTAL,
        expected={stream: set(expected(dingtalk, obj)) for stream, obj in CRM.items()},
        key_of=lambda stream, record: record["instanceId"],
        cursor_field=lambda stream: "modifyTime",
        stop_after_records=100,
    )


def test_given_state_from_an_earlier_sync_when_read_then_client_side_filter_drops_older_records(
    dingtalk: fake.DingTalkFake,
) -> None:
    state = StateBuilder().with_stream_state("crm_customers", {"modifyTime": "2026-09-01 00:00:00"}).build()

    output = h.read_streams(create_source, config_for(dingtalk), {"crm_customers": SyncMode.incremental}, state)

    newer = [r["instanceId"] for r in dingtalk.dataset.records("crm_customer") if r["modifyTime"] >= "2026-09-01"]
    h.assert_exactly(ids(h.records_of(output, "crm_customers")), newer)


def test_given_malformed_modify_time_when_read_then_record_still_emitted(dingtalk: fake.DingTalkFake) -> None:
    h.set_faults(dingtalk.url, malformed_record=True)

    output = h.read_streams(create_source, config_for(dingtalk), INCREMENTAL)

    assert not output.errors, h.error_text(output)
    h.assert_exactly(ids(h.records_of(output, "crm_customers")), expected(dingtalk, "crm_customer"))
    h.assert_exactly(ids(h.records_of(output, "crm_contacts")), expected(dingtalk, "crm_contact"))


def test_given_secret_and_tokens_when_sync_then_neither_in_messages_or_logs(dingtalk: fake.DingTalkFake) -> None:
    h.set_faults(dingtalk.url, revoke_token_after=25, rate_limit_burst=1)

    good = h.read_in_process(create_source, config_for(dingtalk), ALL_STREAMS, log_level=logging.DEBUG)
    bad = h.read_in_process(create_source, config_for(dingtalk, app_secret="wrong-secret-value-42"),
                            ALL_STREAMS, log_level=logging.DEBUG)
    tokens = list(dingtalk.tokens._tokens)

    assert good.error is None and good.records
    # refused with the vendor's reason, not an empty success
    assert bad.error is not None and "DingTalk login failed (invalidClientIdOrSecret)" in str(bad.error)
    assert not bad.records
    for run, secret in ((good, fake.APP_SECRET), (bad, "wrong-secret-value-42")):
        text = run.visible_text()
        assert secret not in text
        assert not [token for token in tokens if token in text]


def test_given_documented_qps_limits_enforced_when_read_then_paced_below_them(dingtalk: fake.DingTalkFake) -> None:
    h.set_faults(dingtalk.url, enforce_limits=True)  # 20 calls per second per API, as documented
    config = config_for(dingtalk, num_workers=4, page_size=4, qps_per_api=18)  # ~50 CRM calls

    output = h.read_streams(create_source, config, INCREMENTAL)

    assert not output.errors, h.error_text(output)
    for stream, obj in CRM.items():
        h.assert_exactly(ids(h.records_of(output, stream)), expected(dingtalk, obj))
    # the API budget paces the calls (one stray hit tolerated: client and server clocks differ)
    assert h.fake_stats(dingtalk.url)["faults"]["rate_limited"] <= 1
