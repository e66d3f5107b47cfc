"""What the vendor fakes generate their records with: seeded random streams, names, phones and company
names as people write them, the sales organisation and the demo universe."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from connectors.fakes.dataset import AS_OF, DATA_START, TZ, Dataset

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文斌玉兰鹏辉宇浩凯俊峰欣怡子轩梓涵雨"
POSITIONS = ("采购经理", "总经理", "财务主管", "技术总监", "行政专员", "项目经理", "销售总监", "董事长助理")


def rng_for(seed: int, *parts: object) -> random.Random:
    """A random stream keyed by seed and parts: stable whatever else is generated."""
    return random.Random(":".join(map(str, (seed, *parts))))


def draw_count(rng: random.Random, mean: float) -> int:
    """floor(mean) plus one with probability frac(mean): an integer count with that mean."""
    whole = math.floor(mean)
    return whole + (rng.random() < mean - whole)


def moment_between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in [start, end] to the second (start when the range is empty)."""
    span = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, span))


def entity_created(value: Any) -> datetime:
    """The universe's ``created_at`` (timestamp, date or string) as China time, within the data window."""
    stamp = pd.Timestamp(value) if value is not None and not pd.isna(value) else pd.Timestamp(DATA_START)
    moment = stamp.to_pydatetime()
    moment = moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment.astimezone(TZ)
    return min(max(moment, DATA_START), AS_OF - timedelta(days=30))


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def mobile_number(rng: random.Random) -> str:
    return rng.choice(("13", "15", "17", "18", "19")) + "".join(str(rng.randint(0, 9)) for _ in range(9))


def phone_variant(phone: str, rng: random.Random) -> str:
    """The same number as people type it: spaces, dashes, +86, area code in parentheses."""
    digits = "".join(ch for ch in str(phone) if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        a, b, c = digits[:3], digits[3:7], digits[7:]
        forms = [digits, f"{a} {b} {c}", f"{a}-{b}-{c}", f"+86 {a} {b} {c}", f"+86{digits}", f"86-{digits}"]
    elif digits.startswith("0") and 10 <= len(digits) <= 12:
        area_len = 3 if digits[1] in "12" else 4
        area, local = digits[:area_len], digits[area_len:]
        forms = [f"{area}-{local}", f"({area}){local}", digits, f"{area} {local}", f"+86 {area[1:]} {local}"]
    else:
        return str(phone)
    return rng.choice(forms)


def name_variant(row: Mapping[str, Any], rng: random.Random) -> str:
    """A company name as a salesperson writes it: legal, short, city-prefixed, form swapped."""
    legal, short = str(row["legal_name"]), str(row.get("short_name") or row["legal_name"])
    city = str(row.get("city") or "").removesuffix("市")
    forms = [legal, legal, short, f"{city}{short}", f"{short}（{city}）" if city else short]
    if legal.endswith("有限责任公司"):
        forms.append(legal.removesuffix("有限责任公司") + "有限公司")
    elif legal.endswith("有限公司") and not legal.endswith("股份有限公司"):
        forms.append(legal.removesuffix("有限公司") + "有限责任公司")
    forms.append(legal.replace("（", "(").replace("）", ")"))
    return rng.choice(forms)


def sales_departments(reps: Iterable[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """The sales organisation below the root, parents first: ``(team,)`` then ``(team, region)``."""
    paths: dict[tuple[str, ...], None] = {}
    for rep in sorted(reps, key=lambda r: int(r["rep_id"])):
        team, region = str(rep["team"]), str(rep["region"])
        paths.setdefault((team,), None)
        paths.setdefault((team, region), None)
    return list(paths)


def rep_department(rep: Mapping[str, Any]) -> tuple[str, str]:
    """The department path of a rep's office in :func:`sales_departments`."""
    return str(rep["team"]), str(rep["region"])


def demo_dataset(
    build: Callable[[pd.DataFrame, pd.DataFrame, int, Any], Dataset], n_entities: int, seed: int, sizes: Any
) -> Dataset:
    """``build`` over the demo universe; ``connectors.fakes.universe`` is imported only here, when asked for."""
    from connectors.fakes.universe import make_sales_reps, make_universe

    return build(make_universe(n_entities=n_entities, seed=seed), make_sales_reps(seed=seed), seed, sizes)


def reps_by_id(reps: pd.DataFrame) -> dict[int, dict[str, Any]]:
    return {int(rep["rep_id"]): rep for rep in reps.to_dict("records")}


def rep_of(reps: Mapping[int, dict[str, Any]], rep_id: Any) -> dict[str, Any]:
    """The rep owning an entity (a deterministic stand-in when the id is unknown)."""
    ids = sorted(reps)
    key = int(rep_id) if rep_id is not None and not pd.isna(rep_id) else ids[0]
    return reps.get(key) or reps[ids[key % len(ids)]]
