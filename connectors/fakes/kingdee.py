"""Fake Kingdee K/3 Cloud (金蝶云星空) WebAPI: cookie-session login and ExecuteBillQuery.

Every call is ``POST /k3cloud/<Service>.common.kdsvc`` with JSON, answered HTTP 200.

- ``…AuthService.ValidateUser.common.kdsvc`` ``{acctid, username, password, lcid}`` (also the
  older ``{"parameters": [acctid, username, password, lcid]}``) → ``{LoginResultType: 1,
  KDSVCSessionId, Context{…}, IsSuccessByAPI: true}`` with cookies ``kdservice-sessionid`` and
  ``ASP.NET_SessionId`` (either identifies the session). Wrong password or data center:
  ``LoginResultType: 0`` with a ``Message``. Every login opens a new session.
- ``…DynamicFormService.ExecuteBillQuery.common.kdsvc`` ``{"data": {FormId, FieldKeys,
  FilterString, OrderString, TopRowCount, StartRow, Limit}}`` (``data`` may also be a JSON
  string, or the older ``parameters`` list) → positional arrays in ``FieldKeys`` order, e.g.
  ``[["CUST0000001", "某客户", "2025-01-02T10:00:00"]]``. Page by raising ``StartRow`` by
  ``Limit`` until a short page; there is no total. ``Limit`` 0 or above 10000 is capped to
  10000 rows. Field keys are case-insensitive; dates come as ``YYYY-MM-DDTHH:MM:SS``.
  ``FilterString`` is a SQL-like condition over the form's fields: comparisons (= <> != > >= <
  <=) with quoted strings, numbers or dates (``FModifyDate >= '2025-01-01 00:00:00'``), LIKE,
  IN (…), IS [NOT] NULL, AND, OR, NOT and parentheses. ``OrderString`` is ``"F1 [ASC|DESC], …"``;
  the form's id always breaks ties (the default order).
- Errors are ``[[{"Result": {"ResponseStatus": {"ErrorCode": 500, "IsSuccess": false,
  "Errors": [{"FieldName", "Message", "DIndex"}], "SuccessEntitys": [], "SuccessMessages": [],
  "MsgCode": n}}}]]``: MsgCode 1 "会话信息已丢失，请重新登录" (no, unknown, expired or revoked
  session), 9 unknown field, 4 unknown form or bad filter, 14 rate limit (no documented
  Kingdee code: an inferred one), no quota fault.

Forms: BD_Customer (customers; ``FTaxRegisterCode``), SAL_SaleOrder (one material line per
order, header total ``FBillAllAmount`` = line ``FAllAmount``), AR_receivable (``FALLAMOUNTFOR``,
``FSourceBillNo`` = the order), AR_RECEIVEBILL (receipts, ``FRECAMOUNTFOR`` ≤ the receivable
named in ``FSourceBillNo``), BD_Empinfo (employees; chosen over the salesman form, its
``FNumber`` is what ``FSalerId.FNumber``/``FSELLER.FNumber`` hold). ``malformed_record``:
a customer without ``FNumber``, an order dated 0001-01-01, a receivable amount as text, a receipt
dated 2024-02-30.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.fakes.dataset import AS_OF, Dataset, ObjectSpec, Table, format_time
from connectors.fakes.generate import (
    demo_dataset,
    draw_count,
    entity_created,
    moment_between,
    rep_of,
    reps_by_id,
    rng_for,
)
from connectors.fakes.server import ErrorStyle, FakeServer, VendorError, as_int, read_json
from connectors.fakes.tokens import Token, TokenState

ACCT_ID = "fakeacct0001"
USERNAME = "demo"
PASSWORD = "fake-password"
LCID = 2052

LOGIN_PATH = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser.common.kdsvc"
QUERY_PATH = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc"
SESSION_COOKIE = "kdservice-sessionid"
ASPNET_COOKIE = "ASP.NET_SessionId"
SESSION_LOST = "会话信息已丢失，请重新登录"
MAX_ROWS = 10000
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

STR, NUM, INT, DATE = "str", "num", "int", "date"
FORMS: dict[str, dict[str, str]] = {
    "BD_Customer": {
        "FCUSTID": INT,
        "FNumber": STR,
        "FName": STR,
        "FShortName": STR,
        "FTaxRegisterCode": STR,
        "FTEL": STR,
        "FADDRESS": STR,
        "FSELLER.FNumber": STR,
        "FSELLER.FName": STR,
        "FCreateOrgId.FNumber": STR,
        "FUseOrgId.FNumber": STR,
        "FDocumentStatus": STR,
        "FForbidStatus": STR,
        "FCreateDate": DATE,
        "FModifyDate": DATE,
    },
    "SAL_SaleOrder": {
        "FID": INT,
        "FBillNo": STR,
        "FDate": DATE,
        "FCustId.FNumber": STR,
        "FCustId.FName": STR,
        "FSalerId.FNumber": STR,
        "FSalerId.FName": STR,
        "FSaleOrgId.FNumber": STR,
        "FMaterialId.FNumber": STR,
        "FMaterialId.FName": STR,
        "FQty": NUM,
        "FTaxPrice": NUM,
        "FAllAmount": NUM,
        "FBillAllAmount": NUM,
        "FDocumentStatus": STR,
        "FCloseStatus": STR,
        "FCreateDate": DATE,
        "FModifyDate": DATE,
    },
    "AR_receivable": {
        "FID": INT,
        "FBillNo": STR,
        "FDate": DATE,
        "FENDDATE": DATE,
        "FCUSTOMERID.FNumber": STR,
        "FCUSTOMERID.FName": STR,
        "FSETTLEORGID.FNumber": STR,
        "FALLAMOUNTFOR": NUM,
        "FSourceBillNo": STR,
        "FDocumentStatus": STR,
        "FCreateDate": DATE,
        "FModifyDate": DATE,
    },
    "AR_RECEIVEBILL": {
        "FID": INT,
        "FBillNo": STR,
        "FDate": DATE,
        "FCONTACTUNIT.FNumber": STR,
        "FCONTACTUNIT.FName": STR,
        "FPAYUNIT.FNumber": STR,
        "FPAYORGID.FNumber": STR,
        "FSETTLETYPEID.FName": STR,
        "FRECAMOUNTFOR": NUM,
        "FSourceBillNo": STR,
        "FDocumentStatus": STR,
        "FCreateDate": DATE,
        "FModifyDate": DATE,
    },
    "BD_Empinfo": {
        "FID": INT,
        "FNumber": STR,
        "FName": STR,
        "FMobile": STR,
        "FEmail": STR,
        "FDocumentStatus": STR,
        "FForbidStatus": STR,
        "FCreateDate": DATE,
        "FModifyDate": DATE,
    },
}
PRIMARY_KEYS = {form: "FCUSTID" if form == "BD_Customer" else "FID" for form in FORMS}
MATERIALS = (
    ("WL0001", "工业控制器"),
    ("WL0002", "传感器模组"),
    ("WL0003", "软件许可"),
    ("WL0004", "技术服务"),
    ("WL0005", "电源模块"),
)


def _next_id(table: Table) -> int:
    return max((int(cast(int, k)) for k in table.records), default=100000) + 1


SPECS = {
    form: ObjectSpec(
        keys=((PRIMARY_KEYS[form],),),
        modified=("FModifyDate",),
        created=("FCreateDate",),
        time_format=DATE_FORMAT,
        new_key=_next_id,
    )
    for form in FORMS
}


@dataclass(frozen=True)
class Sizes:
    """Share of customers in the ERP, orders per customer, share of orders invoiced, share of
    receivables (partly) paid."""

    customer_share: float = 0.5
    orders_per_customer: float = 3.0
    receivable_share: float = 0.85
    receipt_share: float = 0.8


def build_dataset(
    universe: pd.DataFrame, reps: pd.DataFrame, seed: int, sizes: Sizes | None = None
) -> Dataset:
    """Customers with legal names and tax codes for a share of the universe, their orders,
    receivables and receipts (receipts never exceed their receivable), and the reps as employees."""
    sizes = sizes or Sizes()
    reps_map = reps_by_id(reps)
    out: dict[str, list[dict[str, Any]]] = {form: [] for form in FORMS}
    employees: dict[int, dict[str, Any]] = {}
    for rep_id, rep in sorted(reps_map.items()):
        rng = rng_for(seed, "kingdee", "employee", rep_id)
        created = moment_between(rng, AS_OF.replace(year=2018), AS_OF.replace(year=2024))
        employees[rep_id] = _bill(
            rng,
            created,
            {
                "FID": 200000 + rep_id,
                "FNumber": f"{rep_id:06d}",
                "FName": str(rep["name"]),
                "FMobile": str(rep["mobile"]),
                "FEmail": str(rep["email"]),
                "FDocumentStatus": "C",
                "FForbidStatus": "A",
            },
        )
    out["BD_Empinfo"] = list(employees.values())
    ids = {form: 100000 for form in FORMS}

    def next_id(form: str) -> int:
        ids[form] += 1
        return ids[form]

    for entity in universe.to_dict("records"):
        rng = rng_for(seed, "kingdee", entity["entity_id"])
        if rng.random() >= sizes.customer_share:
            continue
        rep_id = int(rep_of(reps_map, entity["rep_id"])["rep_id"])
        seller = employees[rep_id]
        created = moment_between(rng, entity_created(entity["created_at"]), AS_OF - timedelta(days=30))
        customer_id = next_id("BD_Customer")
        customer = _bill(
            rng,
            created,
            {
                "FCUSTID": customer_id,
                "FNumber": f"CUST{customer_id - 100000:07d}",
                "FName": str(entity["legal_name"]),
                "FShortName": str(entity["short_name"]),
                "FTaxRegisterCode": str(entity["uscc"]) if rng.random() < 0.9 else "",
                "FTEL": str(entity["phone"]) if rng.random() < 0.7 else "",
                "FADDRESS": str(entity["address"]) if rng.random() < 0.8 else "",
                "FSELLER.FNumber": seller["FNumber"],
                "FSELLER.FName": seller["FName"],
                "FCreateOrgId.FNumber": "100",
                "FUseOrgId.FNumber": "100",
                "FDocumentStatus": "C",
                "FForbidStatus": "A",
            },
        )
        out["BD_Customer"].append(customer)
        for _ in range(draw_count(rng, sizes.orders_per_customer)):
            day = _midnight(moment_between(rng, created, AS_OF - timedelta(days=1)))
            material = rng.choice(MATERIALS)
            qty, price = rng.randint(1, 200), round(rng.uniform(50, 5000), 2)
            amount = round(qty * price, 2)
            order_id = next_id("SAL_SaleOrder")
            order = _bill(
                rng,
                day + timedelta(hours=rng.randint(8, 18)),
                {
                    "FID": order_id,
                    "FBillNo": f"XSDD{day:%Y%m%d}{order_id - 100000:06d}",
                    "FDate": _kd(day),
                    "FCustId.FNumber": customer["FNumber"],
                    "FCustId.FName": customer["FName"],
                    "FSalerId.FNumber": seller["FNumber"],
                    "FSalerId.FName": seller["FName"],
                    "FSaleOrgId.FNumber": "100",
                    "FMaterialId.FNumber": material[0],
                    "FMaterialId.FName": material[1],
                    "FQty": float(qty),
                    "FTaxPrice": price,
                    "FAllAmount": amount,
                    "FBillAllAmount": amount,
                    "FDocumentStatus": "C" if rng.random() < 0.9 else "B",
                    "FCloseStatus": rng.choice("AAB"),
                },
            )
            out["SAL_SaleOrder"].append(order)
            if rng.random() >= sizes.receivable_share:
                continue
            ar_day = _midnight(day + timedelta(days=rng.randint(0, 30)))
            if ar_day >= AS_OF:
                continue
            ar_id = next_id("AR_receivable")
            receivable = _bill(
                rng,
                ar_day + timedelta(hours=rng.randint(8, 18)),
                {
                    "FID": ar_id,
                    "FBillNo": f"AR{ar_day:%Y%m%d}{ar_id - 100000:06d}",
                    "FDate": _kd(ar_day),
                    "FENDDATE": _kd(ar_day + timedelta(days=rng.choice((30, 60, 90)))),
                    "FCUSTOMERID.FNumber": customer["FNumber"],
                    "FCUSTOMERID.FName": customer["FName"],
                    "FSETTLEORGID.FNumber": "100",
                    "FALLAMOUNTFOR": amount,
                    "FSourceBillNo": order["FBillNo"],
                    "FDocumentStatus": "C",
                },
            )
            out["AR_receivable"].append(receivable)
            if rng.random() >= sizes.receipt_share:
                continue
            left = amount
            for share in rng.choice(((1.0,), (1.0,), (0.5, 1.0), (0.3,))):
                paid = round(left * share, 2)
                pay_day = _midnight(moment_between(rng, ar_day, ar_day + timedelta(days=90)))
                if paid <= 0 or pay_day >= AS_OF:
                    break
                left = round(left - paid, 2)
                receipt_id = next_id("AR_RECEIVEBILL")
                out["AR_RECEIVEBILL"].append(
                    _bill(
                        rng,
                        pay_day + timedelta(hours=rng.randint(8, 18)),
                        {
                            "FID": receipt_id,
                            "FBillNo": f"SKD{receipt_id - 100000:08d}",
                            "FDate": _kd(pay_day),
                            "FCONTACTUNIT.FNumber": customer["FNumber"],
                            "FCONTACTUNIT.FName": customer["FName"],
                            "FPAYUNIT.FNumber": customer["FNumber"],
                            "FPAYORGID.FNumber": "100",
                            "FSETTLETYPEID.FName": rng.choice(("电汇", "电汇", "银行承兑汇票", "现金")),
                            "FRECAMOUNTFOR": paid,
                            "FSourceBillNo": receivable["FBillNo"],
                            "FDocumentStatus": "C",
                        },
                    )
                )
    return Dataset(SPECS, out)


def default_dataset(n_entities: int = 2000, seed: int = 7, sizes: Sizes | None = None) -> Dataset:
    """The dataset built from the demo universe (``connectors.fakes.universe.make_universe``)."""
    return demo_dataset(build_dataset, n_entities, seed, sizes)


def _kd(moment: datetime) -> str:
    return str(format_time(moment, DATE_FORMAT))


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _bill(rng: Any, created: datetime, fields: dict[str, Any]) -> dict[str, Any]:
    modified = moment_between(rng, created, AS_OF)
    return {**fields, "FCreateDate": _kd(created), "FModifyDate": _kd(modified)}


# --------------------------------------------------------------------------- FilterString

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])|(?P<op>>=|<=|<>|!=|=|>|<)"
    r"|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|(?P<word>[A-Za-z_][\w.]*))"
)
Predicate = Callable[[Mapping[str, Any]], bool]
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


class _FilterError(ValueError):
    def __init__(self, message: str, msg_code: int = 4) -> None:
        super().__init__(message)
        self.msg_code = msg_code


def _parse_date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=None)
    except ValueError:
        return None


class _FilterParser:
    """Recursive-descent parser compiling a FilterString into a predicate over a form's records."""

    def __init__(self, text: str, fields: Mapping[str, str]) -> None:
        self.fields = fields
        self.lookup = {name.lower(): name for name in fields}
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                if text[pos:].strip():
                    raise _FilterError(f"FilterString 语法错误: {text[pos:]!r}")
                break
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda record: True
        predicate = self._or()
        if self.pos != len(self.tokens):
            raise _FilterError(f"FilterString 语法错误: 多余的 {self.tokens[self.pos][1]!r}")
        return predicate

    def _peek_word(self, *words: str) -> bool:
        return (
            self.pos < len(self.tokens)
            and self.tokens[self.pos][0] == "word"
            and self.tokens[self.pos][1].upper() in words
        )

    def _take(self, kind: str) -> str:
        if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != kind:
            raise _FilterError("FilterString 语法错误")
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek_word("OR"):
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda record: any(p(record) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._peek_word("AND"):
            self.pos += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda record: all(p(record) for p in parts))

    def _not(self) -> Predicate:
        if self._peek_word("NOT"):
            self.pos += 1
            inner = self._not()
            return lambda record: not inner(record)
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "lp":
            self.pos += 1
            inner = self._or()
            self._take("rp")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        name = self._take("word")
        field = self.lookup.get(name.lower())
        if field is None:
            raise _FilterError(f"元数据中标识为{name}的字段不存在", msg_code=9)
        kind = self.fields[field]
        if self._peek_word("IS"):
            self.pos += 1
            negate = self._peek_word("NOT")
            self.pos += negate
            if not self._peek_word("NULL"):
                raise _FilterError("FilterString 语法错误: IS 之后应为 NULL")
            self.pos += 1
            return lambda record: (record.get(field) in (None, "")) != negate
        negate = self._peek_word("NOT")
        self.pos += negate
        if self._peek_word("LIKE"):
            self.pos += 1
            pattern = re.compile(
                "^" + ".*".join(re.escape(part) for part in self._literal_text().split("%")) + "$", re.S
            )
            return lambda record: bool(pattern.match(str(record.get(field) or ""))) != negate
        if self._peek_word("IN"):
            self.pos += 1
            self._take("lp")
            wanted = [self._literal(kind)]
            while self.pos < len(self.tokens) and self.tokens[self.pos][0] == "comma":
                self.pos += 1
                wanted.append(self._literal(kind))
            self._take("rp")
            return lambda record: (_value(record, field, kind) in wanted) != negate
        if negate:
            raise _FilterError("FilterString 语法错误: NOT 之后应为 LIKE 或 IN")
        compare = _COMPARE[self._take("op")]
        bound = self._literal(kind)

        def test(record: Mapping[str, Any]) -> bool:
            value = _value(record, field, kind)
            return value is not None and compare(value, bound)

        return test

    def _literal_text(self) -> str:
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] in ("str", "num"):
            kind, text = self.tokens[self.pos]
            self.pos += 1
            return text[1:-1].replace("''", "'") if kind == "str" else text
        raise _FilterError("FilterString 语法错误: 应为常量")

    def _literal(self, kind: str) -> Any:
        text = self._literal_text()
        if kind == DATE:
            moment = _parse_date(text)
            if moment is None:
                raise _FilterError(f"FilterString 中的日期 {text!r} 无效")
            return moment
        if kind in (NUM, INT):
            try:
                return float(text)
            except ValueError as exc:
                raise _FilterError(f"FilterString 中的数字 {text!r} 无效") from exc
        return text


