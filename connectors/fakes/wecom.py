"""Fake WeCom (企业微信): customer-contact and directory APIs.

Endpoints (every error is HTTP 200 ``{"errcode", "errmsg"}``, errmsg with WeCom's hint suffix):

- ``GET /cgi-bin/gettoken?corpid=&corpsecret=`` → ``{errcode:0, errmsg:"ok", access_token,
  expires_in}``; the same token while it is valid (``expires_in`` = seconds left). 41002 no
  corpid, 41004 no secret, 40013 invalid corpid, 40001 invalid secret.
- ``GET /cgi-bin/externalcontact/get_follow_user_list`` → ``{follow_user:[userid…]}``.
- ``POST /cgi-bin/externalcontact/batch/get_by_user`` ``{userid_list ≤100 (or legacy userid),
  cursor, limit ≤100 (default 50)}`` → ``{external_contact_list, next_cursor}`` (empty cursor
  at the end); rows ordered by the position of their follow user in ``userid_list``, then
  ``createtime``. 41009 no userid, 40058 more than 100 userids, limit > 100 or a bad cursor,
  47001 body not JSON. One row per (external contact, follow user): a contact followed by
  two reps appears twice.
- ``GET /cgi-bin/user/list?department_id=[&fetch_child=1]`` → ``{userlist}``; 41019 no
  department_id, 60003 unknown department.
- ``GET /cgi-bin/department/list[?id=]`` → ``{department}`` (the department and its subtree).

Token errors on data calls: 41001 missing, 40014 invalid, 42001 expired or revoked.
Rate limit: 45009 "api freq out of limit". Permissions come from the secret used for the
token: :data:`CONTACT_SECRET` may call everything, :data:`DIRECTORY_SECRET` only the directory
(48002 "api forbidden" on customer contact), :data:`APP_SECRET` nothing (60011 on the directory).
No quota fault and no documented QPS window. ``malformed_record`` drops ``external_userid`` from
one external contact row.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from secrets import token_urlsafe
from typing import Any

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.fakes.dataset import AS_OF, Dataset, ObjectSpec, format_time
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

DEFAULT_CORP_ID = "wwfakecorp00000001"
CONTACT_SECRET = "wecom-contact-secret"
DIRECTORY_SECRET = "wecom-directory-secret"
APP_SECRET = "wecom-app-secret"
SECRETS: Mapping[str, frozenset[str]] = {
    CONTACT_SECRET: frozenset({"externalcontact", "directory"}),
    DIRECTORY_SECRET: frozenset({"directory"}),
    APP_SECRET: frozenset(),
}

TOKEN_PATH = "/cgi-bin/gettoken"
FOLLOW_USERS_PATH = "/cgi-bin/externalcontact/get_follow_user_list"
BY_USER_PATH = "/cgi-bin/externalcontact/batch/get_by_user"
USER_LIST_PATH = "/cgi-bin/user/list"
DEPARTMENT_LIST_PATH = "/cgi-bin/department/list"

MAX_USERIDS = 100
MAX_LIMIT = 100
DEFAULT_LIMIT = 50
UNIONID_CUTOFF = int(pd.Timestamp("2022-06-20", tz="Asia/Shanghai").timestamp())
"""Contacts added after this date no longer carry a unionid."""

TAGS = {
    "etFAKE0001AAAAAAAAAAAAAAAAAAAAAA": "重点客户",
    "etFAKE0002AAAAAAAAAAAAAAAAAAAAAA": "已成交",
    "etFAKE0003AAAAAAAAAAAAAAAAAAAAAA": "展会",
    "etFAKE0004AAAAAAAAAAAAAAAAAAAAAA": "待跟进",
}
_ID_CHARS = string.ascii_letters + string.digits + "-_"

SPECS = {
    "external_contacts": ObjectSpec(
        keys=(("external_contact", "external_userid"), ("follow_info", "userid")),
        created=("follow_info", "createtime"),
        time_format="s",
    ),
    "follow_users": ObjectSpec(keys=(("userid",),)),
    "users": ObjectSpec(keys=(("userid",),)),
    "departments": ObjectSpec(keys=(("id",),)),
}


@dataclass(frozen=True)
class Sizes:
    """Coverage of the universe: share of customers with WeCom contacts, people per customer,
    share of contacts also followed by a second rep, share of reps enabled for customer contact."""

    customer_share: float = 0.3
    contacts_per_customer: float = 1.3
    second_follower_share: float = 0.25
    follow_user_share: float = 0.8


def build_dataset(
    universe: pd.DataFrame, reps: pd.DataFrame, seed: int, sizes: Sizes | None = None
) -> Dataset:
    """External contacts for a share of the universe's customers, followed by their reps."""
    sizes = sizes or Sizes()
    reps_map = reps_by_id(reps)
    departments, dept_ids = _departments(reps_map.values())
    users = [_user(rep, dept_ids) for rep in reps_map.values()]
    follow = [
        rep["userid"]
        for rep_id, rep in sorted(reps_map.items())
        if rng_for(seed, "wecom", "follow", rep_id).random() < sizes.follow_user_share
    ] or [reps_map[min(reps_map)]["userid"]]
    rows: list[dict[str, Any]] = []
    for entity in universe.to_dict("records"):
        rng = rng_for(seed, "wecom", entity["entity_id"])
        if rng.random() >= sizes.customer_share:
            continue
        owner = rep_of(reps_map, entity["rep_id"])["userid"]
        follower = owner if owner in follow else rng.choice(follow)
        since = entity_created(entity["created_at"])
        for k in range(max(1, draw_count(rng, sizes.contacts_per_customer))):
            person = str(entity["contact_name"]) if k == 0 else person_name(rng)
            phone = str(entity["phone"]) if k == 0 else None
            followers = [follower]
            if len(follow) > 1 and rng.random() < sizes.second_follower_share:
                followers.append(rng.choice([u for u in follow if u != follower]))
            added = sorted(moment_between(rng, since, AS_OF) for _ in followers)
            contact = _external_contact(rng, entity, person, first_added=int(added[0].timestamp()))
            for userid, moment in zip(followers, added, strict=True):
                info = _follow_info(rng, entity, person, phone, userid, int(format_time(moment, "s")))
                rows.append({"external_contact": dict(contact), "follow_info": info})
    return Dataset(
        SPECS,
        {
            "external_contacts": rows,
            "follow_users": [{"userid": u} for u in follow],
            "users": users,
            "departments": departments,
        },
    )


