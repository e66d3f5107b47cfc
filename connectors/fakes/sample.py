"""A small company universe and rep table with ``connectors.fakes.universe``'s columns, for tests and offline
use (no numpy generator, a few hundred rows at most)."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pandas as pd

from connectors.fakes.generate import mobile_number, person_name

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_CITIES = (
    ("北京市", "北京市", "朝阳区", "110105", "010"),
    ("上海市", "上海市", "浦东新区", "310115", "021"),
    ("广东省", "广州市", "天河区", "440106", "020"),
    ("广东省", "深圳市", "南山区", "440305", "0755"),
    ("浙江省", "杭州市", "西湖区", "330106", "0571"),
    ("湖北省", "武汉市", "洪山区", "420111", "027"),
    ("四川省", "成都市", "武侯区", "510107", "028"),
    ("湖南省", "长沙市", "岳麓区", "430104", "0731"),
    ("江苏省", "南京市", "鼓楼区", "320106", "025"),
)
_BRANDS = (
    "华信",
    "同腾",
    "立正",
    "方安",
    "顺德",
    "恒通",
    "金盛",
    "天润",
    "博远",
    "嘉禾",
    "瑞丰",
    "中科",
    "宏达",
    "远景",
    "新锐",
    "联创",
    "盛世",
    "海纳",
    "启明",
    "卓越",
)
_TRADES = (
    ("科技", "信息技术"),
    ("电子", "制造业"),
    ("食品", "食品饮料"),
    ("建设工程", "建筑业"),
    ("物流", "交通运输"),
    ("医药", "医药健康"),
    ("机械", "制造业"),
    ("贸易", "批发零售"),
)
_FORMS = ("有限公司", "股份有限公司", "有限责任公司")
_STREETS = ("人民路", "建设大道", "科技园路", "中山路", "解放路", "长江路")
_TEAMS = (
    ("华北大区", "北京"),
    ("华北大区", "天津"),
    ("华南大区", "广州"),
    ("华东大区", "上海"),
    ("华中大区", "武汉"),
    ("西南大区", "成都"),
)
"""(team, region) as ``connectors.fakes.universe`` has them: a sales region (大区) and its city office."""


def uscc_for(rng: random.Random, region_code: str) -> str:
    """A valid 统一社会信用代码 (both the org-code and the final check characters)."""
    org_body = "".join(
        rng.choice(_USCC_CHARS[:10]) if rng.random() < 0.8 else rng.choice(_USCC_CHARS[10:]) for _ in range(8)
    )
    values = [int(ch) if ch.isdigit() else ord(ch) - 55 for ch in org_body]
    org_check = (11 - sum(v * w for v, w in zip(values, _ORG_WEIGHTS, strict=True)) % 11) % 11
    body = "91" + region_code + org_body + ("X" if org_check == 10 else str(org_check))
    total = sum(_USCC_CHARS.index(ch) * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


def sample_universe(
    n_entities: int = 40, n_reps: int = 6, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small universe and rep table with ``connectors.fakes.universe``'s columns, for tests and offline use."""
    rng = random.Random(f"sample:{seed}")
    reps = []
    for rep_id in range(1, n_reps + 1):
        team, region = _TEAMS[(rep_id - 1) % len(_TEAMS)]
        reps.append(
            {
                "rep_id": rep_id,
                "name": person_name(rng),
                "team": team,
                "region": region,
                "mobile": mobile_number(rng),
                "email": f"rep{rep_id:03d}@example.com",
                "userid": f"rep{rep_id:03d}",
            }
        )
    entities: list[dict[str, Any]] = []
    for i in range(1, n_entities + 1):
        province, city, district, region_code, area = rng.choice(_CITIES)
        brand, (trade, industry) = rng.choice(_BRANDS), rng.choice(_TRADES)
        form = rng.choice(_FORMS)
        parent = rng.choice(entities) if entities and rng.random() < 0.1 else None
        short = f"{brand}{trade}"
        if parent is not None:
            brand, trade, industry, form = (parent[k] for k in ("brand", "trade", "industry", "form"))
            short = parent["short_name"]
            legal, kind = f"{parent['legal_name']}{city.removesuffix('市')}分公司", "branch"
        else:
            legal, kind = f"{city.removesuffix('市')}{short}{form}", "base"
        street = f"{rng.choice(_STREETS)}{rng.randint(1, 300)}号"
        phone = mobile_number(rng) if rng.random() < 0.6 else f"{area}-{rng.randint(10**7, 10**8 - 1)}"
        entities.append(
            {
                "entity_id": f"E{i:07d}",
                "legal_name": legal,
                "short_name": short,
                "brand": brand,
                "trade": trade,
                "form": form,
                "province": province,
                "city": city,
                "district": district,
                "street": street,
                "address": f"{'' if province == city else province}{city}{district}{street}",
                "uscc": uscc_for(rng, region_code),
                "phone": phone,
                "contact_name": person_name(rng),
                "kind": kind,
                "parent_entity_id": parent["entity_id"] if parent else None,
                "rep_id": rng.randint(1, n_reps),
                "industry": industry,
                "created_at": pd.Timestamp(date(2018, 1, 1)) + pd.Timedelta(days=rng.randint(0, 2500)),
            }
        )
    return pd.DataFrame(entities), pd.DataFrame(reps)
