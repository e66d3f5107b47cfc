"""Fake DingTalk (钉钉): new-API CRM (api.dingtalk.com) and old-API staff directory (oapi).

One server answers the paths of both hosts; point both base URLs of a connector at it.

New API (errors carry an HTTP status and ``{"code", "requestid", "message"}``):

- ``POST /v1.0/oauth2/accessToken`` ``{appKey, appSecret}`` → ``{accessToken, expireIn}``; the
  same token while valid, each fetch renewing its expiry. Bad credentials: 400
  ``invalidClientIdOrSecret``; missing ones: 400 ``MissingParameter``.
- ``POST /v1.0/crm/customerInstances`` (header ``x-acs-dingtalk-access-token``)
  ``{operatorUserId, objectType, maxResults ≤100 (default 100), nextToken}`` →
  ``{result: {values, nextToken, maxResults}}``; ``nextToken`` (the offset as a string, as in
  the vendor's example) is absent on the last page. ``objectType`` is ``crm_customer``
  (customers) or ``crm_contact`` (contacts: this fake serves contacts through the same
  endpoint). Values come in creation order; ``createTime``/``modifyTime`` are
  ``YYYY-MM-DD HH:MM:SS`` China time; filter incrementally on ``modifyTime`` client-side.
  400 ``param.error`` (bad maxResults/nextToken/operatorUserId), 400 ``invalid.objectType``.
- Token errors: HTTP 400 (``auth_error_status=401`` to get 401) ``InvalidAuthentication``.
  Throttling: HTTP 403 ``Forbidden.AccessDenied.QpsLimitForAppkeyAndApi``. Quota fault: HTTP 400
  ``daily.call.limit``.

Old API (HTTP 200, ``{"errcode", "errmsg"}``; the token is in ``?access_token=`` and is the same
token as the new API's, as for a DingTalk internal app):

- ``GET /gettoken?appkey=&appsecret=`` → ``{errcode:0, access_token, expires_in}``; 40089 on bad
  credentials.
- ``POST /topapi/v2/user/list`` ``{dept_id, cursor, size ≤100}`` → ``{result: {has_more,
  next_cursor, list}}`` (members of that department only); 40035 bad size, 60003 unknown dept.
- ``POST /topapi/v2/department/listsub`` ``{dept_id}`` (default 1) → ``{result: [direct children]}``.
- Token errors: ``{"errcode":88, "sub_code":"40014", ...}`` (missing, invalid, expired or
  revoked alike). Throttling: 90018. Quota fault: 90020.

``enforce_limits`` applies the documented 20 calls per second per app and API.
``malformed_record``: one customer gets an impossible ``modifyTime``, one contact a
``contact_phone`` that is a number instead of a string.
"""

from __future__ import annotations

import json
import math
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.fakes.dataset import AS_OF, Dataset, ObjectSpec, Table, format_time
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
    rep_department,
    rep_of,
    reps_by_id,
    rng_for,
    sales_departments,
)
from connectors.fakes.server import ErrorStyle, FakeServer, VendorError, as_int, read_json
from connectors.fakes.tokens import Token, TokenState

APP_KEY = "dingfakeappkey0001"
APP_SECRET = "dingtalk-fake-secret"
ADMIN_USERID = "manager1000"
"""The org creator: a valid ``operatorUserId`` that sees every CRM record."""

NEW_TOKEN_PATH = "/v1.0/oauth2/accessToken"
OLD_TOKEN_PATH = "/gettoken"
CRM_PATH = "/v1.0/crm/customerInstances"
USER_LIST_PATH = "/topapi/v2/user/list"
DEPT_LISTSUB_PATH = "/topapi/v2/department/listsub"
TOKEN_HEADER = "x-acs-dingtalk-access-token"

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_RESULTS = 100
MAX_USER_PAGE = 100
OBJECT_TYPES = ("crm_customer", "crm_contact")
USCC_FIELD = "TextField-K2U5UJAF"
"""A tenant form field: 统一社会信用代码."""

_FOLLOW_UP = ("新客户", "跟进中", "已成交", "已流失")
_ROOT_NAME = "示例集团"


def _new_instance_id(table: Table) -> str:
    return str(uuid.uuid4())


SPECS = {
    **{
        name: ObjectSpec(
            keys=(("instanceId",),),
            modified=("modifyTime",),
            created=("createTime",),
            time_format=TIME_FORMAT,
            new_key=_new_instance_id,
        )
        for name in OBJECT_TYPES
    },
    "users": ObjectSpec(keys=(("userid",),)),
    "departments": ObjectSpec(keys=(("dept_id",),)),
}