def default_dataset(n_entities: int = 2000, seed: int = 7, sizes: Sizes | None = None) -> Dataset:
    """The dataset built from the demo universe (``connectors.fakes.universe.make_universe``)."""
    return demo_dataset(build_dataset, n_entities, seed, sizes)


def _departments(reps: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[tuple[str, ...], int]]:
    ids = {path: i + 2 for i, path in enumerate(sales_departments(reps))}
    root = {
        "id": 1,
        "name": "总部",
        "name_en": "HQ",
        "department_leader": [],
        "parentid": 0,
        "order": 100000000,
    }
    return [root] + [
        {
            "id": ids[path],
            "name": path[-1],
            "department_leader": [],
            "parentid": ids.get(path[:-1], 1),
            "order": 100000000 - ids[path],
        }
        for path in ids
    ], ids


def _user(rep: Mapping[str, Any], dept_ids: Mapping[tuple[str, ...], int]) -> dict[str, Any]:
    dept = dept_ids[rep_department(rep)]
    return {
        "userid": rep["userid"],
        "name": rep["name"],
        "department": [dept],
        "order": [0],
        "position": "客户经理",
        "mobile": rep["mobile"],
        "gender": "1" if int(rep["rep_id"]) % 3 else "2",
        "email": rep["email"],
        "biz_mail": f"{rep['userid']}@fakecorp.wecom.work",
        "is_leader_in_dept": [0],
        "direct_leader": [],
        "avatar": "",
        "thumb_avatar": "",
        "telephone": "",
        "alias": "",
        "address": "",
        "main_department": dept,
        "status": 1,
        "extattr": {"attrs": []},
    }


