"""Custom airbyte-cdk components shared by the hub's declarative API connectors.

Only what the low-code components cannot express lives here; manifests reference these
classes by their dotted path (`connectors.cdk_components.<Class>`):

- `RefreshableSessionTokenAuthenticator`: a session-token login that is forced to log in again
  when the API reports the token expired before its TTL (`REFRESH_TOKEN_THEN_RETRY` only
  refreshes OAuth authenticators in the CDK), and writes the new token into the request being
  retried (query parameter, header, cookie or JSON body).
- `RedactingErrorHandler`: a `DefaultErrorHandler` whose failures carry the vendor's message and
  never the request URL (some vendors put the secret or token in the query string).
- `PositionalRecordExtractor`: rows returned as positional arrays become named records.
- `ScalarRecordExtractor`: a list of bare values becomes records with one named field.
- `OffsetThenKeysetPagination`: offset paging that continues past a maximum offset by filtering
  on the sort key (`_id > last`) and restarting the offset at zero.
- `TreePartitionRouter`: one partition per node of a tree listed one level at a time.
- `HubDeclarativeSource` / `build_source`: the source the hub runs in-process, with every config
  secret and session token registered in `core.secrets` (and shared with the CDK's list, see
  `connectors.cdk_secrets`) and masked in the non-record messages it emits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import InitVar, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import yaml
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Type,
)
from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
    ConcurrentDeclarativeSource,
)
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.partition_routers.partition_router import PartitionRouter
from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import (
    DefaultErrorHandler,
)
from airbyte_cdk.sources.declarative.requesters.error_handlers.http_response_filter import (
    HttpResponseFilter,
)
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import (
    PaginationStrategy,
)
from airbyte_cdk.sources.declarative.requesters.request_option import (
    RequestOption,
    RequestOptionType,
)
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.streams.http.error_handlers.response_models import (
    ErrorResolution,
    ResponseAction,
)
from airbyte_cdk.sources.types import Config, Record, StreamSlice
from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from isodate import parse_duration

from connectors.cdk_secrets import share_with_cdk
from core import secrets

logger = logging.getLogger("airbyte.customer_hub")

__all__ = [
    "HubDeclarativeSource",
    "OffsetThenKeysetPagination",
    "PositionalRecordExtractor",
    "RedactingErrorHandler",
    "RefreshableSessionTokenAuthenticator",
    "ScalarRecordExtractor",
    "TreePartitionRouter",
    "build_source",
    "forget_sessions",
]


def _serialize_cdk_literal_eval() -> None:
    """Run the CDK's interpolation `ast.literal_eval` one thread at a time.

    CPython 3.11's AST constructor keeps its recursion depth in per-interpreter state, so two
    threads building ASTs at once can fail with "SystemError: AST constructor recursion depth
    mismatch" (python/cpython#106905). The concurrent CDK evaluates interpolations on its worker
    threads, so without this a sync with more than one worker fails now and then.
    """
    from airbyte_cdk.sources.declarative.interpolation import jinja

    original = jinja.JinjaInterpolation._literal_eval
    if getattr(original, "_hub_serialized", False):
        return
    lock = threading.Lock()

    def serialized(self: Any, result: str | None, valid_types: Any) -> Any:
        with lock:
            return original(self, result, valid_types)

    serialized._hub_serialized = True  # type: ignore[attr-defined]  # (a mark on our function: patched once)
    jinja.JinjaInterpolation._literal_eval = serialized  # type: ignore[method-assign]  # (the CDK's, patched on purpose)


_serialize_cdk_literal_eval()

def _get_path(document: Any, path: list[str], default: Any = None) -> Any:
    """The value at `path` (keys of nested objects) in a decoded JSON document."""
    for key in path:
        if not isinstance(document, Mapping) or key not in document:
            return default
        document = document[key]
    return document


# --------------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------------


@dataclass
class _Injection:
    """Where one value of the session goes on every request, and how it is rendered."""

    option: RequestOption
    value: InterpolatedString


class _Session:
    """One login's token, shared by every stream (and every sync) using the same credentials.

    A login refused as a configuration error (bad credentials) is remembered for a minute, so
    the other streams and partitions fail at once instead of hammering a rate-limited token
    endpoint with the same wrong credentials.
    """

    REMEMBER_FAILURE = dt.timedelta(minutes=1)

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.token: str | None = None
        self.context: dict[str, Any] = {}
        self.expires_at: dt.datetime | None = None
        self.failure: AirbyteTracedException | None = None
        self.failed_at: dt.datetime | None = None

    def expired(self) -> bool:
        return self.token is None or (
            self.expires_at is not None and self.expires_at <= dt.datetime.now(dt.UTC)
        )

    def raise_recent_failure(self) -> None:
        if self.failure is not None and self.failed_at is not None:
            if dt.datetime.now(dt.UTC) - self.failed_at < self.REMEMBER_FAILURE:
                raise AirbyteTracedException(  # a fresh exception: re-raising one grows its traceback
                    message=self.failure.message,
                    internal_message=self.failure.internal_message,
                    failure_type=self.failure.failure_type,
                )
            self.failure = self.failed_at = None


_SESSIONS: dict[str, _Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _shared_session(key: str) -> _Session:
    with _SESSIONS_LOCK:
        return _SESSIONS.setdefault(key, _Session())


def forget_sessions() -> None:
    """Drop every cached session token (the next request logs in again)."""
    with _SESSIONS_LOCK:
        _SESSIONS.clear()


@dataclass
class RefreshableSessionTokenAuthenticator(DeclarativeAuthenticator):
    """Session-token authenticator that logs in again when the API says the token expired.

    The login response is decoded once; `session_token_path` selects the token and every entry
    of `injections` renders a value from `session_token`, `session` (the decoded login body) and
    `cookies` (cookies the login set) into a header, query parameter or JSON-body field. A
    `Cookie` header injection covers cookie-based sessions.

    A token can be revoked before its TTL. A response matching one of the `refresh_on` filters
    (the vendor's expiry codes, often in an HTTP-200 body) makes this authenticator log in again
    and resend that request at once, with the new token written into the URL, headers or body.
    Should the resent request be refused again, the stream's error handler maps it to
    `REFRESH_TOKEN_THEN_RETRY`: the CDK's `HttpClient` then calls
    `refresh_and_set_access_token()` (it only refreshes OAuth authenticators by itself) and
    retries after its backoff, and fails the sync if the API still refuses.

    Sessions are shared per login request (URL, parameters, body) across streams and syncs of
    the process, as the CDK's own session-token cache does: token endpoints are rate limited
    (Fxiaoke allows about 10 logins a minute). When several threads hit an expiry together,
    only the first logs in again; the others resend with its token.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    login_requester: Requester
    session_token_path: list[str]
    injections: list[Mapping[str, Any]]
    refresh_on: list[HttpResponseFilter] = field(default_factory=list)
    expiration_duration: str | None = None
    expires_in_path: list[str] | None = None
    expiry_margin_seconds: float = 300.0

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._injections = [
            _Injection(
                option=RequestOption(
                    inject_into=RequestOptionType(spec["inject_into"]),
                    field_name=spec.get("field_name"),
                    field_path=spec.get("field_path"),
                    parameters=parameters,
                ),
                value=InterpolatedString.create(
                    spec.get("value", "{{ session_token }}"), parameters=parameters
                ),
            )
            for spec in self.injections
        ]
        self._ttl = parse_duration(self.expiration_duration) if self.expiration_duration else None
        self._local = threading.local()
        self._shared: _Session | None = None

    # --- session ---------------------------------------------------------------------------

    @property
    def _state(self) -> _Session:
        if self._shared is None:
            requester = self.login_requester
            identity = json.dumps(
                [
                    requester.get_url_base(stream_state=None, stream_slice=None, next_page_token=None),
                    requester.get_path(stream_state=None, stream_slice=None, next_page_token=None),
                    requester.get_request_params(),
                    requester.get_request_body_json(),
                    self.session_token_path,
                ],
                sort_keys=True,
                default=str,
            )
            self._shared = _shared_session(hashlib.sha256(identity.encode()).hexdigest())
        return self._shared

    def _login(self, state: _Session) -> None:
        state.raise_recent_failure()
        try:
            self._log_in(state)
        except AirbyteTracedException as error:
            if error.failure_type == FailureType.config_error:
                state.failure, state.failed_at = error, dt.datetime.now(dt.UTC)
            raise

    def _log_in(self, state: _Session) -> None:
        response = self.login_requester.send_request()
        if response is None:
            raise AirbyteTracedException(
                message="The login request was ignored by its error handler.",
                failure_type=FailureType.config_error,
            )
        body = response.json()
        token = _get_path(body, self.session_token_path)
        if not token:
            raise AirbyteTracedException(
                message="The login response carries no session token.",
                internal_message=f"No value at {'/'.join(self.session_token_path)} in the login response.",
                failure_type=FailureType.config_error,
            )
        cookies = response.cookies.get_dict()
        secrets.register([token, *cookies.values()])
        ttl: dt.timedelta | None = self._ttl
        if self.expires_in_path:
            try:
                seconds = float(_get_path(body, self.expires_in_path))
                vendor_ttl = dt.timedelta(seconds=max(seconds - self.expiry_margin_seconds, 1.0))
                ttl = min(ttl, vendor_ttl) if ttl else vendor_ttl
            except (TypeError, ValueError):
                pass
        state.token = str(token)
        state.context = {"session_token": state.token, "session": body, "cookies": cookies}
        state.expires_at = dt.datetime.now(dt.UTC) + ttl if ttl else None

    def _session(self) -> Mapping[str, Any]:
        state = self._state
        if state.expired():
            with state.lock:
                if state.expired():
                    self._login(state)
        return state.context

    def _refresh_unless_replaced(self, sent: str | None) -> None:
        state = self._state
        with state.lock:
            if state.token is not None and sent is not None and sent != state.token:
                return  # another thread already logged in again since this request was sent
            logger.info("The API reported the session token as expired; logging in again.")
            self._login(state)

    def refresh_and_set_access_token(self) -> None:
        """Log in again now (called by the CDK's `HttpClient` on `REFRESH_TOKEN_THEN_RETRY`)."""
        self._refresh_unless_replaced(getattr(self._local, "token", None))

    # --- injection -------------------------------------------------------------------------

    def _values(self, option_type: RequestOptionType) -> MutableMapping[str, Any]:
        context = self._session()
        options: MutableMapping[str, Any] = {}
        for injection in self._injections:
            if injection.option.inject_into == option_type:
                value = injection.value.eval(self.config, **context)
                injection.option.inject_into_request(options, value, self.config)
        return options

    def get_auth_header(self) -> Mapping[str, Any]:
        return dict(self._values(RequestOptionType.header))

    @property
    def auth_header(self) -> str:
        return next(iter(self.get_auth_header()), "")

    @property
    def token(self) -> str:
        return str(next(iter(self.get_auth_header().values()), ""))

    def get_request_params(self) -> Mapping[str, Any]:
        return self._values(RequestOptionType.request_parameter)

    def get_request_body_json(self) -> Mapping[str, Any]:
        return self._values(RequestOptionType.body_json)

    def get_request_body_data(self) -> Mapping[str, Any]:
        return self._values(RequestOptionType.body_data)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Apply the current session to a prepared request, replacing any stale value."""
        request.headers.update(self.get_auth_header())
        params = self.get_request_params()
        if params and request.url:
            parts = urlsplit(request.url)
            query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
            query.extend((k, str(v)) for k, v in params.items())
            request.url = urlunsplit(parts._replace(query=urlencode(query)))
        body_values = self.get_request_body_json()
        if body_values and request.body:
            raw = request.body.decode() if isinstance(request.body, bytes) else request.body
            try:
                body = json.loads(raw) if isinstance(raw, str) else None  # (not a streamed body)
            except ValueError:
                body = None
            if isinstance(body, dict):
                _deep_update(body, body_values)
                encoded = json.dumps(body).encode()
                request.body = encoded
                request.headers["Content-Length"] = str(len(encoded))
        token = self._state.token
        self._local.token = token
        request._hub_session_token = token  # type: ignore[attr-defined]  # (our note on the request, read on 401)
        if self.refresh_on and self._resend_if_expired not in request.hooks["response"]:
            request.register_hook("response", self._resend_if_expired)
        return request

    def _resend_if_expired(self, response: requests.Response, **send_kwargs: Any) -> requests.Response:
        """Response hook: on an expiry answer, log in again and resend the request once."""
        request = response.request
        if getattr(request, "_hub_resent", False) or not any(
            f.matches(response) for f in self.refresh_on
        ):
            return response
        self._refresh_unless_replaced(getattr(request, "_hub_session_token", None))
        _ = response.content  # consume the body so the connection goes back to the pool
        response.close()
        retry = request.copy()
        self(retry)
        retry._hub_resent = True  # type: ignore[attr-defined]  # (our note: a request is resent once only)
        resent: requests.Response = response.connection.send(retry, **send_kwargs)
        resent.history.append(response)
        resent.request = retry
        return resent


def _deep_update(target: MutableMapping[str, Any], values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), MutableMapping):
            _deep_update(target[key], value)
        else:
            target[key] = value


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@dataclass
class RedactingErrorHandler(DefaultErrorHandler):
    """`DefaultErrorHandler` that fails with the vendor's message and without the request URL.

    The response filters decide as usual (HTTP-200 JSON error codes are matched with
    `predicate`). On `FAIL` this raises the traced exception itself, so the CDK's own failure
    message, which quotes the full request URL and body, is never built or logged.
    """

    def interpret_response(
        self, response_or_exception: requests.Response | Exception | None
    ) -> ErrorResolution:
        resolution = super().interpret_response(response_or_exception)
        if resolution.response_action != ResponseAction.FAIL:
            return resolution
        status = (
            f"HTTP {response_or_exception.status_code}"
            if isinstance(response_or_exception, requests.Response)
            else type(response_or_exception).__name__
        )
        path = ""
        if isinstance(response_or_exception, requests.Response) and response_or_exception.url:
            path = urlsplit(response_or_exception.url).path
        message = secrets.mask(resolution.error_message or f"The API answered {status}.")
        raise AirbyteTracedException(
            message=message,
            internal_message=secrets.mask(f"{message} ({status} from {path})"),
            failure_type=resolution.failure_type or FailureType.system_error,
        )


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def _field_keys(keys: str | list[str], parameters: Mapping[str, Any], config: Config) -> list[str]:
    if isinstance(keys, str):
        keys = str(InterpolatedString.create(keys, parameters=parameters).eval(config))
        return [key.strip() for key in keys.split(",") if key.strip()]
    return [str(key) for key in keys]


@dataclass
class PositionalRecordExtractor(RecordExtractor):
    """Turn rows returned as positional arrays into records keyed by `field_keys`.

    `field_keys` is a list or a comma-separated string (Kingdee's `FieldKeys` format, so the
    same manifest value feeds the request and the extractor). A row whose length differs from
    the keys fails the sync rather than shifting values into the wrong fields.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    field_keys: str | list[str]
    field_path: list[str] = field(default_factory=list)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._keys = _field_keys(self.field_keys, parameters, self.config)

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        body = response.json()
        rows = _get_path(body, self.field_path, [])
        for row in rows or []:
            if not isinstance(row, list) or len(row) != len(self._keys):
                raise AirbyteTracedException(
                    message="The API returned a row that does not match the requested field keys.",
                    internal_message=f"Expected {len(self._keys)} values, got {type(row).__name__} "
                    f"of length {len(row) if isinstance(row, list) else 'n/a'}.",
                    failure_type=FailureType.system_error,
                )
            yield dict(zip(self._keys, row, strict=True))


@dataclass
class ScalarRecordExtractor(RecordExtractor):
    """Turn a list of bare values (e.g. WeCom's `follow_user` ids) into `{field_name: value}`."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    field_path: list[str]
    field_name: str

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        values = _get_path(response.json(), self.field_path, [])
        for value in values or []:
            yield {self.field_name: value}


# --------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------


@dataclass
class OffsetThenKeysetPagination(PaginationStrategy):
    """Offset paging that keeps going past the API's maximum offset.

    The query must be sorted ascending on `key_field` (interpolated: `{{ parameters.primary_key }}`). Pages
    advance the offset by the page size; when the next offset would pass `max_offset`, the token switches to
    `{"offset": 0, "after": <key of the last record>}` and the manifest adds the filter
    `key_field > after` to the query. The token is `{"offset": int, "after": str | None}`.
    `max_offset: 0` pages by key from the second page on: a record that leaves the query while it is read
    (modified after its window) shifts no later record back past an offset, where it would never be read.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    page_size: int | str
    key_field: str = "_id"
    max_offset: int | str = 10_000

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._page_size = int(
            InterpolatedString.create(str(self.page_size), parameters=parameters).eval(self.config)
        )
        self._max_offset = int(
            InterpolatedString.create(str(self.max_offset), parameters=parameters).eval(self.config)
        )
        self._key_field = str(InterpolatedString.create(self.key_field, parameters=parameters).eval(self.config))

    @property
    def initial_token(self) -> Any | None:
        return {"offset": 0, "after": None}

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Record | None,
        last_page_token_value: Any | None,
        page_size_override: int | None = None,
        stream_slice: Any | None = None,
    ) -> Any | None:
        page_size = page_size_override or self._page_size
        if last_page_size < page_size or last_record is None:
            return None
        token = last_page_token_value or {"offset": 0, "after": None}
        next_offset = int(token.get("offset", 0)) + page_size
        if next_offset + page_size > self._max_offset:
            return {"offset": 0, "after": last_record.data.get(self._key_field)}
        return {"offset": next_offset, "after": token.get("after")}

    def get_page_size(self) -> int | None:
        return self._page_size