@dataclass(frozen=True)
class Sizes:
    """Share of the universe's customers kept in DingTalk CRM, and contacts per customer."""

    customer_share: float = 0.25
    contacts_per_customer: float = 1.5


def build_dataset(
    universe: pd.DataFrame, reps: pd.DataFrame, seed: int, sizes: Sizes | None = None
) -> Dataset:
    """CRM customers (with contacts) for a share of the universe, owned by their reps' staff ids."""
    sizes = sizes or Sizes()
    reps_map = reps_by_id(reps)
    staff = {
        rep_id: "0" + str(rng_for(seed, "dingtalk", "staff", rep_id).randrange(10**14, 10**15))
        for rep_id in reps_map
    }
    departments, dept_ids = _departments(seed, reps_map.values())
    users = [_admin()] + [
        _user(rep, staff[rep_id], dept_ids, seed) for rep_id, rep in sorted(reps_map.items())
    ]
    customers: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    for entity in universe.to_dict("records"):
        rng = rng_for(seed, "dingtalk", entity["entity_id"])
        if rng.random() >= sizes.customer_share:
            continue
        rep = rep_of(reps_map, entity["rep_id"])
        owner = staff[int(rep["rep_id"])]
        created = moment_between(rng, entity_created(entity["created_at"]), AS_OF)
        customer = _instance(
            rng, "crm_customer", owner, str(rep["name"]), created, _customer_data(rng, entity)
        )
        customers.append(customer)
        for k in range(max(1, draw_count(rng, sizes.contacts_per_customer))):
            person = str(entity["contact_name"]) if k == 0 else person_name(rng)
            phone = str(entity["phone"]) if k == 0 else mobile_number(rng)
            data = {
                "contact_name": person,
                "contact_phone": phone_variant(phone, rng),
                "contact_position": _option(rng.choice(POSITIONS)),
                "contact_related_customer": {
                    "value": customer["data"]["customer_name"],
                    "extendValue": json.dumps(
                        {
                            "quote": "1",
                            "bizType": "crm_customer",
                            "list": [{"instanceId": customer["instanceId"]}],
                        }
                    ),
                },
            }
            moment = moment_between(rng, created, AS_OF)
            contacts.append(_instance(rng, "crm_contact", owner, str(rep["name"]), moment, data))
    return Dataset(
        SPECS,
        {"crm_customer": customers, "crm_contact": contacts, "users": users, "departments": departments},
    )


def default_dataset(n_entities: int = 2000, seed: int = 7, sizes: Sizes | None = None) -> Dataset:
    """The dataset built from the demo universe (``connectors.fakes.universe.make_universe``)."""
    return demo_dataset(build_dataset, n_entities, seed, sizes)


def _option(label: str) -> dict[str, str]:
    return {
        "value": label,
        "extendValue": json.dumps(
            [{"label": label, "key": f"option_{zlib.crc32(label.encode()) % 997}"}], ensure_ascii=False
        ),
    }


def _customer_data(rng: Any, entity: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"customer_name": name_variant(entity, rng)}
    if rng.random() < 0.8:
        data["customer_phone"] = phone_variant(str(entity["phone"]), rng)
    if rng.random() < 0.7:
        data["customer_address"] = {
            "value": str(entity["address"]),
            "extendValue": json.dumps(
                {
                    "province": {"name": entity["province"]},
                    "city": {"name": entity["city"]},
                    "district": {"name": entity["district"]},
                    "detail": entity["street"],
                },
                ensure_ascii=False,
            ),
        }
    data["customer_follow_up_status"] = _option(rng.choice(_FOLLOW_UP))
    data["customer_industry"] = _option(str(entity["industry"]))
    if rng.random() < 0.4:
        uscc = str(entity["uscc"])
        data[USCC_FIELD] = uscc.lower() if rng.random() < 0.1 else uscc
    return data


def _instance(
    rng: Any, object_type: str, owner: str, nick: str, created: Any, data: dict[str, Any]
) -> dict[str, Any]:
    modified = moment_between(rng, created, AS_OF)
    return {
        "instanceId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "objectType": object_type,
        "creatorUserId": owner,
        "creatorNick": nick,
        "createTime": format_time(created, TIME_FORMAT),
        "modifyTime": format_time(modified, TIME_FORMAT),
        "data": data,
        "extendData": {},
        "permission": {"ownerStaffIds": [owner], "participantStaffIds": []},
        "processOutResult": "agree",
        "processInstanceStatus": "COMPLETED",
    }