def _external_contact(rng: Any, entity: Mapping[str, Any], person: str, first_added: int) -> dict[str, Any]:
    wecom_user = rng.random() < 0.35
    contact: dict[str, Any] = {
        "external_userid": ("wo" if wecom_user else "wm") + "".join(rng.choice(_ID_CHARS) for _ in range(30)),
        "avatar": f"http://wx.qlogo.cn/mmhead/{rng.getrandbits(64):016x}/0",
        "type": 2 if wecom_user else 1,
        "gender": rng.choice((0, 1, 2)),
    }
    if wecom_user:
        contact.update(
            name=person,
            position=rng.choice(POSITIONS),
            corp_name=entity["short_name"],
            corp_full_name=entity["legal_name"],
        )
    else:
        contact["name"] = rng.choice((person, person, f"{person[0]}总", f"{person}🌿", f"A{person}"))
        if first_added < UNIONID_CUTOFF:
            contact["unionid"] = "o" + "".join(rng.choice(_ID_CHARS) for _ in range(27))
    return {
        key: contact[key]
        for key in (
            "external_userid",
            "name",
            "position",
            "avatar",
            "corp_name",
            "corp_full_name",
            "type",
            "gender",
            "unionid",
        )
        if key in contact
    }


def _follow_info(
    rng: Any, entity: Mapping[str, Any], person: str, phone: str | None, userid: str, createtime: int
) -> dict[str, Any]:
    number = phone if phone is not None else mobile_number(rng)
    return {
        "userid": userid,
        "remark": rng.choice(
            (person, f"{person}-{entity['short_name']}", f"{entity['short_name']}{person[0]}总")
        ),
        "description": rng.choice(("", "", "对接采购事务", "老客户转介绍", "展会认识")),
        "createtime": createtime,
        "tag_id": sorted(rng.sample(sorted(TAGS), rng.randint(0, 2))),
        "remark_corp_name": name_variant(entity, rng) if rng.random() < 0.8 else "",
        "remark_mobiles": [phone_variant(number, rng)] if rng.random() < 0.7 else [],
        "oper_userid": userid,
        "add_way": rng.choice((1, 2, 3, 4, 10, 201)),
    }


def _error(code: int, message: str) -> JSONResponse:
    hint = f"hint: [{int(time.time())}_{hashlib.md5(message.encode()).hexdigest()[:6]}]"
    return JSONResponse(
        {
            "errcode": code,
            "errmsg": f"{message}, {hint}, from ip: 127.0.0.1, more info at "
            f"https://open.work.weixin.qq.com/devtool/query?e={code}",
        }
    )


def _ok(**payload: Any) -> JSONResponse:
    return JSONResponse({"errcode": 0, "errmsg": "ok", **payload})


def _auth_error(state: TokenState) -> Response:
    if state is TokenState.MISSING:
        return _error(41001, "access_token missing")
    if state is TokenState.INVALID:
        return _error(40014, "invalid access_token")
    return _error(42001, "access_token expired")


ERRORS = ErrorStyle(auth=_auth_error, rate_limited=lambda: _error(45009, "api freq out of limit"))


def _encode_cursor(offset: int, userids: list[str]) -> str:
    digest = hashlib.sha1("\n".join(userids).encode()).hexdigest()[:8]
    raw = json.dumps({"o": offset, "u": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, userids: list[str]) -> int | None:
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError):
        return None
    return offset if _encode_cursor(offset, userids) == cursor.rstrip("=") else None


