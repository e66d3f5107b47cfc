"""Fake Fxiaoke (纷享销客) OpenAPI: old-style ``corpAccessToken`` auth and the v2 object query.

Every answer is HTTP 200 ``{"errorCode", "errorMessage", "errorDescription", "traceId", ...}``;
only ``errorCode == 0`` means success.

- ``POST /cgi/corpAccessToken/get/V2`` ``{appId, appSecret, permanentCode}`` → ``{errorCode:0,
  corpAccessToken, corpId, expiresIn}``. The same token is returned while younger than 11/12 of
  its TTL (6600 of 7200 s), as the vendor documents. 10006 bad/missing appId or appSecret, 20015
  bad permanentCode; with ``enforce_limits``, more than 10 calls a minute get 30004.
- ``POST /cgi/crm/v2/data/query`` ``{corpAccessToken, corpId, currentOpenUserId, data:
  {dataObjectApiName, find_explicit_total_num, search_query_info: {limit ≤100, offset ≤10000,
  filters:[{field_name, operator, field_values:[…]}], orders:[{fieldName, isAsc}],
  fieldProjection}}}`` → ``data: {dataList, total, offset, limit}`` (``total`` is 0 when
  ``find_explicit_total_num`` is false). Filters are ANDed; operators EQ N GT GTE LT LTE LIKE
  NLIKE STARTWITH ENDWITH IN NIN IS ISN BETWEEN NBETWEEN HASANYOF NHASANYOF CONTAINS. Without
  orders, rows come newest ``last_modified_time`` first; ``_id`` always breaks ties. ``_id`` is
  24 hex digits led by the creation second, so ``_id GT last`` keyset paging works.
- Errors: 20017 missing ``corpAccessToken``/``corpId``; 20016 unknown, expired or revoked token
  (or another corpId); 10010/20012 missing/unknown ``currentOpenUserId``; 10013 ``offset out of
  range 10000`` (offset > 10000); 15002 other bad parameters (limit > 100, unknown object,
  malformed filter); frequency limit 30004 (the code table's 秒频次超限; injected, or with
  ``enforce_limits`` beyond 100 calls per 20 s); quota fault 30002 (当天访问频次超限, do not retry).

Objects: AccountObj, ContactObj, LeadsObj, NewOpportunityObj, NewOpportunityStageChangeObj, SalesOrderObj,
PaymentObj, and PersonnelObj (the CRM's employees: ``user_id`` is the id that ``owner`` lists hold). Times
are epoch milliseconds; money fields are strings (``"12000.00"``) as Fxiaoke returns them; employee
fields are lists of employee ids (``["1007"]``, admin ``"1000"``); ``account_id__r`` carries the
account name. ``malformed_record`` corrupts one record per object: a wrong-typed field or a bad date.

Opportunities (商机2.0) carry ``sales_stage``, ``sales_status``, the stage's default ``probability``,
``stg_changed_time`` (when the stage was entered), ``close_date`` (expected while open), ``leads_id`` (the lead
that began it) and ``lost_reason``; NewOpportunityStageChangeObj is the stage-change log of the opportunity's
page (``new_opportunity_id``, ``before_stage``, ``after_stage``, ``change_time``) [I: inferred, the object's API
name is ours]. Deals and leads play out by ``connectors.fakes.deals``: realistic drivers and noise.
"""

from __future__ import annotations

import math
import operator
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.fakes import deals
from connectors.fakes.dataset import AS_OF, TZ, Dataset, ObjectSpec, Table, format_time
from connectors.fakes.generate import (
    POSITIONS,
    demo_dataset,
    draw_count,
    entity_created,
    mobile_number,
    moment_between,
    name_variant,
    person_name,
    phone_variant,
    rep_of,
    reps_by_id,
    rng_for,
)
from connectors.fakes.server import ErrorStyle, FakeServer, VendorError, as_int, read_json
from connectors.fakes.tokens import Token, TokenState

APP_ID = "FSAID_FAKE0001"
APP_SECRET = "fxiaoke-fake-secret"
PERMANENT_CODE = "FAKEPERMANENTCODE0001"
CORP_ID = "FSCID_FAKE0001"
ADMIN_OPEN_USER_ID = "FSUID_FAKEADMIN0001"
"""The CRM administrator: a valid ``currentOpenUserId`` that sees every record."""
ADMIN_EMPLOYEE_ID = "1000"

