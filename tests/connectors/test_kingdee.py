"""Kingdee K/3 Cloud connector against the Kingdee fake over loopback HTTP."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import SyncMode

from connectors.fakes import kingdee as fake
from connectors.fakes.sample import sample_universe
from connectors.kingdee import create_source


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

FORMS = {"BD_Customer": "BD_Customer", "SAL_SaleOrder": "SAL_SaleOrder", "AR_receivable": "AR_receivable",
         "AR_RECEIVEBILL": "AR_RECEIVEBILL", "salesmen": "BD_Empinfo"}
"""Stream name → form read by it."""
INCREMENTAL = dict.fromkeys(FORMS, SyncMode.incremental)


def pk(stream: str) -> str:
    return fake.PRIMARY_KEYS[FORMS[stream]]


@pytest.fixture(scope="module")
def server() -> Iterator[fake.KingdeeFake]:
    # 300 entities, 20 reps → ~140 customers, ~430 orders, ~360 receivables, ~300 receipts, 20 staff.
    universe, reps = sample_universe(n_entities=300, n_reps=20, seed=3)
    with fake.KingdeeFake(fake.build_dataset(universe, reps, seed=3)) as srv:
        yield srv


@pytest.fixture
def kingdee(server: fake.KingdeeFake) -> Iterator[fake.KingdeeFake]:
    server.reset()
    yield server
    server.reset()


def config_for(server: fake.KingdeeFake, **extra: Any) -> dict[str, Any]:
    return {"base_url": server.url, "acct_id": fake.ACCT_ID, "username": fake.USERNAME, "password": fake.PASSWORD,
            "page_size": 40, "start_date": "2018-06-01", "slice_step": "P120D", **h.FAST_RETRY, **extra}


def keys(output: Any, stream: str) -> list[int]:
    return [r[pk(stream)] for r in h.records_of(output, stream)]


def expected(server: fake.KingdeeFake, stream: str) -> list[int]:
    return [r[pk(stream)] for r in server.dataset.records(FORMS[stream])]


# --------------------------------------------------------------------------- standard suite


@pytest.fixture(params=["valid", "bad_password"])
def scenario(request: pytest.FixtureRequest, server: fake.KingdeeFake) -> Any:
    if request.param == "valid":
        return h.scenario("valid", config_for(server), status="succeed",
                          sections=("spec", "connection", "discovery", "basic_read"))
    return h.scenario("bad_password", config_for(server, password="not-the-password-123"), status="failed",
                      sections=("connection",))


class TestKingdeeStandardSuite(h.standard_suite_base("kingdee", create_source)):  # type: ignore[misc]
    """airbyte-cdk's standard tests: spec, check, discover, basic read."""

    __test__ = True


# --------------------------------------------------------------------------- behaviour


def test_given_fake_dataset_when_full_read_then_every_row_exactly_once_keyed_by_field_key(
    kingdee: fake.KingdeeFake,
) -> None:
    output = h.read_streams(create_source, config_for(kingdee), INCREMENTAL)

    assert not output.errors, h.error_text(output)
    for stream in FORMS:
        h.assert_exactly(keys(output, stream), expected(kingdee, stream))
    # positional arrays became records keyed by the requested field keys, values in place
    by_id = {r["FID"]: r for r in h.records_of(output, "SAL_SaleOrder")}
    for row in kingdee.dataset.records("SAL_SaleOrder"):
        record = by_id[row["FID"]]
        assert set(record) == set(fake.FORMS["SAL_SaleOrder"])
        assert all(record[field] == row.get(field) for field in record)


def test_given_state_and_changed_bills_when_incremental_read_then_only_changes_and_state_advances(
    kingdee: fake.KingdeeFake,
) -> None:
    config = config_for(kingdee)
    first = h.read_streams(create_source, config, INCREMENTAL)
    states = h.state_messages(first)
    before = h.stream_state_values(states)
    customer = kingdee.dataset.records("BD_Customer")[5]
    kingdee.dataset.upsert("BD_Customer", {"FCUSTID": customer["FCUSTID"], "FName": "改名后的客户"})
    order = kingdee.dataset.upsert("SAL_SaleOrder", {"FBillNo": "XSDD-NEW-0001", "FQty": 1.0})

    second = h.read_streams(create_source, config, INCREMENTAL, state=states)

    changed = {"BD_Customer": customer["FCUSTID"], "SAL_SaleOrder": order["FID"]}
    for stream in FORMS:
        boundary = before[stream]["FModifyDate"].replace(" ", "T")
        records = h.records_of(second, stream)
        assert all(r["FModifyDate"] == boundary for r in records if r[pk(stream)] != changed.get(stream))
        if stream in changed:
            assert changed[stream] in keys(second, stream)
    renamed = [r["FName"] for r in h.records_of(second, "BD_Customer") if r["FCUSTID"] == customer["FCUSTID"]]
    assert renamed == ["改名后的客户"]
    after = h.stream_state_values(h.state_messages(second))
    assert after["BD_Customer"]["FModifyDate"] > before["BD_Customer"]["FModifyDate"]
    assert after["SAL_SaleOrder"]["FModifyDate"] > before["SAL_SaleOrder"]["FModifyDate"]