class WeComFake(FakeServer):
    """WeCom customer contact + directory, with the errcode/errmsg error contract."""

    vendor = "wecom"
    malformable = ("external_contacts",)

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        corp_id: str = DEFAULT_CORP_ID,
        secret_scopes: Mapping[str, frozenset[str]] = SECRETS,
        **kwargs: Any,
    ) -> None:
        self.corp_id = corp_id
        self.secret_scopes = dict(secret_scopes)
        super().__init__(dataset, **kwargs)

    @classmethod
    def default_dataset(cls) -> Dataset:
        return default_dataset()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(TOKEN_PATH, self.gettoken, methods=["GET"]),
            Route(FOLLOW_USERS_PATH, self.get_follow_user_list, methods=["GET"]),
            Route(BY_USER_PATH, self.batch_get_by_user, methods=["POST"]),
            Route(USER_LIST_PATH, self.user_list, methods=["GET"]),
            Route(DEPARTMENT_LIST_PATH, self.department_list, methods=["GET"]),
        ]

    def malform(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        record["external_contact"].pop("external_userid", None)
        return record

    async def gettoken(self, request: Request) -> Response:
        self.count_call(TOKEN_PATH)
        corpid, secret = request.query_params.get("corpid"), request.query_params.get("corpsecret")
        if not corpid:
            return _error(41002, "corpid missing")
        if not secret:
            return _error(41004, "corpsecret missing")
        if corpid != self.corp_id:
            return _error(40013, "invalid corpid")
        scopes = self.secret_scopes.get(secret)
        if scopes is None:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        token, _ = self.issue_token((corpid, secret), reuse_for=math.inf, scopes=scopes, make=_token_value)
        return _ok(access_token=token.value, expires_in=max(0, int(token.expires_at - self.tokens.now())))

    async def get_follow_user_list(self, request: Request) -> Response:
        def serve(token: Token) -> Response:
            _require(token, "externalcontact")
            return _ok(follow_user=[row["userid"] for row in self.dataset.records("follow_users")])

        return await self.data_call(
            FOLLOW_USERS_PATH, request.query_params.get("access_token"), ERRORS, serve
        )

    async def batch_get_by_user(self, request: Request) -> Response:
        body = await read_json(request)

        def serve(token: Token) -> Response:
            _require(token, "externalcontact")
            if not isinstance(body, dict):
                raise VendorError(_error(47001, "data format error"))
            userids = body.get("userid_list")
            if userids is None and body.get("userid"):
                userids = [body["userid"]]
            if not isinstance(userids, list) or not userids:
                raise VendorError(_error(41009, "missing userid"))
            userids = [str(u) for u in userids]
            if len(userids) > MAX_USERIDS:
                raise VendorError(_error(40058, f"userid_list exceed max size {MAX_USERIDS}"))
            limit = as_int(body.get("limit"), DEFAULT_LIMIT) or DEFAULT_LIMIT
            if limit > MAX_LIMIT or limit < 0:
                raise VendorError(_error(40058, f"limit exceed max value {MAX_LIMIT}"))
            offset = _decode_cursor(str(body.get("cursor") or ""), userids)
            if offset is None:
                raise VendorError(_error(40058, "invalid cursor"))
            order = {userid: i for i, userid in enumerate(userids)}
            rows = sorted(
                (r for r in self.dataset.records("external_contacts") if r["follow_info"]["userid"] in order),
                key=lambda r: (
                    order[r["follow_info"]["userid"]],
                    r["follow_info"]["createtime"],
                    r["external_contact"]["external_userid"],
                ),
            )
            page = rows[offset : offset + limit]
            more = offset + limit < len(rows)
            return _ok(
                external_contact_list=self.present("external_contacts", page),
                next_cursor=_encode_cursor(offset + limit, userids) if more else "",
            )

        return await self.data_call(BY_USER_PATH, request.query_params.get("access_token"), ERRORS, serve)

    async def user_list(self, request: Request) -> Response:
        params = request.query_params

        def serve(token: Token) -> Response:
            _require(token, "directory")
            dept = as_int(params.get("department_id"))
            if dept is None:
                raise VendorError(_error(41019, "missing department id"))
            if not self.dataset.get("departments", dept):
                raise VendorError(_error(60003, "department not found"))
            depts = self._subtree(dept) if params.get("fetch_child") == "1" else {dept}
            users = [u for u in self.dataset.records("users") if depts.intersection(u["department"])]
            return _ok(userlist=users)

        return await self.data_call(USER_LIST_PATH, params.get("access_token"), ERRORS, serve)

    async def department_list(self, request: Request) -> Response:
        params = request.query_params

        def serve(token: Token) -> Response:
            _require(token, "directory")
            departments = self.dataset.records("departments")
            if params.get("id"):
                root = as_int(params.get("id"))
                if root is None or not self.dataset.get("departments", root):
                    raise VendorError(_error(60003, "department not found"))
                keep = self._subtree(root)
                departments = [d for d in departments if d["id"] in keep]
            return _ok(department=departments)

        return await self.data_call(DEPARTMENT_LIST_PATH, params.get("access_token"), ERRORS, serve)

    def _subtree(self, root: int) -> set[int]:
        children: dict[int, list[int]] = {}
        for record in self.dataset.records("departments"):
            children.setdefault(record["parentid"], []).append(record["id"])
        found, todo = set(), [root]
        while todo:
            dept = todo.pop()
            found.add(dept)
            todo.extend(children.get(dept, []))
        return found


def _require(token: Token, scope: str) -> None:
    if scope not in token.scopes:
        if scope == "directory":
            raise VendorError(_error(60011, "no privilege to access/modify contact/party/agent"))
        raise VendorError(_error(48002, "api forbidden"))


def _token_value() -> str:
    return token_urlsafe(96)
