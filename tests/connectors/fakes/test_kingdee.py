"""The Kingdee K/3 Cloud fake over real HTTP: cookie sessions, positional ExecuteBillQuery, filters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from connectors.fakes import kingdee
from connectors.fakes.kingdee import ACCT_ID, PASSWORD, SESSION_LOST, USERNAME, KingdeeFake
from connectors.fakes.sample import sample_universe

SEED = 7


@pytest.fixture(scope="module")
def server() -> Iterator[KingdeeFake]:
    universe, reps = sample_universe(n_entities=80, n_reps=6, seed=3)
    with KingdeeFake(kingdee.build_dataset(universe, reps, SEED)) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(server: KingdeeFake) -> None:
    server.reset()


def login(server: KingdeeFake, **overrides: Any) -> requests.Session:
    session = requests.Session()
    body = {"acctid": ACCT_ID, "username": USERNAME, "password": PASSWORD, "lcid": 2052, **overrides}
    response = session.post(f"{server.url}{kingdee.LOGIN_PATH}", json=body)
    assert response.status_code == 200 and response.json()["LoginResultType"] == 1, response.text
    return session


def bill_query(session: requests.Session, server: KingdeeFake, form: str, keys: str, **data: Any) -> Any:
    response = session.post(
        f"{server.url}{kingdee.QUERY_PATH}", json={"data": {"FormId": form, "FieldKeys": keys, **data}}
    )
    assert response.status_code == 200
    return response.json()


def error_of(body: Any) -> dict[str, Any] | None:
    """The ResponseStatus of an error answer, None for data rows."""
    if body and body[0] and isinstance(body[0][0], dict):
        return body[0][0]["Result"]["ResponseStatus"]
    return None


def read_all(
    session: requests.Session, server: KingdeeFake, form: str, keys: str, limit: int = 9, **data: Any
) -> list[list[Any]]:
    rows, start = [], 0
    while True:
        page = bill_query(session, server, form, keys, StartRow=start, Limit=limit, **data)
        assert error_of(page) is None, page
        rows.extend(page)
        if len(page) < limit:
            return rows
        start += limit


def test_login_returns_session_id_and_both_cookies(server: KingdeeFake) -> None:
    session = requests.Session()
    response = session.post(
        f"{server.url}{kingdee.LOGIN_PATH}",
        json={"acctid": ACCT_ID, "username": USERNAME, "password": PASSWORD, "lcid": 2052},
    )
    body = response.json()
    assert body["LoginResultType"] == 1 and body["IsSuccessByAPI"] is True and body["Context"]["UserId"]
    assert session.cookies["kdservice-sessionid"] == body["KDSVCSessionId"]
    assert session.cookies["ASP.NET_SessionId"]


def test_legacy_parameters_login(server: KingdeeFake) -> None:
    response = requests.post(
        f"{server.url}{kingdee.LOGIN_PATH}",
        json={
            "format": 1,
            "useragent": "ApiClient",
            "rid": {},
            "parameters": [ACCT_ID, USERNAME, PASSWORD, 2052],
            "timestamp": "2025-01-01",
            "v": "1.0",
        },
    )
    assert response.json()["LoginResultType"] == 1


@pytest.mark.parametrize("overrides", [{"password": "wrong"}, {"acctid": "other"}])
def test_failed_login_is_result_type_0_with_a_message(server: KingdeeFake, overrides: dict[str, str]) -> None:
    body = {"acctid": ACCT_ID, "username": USERNAME, "password": PASSWORD, "lcid": 2052, **overrides}
    response = requests.post(f"{server.url}{kingdee.LOGIN_PATH}", json=body)
    assert response.status_code == 200 and not response.cookies
    assert response.json()["LoginResultType"] == 0 and response.json()["Message"]


def test_rows_are_positional_in_field_keys_order(server: KingdeeFake) -> None:
    session = login(server)
    keys = "fnumber,FName,FTaxRegisterCode,FModifyDate,FSELLER.FNumber"  # keys are case-insensitive
    rows = read_all(session, server, "BD_Customer", keys)
    expected = [
        [r["FNumber"], r["FName"], r["FTaxRegisterCode"], r["FModifyDate"], r["FSELLER.FNumber"]]
        for r in sorted(server.dataset.records("BD_Customer"), key=lambda r: r["FCUSTID"])
    ]
    assert rows == expected and len(rows) > 9
    assert all(isinstance(row, list) and len(row) == 5 for row in rows)
    datetime.strptime(rows[0][3], "%Y-%m-%dT%H:%M:%S")
    assert len(bill_query(session, server, "BD_Customer", "FNumber", StartRow=0, Limit=0)) == len(expected)


def test_data_may_be_a_json_string(server: KingdeeFake) -> None:
    session = login(server)
    as_text = session.post(
        f"{server.url}{kingdee.QUERY_PATH}",
        json={"data": '{"FormId": "BD_Empinfo", "FieldKeys": "FNumber,FName"}'},
    ).json()
    assert as_text == bill_query(session, server, "BD_Empinfo", "FNumber,FName") and len(as_text) == 6


@pytest.mark.parametrize("form", ["SAL_SaleOrder", "AR_receivable", "AR_RECEIVEBILL", "BD_Empinfo"])
def test_every_form_pages_with_start_row(server: KingdeeFake, form: str) -> None:
    rows = read_all(login(server), server, form, "FID,FModifyDate", limit=8)
    assert sorted(r[0] for r in rows) == sorted(r["FID"] for r in server.dataset.records(form))
    assert len({r[0] for r in rows}) == len(rows)


def test_receipts_reconcile_with_receivables_and_orders(server: KingdeeFake) -> None:
    session = login(server)
    orders = dict(read_all(session, server, "SAL_SaleOrder", "FBillNo,FBillAllAmount", limit=500))
    receivables = {}
    for bill_no, amount, source in read_all(
        session, server, "AR_receivable", "FBillNo,FALLAMOUNTFOR,FSourceBillNo", limit=500
    ):
        assert orders[source] == amount
        receivables[bill_no] = amount
    paid: dict[str, float] = {}
    for amount, source in read_all(
        session, server, "AR_RECEIVEBILL", "FRECAMOUNTFOR,FSourceBillNo", limit=500
    ):
        paid[source] = paid.get(source, 0.0) + amount
    assert paid and all(total <= receivables[source] + 0.01 for source, total in paid.items())
    taxed = [r for r in server.dataset.records("BD_Customer") if r["FTaxRegisterCode"]]
    assert len(taxed) > len(server.dataset.records("BD_Customer")) * 0.7


def test_filter_string_on_modify_date(server: KingdeeFake) -> None:
    session = login(server)
    records = server.dataset.records("BD_Customer")
    cut = sorted(r["FModifyDate"] for r in records)[len(records) // 2]
    literal = cut.replace("T", " ")
    for op, keep in ((">=", lambda t: t >= cut), (">", lambda t: t > cut)):
        rows = read_all(
            session, server, "BD_Customer", "FCUSTID", FilterString=f"FModifyDate {op} '{literal}'"
        )
        assert sorted(r[0] for r in rows) == sorted(r["FCUSTID"] for r in records if keep(r["FModifyDate"]))
    both = read_all(
        session,
        server,
        "BD_Customer",
        "FCUSTID,FDocumentStatus",
        FilterString=f"(FModifyDate >= '{literal}' AND FDocumentStatus = 'C') OR FCUSTID IN (100001)",
    )
    assert {r[0] for r in both} == {r["FCUSTID"] for r in records if r["FModifyDate"] >= cut} | {100001}
    like = read_all(session, server, "BD_Customer", "FName", FilterString="FName LIKE '%分公司'")
    assert like and all(r[0].endswith("分公司") for r in like)


def test_order_string(server: KingdeeFake) -> None:
    rows = read_all(
        login(server),
        server,
        "SAL_SaleOrder",
        "FBillAllAmount,FID",
        OrderString="FBillAllAmount DESC, FID ASC",
        limit=500,
    )
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)


@pytest.mark.parametrize(
    ("data", "msg_code"),
    [
        ({"FieldKeys": "FNumber,FNoSuchField"}, 9),
        ({"FieldKeys": "FNumber", "FilterString": "FNoSuchField = 'x'"}, 9),
        ({"FieldKeys": "FNumber", "FilterString": "FModifyDate >>= 'x'"}, 4),
        ({"FieldKeys": "FNumber", "FilterString": "FModifyDate >= 'not a date'"}, 4),
        ({"FieldKeys": "FNumber", "OrderString": "FNumber SIDEWAYS"}, 4),
        ({"FormId": "NO_SUCH_FORM", "FieldKeys": "FNumber"}, 4),
    ],
)
def test_query_errors_are_response_status_in_nested_arrays(
    server: KingdeeFake, data: dict[str, Any], msg_code: int
) -> None:
    body = (
        login(server)
        .post(f"{server.url}{kingdee.QUERY_PATH}", json={"data": {"FormId": "BD_Customer", **data}})
        .json()
    )
    status = error_of(body)
    assert status is not None and status["IsSuccess"] is False and status["ErrorCode"] == 500
    assert status["MsgCode"] == msg_code and status["Errors"][0]["Message"]


def test_session_lost_then_login_again(server: KingdeeFake) -> None:
    anonymous = requests.post(
        f"{server.url}{kingdee.QUERY_PATH}", json={"data": {"FormId": "BD_Customer", "FieldKeys": "FNumber"}}
    )
    status = error_of(anonymous.json())
    assert anonymous.status_code == 200 and status is not None
    assert (status["MsgCode"], status["Errors"][0]["Message"]) == (1, SESSION_LOST)

    session = login(server)
    only_aspnet = requests.Session()
    only_aspnet.cookies.set("ASP.NET_SessionId", session.cookies["ASP.NET_SessionId"])
    assert error_of(bill_query(only_aspnet, server, "BD_Empinfo", "FNumber")) is None

    server.advance_clock(7201)
    assert error_of(bill_query(session, server, "BD_Empinfo", "FNumber"))["MsgCode"] == 1

    server.set_faults(revoke_token_after=2)
    session = login(server)
    results = [error_of(bill_query(session, server, "BD_Empinfo", "FNumber")) for _ in range(3)]
    assert results[:2] == [None, None] and results[2]["MsgCode"] == 1
    assert error_of(bill_query(login(server), server, "BD_Empinfo", "FNumber")) is None
    assert server.stats()["faults"]["token_revoked"] == 1


def test_rate_limit_and_5xx(server: KingdeeFake) -> None:
    session = login(server)
    server.set_faults(rate_limit_burst=1)
    assert error_of(bill_query(session, server, "BD_Empinfo", "FNumber"))["MsgCode"] == 14
    server.set_faults(error_5xx_rate=1.0)
    response = session.post(
        f"{server.url}{kingdee.QUERY_PATH}", json={"data": {"FormId": "BD_Empinfo", "FieldKeys": "FNumber"}}
    )
    assert response.status_code in (500, 502, 503)
    assert server.stats()["faults"]["rate_limited"] == 1 and server.stats()["faults"]["http_5xx"] == 1


def test_incremental_read_sees_an_upserted_customer(server: KingdeeFake) -> None:
    session = login(server)
    records = server.dataset.records("BD_Customer")
    newest = max(r["FModifyDate"] for r in records).replace("T", " ")
    changed = server.dataset.upsert("BD_Customer", {"FCUSTID": records[2]["FCUSTID"], "FTEL": "021-55556666"})
    added = server.dataset.upsert(
        "BD_Customer", {"FNumber": "CUST9999999", "FName": "新客户有限公司", "FTaxRegisterCode": ""}
    )
    rows = read_all(
        session,
        server,
        "BD_Customer",
        "FCUSTID,FTEL,FModifyDate",
        FilterString=f"FModifyDate > '{newest}'",
        OrderString="FModifyDate",
    )
    assert [r[0] for r in rows] == [changed["FCUSTID"], added["FCUSTID"]]
    assert rows[0][1] == "021-55556666" and added["FCUSTID"] == max(r["FCUSTID"] for r in records) + 1


def test_malformed_records_per_form(server: KingdeeFake) -> None:
    server.set_faults(malformed_record=True)
    session = login(server)
    customers = read_all(session, server, "BD_Customer", "FCUSTID,FNumber", limit=500)
    assert [r[0] for r in customers if r[1] is None] == [server.stats()["malformed_ids"]["BD_Customer"]]
    amounts = [r[0] for r in read_all(session, server, "AR_receivable", "FALLAMOUNTFOR", limit=500)]
    assert sum(isinstance(a, str) for a in amounts) == 1
    dates = [r[0] for r in read_all(session, server, "SAL_SaleOrder", "FDate", limit=500)]
    assert dates.count("0001-01-01T00:00:00") == 1
