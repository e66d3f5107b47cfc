"""WeCom connector against the WeCom fake over loopback HTTP."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.fakes import wecom as fake
from connectors.fakes.sample import sample_universe
from connectors.wecom import create_source


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
FAST_RETRY = h.FAST_RETRY
assert_exactly, committed_part, error_text, fake_stats = h.assert_exactly, h.committed_part, h.error_text, h.fake_stats
read_in_process, read_streams, records_of, set_faults = h.read_in_process, h.read_streams, h.records_of, h.set_faults

STREAMS = ["follow_users", "external_contacts", "departments", "users"]


@pytest.fixture(scope="module")
def server() -> Iterator[fake.WeComFake]:
    # 130 reps → ~106 follow users: two userid_list batches (≤100 each); ~200 contact rows.
    universe, reps = sample_universe(n_entities=400, n_reps=130, seed=3)
    with fake.WeComFake(fake.build_dataset(universe, reps, seed=3)) as srv:
        yield srv


@pytest.fixture
def wecom(server: fake.WeComFake) -> Iterator[fake.WeComFake]:
    server.reset()
    yield server
    server.reset()


def config_for(server: fake.WeComFake, secret: str = fake.CONTACT_SECRET, **extra: Any) -> dict[str, Any]:
    return {"corp_id": fake.DEFAULT_CORP_ID, "secret": secret, "base_url": server.url, "page_size": 10,
            **FAST_RETRY, **extra}


def contact_key(record: dict[str, Any]) -> tuple[str, str]:
    return record["external_contact"]["external_userid"], record["follow_info"]["userid"]


def expected_contacts(server: fake.WeComFake) -> list[tuple[str, str]]:
    return [contact_key(r) for r in server.dataset.records("external_contacts")]


# --------------------------------------------------------------------------- standard suite


@pytest.fixture(params=["valid", "bad_secret"])
def scenario(request: pytest.FixtureRequest, server: fake.WeComFake) -> Any:
    if request.param == "valid":
        return h.scenario("valid", config_for(server), status="succeed",
                          sections=("spec", "connection", "discovery", "basic_read"))
    return h.scenario("bad_secret", config_for(server, secret="not-the-secret-123"), status="failed",
                      sections=("connection",))


class TestWeComStandardSuite(h.standard_suite_base("wecom", create_source)):  # type: ignore[misc]
    """airbyte-cdk's standard tests: spec, check, discover, basic read."""

    __test__ = True


# --------------------------------------------------------------------------- behaviour


def test_given_fake_dataset_when_full_read_then_every_row_exactly_once(wecom: fake.WeComFake) -> None:
    output = read_streams(create_source, config_for(wecom), STREAMS)

    contacts = records_of(output, "external_contacts")
    assert_exactly(map(contact_key, contacts), expected_contacts(wecom))
    assert all(r["external_userid"] == r["external_contact"]["external_userid"] for r in contacts)
    assert_exactly((r["userid"] for r in records_of(output, "follow_users")),
                   (r["userid"] for r in wecom.dataset.records("follow_users")))
    assert_exactly((r["userid"] for r in records_of(output, "users")),
                   (r["userid"] for r in wecom.dataset.records("users")))
    assert_exactly((r["id"] for r in records_of(output, "departments")),
                   (r["id"] for r in wecom.dataset.records("departments")))
    # 106 follow users are sent as two userid_list batches, never more than 100 at once
    assert fake_stats(wecom.url)["calls"][fake.BY_USER_PATH] >= 2
    assert {s.state.stream.stream_descriptor.name for s in output.state_messages} == set(STREAMS)


def test_given_contact_nested_fields_when_read_then_kept_as_vendor_returns_them(wecom: fake.WeComFake) -> None:
    output = read_streams(create_source, config_for(wecom), ["external_contacts"])

    by_key = {contact_key(r): r for r in records_of(output, "external_contacts")}
    for row in wecom.dataset.records("external_contacts"):
        record = by_key[contact_key(row)]
        assert record["external_contact"] == row["external_contact"]
        assert record["follow_info"] == row["follow_info"]


def test_given_token_revoked_mid_paging_when_read_then_relogin_and_nothing_lost(wecom: fake.WeComFake) -> None:
    set_faults(wecom.url, revoke_token_after=7)

    output = read_streams(create_source, config_for(wecom), ["external_contacts"])

    assert not output.errors, error_text(output)
    assert_exactly(map(contact_key, records_of(output, "external_contacts")), expected_contacts(wecom))
    stats = fake_stats(wecom.url)
    assert stats["faults"]["token_revoked"] >= 2
    assert stats["tokens_issued"] >= 3


def test_given_every_token_rejected_when_read_then_fails_after_relogin_instead_of_looping(
    wecom: fake.WeComFake,
) -> None:
    set_faults(wecom.url, revoke_token_after=0)  # each token is refused on its first use

    output = read_streams(create_source, config_for(wecom), ["follow_users"], expect_failure=True)

    assert not output.records
    assert "42001" in error_text(output) and "access_token expired" in error_text(output)
    # login, then at most two forced logins (immediate resend, then the CDK's retry) per request
    assert fake_stats(wecom.url)["calls"][fake.TOKEN_PATH] <= 4


