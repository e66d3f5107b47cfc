"""The WeCom fake over real HTTP: token, customer-contact paging, directory, errors, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.fakes import wecom
from connectors.fakes.sample import sample_universe
from connectors.fakes.wecom import APP_SECRET, CONTACT_SECRET, DEFAULT_CORP_ID, DIRECTORY_SECRET, WeComFake

SEED = 7


@pytest.fixture(scope="module")
def server() -> Iterator[WeComFake]:
    universe, reps = sample_universe(n_entities=80, n_reps=6, seed=3)
    with WeComFake(wecom.build_dataset(universe, reps, SEED)) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(server: WeComFake) -> None:
    server.reset()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get_token(http: requests.Session, server: WeComFake, secret: str = CONTACT_SECRET) -> str:
    body = http.get(
        f"{server.url}/cgi-bin/gettoken", params={"corpid": DEFAULT_CORP_ID, "corpsecret": secret}
    ).json()
    assert body["errcode"] == 0, body
    return body["access_token"]


def follow_users(http: requests.Session, server: WeComFake, token: str) -> list[str]:
    body = http.get(f"{server.url}{wecom.FOLLOW_USERS_PATH}", params={"access_token": token}).json()
    assert body["errcode"] == 0, body
    return body["follow_user"]


def by_user(http: requests.Session, server: WeComFake, token: str, **body: Any) -> dict[str, Any]:
    response = http.post(f"{server.url}{wecom.BY_USER_PATH}", params={"access_token": token}, json=body)
    assert response.status_code == 200
    return response.json()


def read_all(http: requests.Session, server: WeComFake, token: str, limit: int = 7) -> list[dict[str, Any]]:
    users, rows, cursor = follow_users(http, server, token), [], ""
    while True:
        body = by_user(http, server, token, userid_list=users, cursor=cursor, limit=limit)
        assert body["errcode"] == 0, body
        assert len(body["external_contact_list"]) <= limit
        rows.extend(body["external_contact_list"])
        cursor = body["next_cursor"]
        if not cursor:
            return rows


def row_key(row: dict[str, Any]) -> tuple[str | None, str]:
    return row["external_contact"].get("external_userid"), row["follow_info"]["userid"]


def test_gettoken_returns_the_same_token_while_it_is_valid(server: WeComFake, http: requests.Session) -> None:
    first = http.get(
        f"{server.url}/cgi-bin/gettoken", params={"corpid": DEFAULT_CORP_ID, "corpsecret": CONTACT_SECRET}
    )
    assert first.status_code == 200
    body = first.json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok" and 7190 <= body["expires_in"] <= 7200
    assert get_token(http, server) == body["access_token"]
    assert server.stats()["tokens_issued"] == 1


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        ({"corpid": "wrong", "corpsecret": CONTACT_SECRET}, 40013),
        ({"corpid": DEFAULT_CORP_ID, "corpsecret": "wrong"}, 40001),
        ({"corpsecret": CONTACT_SECRET}, 41002),
        ({"corpid": DEFAULT_CORP_ID}, 41004),
    ],
)
def test_gettoken_errors_are_http_200_errcodes(
    server: WeComFake, http: requests.Session, params: dict[str, str], errcode: int
) -> None:
    response = http.get(f"{server.url}/cgi-bin/gettoken", params=params)
    assert response.status_code == 200
    assert response.json()["errcode"] == errcode
    assert "more info at https://open.work.weixin.qq.com/devtool/query?e=" in response.json()["errmsg"]


def test_paging_reads_every_row_once_with_empty_cursor_at_the_end(
    server: WeComFake, http: requests.Session
) -> None:
    token = get_token(http, server)
    rows = read_all(http, server, token, limit=7)
    expected = server.dataset.records("external_contacts")
    assert len(rows) == len(expected) > 14
    assert len({row_key(r) for r in rows}) == len(rows)
    # the same external contact followed by two reps comes once per follow user
    per_contact: dict[str, set[str]] = {}
    for row in rows:
        per_contact.setdefault(row["external_contact"]["external_userid"], set()).add(
            row["follow_info"]["userid"]
        )
    assert any(len(users) > 1 for users in per_contact.values())
    assert server.stats()["calls"][wecom.BY_USER_PATH] == -(-len(rows) // 7)


def test_legacy_userid_is_accepted(server: WeComFake, http: requests.Session) -> None:
    token = get_token(http, server)
    user = follow_users(http, server, token)[0]
    legacy = by_user(http, server, token, userid=user, limit=100)
    current = by_user(http, server, token, userid_list=[user], limit=100)
    assert legacy["errcode"] == 0 and legacy == current
    assert {r["follow_info"]["userid"] for r in legacy["external_contact_list"]} == {user}


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"userid_list": ["rep001"], "limit": 101}, 40058),
        ({"userid_list": [f"u{i}" for i in range(101)], "limit": 10}, 40058),
        ({"userid_list": ["rep001"], "cursor": "not-a-cursor"}, 40058),
        ({"limit": 10}, 41009),
    ],
)
def test_page_caps_and_bad_requests(
    server: WeComFake, http: requests.Session, body: dict[str, Any], errcode: int
) -> None:
    assert by_user(http, server, get_token(http, server), **body)["errcode"] == errcode


def test_token_errors_expiry_and_revocation(server: WeComFake, http: requests.Session) -> None:
    url = f"{server.url}{wecom.FOLLOW_USERS_PATH}"
    assert http.get(url).json()["errcode"] == 41001
    assert http.get(url, params={"access_token": "nope"}).json()["errcode"] == 40014
    token = get_token(http, server)
    server.advance_clock(7201)
    expired = http.get(url, params={"access_token": token})
    assert expired.status_code == 200 and expired.json()["errcode"] == 42001

    server.set_faults(revoke_token_after=2)
    token = get_token(http, server)
    assert [http.get(url, params={"access_token": token}).json()["errcode"] for _ in range(3)] == [
        0,
        0,
        42001,
    ]
    fresh = get_token(http, server)
    assert fresh != token
    assert http.get(url, params={"access_token": fresh}).json()["errcode"] == 0
    stats = server.stats()
    assert stats["faults"]["token_revoked"] == 1
    assert stats["auth_errors"] == {"missing": 1, "invalid": 1, "expired": 1}


def test_rate_limit_burst_then_success(server: WeComFake, http: requests.Session) -> None:
    token = get_token(http, server)
    control = http.post(f"{server.url}/_fake/faults", json={"rate_limit_burst": 2}).json()
    assert control["rate_limit_burst"] == 2
    codes = [
        http.get(f"{server.url}{wecom.FOLLOW_USERS_PATH}", params={"access_token": token}).json()["errcode"]
        for _ in range(3)
    ]
    assert codes == [45009, 45009, 0]
    assert http.get(f"{server.url}/_fake/stats").json()["faults"]["rate_limited"] == 2
    assert http.get(f"{server.url}/_fake/faults").json()["rate_limit_burst"] == 0


def test_5xx_is_a_gateway_page_and_the_retry_gets_the_same_page(
    server: WeComFake, http: requests.Session
) -> None:
    token = get_token(http, server)
    users = follow_users(http, server, token)
    baseline = by_user(http, server, token, userid_list=users, limit=10)
    server.set_faults(error_5xx_rate=1.0)
    failed = http.post(
        f"{server.url}{wecom.BY_USER_PATH}",
        params={"access_token": token},
        json={"userid_list": users, "limit": 10},
    )
    assert failed.status_code in (500, 502, 503) and "<html>" in failed.text
    server.set_faults(error_5xx_rate=0.0)
    assert by_user(http, server, token, userid_list=users, limit=10) == baseline
    assert server.stats()["faults"]["http_5xx"] == 1


def test_permissions_follow_the_secret(server: WeComFake, http: requests.Session) -> None:
    directory_only = get_token(http, server, DIRECTORY_SECRET)
    assert (
        http.get(f"{server.url}{wecom.FOLLOW_USERS_PATH}", params={"access_token": directory_only}).json()[
            "errcode"
        ]
        == 48002
    )
    assert (
        http.get(f"{server.url}{wecom.DEPARTMENT_LIST_PATH}", params={"access_token": directory_only}).json()[
            "errcode"
        ]
        == 0
    )
    nothing = get_token(http, server, APP_SECRET)
    assert (
        http.get(
            f"{server.url}{wecom.USER_LIST_PATH}", params={"access_token": nothing, "department_id": 1}
        ).json()["errcode"]
        == 60011
    )


def test_directory_departments_and_users(server: WeComFake, http: requests.Session) -> None:
    token = get_token(http, server)
    departments = http.get(f"{server.url}{wecom.DEPARTMENT_LIST_PATH}", params={"access_token": token}).json()
    assert departments["errcode"] == 0 and departments["department"][0]["id"] == 1
    team = next(d for d in departments["department"] if d["parentid"] not in (0, 1))
    members = http.get(
        f"{server.url}{wecom.USER_LIST_PATH}", params={"access_token": token, "department_id": team["id"]}
    ).json()["userlist"]
    assert members and all(team["id"] in u["department"] for u in members)
    everyone = http.get(
        f"{server.url}{wecom.USER_LIST_PATH}",
        params={"access_token": token, "department_id": 1, "fetch_child": 1},
    ).json()["userlist"]
    assert len(everyone) == 6 and {"userid", "name", "mobile", "email", "department"} <= set(everyone[0])
    only_root = http.get(
        f"{server.url}{wecom.USER_LIST_PATH}", params={"access_token": token, "department_id": 1}
    )
    assert only_root.json()["userlist"] == []
    unknown = http.get(
        f"{server.url}{wecom.USER_LIST_PATH}", params={"access_token": token, "department_id": 999}
    )
    assert unknown.json()["errcode"] == 60003


def test_malformed_record_lacks_its_external_userid_on_every_read(
    server: WeComFake, http: requests.Session
) -> None:
    server.set_faults(malformed_record=True)
    token = get_token(http, server)
    for read in (1, 2):
        rows = read_all(http, server, token, limit=50)
        broken = [r for r in rows if "external_userid" not in r["external_contact"]]
        assert len(broken) == 1
        assert server.stats()["faults"]["malformed"] == read
    bad_id, bad_user = server.stats()["malformed_ids"]["external_contacts"]
    assert broken[0]["follow_info"]["userid"] == bad_user
    assert bad_id not in {r["external_contact"].get("external_userid") for r in rows}


def test_random_faults_lose_and_duplicate_nothing_for_a_retrying_client(
    server: WeComFake, http: requests.Session
) -> None:
    baseline = read_all(http, server, get_token(http, server), limit=9)
    server.set_faults(seed=11, error_5xx_rate=0.2, rate_limit_rate=0.2, revoke_rate=0.15)
    token, rows, cursor = get_token(http, server), [], ""
    users = follow_users_retrying(http, server)
    while True:
        response = http.post(
            f"{server.url}{wecom.BY_USER_PATH}",
            params={"access_token": token},
            json={"userid_list": users, "cursor": cursor, "limit": 9},
        )
        if response.status_code >= 500:
            continue
        body = response.json()
        if body["errcode"] in (40014, 42001):
            token = get_token(http, server)
            continue
        if body["errcode"] == 45009:
            continue
        assert body["errcode"] == 0
        rows.extend(body["external_contact_list"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert rows == baseline
    faults = server.stats()["faults"]
    assert faults["http_5xx"] and faults["rate_limited"] and faults["token_revoked"]


def follow_users_retrying(http: requests.Session, server: WeComFake) -> list[str]:
    while True:
        response = http.get(
            f"{server.url}{wecom.FOLLOW_USERS_PATH}", params={"access_token": get_token(http, server)}
        )
        if response.status_code == 200 and response.json()["errcode"] == 0:
            return response.json()["follow_user"]


def test_dataset_is_deterministic_for_a_seed() -> None:
    universe, reps = sample_universe(n_entities=40, n_reps=4, seed=5)
    first = wecom.build_dataset(universe, reps, 1).records("external_contacts")
    assert first == wecom.build_dataset(universe, reps, 1).records("external_contacts")
    assert first != wecom.build_dataset(universe, reps, 2).records("external_contacts")
