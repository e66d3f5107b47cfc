"""The Fxiaoke fake over real HTTP: body-borne auth, object query, offset and keyset paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.fakes import fxiaoke
from connectors.fakes.fxiaoke import (
    ADMIN_OPEN_USER_ID,
    APP_ID,
    APP_SECRET,
    CORP_ID,
    OBJECTS,
    PERMANENT_CODE,
    FxiaokeFake,
)
from connectors.fakes.sample import sample_universe

SEED = 7
BIG_LEADS = 10_200


@pytest.fixture(scope="module")
def server() -> Iterator[FxiaokeFake]:
    universe, reps = sample_universe(n_entities=80, n_reps=6, seed=3)
    with FxiaokeFake(fxiaoke.build_dataset(universe, reps, SEED)) as fake:
        yield fake


@pytest.fixture(scope="module")
def big() -> Iterator[FxiaokeFake]:
    """More than 10,000 leads from a 30-company universe (each company leads again and again)."""
    universe, reps = sample_universe(n_entities=30, n_reps=4, seed=4)
    dataset = fxiaoke.build_dataset(universe, reps, SEED, fxiaoke.Sizes(leads_per_entity=BIG_LEADS / 30))
    with FxiaokeFake(dataset) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(server: FxiaokeFake) -> None:
    server.reset()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def token_body(http: requests.Session, server: FxiaokeFake, **overrides: Any) -> dict[str, Any]:
    body = {"appId": APP_ID, "appSecret": APP_SECRET, "permanentCode": PERMANENT_CODE, **overrides}
    response = http.post(f"{server.url}{fxiaoke.TOKEN_PATH}", json=body)
    assert response.status_code == 200
    return response.json()


def auth(http: requests.Session, server: FxiaokeFake) -> dict[str, str]:
    body = token_body(http, server)
    assert body["errorCode"] == 0, body
    return {
        "corpAccessToken": body["corpAccessToken"],
        "corpId": body["corpId"],
        "currentOpenUserId": ADMIN_OPEN_USER_ID,
    }


def query(
    http: requests.Session,
    server: FxiaokeFake,
    creds: dict[str, Any],
    name: str,
    limit: int = 100,
    offset: int = 0,
    filters: list[dict[str, Any]] | None = None,
    orders: list[dict[str, Any]] | None = None,
    **data: Any,
) -> dict[str, Any]:
    info = {"limit": limit, "offset": offset, "filters": filters or [], "orders": orders or []}
    body = {**creds, "data": {"dataObjectApiName": name, "search_query_info": info, **data}}
    response = http.post(f"{server.url}{fxiaoke.QUERY_PATH}", json=body)
    assert response.status_code == 200
    return response.json()


def read_offset(
    http: requests.Session,
    server: FxiaokeFake,
    name: str,
    limit: int = 30,
    filters: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    creds, rows, offset = auth(http, server), [], 0
    orders = [{"fieldName": "create_time", "isAsc": True}]
    while True:
        body = query(http, server, creds, name, limit, offset, filters, orders)
        assert body["errorCode"] == 0, body
        page = body["data"]["dataList"]
        rows.extend(page)
        if len(page) < limit:
            return rows
        offset += limit


def test_token_is_reused_within_11_12_of_its_ttl(server: FxiaokeFake, http: requests.Session) -> None:
    first = token_body(http, server)
    assert first["errorCode"] == 0 and first["corpId"] == CORP_ID and 7190 <= first["expiresIn"] <= 7200
    assert token_body(http, server)["corpAccessToken"] == first["corpAccessToken"]
    server.advance_clock(6601)
    second = token_body(http, server)
    assert second["corpAccessToken"] != first["corpAccessToken"]
    creds = {
        "corpAccessToken": first["corpAccessToken"],
        "corpId": CORP_ID,
        "currentOpenUserId": ADMIN_OPEN_USER_ID,
    }
    assert query(http, server, creds, "AccountObj")["errorCode"] == 0  # the old one still works until its TTL


def test_token_errors(server: FxiaokeFake, http: requests.Session) -> None:
    assert token_body(http, server, appSecret="wrong")["errorCode"] == 10006
    assert token_body(http, server, appSecret=None)["errorCode"] == 10006
    assert token_body(http, server, permanentCode="wrong")["errorCode"] == 20015


def test_token_endpoint_limit_when_enforced(server: FxiaokeFake, http: requests.Session) -> None:
    server.set_faults(enforce_limits=True)
    codes = [token_body(http, server)["errorCode"] for _ in range(11)]
    assert codes == [0] * 10 + [30004]
    assert server.stats()["faults"]["rate_limited"] == 1


@pytest.mark.parametrize("name", OBJECTS)
def test_every_object_pages_by_offset(server: FxiaokeFake, http: requests.Session, name: str) -> None:
    limit = min(7, len(server.dataset.records(name)) // 2)  # several pages, also for the six employees
    rows = read_offset(http, server, name, limit=limit)
    assert sorted(r["_id"] for r in rows) == sorted(r["_id"] for r in server.dataset.records(name))
    assert len({r["_id"] for r in rows}) == len(rows) > limit > 0
    for row in rows:
        assert row["object_describe_api_name"] == name and isinstance(row["owner"], list)
        assert isinstance(row["create_time"], int) and row["last_modified_time"] >= row["create_time"]


def test_response_envelope_total_and_projection(server: FxiaokeFake, http: requests.Session) -> None:
    creds = auth(http, server)
    body = query(http, server, creds, "AccountObj", limit=5)
    assert {"traceId", "errorCode", "errorMessage", "errorDescription", "data"} <= set(body)
    data = body["data"]
    assert data["total"] == len(server.dataset.records("AccountObj")) and (data["offset"], data["limit"]) == (
        0,
        5,
    )
    assert query(http, server, creds, "AccountObj", find_explicit_total_num=False)["data"]["total"] == 0
    info = {"limit": 3, "offset": 0, "filters": [], "orders": [], "fieldProjection": ["name"]}
    projected = http.post(
        f"{server.url}{fxiaoke.QUERY_PATH}",
        json={**creds, "data": {"dataObjectApiName": "AccountObj", "search_query_info": info}},
    ).json()
    assert all(set(r) == {"_id", "name"} for r in projected["data"]["dataList"])


def test_default_order_is_newest_modified_first(server: FxiaokeFake, http: requests.Session) -> None:
    rows = query(http, server, auth(http, server), "ContactObj", limit=100)["data"]["dataList"]
    times = [r["last_modified_time"] for r in rows]
    assert times == sorted(times, reverse=True)


def test_money_is_text_and_payments_never_exceed_their_order(server: FxiaokeFake) -> None:
    orders = {o["_id"]: float(o["order_amount"]) for o in server.dataset.records("SalesOrderObj")}
    paid: dict[str, float] = {}
    for payment in server.dataset.records("PaymentObj"):
        assert isinstance(payment["payment_amount"], str)
        paid[payment["order_id"]] = paid.get(payment["order_id"], 0.0) + float(payment["payment_amount"])
    assert paid and all(total <= orders[order] + 0.01 for order, total in paid.items())
    sources = {lead["source"] for lead in server.dataset.records("LeadsObj")}
    assert sources <= set(fxiaoke.LEAD_SOURCES)


def test_incremental_filters_on_last_modified_time(server: FxiaokeFake, http: requests.Session) -> None:
    records = server.dataset.records("AccountObj")
    cut = sorted(r["last_modified_time"] for r in records)[len(records) // 2]
    for op, keep in (("GTE", lambda t: t >= cut), ("GT", lambda t: t > cut)):
        rows = read_offset(
            http,
            server,
            "AccountObj",
            filters=[{"field_name": "last_modified_time", "operator": op, "field_values": [str(cut)]}],
        )
        assert sorted(r["_id"] for r in rows) == sorted(
            r["_id"] for r in records if keep(r["last_modified_time"])
        )
    newest = max(r["last_modified_time"] for r in records)
    target = records[0]
    server.dataset.upsert("AccountObj", {"_id": target["_id"], "name": "新名字有限公司"})
    added = server.dataset.upsert("AccountObj", {"name": "新增客户有限公司", "owner": ["1001"]})
    rows = read_offset(
        http,
        server,
        "AccountObj",
        filters=[{"field_name": "last_modified_time", "operator": "GT", "field_values": [str(newest)]}],
    )
    assert {r["_id"] for r in rows} == {target["_id"], added["_id"]}
    assert next(r for r in rows if r["_id"] == target["_id"])["create_time"] == target["create_time"]


@pytest.mark.parametrize(
    ("info", "code"),
    [
        ({"limit": 101, "offset": 0}, 15002),
        ({"limit": 0, "offset": 0}, 15002),
        ({"limit": 100, "offset": 10100}, 10013),
        (
            {
                "limit": 10,
                "offset": 0,
                "filters": [{"field_name": "name", "operator": "NE", "field_values": ["x"]}],
            },
            15002,
        ),
        (
            {
                "limit": 10,
                "offset": 0,
                "filters": [{"field_name": "name", "operator": "EQ", "field_values": "x"}],
            },
            15002,
        ),
    ],
)
def test_query_parameter_errors(
    server: FxiaokeFake, http: requests.Session, info: dict[str, Any], code: int
) -> None:
    body = {**auth(http, server), "data": {"dataObjectApiName": "AccountObj", "search_query_info": info}}
    response = http.post(f"{server.url}{fxiaoke.QUERY_PATH}", json=body)
    assert response.status_code == 200 and response.json()["errorCode"] == code


def test_offset_limit_of_10000_and_keyset_paging_past_it(big: FxiaokeFake, http: requests.Session) -> None:
    creds = auth(http, big)
    orders = [{"fieldName": "_id", "isAsc": True}]
    at_limit = query(http, big, creds, "LeadsObj", 100, 10000, orders=orders)
    assert at_limit["errorCode"] == 0 and at_limit["data"]["total"] > 10000 and at_limit["data"]["dataList"]
    past = query(http, big, creds, "LeadsObj", 100, 10100, orders=orders)
    assert past["errorCode"] == 10013 and past["errorMessage"] == "offset out of range 10000"

    ids, last = [], None
    while True:
        filters = [{"field_name": "_id", "operator": "GT", "field_values": [last]}] if last else []
        page = query(http, big, creds, "LeadsObj", 100, 0, filters, orders, find_explicit_total_num=False)
        rows = page["data"]["dataList"]
        ids.extend(r["_id"] for r in rows)
        if len(rows) < 100:
            break
        last = rows[-1]["_id"]
    assert len(ids) == len(set(ids)) == len(big.dataset.records("LeadsObj")) >= BIG_LEADS
    assert ids == sorted(ids)


def test_auth_errors_in_the_body(server: FxiaokeFake, http: requests.Session) -> None:
    creds = auth(http, server)
    assert query(http, server, {}, "AccountObj")["errorCode"] == 20017
    assert query(http, server, {**creds, "corpAccessToken": "bogus"}, "AccountObj")["errorCode"] == 20016
    assert query(http, server, {**creds, "corpId": "FSCID_OTHER"}, "AccountObj")["errorCode"] == 20016
    assert query(http, server, {**creds, "currentOpenUserId": None}, "AccountObj")["errorCode"] == 10010
    assert query(http, server, {**creds, "currentOpenUserId": "FSUID_X"}, "AccountObj")["errorCode"] == 20012
    server.advance_clock(7201)
    assert query(http, server, creds, "AccountObj")["errorCode"] == 20016
    assert server.stats()["auth_errors"] == {"missing": 1, "invalid": 2, "expired": 1}


def test_revocation_rate_limit_and_quota(server: FxiaokeFake, http: requests.Session) -> None:
    server.set_faults(revoke_token_after=3)
    creds = auth(http, server)
    codes = [query(http, server, creds, "LeadsObj", limit=1)["errorCode"] for _ in range(4)]
    assert codes == [0, 0, 0, 20016]
    creds = auth(http, server)
    server.set_faults(revoke_token_after=None, rate_limit_burst=1)
    assert [query(http, server, creds, "LeadsObj", limit=1)["errorCode"] for _ in range(2)] == [30004, 0]
    server.set_faults(quota_exhausted=True)
    assert query(http, server, creds, "LeadsObj", limit=1)["errorCode"] == 30002
    faults = server.stats()["faults"]
    assert (faults["token_revoked"], faults["rate_limited"], faults["quota_exceeded"]) == (1, 1, 1)


def test_quota_after_n_calls_counts_from_when_it_is_set(server: FxiaokeFake, http: requests.Session) -> None:
    creds = auth(http, server)
    assert query(http, server, creds, "LeadsObj", limit=1)["errorCode"] == 0  # before the fault: not counted
    server.set_faults(quota_after=2)
    codes = [query(http, server, creds, "LeadsObj", limit=1)["errorCode"] for _ in range(4)]
    assert codes == [0, 0, 30002, 30002]
    server.set_faults(quota_after=None)
    assert query(http, server, creds, "LeadsObj", limit=1)["errorCode"] == 0
    assert server.stats()["faults"]["quota_exceeded"] == 2


def test_one_malformed_record_per_object(server: FxiaokeFake, http: requests.Session) -> None:
    server.set_faults(malformed_record=True)
    accounts = read_offset(http, server, "AccountObj", limit=100)
    broken = [a for a in accounts if not isinstance(a["last_modified_time"], int)]
    assert len(broken) == 1 and broken[0]["_id"] == server.stats()["malformed_ids"]["AccountObj"]
    opportunities = read_offset(http, server, "NewOpportunityObj", limit=100)
    assert sum(o["amount"] == "十二万" for o in opportunities) == 1
    assert set(server.stats()["malformed_ids"]) == set(OBJECTS)
    assert server.stats()["faults"]["malformed"] == 2


def test_random_faults_lose_and_duplicate_nothing_for_a_retrying_client(
    server: FxiaokeFake, http: requests.Session
) -> None:
    baseline = read_offset(http, server, "ContactObj", limit=6)
    server.set_faults(
        seed=5, error_5xx_rate=0.2, rate_limit_rate=0.2, revoke_rate=0.1, slow_ms=5, slow_rate=0.2
    )
    creds, rows, offset = auth(http, server), [], 0
    while True:
        response = http.post(
            f"{server.url}{fxiaoke.QUERY_PATH}",
            json={
                **creds,
                "data": {
                    "dataObjectApiName": "ContactObj",
                    "search_query_info": {
                        "limit": 6,
                        "offset": offset,
                        "filters": [],
                        "orders": [{"fieldName": "create_time", "isAsc": True}],
                    },
                },
            },
        )
        if response.status_code >= 500:
            continue
        body = response.json()
        if body["errorCode"] == 20016:
            creds = auth(http, server)
            continue
        if body["errorCode"] == 30004:
            continue
        assert body["errorCode"] == 0
        rows.extend(body["data"]["dataList"])
        if len(body["data"]["dataList"]) < 6:
            break
        offset += 6
    assert rows == baseline
    assert all(
        server.stats()["faults"][kind] for kind in ("http_5xx", "rate_limited", "token_revoked", "slow")
    )


def test_dataset_is_deterministic_and_sized_by_sizes() -> None:
    universe, reps = sample_universe(n_entities=50, n_reps=4, seed=5)
    first = fxiaoke.build_dataset(universe, reps, 3)
    assert {n: first.records(n) for n in OBJECTS} == {
        n: fxiaoke.build_dataset(universe, reps, 3).records(n) for n in OBJECTS
    }
    assert first.records("AccountObj") != fxiaoke.build_dataset(universe, reps, 4).records("AccountObj")
    doubled = fxiaoke.build_dataset(universe, reps, 3, fxiaoke.Sizes(leads_per_entity=2.0))
    assert doubled.counts()["LeadsObj"] == 100 and first.counts()["LeadsObj"] == 25


def test_a_won_or_lost_opportunity_closed_by_its_last_change() -> None:
    # a closed deal's close date is when it was closed: never after its last change, so never in the future
    universe, reps = sample_universe(n_entities=300, n_reps=6, seed=3)
    dataset = fxiaoke.build_dataset(universe, reps, SEED)
    closed = [r for r in dataset.tables["NewOpportunityObj"].records.values() if r["sales_status"] in ("赢单", "输单")]
    assert len(closed) > 20
    assert all(r["create_time"] <= r["close_date"] <= r["last_modified_time"] for r in closed)