TOKEN_PATH = "/cgi/corpAccessToken/get/V2"
QUERY_PATH = "/cgi/crm/v2/data/query"
MAX_LIMIT = 100
MAX_OFFSET = 10000

OBJECTS = ("AccountObj", "ContactObj", "LeadsObj", "NewOpportunityObj", "NewOpportunityStageChangeObj",
           "SalesOrderObj", "PaymentObj", "PersonnelObj")
NUMERIC_STRING_FIELDS = frozenset({"amount", "order_amount", "payment_amount"})
"""Money fields stored as strings but filtered and sorted as numbers."""
LEAD_SOURCES = ("展会", "官网", "转介绍", "电话营销", "广告")
STAGES = (
    ("初步接洽", 10, "进行中"),
    ("需求确认", 30, "进行中"),
    ("方案报价", 50, "进行中"),
    ("商务谈判", 80, "进行中"),
    ("赢单", 100, "赢单"),
    ("输单", 0, "输单"),
)
"""The sales process: four open stages, then won or lost; (stage, the CRM's default probability %, status)."""
WON_STAGE, LOST_STAGE = STAGES[4], STAGES[5]
PRODUCTS = {  # product → (its usual deal size, how readily it sells)
    "ERP实施": (300_000, 0.0),
    "云服务器": (80_000, 0.25),
    "数据中台": (600_000, -0.5),
    "安防系统": (200_000, 0.1),
    "办公设备": (40_000, 0.35),
    "年度维保": (50_000, 0.9),
}
ACCOUNT_LEVELS = {"重要客户": 0.45, "普通客户": 0.0, "小客户": -0.35}
TRANSFORMED = "transformed"


def employee_id(rep: Mapping[str, Any]) -> str:
    """A rep's Fxiaoke employee id: what `owner` lists and PersonnelObj's `user_id` hold (admin is 1000)."""
    return str(int(ADMIN_EMPLOYEE_ID) + int(rep["rep_id"]))


def _new_object_id(table: Table) -> str:
    return f"{int(time.time()):08x}{secrets.token_hex(8)}"


SPECS = {
    name: ObjectSpec(
        keys=(("_id",),),
        modified=("last_modified_time",),
        created=("create_time",),
        time_format="ms",
        new_key=_new_object_id,
    )
    for name in OBJECTS
}


@dataclass(frozen=True)
class Sizes:
    """Share of customers that are accounts, and record counts per account (or, for leads, per
    universe entity: leads repeat companies, so this can exceed 1 to scale LeadsObj past 10,000).
    Opportunities per account are those begun without a lead; converted leads add theirs."""

    account_share: float = 0.4
    contacts_per_account: float = 1.5
    leads_per_entity: float = 0.5
    opportunities_per_account: float = 2.5
    orders_per_account: float = 1.5
    payments_per_order: float = 0.8


@dataclass
class _Account:
    """What the deal simulation needs to know of an account while its records are made."""

    entity: dict[str, Any]
    record: dict[str, Any]
    rep: dict[str, Any]
    created: datetime
    trust: float  # how much the customer trusts us: more orders, more wins; no field shows it
    level_effect: float
    leads: list[tuple[datetime, dict[str, Any]]] = dataclass_field(default_factory=list)  # converted: when, lead