# --------------------------------------------------------------------------------------------
# Partitions
# --------------------------------------------------------------------------------------------


@dataclass
class TreePartitionRouter(PartitionRouter):
    """One partition per node of a tree that the API only lists one level at a time.

    Walks the tree breadth-first from `root_id`: `requester` is called with the partition
    `{partition_field: node}` (e.g. DingTalk's `department/listsub`) and the ids found at
    `id_field` of the records under `children_path` are visited next. The root is a partition
    too. Each node is visited once, even if the API lists it under two parents.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    requester: Requester
    root_id: str | int
    partition_field: str
    id_field: str
    children_path: list[str]

    def stream_slices(self) -> Iterable[StreamSlice]:
        seen: set[Any] = set()
        queue = [InterpolatedString.create(str(self.root_id), parameters={}).eval(self.config)]
        while queue:
            node = queue.pop(0)
            if node in seen:
                continue
            seen.add(node)
            partition = StreamSlice(partition={self.partition_field: node}, cursor_slice={})
            yield partition
            response = self.requester.send_request(stream_slice=partition)
            if response is None:
                continue
            children = _get_path(response.json(), self.children_path, []) or []
            queue.extend(child[self.id_field] for child in children if isinstance(child, Mapping))

    def get_stream_state(self) -> Mapping[str, Any] | None:
        return None

    def get_request_params(self, **kwargs: Any) -> Mapping[str, Any]:
        return {}

    def get_request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        return {}

    def get_request_body_data(self, **kwargs: Any) -> Mapping[str, Any]:
        return {}

    def get_request_body_json(self, **kwargs: Any) -> Mapping[str, Any]:
        return {}


# --------------------------------------------------------------------------------------------
# Source
# --------------------------------------------------------------------------------------------

_REDACTED_TYPES = {Type.LOG, Type.TRACE, Type.CONNECTION_STATUS, Type.CONTROL}


def _redact_message(message: AirbyteMessage) -> AirbyteMessage:
    if message.type not in _REDACTED_TYPES:
        return message
    if message.log is not None:
        message.log.message = secrets.mask(message.log.message)
    if message.trace is not None and message.trace.error is not None:
        error = message.trace.error
        error.message = secrets.mask(error.message)
        if error.internal_message:
            error.internal_message = secrets.mask(error.internal_message)
        if error.stack_trace:
            error.stack_trace = secrets.mask(error.stack_trace)
    if message.connectionStatus is not None and message.connectionStatus.message:
        message.connectionStatus.message = secrets.mask(message.connectionStatus.message)
    return message


class HubDeclarativeSource(ConcurrentDeclarativeSource):
    """A declarative source whose config secrets and session tokens never leave in a message."""

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        share_with_cdk()
        try:
            for message in super().read(logger, config, catalog, state):
                yield _redact_message(message)
        except AirbyteTracedException as error:
            error.message = secrets.mask(error.message) if error.message else error.message
            error.internal_message = secrets.mask(error.internal_message or "")
            raise

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        share_with_cdk()
        status = super().check(logger, config)
        if status.message:
            status.message = secrets.mask(status.message)
        return status


@cache
def _manifest(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_manifest(path: Path) -> dict[str, Any]:
    """The parsed manifest at `path` (parsed once per process; callers get a deep copy)."""
    return json.loads(json.dumps(_manifest(path)))


def manifest_source(package_file: str, config_keys: str) -> Callable[..., HubDeclarativeSource]:
    """The `create_source(config, catalog, state)` of a connector package whose `manifest.yaml` sits
    next to `package_file` (the package's `__file__`); `config_keys` documents its config."""
    manifest_path = Path(package_file).with_name("manifest.yaml")

    def create_source(config: Mapping[str, Any] | None = None, catalog: ConfiguredAirbyteCatalog | None = None,
                      state: list[AirbyteStateMessage] | None = None) -> HubDeclarativeSource:
        return build_source(manifest_path, config or {}, catalog, state)

    create_source.__doc__ = f"The source for `config` (keys: {config_keys})."
    return create_source


def build_source(
    manifest_path: Path,
    config: Mapping[str, Any],
    catalog: ConfiguredAirbyteCatalog | None = None,
    state: list[AirbyteStateMessage] | None = None,
) -> HubDeclarativeSource:
    """Build the source for a connector package's manifest, registering the config's secrets."""
    manifest = load_manifest(manifest_path)
    spec = manifest.get("spec", {}).get("connection_specification", {})
    secrets.register(get_secrets(spec, dict(config)))
    share_with_cdk()
    return HubDeclarativeSource(
        catalog=catalog, config=dict(config), state=state, source_config=manifest
    )