def _departments(
    seed: int, reps: Iterable[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[tuple[str, ...], int]]:
    ids = {
        path: rng_for(seed, "dingtalk", "dept", *path).randrange(10**8, 10**9)
        for path in sales_departments(reps)
    }
    flags = {"create_dept_group": True, "auto_add_user": True}
    return [{"dept_id": 1, "name": _ROOT_NAME, "parent_id": None, **flags}] + [
        {"dept_id": ids[path], "name": path[-1], "parent_id": ids.get(path[:-1], 1), **flags} for path in ids
    ], ids


def _admin() -> dict[str, Any]:
    return {
        "userid": ADMIN_USERID,
        "unionid": "fakeadminunionid0001",
        "name": "管理员",
        "avatar": "",
        "state_code": "86",
        "mobile": "13800000000",
        "telephone": "",
        "job_number": "0000",
        "title": "管理员",
        "email": "",
        "org_email": "",
        "work_place": "",
        "remark": "",
        "dept_id_list": [1],
        "dept_order": 0,
        "extension": "{}",
        "hired_date": 1546272000000,
        "active": True,
        "admin": True,
        "boss": True,
        "leader": True,
        "exclusive_account": False,
    }


def _user(
    rep: Mapping[str, Any], userid: str, dept_ids: Mapping[tuple[str, ...], int], seed: int
) -> dict[str, Any]:
    rng = rng_for(seed, "dingtalk", "user", rep["rep_id"])
    return {
        "userid": userid,
        "unionid": "".join(
            rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(28)
        ),
        "name": rep["name"],
        "avatar": "",
        "state_code": "86",
        "mobile": rep["mobile"],
        "telephone": "",
        "job_number": f"{int(rep['rep_id']):04d}",
        "title": "销售经理",
        "email": rep["email"],
        "org_email": "",
        "work_place": str(rep["region"]),
        "remark": "",
        "dept_id_list": [dept_ids[rep_department(rep)]],
        "dept_order": 0,
        "extension": "{}",
        "hired_date": int(
            format_time(moment_between(rng, AS_OF.replace(year=2018), AS_OF.replace(year=2024)), "ms")
        ),
        "active": True,
        "admin": False,
        "boss": False,
        "leader": False,
        "exclusive_account": False,
    }


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _new_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "requestid": _request_id(), "message": message}, status_code=status)