def build_dataset(
    universe: pd.DataFrame, reps: pd.DataFrame, seed: int, sizes: Sizes | None = None
) -> Dataset:
    """Accounts for a share of the universe with their contacts, opportunities (each with its stage changes),
    orders and payments (payments never exceed their order), plus leads drawn from the whole universe; a
    converted lead begins an opportunity of its company's account. Opportunities and leads play out by
    `connectors.fakes.deals`: their outcomes follow realistic drivers, with noise."""
    sizes = sizes or Sizes()
    reps_map = reps_by_id(reps)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in OBJECTS}
    accounts: dict[str, _Account] = {}
    entities = universe.to_dict("records")
    for entity in entities:
        rng = rng_for(seed, "fxiaoke", entity["entity_id"])
        if rng.random() >= sizes.account_share:
            continue
        rep = rep_of(reps_map, entity["rep_id"])
        owner = [employee_id(rep)]
        created = moment_between(rng, entity_created(entity["created_at"]), AS_OF - timedelta(days=60))
        level = rng.choice(("重要客户", "普通客户", "普通客户", "小客户"))
        account = _record(
            rng,
            "AccountObj",
            created,
            owner,
            {
                "name": str(entity["legal_name"]) if rng.random() < 0.7 else name_variant(entity, rng),
                "account_no": f"KH{created:%Y%m%d}{len(out['AccountObj']) + 1:05d}",
                "owner_department": str(rep["team"]),
                "tel": phone_variant(str(entity["phone"]), rng) if rng.random() < 0.85 else None,
                "address": str(entity["address"]) if rng.random() < 0.75 else None,
                "uniform_social_credit_code": str(entity["uscc"]) if rng.random() < 0.6 else None,
                "industry_level1": str(entity["industry"]),
                "account_level": level,
                "account_source": rng.choice(LEAD_SOURCES),
            },
        )
        accounts[entity["entity_id"]] = _Account(entity, account, rep, created, rng.gauss(0.0, 0.8),
                                                 ACCOUNT_LEVELS[level])
        out["AccountObj"].append(account)
        ref = {"account_id": account["_id"], "account_id__r": account["name"]}
        for k in range(max(1, draw_count(rng, sizes.contacts_per_account))):
            phone = str(entity["phone"]) if k == 0 else mobile_number(rng)
            out["ContactObj"].append(
                _record(
                    rng,
                    "ContactObj",
                    moment_between(rng, created, AS_OF),
                    owner,
                    {
                        "name": str(entity["contact_name"]) if k == 0 else person_name(rng),
                        **ref,
                        "mobile1": phone_variant(phone, rng),
                        "job_title": rng.choice(POSITIONS),
                    },
                )
            )
    _leads(entities, accounts, reps_map, seed, sizes, out)
    for each in accounts.values():
        _deals(each, seed, sizes, out)
    for rep in reps_map.values():  # the employees the owner fields point to
        rng = rng_for(seed, "fxiaoke", "personnel", int(rep["rep_id"]))
        out["PersonnelObj"].append(
            _record(
                rng,
                "PersonnelObj",
                moment_between(rng, AS_OF - timedelta(days=1500), AS_OF - timedelta(days=400)),
                [ADMIN_EMPLOYEE_ID],
                {
                    "name": str(rep["name"]),
                    "user_id": employee_id(rep),
                    "phone": str(rep["mobile"]) if rng.random() < 0.9 else None,
                    "email": str(rep["email"]),
                    "main_department": str(rep["team"]),
                    "employee_number": f"E{int(rep['rep_id']):04d}",
                    "status": "0",  # 0 enabled, 1 disabled
                },
            )
        )
    return Dataset(SPECS, out)


def _leads(entities: list[dict[str, Any]], accounts: dict[str, _Account], reps_map: dict[int, dict[str, Any]],
           seed: int, sizes: Sizes, out: dict[str, list[dict[str, Any]]]) -> None:
    """Leads from the whole universe. A lead converts by its drivers (`deals.lead_converts`); only a company with
    an account can convert, and its conversion begins an opportunity of that account (made in `_deals`)."""
    for i in range(round(len(entities) * sizes.leads_per_entity)):
        rng = rng_for(seed, "fxiaoke", "lead", i)
        entity = entities[rng.randrange(len(entities))]
        rep = rep_of(reps_map, entity["rep_id"])
        account = accounts.get(entity["entity_id"])
        created = moment_between(rng, entity_created(entity["created_at"]), AS_OF)
        source = rng.choice(LEAD_SOURCES)
        owned = rng.random() >= 0.15
        mobile = rng.random() < 0.6
        legal = rng.random() < 0.45
        company = str(entity["legal_name"]) if legal else name_variant(entity, rng)
        quality = (deals.LEAD_CHANNEL_EFFECT[source] + (0.6 if account is not None else 0.0)
                   + (0.3 if mobile else -0.1) + (0.3 if legal else 0.0) - (1.0 if not owned else 0.0)
                   + deals.rep_skill(seed, rep["rep_id"]) + rng.gauss(0.0, deals.NOISE))
        converts, days = deals.lead_converts(rng, quality)
        converted = created + timedelta(days=days)
        status = rng.choice(("un_processed", "processed"))
        if account is not None and converts and converted < AS_OF:
            status = TRANSFORMED
        elif AS_OF - created > timedelta(days=60) and rng.random() < 0.7:
            status = "closed"
        phone = str(entity["phone"]) if mobile else mobile_number(rng)
        lead = _record(
            rng,
            "LeadsObj",
            created,
            [employee_id(rep)] if owned else [],
            {
                "name": str(entity["contact_name"]) if rng.random() < 0.5 else person_name(rng),
                "company": company,
                "mobile": phone_variant(phone, rng) if mobile else None,
                "tel": None if mobile else phone_variant(str(entity["phone"]), rng),
                "source": source,
                "biz_status": status,
                "account_id": account.record["_id"] if status == TRANSFORMED and account else None,
                "address": str(entity["address"]) if rng.random() < 0.3 else None,
            },
        )
        if status == TRANSFORMED and account is not None:
            lead["last_modified_time"] = max(lead["last_modified_time"], format_time(converted, "ms"))
            account.leads.append((converted, lead))
        elif status == "closed":  # closed some weeks after it came in
            lead["last_modified_time"] = format_time(
                min(AS_OF, created + timedelta(days=rng.randint(7, 60))), "ms")
        out["LeadsObj"].append(lead)