def test_given_rate_limit_burst_when_read_then_backs_off_and_recovers(wecom: fake.WeComFake) -> None:
    set_faults(wecom.url, rate_limit_burst=2)

    output = read_streams(create_source, config_for(wecom), ["external_contacts"])

    assert not output.errors, error_text(output)
    assert_exactly(map(contact_key, records_of(output, "external_contacts")), expected_contacts(wecom))
    assert fake_stats(wecom.url)["faults"]["rate_limited"] == 2


def test_given_5xx_errors_when_read_then_retried_and_nothing_lost(wecom: fake.WeComFake) -> None:
    set_faults(wecom.url, error_5xx_rate=0.1, seed=11)

    output = read_streams(create_source, config_for(wecom), ["external_contacts"])

    assert not output.errors, error_text(output)
    assert_exactly(map(contact_key, records_of(output, "external_contacts")), expected_contacts(wecom))
    assert fake_stats(wecom.url)["faults"]["http_5xx"] >= 1


def test_given_bad_secret_when_check_then_fails_with_wecom_message(wecom: fake.WeComFake) -> None:
    config = config_for(wecom, secret="not-the-secret-123")

    status = create_source(config).check(logging.getLogger("test"), config)

    assert status.status.name == "FAILED"
    assert "40001" in status.message and "invalid credential" in status.message


def test_given_bad_secret_when_read_then_sync_fails_not_empty_success(wecom: fake.WeComFake) -> None:
    output = read_streams(create_source, config_for(wecom, secret="not-the-secret-123"), STREAMS,
                          expect_failure=True)

    assert not output.records
    assert "invalid credential" in error_text(output)


def test_given_directory_only_secret_when_read_contacts_then_fails_with_permission_message(
    wecom: fake.WeComFake,
) -> None:
    config = config_for(wecom, secret=fake.DIRECTORY_SECRET)

    output = read_streams(create_source, config, ["external_contacts"], expect_failure=True)
    status = create_source(config).check(logging.getLogger("test"), config)

    assert not output.records
    assert "48002" in error_text(output) and "api forbidden" in error_text(output)
    assert status.status.name == "FAILED" and "api forbidden" in status.message


def test_given_app_secret_without_directory_when_read_users_then_fails(wecom: fake.WeComFake) -> None:
    output = read_streams(create_source, config_for(wecom, secret=fake.APP_SECRET), ["users"],
                          expect_failure=True)

    assert "60011" in error_text(output)


def test_given_contact_changed_when_read_again_then_full_refresh_returns_new_version(wecom: fake.WeComFake) -> None:
    row = wecom.dataset.records("external_contacts")[0]
    wecom.dataset.upsert("external_contacts", {**row, "follow_info": {**row["follow_info"], "remark": "改过的备注"}})

    output = read_streams(create_source, config_for(wecom), ["external_contacts"])

    changed = [r for r in records_of(output, "external_contacts") if contact_key(r) == contact_key(row)]
    assert [r["follow_info"]["remark"] for r in changed] == ["改过的备注"]


def test_given_sync_interrupted_when_resumed_from_last_state_then_every_row_present(wecom: fake.WeComFake) -> None:
    # WeCom has no modified-time filter, so every stream is a full refresh: a stream finished
    # before the interruption is checkpointed, an unfinished one is read again in full.
    config = config_for(wecom, num_workers=2)
    first = read_in_process(create_source, config, STREAMS, stop_after_records=150)
    kept, states = committed_part(first.messages)

    second = read_in_process(create_source, config, STREAMS, state=states)

    assert first.error is None and second.error is None
    assert_exactly(map(contact_key, records_of(second.messages, "external_contacts")), expected_contacts(wecom))
    union = {contact_key(m.record.data) for m in kept + second.records if m.record.stream == "external_contacts"}
    assert union == set(expected_contacts(wecom))


def test_given_malformed_row_when_read_then_emitted_without_key_copy(wecom: fake.WeComFake) -> None:
    set_faults(wecom.url, malformed_record=True)

    output = read_streams(create_source, config_for(wecom), ["external_contacts"])

    contacts = records_of(output, "external_contacts")
    assert len(contacts) == len(expected_contacts(wecom))
    broken = [r for r in contacts if "external_userid" not in r["external_contact"]]
    assert len(broken) == 1 and "external_userid" not in broken[0]


def test_given_secret_and_token_when_sync_with_errors_then_neither_in_messages_or_logs(
    wecom: fake.WeComFake,
) -> None:
    # gettoken takes the secret in its query string (WeCom's API), so DEBUG logs of urllib3 carry
    # it: the CDK's AirbyteLogFormatter masks it, and nothing at INFO or above contains it.
    set_faults(wecom.url, revoke_token_after=5, rate_limit_burst=1)

    good = read_in_process(create_source, config_for(wecom), STREAMS, log_level=logging.DEBUG)
    bad = read_in_process(create_source, config_for(wecom, secret="wrong-secret-value-42"), STREAMS,
                          log_level=logging.DEBUG)
    tokens = list(wecom.tokens._tokens)  # every access token the fake issued

    assert good.error is None and len(good.records) > 0
    assert bad.error is not None and "invalid credential" in str(bad.error) and not bad.records
    assert len(tokens) >= 2
    for run, secret in ((good, fake.CONTACT_SECRET), (bad, "wrong-secret-value-42")):
        text = run.visible_text()
        assert secret not in text
        assert not [token for token in tokens if token in text]