def test_given_a_modify_time_in_the_last_second_of_a_window_when_read_then_it_is_read(
    kingdee: fake.KingdeeFake,
) -> None:
    """FModifyDate has fractions of a second: 2018-09-28 23:59:59.500 lies after the first window's last second
    (2018-06-01 + 120 days − 1 s) and before the next window's start; each window ends where the next begins."""
    late = kingdee.dataset.upsert("BD_Customer", {"FCUSTID": 900001, "FNumber": "GAP0001",
                                                  "FModifyDate": "2018-09-28T23:59:59.500"})
    inside = kingdee.dataset.upsert("BD_Customer", {"FCUSTID": 900002, "FNumber": "GAP0002",
                                                    "FModifyDate": "2018-09-28T23:59:58.500"})
    output = h.read_streams(create_source, config_for(kingdee), {"BD_Customer": SyncMode.incremental})
    assert not output.errors, h.error_text(output)
    got = keys(output, "BD_Customer")
    assert late["FCUSTID"] in got and inside["FCUSTID"] in got
    h.assert_exactly(got, expected(kingdee, "BD_Customer"))  # (and nothing twice at a window's edge)


def test_given_a_record_modified_while_its_window_is_paged_when_read_then_no_other_record_is_skipped(
    kingdee: fake.KingdeeFake,
) -> None:
    """Someone edits the first customer while the sync reads its window: the customer leaves the window (its new
    FModifyDate is after it), and with StartRow paging every later row moved back one, the row at the edge of the
    first page never read (nor by later incremental syncs: the cursor passed it). Paged by key, none is skipped."""
    want = expected(kingdee, "BD_Customer")
    config = config_for(kingdee, page_size=40, slice_step="P20000D")  # one window, several pages
    with h.edited_during_read(kingdee.dataset, "BD_Customer", "FCUSTID", min(want),
                              {"FModifyDate": "2099-01-01T00:00:00"}):
        output = h.read_streams(create_source, config, {"BD_Customer": SyncMode.incremental})
    assert not output.errors, h.error_text(output)
    h.assert_exactly(keys(output, "BD_Customer"), want)


def test_given_session_lost_mid_paging_when_read_then_login_again_and_nothing_lost(kingdee: fake.KingdeeFake) -> None:
    h.set_faults(kingdee.url, revoke_token_after=20)

    output = h.read_streams(create_source, config_for(kingdee), INCREMENTAL)

    assert not output.errors, h.error_text(output)
    for stream in FORMS:
        h.assert_exactly(keys(output, stream), expected(kingdee, stream))
    stats = h.fake_stats(kingdee.url)
    assert stats["faults"]["token_revoked"] >= 3 and stats["calls"][fake.LOGIN_PATH] >= 4


def test_given_rate_limit_burst_when_read_then_backs_off_and_recovers(kingdee: fake.KingdeeFake) -> None:
    h.set_faults(kingdee.url, rate_limit_burst=2)

    output = h.read_streams(create_source, config_for(kingdee), {"BD_Customer": SyncMode.incremental})

    assert not output.errors, h.error_text(output)
    h.assert_exactly(keys(output, "BD_Customer"), expected(kingdee, "BD_Customer"))
    assert h.fake_stats(kingdee.url)["faults"]["rate_limited"] == 2


def test_given_5xx_errors_when_read_then_retried_and_nothing_lost(kingdee: fake.KingdeeFake) -> None:
    h.set_faults(kingdee.url, error_5xx_rate=0.04, seed=2)

    output = h.read_streams(create_source, config_for(kingdee), {"SAL_SaleOrder": SyncMode.incremental,
                                                                  "AR_receivable": SyncMode.incremental})

    assert not output.errors, h.error_text(output)
    h.assert_exactly(keys(output, "SAL_SaleOrder"), expected(kingdee, "SAL_SaleOrder"))
    h.assert_exactly(keys(output, "AR_receivable"), expected(kingdee, "AR_receivable"))
    assert h.fake_stats(kingdee.url)["faults"]["http_5xx"] >= 1


@pytest.mark.parametrize(
    ("bad", "vendor_text"),
    [({"password": "not-the-password-123"}, "用户名或密码错误"),
     ({"acct_id": "no-such-data-center"}, "数据中心不存在或已被禁用")],
)
def test_given_bad_login_when_check_and_read_then_fail_with_kingdee_message(
    kingdee: fake.KingdeeFake, bad: dict[str, str], vendor_text: str
) -> None:
    config = config_for(kingdee, **bad)

    status = create_source(config).check(logging.getLogger("test"), config)
    output = h.read_streams(create_source, config, INCREMENTAL, expect_failure=True)

    assert status.status.name == "FAILED" and vendor_text in status.message
    assert not output.records and vendor_text in h.error_text(output)


