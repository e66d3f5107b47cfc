"""The DingTalk fake over real HTTP: new-API CRM, old-API staff, errors of both generations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from connectors.fakes import dingtalk
from connectors.fakes.dingtalk import ADMIN_USERID, APP_KEY, APP_SECRET, DingTalkFake
from connectors.fakes.sample import sample_universe

SEED = 7


@pytest.fixture(scope="module")
def server() -> Iterator[DingTalkFake]:
    universe, reps = sample_universe(n_entities=80, n_reps=6, seed=3)
    with DingTalkFake(dingtalk.build_dataset(universe, reps, SEED)) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(server: DingTalkFake) -> None:
    server.reset()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def new_token(http: requests.Session, server: DingTalkFake) -> str:
    response = http.post(
        f"{server.url}{dingtalk.NEW_TOKEN_PATH}", json={"appKey": APP_KEY, "appSecret": APP_SECRET}
    )
    assert response.status_code == 200, response.text
    return response.json()["accessToken"]


def crm(http: requests.Session, server: DingTalkFake, token: str, **body: Any) -> requests.Response:
    payload = {"operatorUserId": ADMIN_USERID, "objectType": "crm_customer", **body}
    return http.post(f"{server.url}{dingtalk.CRM_PATH}", headers={dingtalk.TOKEN_HEADER: token}, json=payload)


def read_all(
    http: requests.Session, server: DingTalkFake, object_type: str, size: int
) -> list[dict[str, Any]]:
    token, values, next_token = new_token(http, server), [], None
    while True:
        response = crm(http, server, token, objectType=object_type, maxResults=size, nextToken=next_token)
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert len(result["values"]) <= size and result["maxResults"] == size
        values.extend(result["values"])
        next_token = result.get("nextToken")
        if not next_token:
            return values


def old_post(
    http: requests.Session, server: DingTalkFake, path: str, token: str, **body: Any
) -> dict[str, Any]:
    response = http.post(f"{server.url}{path}", params={"access_token": token}, json=body)
    assert response.status_code == 200
    return response.json()


def test_new_and_old_token_endpoints_share_one_renewed_token(
    server: DingTalkFake, http: requests.Session
) -> None:
    first = http.post(
        f"{server.url}{dingtalk.NEW_TOKEN_PATH}", json={"appKey": APP_KEY, "appSecret": APP_SECRET}
    )
    assert set(first.json()) == {"accessToken", "expireIn"} and first.json()["expireIn"] > 7190
    old = http.get(
        f"{server.url}{dingtalk.OLD_TOKEN_PATH}", params={"appkey": APP_KEY, "appsecret": APP_SECRET}
    )
    assert old.json()["errcode"] == 0 and old.json()["access_token"] == first.json()["accessToken"]
    server.advance_clock(3600)
    again = http.post(
        f"{server.url}{dingtalk.NEW_TOKEN_PATH}", json={"appKey": APP_KEY, "appSecret": APP_SECRET}
    )
    assert again.json()["accessToken"] == first.json()["accessToken"]
    assert again.json()["expireIn"] > 7190  # renewed, not 3600 left


def test_bad_credentials(server: DingTalkFake, http: requests.Session) -> None:
    bad = http.post(f"{server.url}{dingtalk.NEW_TOKEN_PATH}", json={"appKey": APP_KEY, "appSecret": "x"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalidClientIdOrSecret"
    old = http.get(f"{server.url}{dingtalk.OLD_TOKEN_PATH}", params={"appkey": APP_KEY, "appsecret": "x"})
    assert old.status_code == 200 and old.json()["errcode"] == 40089


@pytest.mark.parametrize("object_type", ["crm_customer", "crm_contact"])
def test_crm_paging_with_next_token(server: DingTalkFake, http: requests.Session, object_type: str) -> None:
    values = read_all(http, server, object_type, size=7)
    assert values == server.dataset.records(object_type)
    assert len({v["instanceId"] for v in values}) == len(values) > 14
    assert all(v["objectType"] == object_type for v in values)
    record = values[0]
    assert {"instanceId", "createTime", "modifyTime", "creatorUserId", "data", "permission"} <= set(record)
    assert datetime.strptime(record["modifyTime"], "%Y-%m-%d %H:%M:%S") >= datetime.strptime(
        record["createTime"], "%Y-%m-%d %H:%M:%S"
    )


def test_contacts_point_at_their_customer(server: DingTalkFake, http: requests.Session) -> None:
    customers = {c["instanceId"] for c in read_all(http, server, "crm_customer", size=100)}
    for contact in read_all(http, server, "crm_contact", size=100):
        related = contact["data"]["contact_related_customer"]
        assert any(item["instanceId"] in customers for item in json.loads(related["extendValue"])["list"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"maxResults": 101}, "param.error"),
        ({"maxResults": 0}, "param.error"),
        ({"objectType": "crm_order"}, "invalid.objectType"),
        ({"operatorUserId": "nobody"}, "param.error"),
        ({"nextToken": "not-a-number"}, "param.error"),
    ],
)
def test_crm_parameter_errors_are_http_400(
    server: DingTalkFake, http: requests.Session, body: dict[str, Any], code: str
) -> None:
    response = crm(http, server, new_token(http, server), **body)
    assert response.status_code == 400 and response.json()["code"] == code


def test_new_api_token_errors(server: DingTalkFake, http: requests.Session) -> None:
    missing = http.post(f"{server.url}{dingtalk.CRM_PATH}", json={"objectType": "crm_customer"})
    bad = crm(http, server, "bogus")
    for response in (missing, bad):
        assert response.status_code == 400
        assert response.json()["code"] == "InvalidAuthentication" and response.json()["requestid"]
    token = new_token(http, server)
    server.advance_clock(7201)
    assert crm(http, server, token).json()["code"] == "InvalidAuthentication"
    server.set_faults(revoke_token_after=1)
    token = new_token(http, server)
    assert crm(http, server, token).status_code == 200
    assert crm(http, server, token).json()["code"] == "InvalidAuthentication"
    assert crm(http, server, new_token(http, server)).status_code == 200
    assert server.stats()["faults"]["token_revoked"] == 1


def test_auth_error_status_can_be_401(http: requests.Session) -> None:
    universe, reps = sample_universe(n_entities=5, n_reps=2)
    with DingTalkFake(dingtalk.build_dataset(universe, reps, SEED), auth_error_status=401) as fake:
        response = crm(http, fake, "bogus")
    assert response.status_code == 401 and response.json()["code"] == "InvalidAuthentication"


def test_old_api_token_errors_are_errcode_88_sub_40014(server: DingTalkFake, http: requests.Session) -> None:
    for token in ("", "bogus"):
        body = old_post(http, server, dingtalk.DEPT_LISTSUB_PATH, token, dept_id=1)
        assert body["errcode"] == 88 and body["sub_code"] == "40014"


def test_throttling_in_both_generations(server: DingTalkFake, http: requests.Session) -> None:
    token = new_token(http, server)
    server.set_faults(rate_limit_burst=2)
    throttled = crm(http, server, token)
    assert throttled.status_code == 403
    assert throttled.json()["code"] == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
    assert old_post(http, server, dingtalk.DEPT_LISTSUB_PATH, token, dept_id=1)["errcode"] == 90018
    assert crm(http, server, token).status_code == 200
    assert server.stats()["faults"]["rate_limited"] == 2


def test_enforced_qps_window_is_20_calls_per_second(server: DingTalkFake, http: requests.Session) -> None:
    token = new_token(http, server)
    server.set_faults(enforce_limits=True)
    server.freeze_clock()  # all 25 calls land in one window, however slowly the machine runs them
    statuses = [crm(http, server, token, maxResults=1).status_code for _ in range(25)]
    assert statuses == [200] * 20 + [403] * 5
    assert server.stats()["faults"]["rate_limited"] == 5
    server.advance_clock(0.5)  # still the same one-second window (halves: exact in binary)
    assert crm(http, server, token, maxResults=1).status_code == 403
    server.advance_clock(0.5)  # the window has passed: 20 calls again
    assert [crm(http, server, token, maxResults=1).status_code for _ in range(21)] == [200] * 20 + [403]


def test_quota_fault_in_both_generations(server: DingTalkFake, http: requests.Session) -> None:
    token = new_token(http, server)
    server.set_faults(quota_exhausted=True)
    response = crm(http, server, token)
    assert response.status_code == 400 and response.json()["code"] == "daily.call.limit"
    assert old_post(http, server, dingtalk.DEPT_LISTSUB_PATH, token, dept_id=1)["errcode"] == 90020
    assert server.stats()["faults"]["quota_exceeded"] == 2


def test_staff_directory_with_cursor_paging(server: DingTalkFake, http: requests.Session) -> None:
    token = new_token(http, server)
    regions = old_post(http, server, dingtalk.DEPT_LISTSUB_PATH, token, dept_id=1)["result"]
    teams = [
        t
        for r in regions
        for t in old_post(http, server, dingtalk.DEPT_LISTSUB_PATH, token, dept_id=r["dept_id"])["result"]
    ]
    staff = []
    for team in [{"dept_id": 1}, *teams]:
        cursor: int | None = 0
        while cursor is not None:
            body = old_post(
                http, server, dingtalk.USER_LIST_PATH, token, dept_id=team["dept_id"], cursor=cursor, size=1
            )
            assert body["errcode"] == 0 and len(body["result"]["list"]) <= 1
            staff.extend(body["result"]["list"])
            cursor = body["result"].get("next_cursor") if body["result"]["has_more"] else None
    assert len(staff) == 7 and {s["userid"] for s in staff} >= {ADMIN_USERID}
    owners = {v["permission"]["ownerStaffIds"][0] for v in server.dataset.records("crm_customer")}
    assert owners <= {s["userid"] for s in staff}
    too_big = old_post(http, server, dingtalk.USER_LIST_PATH, token, dept_id=1, cursor=0, size=101)
    assert too_big["errcode"] == 40035
    assert (
        old_post(http, server, dingtalk.USER_LIST_PATH, token, dept_id=42, cursor=0, size=10)["errcode"]
        == 60003
    )


def test_upserts_show_up_in_a_client_side_incremental_read(
    server: DingTalkFake, http: requests.Session
) -> None:
    before = read_all(http, server, "crm_customer", size=100)
    cursor = max(v["modifyTime"] for v in before)
    target = before[3]
    changed = server.dataset.upsert(
        "crm_customer",
        {"instanceId": target["instanceId"], "data": {"customer_name": "改名后的客户有限公司"}},
    )
    added = server.dataset.upsert(
        "crm_customer", {"objectType": "crm_customer", "data": {"customer_name": "新客户"}}
    )
    after = read_all(http, server, "crm_customer", size=100)
    newer = [v for v in after if v["modifyTime"] > cursor]
    assert [v["instanceId"] for v in newer] == [target["instanceId"], added["instanceId"]]
    assert newer[0]["data"]["customer_name"] == "改名后的客户有限公司"
    assert (
        newer[0]["data"]["customer_industry"] == target["data"]["customer_industry"]
    )  # merged, not replaced
    assert changed["createTime"] == target["createTime"]
    assert after[-1]["instanceId"] == added["instanceId"] and len(after) == len(before) + 1


def test_malformed_records(server: DingTalkFake, http: requests.Session) -> None:
    server.set_faults(malformed_record=True)
    customers = read_all(http, server, "crm_customer", size=100)
    contacts = read_all(http, server, "crm_contact", size=100)

    def bad_date(text: str) -> bool:
        try:
            datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return True
        return False

    assert sum(bad_date(c["modifyTime"]) for c in customers) == 1
    assert sum(isinstance(c["data"]["contact_phone"], int) for c in contacts) == 1
    ids = server.stats()["malformed_ids"]
    assert next(c for c in customers if bad_date(c["modifyTime"]))["instanceId"] == ids["crm_customer"]
    assert server.stats()["faults"]["malformed"] == 2