def _value(record: Mapping[str, Any], field: str, kind: str) -> Any:
    value = record.get(field)
    if value is None or kind == STR:
        return value
    if kind == DATE:
        return _parse_date(str(value))
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- server


def _kd_error(message: str, msg_code: int) -> JSONResponse:
    status = {
        "ErrorCode": 500,
        "IsSuccess": False,
        "Errors": [{"FieldName": None, "Message": message, "DIndex": 0}],
        "SuccessEntitys": [],
        "SuccessMessages": [],
        "MsgCode": msg_code,
    }
    return JSONResponse([[{"Result": {"ResponseStatus": status}}]])


def _session_lost(state: TokenState) -> Response:
    return _kd_error(SESSION_LOST, 1)


ERRORS = ErrorStyle(
    auth=_session_lost, rate_limited=lambda: _kd_error("接口调用频率超过限制，请稍后再试", 14)
)


def _unwrap(value: Any) -> Any:
    """A JSON string decoded, anything else as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _login_args(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        return {}
    params = _unwrap(body.get("parameters"))
    if isinstance(params, list):
        return dict(zip(("acctid", "username", "password", "lcid"), params, strict=False))
    return {key.lower(): value for key, value in body.items()}


def _query_args(body: Any) -> Any:
    if not isinstance(body, dict):
        return None
    if "data" in body:
        return _unwrap(body["data"])
    params = _unwrap(body.get("parameters"))
    if isinstance(params, list) and params:
        return _unwrap(params[-1])
    return body if "FormId" in body else None


class KingdeeFake(FakeServer):
    """Kingdee K/3 Cloud WebAPI: session cookies, positional query results, ResponseStatus errors."""

    vendor = "kingdee"
    malformable = ("BD_Customer", "SAL_SaleOrder", "AR_receivable", "AR_RECEIVEBILL")

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        acct_id: str = ACCT_ID,
        username: str = USERNAME,
        password: str = PASSWORD,
        **kwargs: Any,
    ) -> None:
        self.acct_id, self.username, self.password = acct_id, username, password
        self._aspnet_sessions: dict[str, str] = {}
        super().__init__(dataset, **kwargs)

    @classmethod
    def default_dataset(cls) -> Dataset:
        return default_dataset()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(LOGIN_PATH, self.validate_user, methods=["POST"]),
            Route(QUERY_PATH, self.execute_bill_query, methods=["POST"]),
        ]

    def reset(self) -> None:
        super().reset()
        self._aspnet_sessions.clear()

    def malform(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        if name == "BD_Customer":
            record["FNumber"] = None
        elif name == "SAL_SaleOrder":
            record["FDate"] = "0001-01-01T00:00:00"
        elif name == "AR_receivable":
            record["FALLAMOUNTFOR"] = f"{record['FALLAMOUNTFOR']:,.2f}"
        else:
            record["FDate"] = "2024-02-30T00:00:00"
        return record

    async def validate_user(self, request: Request) -> Response:
        self.count_call(LOGIN_PATH)
        args = _login_args(await read_json(request))
        if args.get("acctid") != self.acct_id:
            return _login_failure("数据中心不存在或已被禁用，请联系系统管理员！")
        if (args.get("username"), args.get("password")) != (self.username, self.password):
            return _login_failure("用户名或密码错误！")
        token, _ = self.issue_token((self.acct_id, self.username), make=lambda: secrets.token_hex(16))
        aspnet = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(24))
        self._aspnet_sessions[aspnet] = token.value
        lcid = as_int(args.get("lcid"), LCID)
        response = JSONResponse(
            {
                "Message": None,
                "MessageCode": "CheckPasswordPolicy",
                "LoginResultType": 1,
                "Context": {
                    "UserLocale": "zh-CN",
                    "LogId": "",
                    "UserId": 100008,
                    "CustomName": "示例集团",
                    "DisplayVersion": "8.2.0.20250101",
                    "DataCenterName": "示例账套",
                    "UserToken": token.value,
                    "CurrentOrganizationInfo": {
                        "ID": 100,
                        "AcctOrgType": "1",
                        "Name": "示例集团",
                        "FunctionIds": [101, 102, 103, 104],
                    },
                    "IsCH_ZH_AutoTrans": False,
                    "ClientType": 32,
                    "UTimeZone": {
                        "OffsetTicks": 288000000000,
                        "StandardName": "(UTC+08:00)北京，重庆，香港特别行政区，乌鲁木齐",
                    },
                    "GDCID": self.acct_id,
                    "Gsid": None,
                    "TRLevel": 0,
                    "ProductEdition": 0,
                    "DataCenterNumber": "001",
                },
                "KDSVCSessionId": token.value,
                "FormId": None,
                "RedirectFormParam": None,
                "FormInputObject": None,
                "ErrorStackTrace": None,
                "Lcid": lcid,
                "AccessToken": None,
                "KdAccessResult": None,
                "IsSuccessByAPI": True,
            }
        )
        response.set_cookie(SESSION_COOKIE, token.value, path="/")
        response.set_cookie(ASPNET_COOKIE, aspnet, path="/", httponly=True)
        return response

    async def execute_bill_query(self, request: Request) -> Response:
        args = _query_args(await read_json(request))
        session = request.cookies.get(SESSION_COOKIE) or self._aspnet_sessions.get(
            request.cookies.get(ASPNET_COOKIE, "")
        )

        def serve(token: Token) -> Response:
            if not isinstance(args, dict):
                raise VendorError(_kd_error("参数 data 无效：应为 JSON 对象", 8))
            form = str(args.get("FormId") or "")
            if form not in FORMS:
                raise VendorError(_kd_error(f"业务对象标识 {form!r} 不存在", 4))
            try:
                rows = self._query(form, args)
            except _FilterError as exc:
                raise VendorError(_kd_error(str(exc), exc.msg_code)) from exc
            return JSONResponse(rows)

        return await self.data_call(QUERY_PATH, session, ERRORS, serve)

    def _query(self, form: str, args: Mapping[str, Any]) -> list[list[Any]]:
        fields = FORMS[form]
        lookup = {name.lower(): name for name in fields}
        keys = [k.strip() for k in str(args.get("FieldKeys") or "").split(",") if k.strip()]
        if not keys:
            raise _FilterError("FieldKeys 不能为空", msg_code=8)
        columns = []
        for key in keys:
            if key.lower() not in lookup:
                raise _FilterError(f"元数据中标识为{key}的字段不存在", msg_code=9)
            columns.append(lookup[key.lower()])
        filter_string = args.get("FilterString") or ""
        if not isinstance(filter_string, str):
            raise _FilterError("FilterString 应为字符串")
        predicate = _FilterParser(filter_string, fields).parse()
        rows = [r for r in self.dataset.records(form) if predicate(r)]
        pk = PRIMARY_KEYS[form]
        rows.sort(key=lambda r: r[pk])
        for name, descending in reversed(_orders(str(args.get("OrderString") or ""), lookup)):
            kind = fields[name]
            rows.sort(key=partial(_sorted_by, field=name, kind=kind), reverse=descending)
        top = as_int(args.get("TopRowCount"), 0) or 0
        if top > 0:
            rows = rows[:top]
        start = max(0, as_int(args.get("StartRow"), 0) or 0)
        limit = as_int(args.get("Limit"), 0) or 0
        limit = MAX_ROWS if limit <= 0 else min(limit, MAX_ROWS)
        page = self.present(form, rows[start : start + limit])
        return [[record.get(column) for column in columns] for record in page]


def _orders(text: str, lookup: Mapping[str, str]) -> list[tuple[str, bool]]:
    orders = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        words = part.split()
        name = lookup.get(words[0].lower())
        if name is None:
            raise _FilterError(f"元数据中标识为{words[0]}的字段不存在", msg_code=9)
        if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise _FilterError(f"OrderString 语法错误: {part!r}")
        orders.append((name, len(words) == 2 and words[1].upper() == "DESC"))
    return orders


def _sorted_by(record: Mapping[str, Any], field: str, kind: str) -> tuple[bool, Any]:
    """The sort key of `record` by one field of its form."""
    return _sort_value(_value(record, field, kind))


def _sort_value(value: Any) -> tuple[bool, Any]:
    return value is not None, value if value is not None else 0


def _login_failure(message: str) -> JSONResponse:
    return JSONResponse(
        {
            "Message": message,
            "MessageCode": None,
            "LoginResultType": 0,
            "Context": None,
            "KDSVCSessionId": None,
            "FormId": None,
            "RedirectFormParam": None,
            "FormInputObject": None,
            "ErrorStackTrace": None,
            "Lcid": 0,
            "AccessToken": None,
            "KdAccessResult": None,
            "IsSuccessByAPI": False,
        }
    )