def test_given_page_size_when_read_then_pages_follow_the_key_until_a_short_page(kingdee: fake.KingdeeFake) -> None:
    config = config_for(kingdee, page_size=25, slice_step="P20000D")  # one window

    output = h.read_streams(create_source, config, {"SAL_SaleOrder": SyncMode.incremental})

    total = len(expected(kingdee, "SAL_SaleOrder"))
    h.assert_exactly(keys(output, "SAL_SaleOrder"), expected(kingdee, "SAL_SaleOrder"))
    assert h.fake_stats(kingdee.url)["calls"][fake.QUERY_PATH] == total // 25 + 1


def test_given_sync_interrupted_when_resumed_from_last_state_then_every_bill_kept(kingdee: fake.KingdeeFake) -> None:
    h.assert_resumes_exactly(
        create_source,
        config_for(kingdee, num_workers=1, slice_step="P60D"),
        INCREMENTAL,
        expected={stream: set(expected(kingdee, stream)) for stream in FORMS},
        key_of=lambda stream, record: record[pk(stream)],
        cursor_field=lambda stream: "FModifyDate",
        stop_after_records=600,
    )


def test_given_malformed_rows_when_read_then_every_row_still_emitted(kingdee: fake.KingdeeFake) -> None:
    # a customer without FNumber, an order dated 0001-01-01, an amount as text, a receipt on 2024-02-30
    h.set_faults(kingdee.url, malformed_record=True)

    output = h.read_streams(create_source, config_for(kingdee), INCREMENTAL)

    assert not output.errors, h.error_text(output)
    for stream in FORMS:
        h.assert_exactly(keys(output, stream), expected(kingdee, stream))


def test_given_password_and_session_when_sync_then_neither_in_messages_or_logs(kingdee: fake.KingdeeFake) -> None:
    h.set_faults(kingdee.url, revoke_token_after=30, rate_limit_burst=1)

    good = h.read_in_process(create_source, config_for(kingdee), INCREMENTAL, log_level=logging.DEBUG)
    bad = h.read_in_process(create_source, config_for(kingdee, password="wrong-password-value-42"),
                            INCREMENTAL, log_level=logging.DEBUG)
    sessions = list(kingdee.tokens._tokens)

    assert good.error is None and good.records
    assert bad.error is not None and "用户名或密码错误" in str(bad.error) and not bad.records
    for run, secret in ((good, fake.PASSWORD), (bad, "wrong-password-value-42")):
        text = run.visible_text()
        assert secret not in text
        assert not [session for session in sessions if session in text]


def sync_from_cli(server: fake.KingdeeFake, tmp_path: Path, settings: str) -> Any:
    """`hub connectors sync` of the fake's customers, with more connector `settings` (YAML flow mapping items)."""
    from click.testing import CliRunner

    from hub.cli import main

    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"""warehouse: {{url: "duckdb:///{tmp_path / 'w.duckdb'}"}}
sources:
  kingdee:
    connector: kingdee
    config: {{base_url: "{server.url}", acct_id: {fake.ACCT_ID}, username: {fake.USERNAME},
             password: "{fake.PASSWORD}", start_date: "2018-06-01", {settings}}}
    streams:
      BD_Customer: {{primary_key: FNumber}}
""", encoding="utf-8")
    return CliRunner().invoke(main, ["connectors", "sync", "-c", str(cfg)])


def test_given_many_time_windows_when_synced_from_the_cli_then_a_streams_progress_is_one_line(
    kingdee: fake.KingdeeFake, tmp_path: Path,
) -> None:
    """Twenty-odd 120-day windows since 2018: a progress counter per stream (a line every ten seconds and its total),
    not a line per window (a first run printed over a hundred). Rate limited on the way: none of the Airbyte
    messages airbyte-cdk prints itself while it backs off reach the output."""
    kingdee.set_faults(rate_limit_burst=3)
    r = sync_from_cli(kingdee, tmp_path, "slice_step: P120D, backoff_factor: 0.01")
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if line.strip().startswith("kingdee.BD_Customer:")]
    n = len(expected(kingdee, "BD_Customer"))
    assert len(lines) == 1 and lines[0].strip().startswith(f"kingdee.BD_Customer: {n:,} read, {n:,} new"), lines
    assert h.fake_stats(kingdee.url)["faults"].get("rate_limited", 0) > 0  # (it was rate limited)
    assert '{"type":' not in r.output, r.output[:2000]


def test_given_a_server_failing_every_call_when_synced_from_the_cli_then_one_error_line_no_traceback(
    kingdee: fake.KingdeeFake, tmp_path: Path,
) -> None:
    """`hub connectors sync` without -v: the stream's error once in the summary, not airbyte-cdk's tracebacks of
    every retry nor the same error once per time slice."""
    kingdee.set_faults(error_5xx_rate=1.0)
    r = sync_from_cli(kingdee, tmp_path, "slice_step: P700D, backoff_factor: 0.01, max_retries: 1")
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and "AirbyteTracedException(" not in r.output, r.output[:2000]
    failure = [line for line in r.output.splitlines() if "did not sync successfully" in line]
    entries = failure[0].split("successfully: ", 1)[1].split("; ") if len(failure) == 1 else []
    assert entries and len(entries) == len(set(entries)) < 5, r.output[:2000]  # (the slices: 5xx of three kinds)