def _deals(account: _Account, seed: int, sizes: Sizes, out: dict[str, list[dict[str, Any]]]) -> None:
    """An account's opportunities (begun by the rep, or by a converted lead) in the order they began, each played
    out by `deals.play_deal` with the account's history at that moment; their stage changes; then the account's
    orders (after most won deals, and repeat business) and payments."""
    rng = rng_for(seed, "fxiaoke", "deals", account.entity["entity_id"])
    owner = [employee_id(account.rep)]
    ref = {"account_id": account.record["_id"], "account_id__r": account.record["name"]}
    begun: list[tuple[datetime, dict[str, Any] | None]] = [
        (moment_between(rng, account.created, AS_OF), None)
        for _ in range(draw_count(rng, sizes.opportunities_per_account))
    ]
    begun += [(moment, lead) for moment, lead in account.leads]
    begun.sort(key=lambda b: b[0])
    skill = deals.rep_skill(seed, account.rep["rep_id"])
    industry = deals.industry_effect(seed, account.entity["industry"])
    played: list[deals.Deal] = []
    orders: list[tuple[datetime, float, dict[str, Any] | None]] = []  # (when, amount, the opportunity won)
    repeat = draw_count(rng, sizes.orders_per_account * math.exp(0.5 * account.trust))
    orders += [(moment_between(rng, account.created, AS_OF - timedelta(days=1)), round(rng.uniform(2_000, 300_000), 2),
                None) for _ in range(repeat)]
    for moment, lead in begun:
        product = rng.choice(list(PRODUCTS))
        typical, appeal = PRODUCTS[product]
        amount = max(500, round(typical * rng.lognormvariate(0.0, 0.6) / 500) * 500)
        channel = lead["source"] if lead is not None else account.record["account_source"]
        wins = sum(d.outcome == "won" and d.closed is not None and d.closed < moment for d in played)
        losses = sum(d.outcome == "lost" and d.closed is not None and d.closed < moment for d in played)
        bought = sum(when < moment for when, _, _ in orders)
        quality = (deals.CHANNEL_EFFECT[channel] + industry + skill + account.trust + account.level_effect + appeal
                   + deals.amount_effect(amount, typical) + deals.history_effect(wins, losses, bought)
                   + deals.season_effect(moment) + rng.gauss(0.0, deals.NOISE))
        deal = deals.play_deal(rng, moment, quality, amount / 100_000, AS_OF)
        played.append(deal)
        opportunity = _opportunity(rng, account, deal, product, amount, lead, ref, owner, len(out["NewOpportunityObj"]))
        out["NewOpportunityObj"].append(opportunity)
        out["NewOpportunityStageChangeObj"] += _stage_changes(rng, deal, opportunity, owner)
        if deal.outcome == "won" and deal.closed is not None and rng.random() < 0.8:
            when = deal.closed + timedelta(days=rng.uniform(0, 14))
            if when < AS_OF - timedelta(days=1):
                orders.append((when, round(amount * rng.uniform(0.9, 1.0), 2), opportunity))
    for moment, total, won in sorted(orders, key=lambda o: o[0]):
        order = _record(
            rng,
            "SalesOrderObj",
            moment,
            owner,
            {
                "name": f"{moment:%Y%m%d}-{len(out['SalesOrderObj']) + 1:06d}",
                **ref,
                "new_opportunity_id": won["_id"] if won is not None else None,
                "order_amount": f"{total:.2f}",
                "order_time": format_time(moment.replace(hour=0, minute=0, second=0), "ms"),
                "order_status": rng.choice(("已确认", "已发货", "已完成")),
            },
        )
        out["SalesOrderObj"].append(order)
        left = total
        for _ in range(draw_count(rng, sizes.payments_per_order)):
            paid = round(left * rng.choice((1.0, 1.0, 0.5, 0.3)), 2)
            if paid <= 0 or moment >= AS_OF:
                break
            left = round(left - paid, 2)
            moment = moment_between(rng, moment, AS_OF)
            out["PaymentObj"].append(
                _record(
                    rng,
                    "PaymentObj",
                    moment,
                    owner,
                    {
                        "name": f"HK{moment:%Y%m%d}{len(out['PaymentObj']) + 1:05d}",
                        **ref,
                        "order_id": order["_id"],
                        "order_id__r": order["name"],
                        "payment_amount": f"{paid:.2f}",
                        "payment_time": format_time(moment, "ms"),
                        "pay_type": rng.choice(("银行转账", "银行转账", "承兑汇票", "支票")),
                    },
                )
            )


