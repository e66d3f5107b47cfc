"""The shared fake machinery: control API, fault determinism, lifecycle, CLI, universe overlap."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from connectors.fakes import dingtalk, fxiaoke, kingdee, wecom
from connectors.fakes.faults import Faults
from connectors.fakes.sample import sample_universe
from connectors.fakes.server import VENDORS, make_server

REPO = Path(__file__).resolve().parents[3]

HAND_UNIVERSE = pd.DataFrame(
    [
        {
            "entity_id": "E1",
            "legal_name": "长沙立正食品股份有限公司",
            "short_name": "立正食品",
            "brand": "立正",
            "trade": "食品",
            "form": "股份有限公司",
            "province": "湖南省",
            "city": "长沙市",
            "district": "岳麓区",
            "street": "麓谷大道1号",
            "address": "湖南省长沙市岳麓区麓谷大道1号",
            "uscc": "91430104MA4L1234X5",
            "phone": "13812345678",
            "contact_name": "张伟",
            "kind": "base",
            "parent_entity_id": None,
            "rep_id": 1,
            "industry": "食品饮料",
            "created_at": "2019-03-04",
        },
        {
            "entity_id": "E2",
            "legal_name": "广州同腾建设工程有限公司",
            "short_name": "同腾建设",
            "brand": "同腾",
            "trade": "建设工程",
            "form": "有限公司",
            "province": "广东省",
            "city": "广州市",
            "district": "天河区",
            "street": "天河路2号",
            "address": "广东省广州市天河区天河路2号",
            "uscc": "91440106MA5C1234X6",
            "phone": "020-12345678",
            "contact_name": "李娜",
            "kind": "base",
            "parent_entity_id": None,
            "rep_id": 2,
            "industry": "建筑业",
            "created_at": pd.Timestamp("2021-07-01"),
        },
        {
            "entity_id": "E3",
            "legal_name": "广州同腾建设工程有限公司深圳分公司",
            "short_name": "同腾建设",
            "brand": "同腾",
            "trade": "建设工程",
            "form": "有限公司",
            "province": "广东省",
            "city": "深圳市",
            "district": "南山区",
            "street": "科技园路3号",
            "address": "广东省深圳市南山区科技园路3号",
            "uscc": "91440305MA5D1234X7",
            "phone": "0755-87654321",
            "contact_name": "王强",
            "kind": "branch",
            "parent_entity_id": "E2",
            "rep_id": 2,
            "industry": "建筑业",
            "created_at": "2023-01-15",
        },
    ]
)
HAND_REPS = pd.DataFrame(
    [
        {
            "rep_id": 1,
            "name": "赵敏",
            "team": "华中组",
            "region": "华中大区",
            "mobile": "13900000001",
            "email": "zhaomin@example.com",
            "userid": "zhaomin",
        },
        {
            "rep_id": 2,
            "name": "孙磊",
            "team": "华南组",
            "region": "华南大区",
            "mobile": "13900000002",
            "email": "sunlei@example.com",
            "userid": "sunlei",
        },
    ]
)
BUILDERS = {
    "wecom": wecom.build_dataset,
    "dingtalk": dingtalk.build_dataset,
    "fxiaoke": fxiaoke.build_dataset,
    "kingdee": kingdee.build_dataset,
}


@pytest.fixture(scope="module")
def server() -> object:
    universe, reps = sample_universe(n_entities=20, n_reps=3)
    with make_server("wecom", wecom.build_dataset(universe, reps, 1)) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(server: wecom.WeComFake) -> None:
    server.reset()


def test_faults_control_api_validates_and_reports(server: wecom.WeComFake) -> None:
    url = f"{server.url}/_fake/faults"
    assert requests.get(url).json() == Faults().to_dict()
    assert (
        requests.post(url, json={"error_5xx_rate": 0.5, "revoke_token_after": 3}).json()["error_5xx_rate"]
        == 0.5
    )
    assert server.faults.revoke_token_after == 3
    for bad in (
        {"no_such_fault": 1},
        {"error_5xx_rate": 2},
        {"slow_ms": "fast"},
        {"malformed_record": 1},
        [1],
    ):
        assert requests.post(url, json=bad).status_code == 400
    assert requests.post(url, json={"revoke_token_after": None}).json()["revoke_token_after"] is None
    requests.post(f"{server.url}/_fake/reset")
    assert requests.get(url).json() == Faults().to_dict()


def test_config_clock_and_upsert_endpoints(server: wecom.WeComFake) -> None:
    assert requests.post(f"{server.url}/_fake/config", json={"token_ttl_s": 5}).json() == {"token_ttl_s": 5.0}
    token = requests.get(
        f"{server.url}/cgi-bin/gettoken",
        params={"corpid": wecom.DEFAULT_CORP_ID, "corpsecret": wecom.CONTACT_SECRET},
    ).json()
    assert token["expires_in"] <= 5
    assert requests.post(f"{server.url}/_fake/clock", json={"advance_s": 6}).json() == {"offset_s": 6.0,
                                                                                          "frozen": False}
    expired = requests.get(
        f"{server.url}{wecom.FOLLOW_USERS_PATH}", params={"access_token": token["access_token"]}
    )
    assert expired.json()["errcode"] == 42001
    frozen = requests.post(f"{server.url}/_fake/clock", json={"freeze": True}).json()
    assert frozen == {"offset_s": 6.0, "frozen": True}
    assert server.tokens.now() == server.tokens.now() == server.tokens.frozen_at + 6.0  # it stands still
    for bad in ({}, {"advance_s": "6"}, {"freeze": "yes"}, {"advance_s": True}):
        assert requests.post(f"{server.url}/_fake/clock", json=bad).status_code == 400
    stored = requests.post(
        f"{server.url}/_fake/upsert", json={"object": "follow_users", "record": {"userid": "x"}}
    )
    assert stored.json() == {"userid": "x"} and server.dataset.get("follow_users", "x") == {"userid": "x"}
    assert (
        requests.post(f"{server.url}/_fake/upsert", json={"object": "nope", "record": {}}).status_code == 400
    )
    removed = requests.post(f"{server.url}/_fake/delete", json={"object": "follow_users", "record": {"userid": "x"}})
    assert removed.json() == {"userid": "x"} and server.dataset.get("follow_users", "x") is None
    for bad, code in (({"object": "follow_users", "record": {"userid": "x"}}, 404),
                      ({"object": "nope", "record": {"userid": "x"}}, 400), ({"object": "follow_users"}, 400)):
        assert requests.post(f"{server.url}/_fake/delete", json=bad).status_code == code
    server.token_ttl_s = 7200


def test_slow_fault_delays_without_failing(server: wecom.WeComFake) -> None:
    server.set_faults(slow_ms=300, slow_rate=1.0)
    started = time.monotonic()
    response = requests.get(f"{server.url}{wecom.FOLLOW_USERS_PATH}", params={"access_token": "x"})
    assert time.monotonic() - started >= 0.3 and response.json()["errcode"] == 40014
    assert server.stats()["faults"]["slow"] == 1


def test_random_faults_are_deterministic_for_a_seed() -> None:
    universe, reps = sample_universe(n_entities=10, n_reps=2)
    dataset = wecom.build_dataset(universe, reps, 1)
    outcomes = []
    for _ in range(2):
        with wecom.WeComFake(
            dataset, faults=Faults(seed=42, error_5xx_rate=0.3, rate_limit_rate=0.3)
        ) as fake:
            token = requests.get(
                f"{fake.url}/cgi-bin/gettoken",
                params={"corpid": wecom.DEFAULT_CORP_ID, "corpsecret": wecom.CONTACT_SECRET},
            ).json()["access_token"]
            run = []
            for _ in range(30):
                response = requests.get(
                    f"{fake.url}{wecom.FOLLOW_USERS_PATH}", params={"access_token": token}
                )
                run.append(
                    response.status_code if response.status_code >= 500 else response.json()["errcode"]
                )
            outcomes.append(run)
    assert outcomes[0] == outcomes[1] and len(set(outcomes[0])) >= 3


def test_start_stop_and_port_zero() -> None:
    universe, reps = sample_universe(n_entities=5, n_reps=2)
    fake = wecom.WeComFake(wecom.build_dataset(universe, reps, 1))
    url = fake.start(port=0)
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
    assert requests.get(f"{url}/_fake/stats").json()["vendor"] == "wecom"
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_fake/stats", timeout=2)


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_builders_work_on_a_hand_written_universe(vendor: str) -> None:
    first = BUILDERS[vendor](HAND_UNIVERSE, HAND_REPS, 7)
    again = BUILDERS[vendor](HAND_UNIVERSE, HAND_REPS, 7)
    assert {n: first.records(n) for n in first.names()} == {n: again.records(n) for n in again.names()}
    assert sum(first.counts().values()) > 0


def test_customers_overlap_across_systems() -> None:
    universe, reps = sample_universe(n_entities=300, n_reps=6, seed=9)
    legal = dict(zip(universe["legal_name"], universe["entity_id"], strict=False))
    tax = dict(zip(universe["uscc"], universe["entity_id"], strict=True))
    seen: dict[str, set[str]] = {}

    def mark(system: str, entity: str | None) -> None:
        if entity is not None:
            seen.setdefault(entity, set()).add(system)

    for row in kingdee.build_dataset(universe, reps, 7).records("BD_Customer"):
        mark("kingdee", tax.get(row["FTaxRegisterCode"]) or legal.get(row["FName"]))
    for row in fxiaoke.build_dataset(universe, reps, 7).records("AccountObj"):
        mark("fxiaoke", tax.get(row.get("uniform_social_credit_code", "")) or legal.get(row["name"]))
    for row in wecom.build_dataset(universe, reps, 7).records("external_contacts"):
        mark("wecom", legal.get(row["external_contact"].get("corp_full_name", "")))
    shares = {s: sum(s in v for v in seen.values()) / len(universe) for s in ("kingdee", "fxiaoke")}
    assert 0.4 < shares["kingdee"] < 0.6 and 0.25 < shares["fxiaoke"] < 0.45
    assert sum(len(v) >= 2 for v in seen.values()) > 40
    assert any(len(v) == 3 for v in seen.values())


def test_cli_prints_one_url_line_and_serves() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connectors.fakes",
            "serve",
            "kingdee",
            "--port",
            "0",
            "--sample",
            "--entities",
            "20",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/_fake/stats", timeout=5).json()["vendor"] == "kingdee"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