def _old_error(code: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": message, **extra, "request_id": uuid.uuid4().hex[:14]})


def _old_auth_error(state: TokenState) -> Response:
    return _old_error(
        88,
        "ding talk error[subcode=40014,submsg=不合法的access_token]",
        sub_code="40014",
        sub_msg="不合法的access_token",
    )


OLD_ERRORS = ErrorStyle(
    auth=_old_auth_error,
    rate_limited=lambda: _old_error(90018, "当前企业调用该接口超过了QPS限制，请降低调用频率"),
    quota=lambda: _old_error(90020, "当前应用调用该接口已超过每月调用量上限"),
)


class DingTalkFake(FakeServer):
    """DingTalk new-API CRM plus old-API staff directory, sharing one token store."""

    vendor = "dingtalk"
    malformable = OBJECT_TYPES
    limits: ClassVar[Mapping[str, tuple[int, float]]] = {
        CRM_PATH: (20, 1.0),
        USER_LIST_PATH: (20, 1.0),
        DEPT_LISTSUB_PATH: (20, 1.0),
    }

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        app_key: str = APP_KEY,
        app_secret: str = APP_SECRET,
        auth_error_status: int = 400,
        **kwargs: Any,
    ) -> None:
        self.app_key, self.app_secret = app_key, app_secret
        self.new_errors = ErrorStyle(
            auth=lambda state: _new_error(auth_error_status, "InvalidAuthentication", "不合法的access_token"),
            rate_limited=lambda: _new_error(
                403,
                "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                "Current request is too frequent, please try again later.",
            ),
            quota=lambda: _new_error(400, "daily.call.limit", "单日调用数量已达上限,请择日再次调用"),
        )
        super().__init__(dataset, **kwargs)

    @classmethod
    def default_dataset(cls) -> Dataset:
        return default_dataset()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(NEW_TOKEN_PATH, self.new_access_token, methods=["POST"]),
            Route(OLD_TOKEN_PATH, self.old_gettoken, methods=["GET"]),
            Route(CRM_PATH, self.customer_instances, methods=["POST"]),
            Route(USER_LIST_PATH, self.user_list, methods=["POST"]),
            Route(DEPT_LISTSUB_PATH, self.department_listsub, methods=["POST"]),
        ]

    def malform(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        if name == "crm_customer":
            record["modifyTime"] = "2024-02-30 25:61:00"
        else:
            digits = "".join(ch for ch in str(record["data"].get("contact_phone", "")) if ch.isdigit())
            record["data"]["contact_phone"] = int(digits[-11:] or 0)
        return record

    def _issue(self) -> Token:
        token, _ = self.issue_token(self.app_key, reuse_for=math.inf, renew=True)
        return token

    async def new_access_token(self, request: Request) -> Response:
        self.count_call(NEW_TOKEN_PATH)
        body = await read_json(request)
        if not isinstance(body, dict) or not body.get("appKey") or not body.get("appSecret"):
            return _new_error(400, "MissingParameter", "appKey and appSecret are mandatory for this action.")
        if (body["appKey"], body["appSecret"]) != (self.app_key, self.app_secret):
            return _new_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        token = self._issue()
        return JSONResponse(
            {"accessToken": token.value, "expireIn": int(token.expires_at - self.tokens.now())}
        )

    async def old_gettoken(self, request: Request) -> Response:
        self.count_call(OLD_TOKEN_PATH)
        params = request.query_params
        if (params.get("appkey"), params.get("appsecret")) != (self.app_key, self.app_secret):
            return _old_error(40089, "不合法的appKey或appSecret")
        token = self._issue()
        return JSONResponse(
            {
                "errcode": 0,
                "access_token": token.value,
                "errmsg": "ok",
                "expires_in": int(token.expires_at - self.tokens.now()),
            }
        )

    async def customer_instances(self, request: Request) -> Response:
        body = await read_json(request)

        def serve(token: Token) -> Response:
            if not isinstance(body, dict):
                raise VendorError(_new_error(400, "param.error", "参数非法: body must be a JSON object"))
            object_type = body.get("objectType")
            if object_type not in OBJECT_TYPES:
                raise VendorError(_new_error(400, "invalid.objectType", "invalid objectType"))
            operator = body.get("operatorUserId")
            if not operator or not self.dataset.get("users", str(operator)):
                raise VendorError(_new_error(400, "param.error", "参数非法: operatorUserId"))
            size = as_int(body.get("maxResults"), MAX_RESULTS)
            if size is None or not 1 <= size <= MAX_RESULTS:
                raise VendorError(
                    _new_error(400, "param.error", f"参数非法: maxResults must be 1..{MAX_RESULTS}")
                )
            offset = as_int(body.get("nextToken") or 0)
            if offset is None or offset < 0:
                raise VendorError(_new_error(400, "param.error", "参数非法: nextToken"))
            values = self.dataset.records(object_type)
            result: dict[str, Any] = {
                "values": self.present(object_type, values[offset : offset + size]),
                "maxResults": size,
            }
            if offset + size < len(values):
                result["nextToken"] = str(offset + size)
            return JSONResponse({"result": result})

        return await self.data_call(CRM_PATH, request.headers.get(TOKEN_HEADER), self.new_errors, serve)

    async def user_list(self, request: Request) -> Response:
        body = await read_json(request)

        def serve(token: Token) -> Response:
            if not isinstance(body, dict):
                raise VendorError(_old_error(40035, "不合法的参数"))
            dept = as_int(body.get("dept_id"))
            size = as_int(body.get("size"))
            cursor = as_int(body.get("cursor") or 0)
            if size is None or not 1 <= size <= MAX_USER_PAGE or cursor is None or cursor < 0:
                raise VendorError(_old_error(40035, f"不合法的参数: size must be 1..{MAX_USER_PAGE}"))
            if dept is None or not self.dataset.get("departments", dept):
                raise VendorError(_old_error(60003, "部门不存在"))
            members = [u for u in self.dataset.records("users") if dept in u["dept_id_list"]]
            page = members[cursor : cursor + size]
            result: dict[str, Any] = {"has_more": cursor + size < len(members), "list": page}
            if result["has_more"]:
                result["next_cursor"] = cursor + size
            return JSONResponse(
                {"errcode": 0, "errmsg": "ok", "result": result, "request_id": uuid.uuid4().hex[:14]}
            )

        return await self.data_call(
            USER_LIST_PATH, request.query_params.get("access_token"), OLD_ERRORS, serve
        )

    async def department_listsub(self, request: Request) -> Response:
        body = await read_json(request)

        def serve(token: Token) -> Response:
            dept = as_int(body.get("dept_id"), 1) if isinstance(body, dict) else 1
            if dept is None or not self.dataset.get("departments", dept):
                raise VendorError(_old_error(60003, "部门不存在"))
            children = [
                {
                    key: d[key]
                    for key in ("dept_id", "name", "parent_id", "create_dept_group", "auto_add_user")
                }
                for d in self.dataset.records("departments")
                if d["parent_id"] == dept
            ]
            return JSONResponse(
                {"errcode": 0, "errmsg": "ok", "result": children, "request_id": uuid.uuid4().hex[:14]}
            )

        return await self.data_call(
            DEPT_LISTSUB_PATH, request.query_params.get("access_token"), OLD_ERRORS, serve
        )