def _opportunity(rng: Any, account: _Account, deal: deals.Deal, product: str, amount: float,
                 lead: dict[str, Any] | None, ref: dict[str, Any], owner: list[str], n: int) -> dict[str, Any]:
    """The NewOpportunityObj record of a played deal: its stage now, when it entered it, its close date (the
    expected one while open: reps push a date that passed), and its last change."""
    stage, probability, status = (WON_STAGE if deal.outcome == "won" else LOST_STAGE if deal.outcome == "lost"
                                  else STAGES[deal.stage])
    if deal.closed is not None:
        close = deal.closed
    else:
        close = deal.created + timedelta(days=rng.lognormvariate(math.log(75.0), 0.4))
        if close < AS_OF:
            close = AS_OF + timedelta(days=rng.randint(7, 60))
    record = _record(
        rng,
        "NewOpportunityObj",
        deal.created,
        owner,
        {
            "name": f"{account.entity['short_name']}-{product}项目",
            **ref,
            "leads_id": lead["_id"] if lead is not None else None,
            "amount": f"{amount:.2f}",
            "sales_stage": stage,
            "sales_status": status,
            "probability": probability,
            "stg_changed_time": format_time(deal.last_change, "ms"),
            "close_date": format_time(close, "ms"),
            "lost_reason": deal.lost_reason,
        },
    )
    # the last change: closing, else a follow-up after the stage was entered (never after the end of the data)
    last = deal.closed or moment_between(rng, deal.entered[-1], min(AS_OF, deal.entered[-1] + timedelta(days=30)))
    record["last_modified_time"] = format_time(min(AS_OF, last + timedelta(minutes=rng.randint(0, 600))), "ms")
    record["_id"] = f"{int(deal.created.timestamp()):08x}{n:04x}{rng.getrandbits(48):012x}"
    return record


def _stage_changes(rng: Any, deal: deals.Deal, opportunity: dict[str, Any], owner: list[str]) -> list[dict[str, Any]]:
    """The stage changes of an opportunity, as the CRM logs them: the stage it began in, each stage it moved to,
    and won or lost."""
    moves = [(STAGES[i], moment) for i, moment in enumerate(deal.entered)]
    if deal.closed is not None:
        moves.append((WON_STAGE if deal.outcome == "won" else LOST_STAGE, deal.closed))
    changes = []
    before = None
    for (stage, probability, _), moment in moves:
        change = _record(
            rng,
            "NewOpportunityStageChangeObj",
            moment,
            owner,
            {
                "new_opportunity_id": opportunity["_id"],
                "new_opportunity_id__r": opportunity["name"],
                "before_stage": before,
                "after_stage": stage,
                "probability": probability,
                "amount": opportunity["amount"],
                "change_time": format_time(moment, "ms"),
            },
        )
        change["last_modified_time"] = change["create_time"]
        changes.append(change)
        before = stage
    return changes


def default_dataset(n_entities: int = 2000, seed: int = 7, sizes: Sizes | None = None) -> Dataset:
    """The dataset built from the demo universe (``connectors.fakes.universe.make_universe``)."""
    return demo_dataset(build_dataset, n_entities, seed, sizes)


