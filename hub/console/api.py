"""The match API: `POST /api/match` for systems that create customers (a CRM checking for a
duplicate at entry). Token-authenticated (`Authorization: Bearer TOKEN`, `console.api_tokens`);
the same standardization and model as the matching run (`pipelines.steward.match_service.MatchService`).
Its documentation: the page `/api/docs` and `/api/openapi.json` (a session or a token).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.config import HubConfig
from hub.console.auth import valid_api_token
from hub.console.web import Console
from pipelines.steward.errors import StewardError
from pipelines.steward.match_service import MatchService

MAX_MATCH_BODY_BYTES = 64 * 1024


class MatchRequest(BaseModel):
    """A customer record as a CRM has it; at least one of name, uscc or phone."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "上海华信机械设备有限公司", "uscc": "91310115MA1K3YJ12X", "phone": "021-5551 2345",
         "address": "上海市浦东新区张江路88号", "limit": 5}]})

    name: str | None = Field(None, max_length=200, description="company name as typed (legal or short name)")
    short_name: str | None = Field(None, max_length=100)
    uscc: str | None = Field(None, max_length=40, description="统一社会信用代码, any spacing or case")
    phone: str | None = Field(None, max_length=60)
    mobile: str | None = Field(None, max_length=60)
    email: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=300)
    contact_name: str | None = Field(None, max_length=100)
    limit: int = Field(5, ge=1, le=50, description="at most this many candidates")
    include_low: bool = Field(False, description="also return candidates below the review threshold")

    @model_validator(mode="after")
    def _something_to_match(self) -> MatchRequest:
        if not any((self.name, self.short_name, self.uscc, self.phone, self.mobile)):
            raise ValueError("give at least one of name, short_name, uscc, phone, mobile")
        return self


class Candidate(BaseModel):
    golden_id: str = Field(description="the golden customer (mdm.golden_customer.golden_id)")
    score: float = Field(description="match probability, 0..1")
    weight: float = Field(description="match weight in bits (log2 Bayes factor plus prior)")
    band: str = Field(description="match (≥ match threshold), review (≥ review threshold) or low")
    matched_record: str = Field(description="the source record that scored best, SOURCE:STREAM:KEY")
    name: str | None = None
    uscc: str | None = None
    phone: str | None = None
    city: str | None = None
    conflicts: list[str] = Field(description="hard-rule attributes that differ (a valid tax code, the city, the "
                                             "branch); a conflicting candidate is always `low`")
    explanation: dict[str, str] = Field(description="per comparison, the level the pair reached")


class MatchResponse(BaseModel):
    candidates: list[Candidate]
    standardized: dict[str, Any] = Field(description="what standardization made of the record")
    thresholds: dict[str, float]


def api_router(cfg: HubConfig, matcher: MatchService) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["match"])

    def _auth(authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not valid_api_token(cfg.console.api_tokens, token.strip()):
            raise HTTPException(status_code=401, detail="a valid API token is needed (Authorization: Bearer TOKEN)",
                                headers={"WWW-Authenticate": "Bearer"})

    @router.post("/match", response_model=MatchResponse, summary="Candidate golden customers for a new record",
                 responses={401: {"description": "missing or wrong token"},
                            413: {"description": f"a body over {MAX_MATCH_BODY_BYTES // 1024} KiB"},
                            422: {"description": "a body that is not a valid record: `detail` lists each field's "
                                                 "error (`loc`, `msg`, `type`), never the input"},
                            503: {"description": "no match results in the warehouse yet"}})
    def match(body: MatchRequest, authorization: str | None = Header(None)) -> dict[str, Any]:
        """Standardizes the record like a matching run, finds the records it shares a blocking key with
        and scores them with the model in force. One candidate per golden customer, best first."""
        _auth(authorization)
        record = body.model_dump(exclude={"limit", "include_low"}, exclude_none=True)
        try:
            return matcher.match(record, limit=body.limit, include_low=body.include_low)
        except StewardError as e:
            raise HTTPException(status_code=503, detail=str(e)) from None

    return router


def api_docs_router(c: Console) -> APIRouter:
    """The API's documentation: a console page, and its OpenAPI schema for a session or a valid token."""
    router = APIRouter(include_in_schema=False)

    @router.get("/api/docs", response_class=HTMLResponse)
    def api_docs(request: Request) -> Response:
        user = c.need(request)
        return c.page(request, "api.html", user, schema=request.app.openapi(), nav="api")

    @router.get("/api/openapi.json")
    def api_schema(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not (scheme.lower() == "bearer" and valid_api_token(c.cfg.console.api_tokens, token.strip())):
            c.need(request)
        return JSONResponse(request.app.openapi())

    return router