def _record(
    rng: Any, api_name: str, created: datetime, owner: list[str], fields: Mapping[str, Any]
) -> dict[str, Any]:
    """A record with Fxiaoke's system fields; None-valued fields are left out (as the API does)."""
    modified = moment_between(rng, created, AS_OF)
    record: dict[str, Any] = {
        "_id": f"{int(created.timestamp()):08x}{rng.getrandbits(64):016x}",
        **{key: value for key, value in fields.items() if value is not None},
        "owner": owner,
        "created_by": owner or [ADMIN_EMPLOYEE_ID],
        "last_modified_by": owner or [ADMIN_EMPLOYEE_ID],
        "create_time": format_time(created, "ms"),
        "last_modified_time": format_time(modified, "ms"),
        "life_status": "normal",
        "lock_status": "0",
        "is_deleted": False,
        "record_type": "default__c",
        "object_describe_api_name": api_name,
        "version": "1",
    }
    return record


# --------------------------------------------------------------------------- query evaluation

Predicate = Callable[[Mapping[str, Any]], bool]


def _typed(field: str, value: Any) -> Any:
    """A record value in its comparable form (money strings as floats)."""
    if field in NUMERIC_STRING_FIELDS and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _operand(field: str, sample: Any, raw: Any) -> Any:
    """A filter value coerced to the type of the field's values."""
    if isinstance(sample, bool):
        return str(raw).lower() == "true"
    if isinstance(sample, int | float) or field in NUMERIC_STRING_FIELDS:
        return float(raw)
    return str(raw)


def _comparable(value: Any, bound: Any) -> bool:
    """Whether an ordering comparison makes sense (numbers with numbers, text with text)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(bound, float):
        return isinstance(value, int | float)
    return isinstance(value, type(bound))


_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "GT": operator.gt,
    "GTE": operator.ge,
    "LT": operator.lt,
    "LTE": operator.le,
}


def _predicate(field: str, op: str, values: list[Any], sample: Any) -> Predicate:
    """Compile one filter; raises ValueError on a malformed one."""
    ops = [_operand(field, sample, v) for v in values]

    def get(record: Mapping[str, Any]) -> Any:
        return _typed(field, record.get(field))

    def members(value: Any) -> list[Any]:
        return [_typed(field, v) for v in value] if isinstance(value, list) else [value]

    if op in _ORDERING:
        compare, bound = _ORDERING[op], ops[0]

        def ordered(record: Mapping[str, Any]) -> bool:
            value = get(record)
            return _comparable(value, bound) and compare(value, bound)

        return ordered
    if op in ("EQ", "N"):
        hit = _predicate(field, "IN", values[:1], sample)
        return hit if op == "EQ" else (lambda record: not hit(record))
    if op in ("IN", "NIN", "HASANYOF", "NHASANYOF"):
        wanted = set(ops)

        def any_of(record: Mapping[str, Any]) -> bool:
            return any(v in wanted for v in members(get(record)))

        return any_of if op in ("IN", "HASANYOF") else (lambda record: not any_of(record))
    if op == "CONTAINS":
        return lambda record: set(ops) <= set(members(get(record)))
    if op in ("IS", "ISN"):

        def empty(record: Mapping[str, Any]) -> bool:
            return get(record) in (None, "", [])

        return empty if op == "IS" else (lambda record: not empty(record))
    if op in ("BETWEEN", "NBETWEEN"):
        low, high = ops[0], ops[1]

        def between(record: Mapping[str, Any]) -> bool:
            value = get(record)
            return _comparable(value, low) and low <= value <= high

        return between if op == "BETWEEN" else (lambda record: not between(record))
    text_ops: dict[str, Callable[[str, str], bool]] = {
        "LIKE": lambda v, t: t in v,
        "NLIKE": lambda v, t: t not in v,
        "STARTWITH": str.startswith,
        "ENDWITH": str.endswith,
    }
    if op in text_ops:
        test, text = text_ops[op], str(values[0])
        return lambda record: test(str(record.get(field) or ""), text)
    raise ValueError(f"unknown operator {op!r}")


def _sort_key(field: str) -> Callable[[Mapping[str, Any]], tuple[bool, Any]]:
    def key(record: Mapping[str, Any]) -> tuple[bool, Any]:
        value = _typed(field, record.get(field))
        if isinstance(value, list):
            value = ",".join(map(str, value))
        return value is None, value if value is not None else 0

    return key


def _sorted(records: list[dict[str, Any]], orders: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort, ``_id`` ascending as the final tie-breaker."""
    rows = sorted(records, key=lambda r: r["_id"])
    for field, ascending in reversed(orders):
        rows.sort(key=_sort_key(field), reverse=not ascending)
    return rows


# --------------------------------------------------------------------------- server


def _envelope(error_code: int, message: str, description: str, **payload: Any) -> JSONResponse:
    trace = f"E-O.{CORP_ID}.{ADMIN_EMPLOYEE_ID}-{secrets.token_hex(16)}"
    return JSONResponse(
        {
            "traceId": trace,
            "errorCode": error_code,
            "errorMessage": message,
            "errorDescription": description,
            **payload,
        }
    )


def _error(code: int, message: str, description: str | None = None) -> VendorError:
    return VendorError(_envelope(code, message, description or message))


def _auth_error(state: TokenState) -> Response:
    if state is TokenState.MISSING:
        return _envelope(20017, "corpAccessToken为必填项，不能为空", "缺少参数corpAccessToken")
    return _envelope(
        20016, "the cropId,cropAccessToken or authorization is error", "corpAccessToken不存在或者已经过期"
    )


ERRORS = ErrorStyle(
    auth=_auth_error,
    rate_limited=lambda: _envelope(30004, "request frequency exceeds limit", "秒频次超限"),
    quota=lambda: _envelope(30002, "daily call quota exceeded", "当天访问频次超限"),
)


class FxiaokeFake(FakeServer):
    """Fxiaoke OpenAPI with body-borne auth and offset/keyset paging over CRM objects."""

    vendor = "fxiaoke"
    malformable = OBJECTS
    limits: ClassVar[Mapping[str, tuple[int, float]]] = {TOKEN_PATH: (10, 60.0), QUERY_PATH: (100, 20.0)}

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        app_id: str = APP_ID,
        app_secret: str = APP_SECRET,
        permanent_code: str = PERMANENT_CODE,
        corp_id: str = CORP_ID,
        **kwargs: Any,
    ) -> None:
        self.app_id, self.app_secret, self.permanent_code, self.corp_id = (
            app_id,
            app_secret,
            permanent_code,
            corp_id,
        )
        super().__init__(dataset, **kwargs)
        self.open_user_ids = {ADMIN_OPEN_USER_ID}
        self._sorted_cache: dict[
            tuple[str, tuple[tuple[str, bool], ...]], tuple[int, list[dict[str, Any]]]
        ] = {}

    @classmethod
    def default_dataset(cls) -> Dataset:
        return default_dataset()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(TOKEN_PATH, self.corp_access_token, methods=["POST"]),
            Route(QUERY_PATH, self.query, methods=["POST"]),
        ]

    def malform(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        if name == "AccountObj":
            record["last_modified_time"] = format_time(
                datetime.fromtimestamp(record["last_modified_time"] / 1000, TZ), "%Y-%m-%d %H:%M:%S"
            )
        elif name == "ContactObj":
            record["account_id"] = [record.get("account_id")]
        elif name == "LeadsObj":
            record["create_time"] = -62135596800000
        elif name == "NewOpportunityObj":
            record["amount"] = "十二万"
        elif name == "SalesOrderObj":
            record["order_time"] = 253402300800000
        elif name == "NewOpportunityStageChangeObj":
            record["change_time"] = 253402300800000
        elif name == "PersonnelObj":
            record["email"] = [record.get("email")]
        else:
            record["payment_amount"] = float(record["payment_amount"])
        return record

    async def corp_access_token(self, request: Request) -> Response:
        self.count_call(TOKEN_PATH)
        body = await read_json(request)
        if not isinstance(body, dict):
            return _envelope(10006, "the parameter appSecret is missing or illegal", "缺少参数或参数不合法")
        if self.over_limit(TOKEN_PATH):
            self.count_fault("rate_limited")
            return _envelope(30004, "request frequency exceeds limit", "秒频次超限")
        if (body.get("appId"), body.get("appSecret")) != (self.app_id, self.app_secret):
            return _envelope(10006, "the parameter appSecret is missing or illegal", "缺少参数或参数不合法")
        if body.get("permanentCode") != self.permanent_code:
            return _envelope(20015, "the parameter permanentCode is illegal", "永久授权码错误")
        token, _ = self.issue_token(self.corp_id, reuse_for=self.tokens.ttl_s * 11 / 12)
        return _envelope(
            0,
            "success",
            "success",
            corpAccessToken=token.value,
            corpId=self.corp_id,
            expiresIn=max(0, math.floor(token.expires_at - self.tokens.now())),
        )

    async def query(self, request: Request) -> Response:
        body = await read_json(request)
        body = body if isinstance(body, dict) else {}
        token_value = body.get("corpAccessToken") if body.get("corpId") else None
        if token_value and body.get("corpId") != self.corp_id:
            token_value = f"other-corp:{token_value}"

        def serve(token: Token) -> Response:
            user = body.get("currentOpenUserId")
            if not user:
                raise _error(10010, "the parameter currentOpenUserId is missing", "缺少参数openUserId")
            if user not in self.open_user_ids:
                raise _error(20012, "currentOpenUserId not found", "openUserId未找到")
            return self._answer(body.get("data"))

        return await self.data_call(QUERY_PATH, token_value, ERRORS, serve)

    def _answer(self, data: Any) -> Response:
        if not isinstance(data, dict) or data.get("dataObjectApiName") not in OBJECTS:
            name = data.get("dataObjectApiName") if isinstance(data, dict) else None
            raise _error(15002, f"dataObjectApiName {name!r} is illegal", "参数不合法")
        name = data["dataObjectApiName"]
        info = data.get("search_query_info")
        if not isinstance(info, dict):
            raise _error(15002, "search_query_info is required", "参数不合法")
        limit, offset = as_int(info.get("limit")), as_int(info.get("offset"))
        if limit is None or not 1 <= limit <= MAX_LIMIT:
            raise _error(15002, f"limit must be between 1 and {MAX_LIMIT}", "参数不合法")
        if offset is None or offset < 0:
            raise _error(15002, "offset must be a non-negative integer", "参数不合法")
        if offset > MAX_OFFSET:
            raise _error(10013, "offset out of range 10000", "offset 不能超过10000")
        rows = self._rows(name, info.get("orders"))
        for predicate in self._filters(rows, info.get("filters")):
            rows = [r for r in rows if predicate(r)]
        page = self.present(name, rows[offset : offset + limit])
        projection = info.get("fieldProjection")
        if isinstance(projection, list) and projection:
            keep = {"_id", *map(str, projection)}
            page = [{k: v for k, v in r.items() if k in keep} for r in page]
        total = len(rows) if data.get("find_explicit_total_num", True) is not False else 0
        return _envelope(
            0, "OK", "success", data={"dataList": page, "total": total, "offset": offset, "limit": limit}
        )

    def _rows(self, name: str, orders: Any) -> list[dict[str, Any]]:
        if orders in (None, []):
            spec: tuple[tuple[str, bool], ...] = (("last_modified_time", False),)
        elif isinstance(orders, list) and all(isinstance(o, dict) and o.get("fieldName") for o in orders):
            spec = tuple((str(o["fieldName"]), o.get("isAsc") is not False) for o in orders)
        else:
            raise _error(15002, "orders must be a list of {fieldName, isAsc}", "参数不合法")
        with self.dataset.lock:
            version = self.dataset.version
            cached = self._sorted_cache.get((name, spec))
            if cached is None or cached[0] != version:
                cached = (version, _sorted(self.dataset.records(name), list(spec)))
                self._sorted_cache[(name, spec)] = cached
        return cached[1]

    @staticmethod
    def _filters(rows: list[dict[str, Any]], filters: Any) -> list[Predicate]:
        if filters is None:
            return []
        if not isinstance(filters, list):
            raise _error(15002, "filters must be a list", "参数不合法")
        compiled = []
        for item in filters:
            try:
                field, op, values = str(item["field_name"]), str(item["operator"]), item["field_values"]
                if not isinstance(values, list):
                    raise ValueError("field_values must be a list")
                sample = next((r[field] for r in rows if r.get(field) is not None), None)
                compiled.append(_predicate(field, op, values, sample))
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise _error(15002, f"illegal filter {item!r}: {exc}", "参数不合法") from exc
        return compiled
