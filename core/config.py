"""The hub's configuration model: what `hub.yaml` may say, validated by pydantic (unknown keys are errors).

`core.config_file.load_config(path)` reads the file into a `HubConfig` (expanding `${VAR}`s and resolving paths)
or raises `ConfigError`, whose message names the file, the path inside the document
(`sources.crm_b.streams.customers.mapping`), the line where it can, and what was expected.

This module imports nothing of ours except the canonical model, so every layer may use it.
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from core.entities import ENTITIES
from core.secrets import mask
from core.transforms import check_transforms
from core.vocabulary import SURVIVORSHIP_RULES, ComparisonKind, StringMetric

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# The `connector:` kinds a source may name (each is a package of `connectors/`; connectors/registry.py).
CONNECTOR_KINDS = ("sql", "file", "wecom", "dingtalk", "fxiaoke", "kingdee")
SECRET_KEY_HINTS = ("secret", "password", "token", "passwd", "api_key", "apikey", "app_secret")


class ConfigError(Exception):
    """A configuration file that cannot be used; the message says where and why."""

    def __init__(self, file: str | Path, problems: list[tuple[str, str, int | None]]):
        self.file = str(file)
        self.problems = problems
        lines = []
        for path, msg, line in problems:
            where = f"{self.file}" + (f":{line}" if line else "")
            lines.append(f"{where}: {path or '(top level)'}: {msg}")
        super().__init__("\n".join(lines))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WarehouseConfig(_Strict):
    url: str = "duckdb:///warehouse/hub.duckdb"
    memory_limit: str | None = Field(
        None, pattern=r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB: memory the warehouse may use before it spills to disk, e.g. 4GB "
                    "(default: a tenth of the machine's memory, between 1 and 2 GB)")
    temp_directory: str | None = Field(None, description="DuckDB: where it spills (default: next to the file)")
    threads: int | None = Field(None, ge=1, description="DuckDB: worker threads (default: the machine's cores)")


SPARK_MASTER = re.compile(r"^(local(\[(\d+|\*)\])?|spark://\S+|k8s://\S+|yarn)$")


class EngineConfig(_Strict):
    """Where staging's customers are matched and the marts built (README "Scale-out on Apache Spark"): `duckdb`
    (the default: everything in the warehouse) or `spark` (matching and marts on a Spark cluster, the results as
    Parquet tables in the lakehouse `location`, which DuckDB, the console and BI read)."""

    kind: Literal["duckdb", "spark"] = "duckdb"
    master: str = Field("local[2]", description='spark: "local[N]", "spark://HOST:7077", "k8s://https://HOST:443" '
                        "or yarn")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="spark: Spark settings (spark.executor.memory, ...), passed as given")
    location: str | None = Field(None, description="spark: the lakehouse directory the raw, staging, mdm and "
                                 "marts tables are written to as Parquet (a path every executor and reader "
                                 "sees); relative to the config file")

    @field_validator("master")
    @classmethod
    def _master(cls, v: str) -> str:
        if not SPARK_MASTER.match(v):
            raise ValueError(f"unknown Spark master {v!r}; expected local[N], spark://HOST:PORT, k8s://URL or yarn")
        return v

    @model_validator(mode="after")
    def _spark_needs_location(self) -> EngineConfig:
        if self.kind == "spark" and not self.location:
            raise ValueError("kind spark needs `location`: the lakehouse directory its tables are written to")
        return self


MappingValue = str | list[str] | dict[str, Any]


class SoftDeleteConfig(_Strict):
    """A column that marks a record deleted in the source (软删除): such records leave staging."""

    field: str = Field(description="the column (a JSON path into the record)")
    values: list[str] = Field(default_factory=lambda: ["1", "true", "Y", "yes", "deleted"],
                              description="values meaning deleted (compared as text, case-insensitive)")


class HealthConfig(_Strict):
    """When a sync of a stream is not a success (docs/connectors.md): `failed` is exit code 1, `warning`
    exit code 5."""

    max_quarantined_share: float = Field(0.2, ge=0, le=1, description="above this share of the rows read "
                                         "quarantined (unreadable, no key, a key read twice), the sync fails")
    warn_quarantined_share: float = Field(0.01, ge=0, le=1, description="above this share, a warning")
    max_empty_share: float | None = Field(None, ge=0, le=1, description="a mapped column empty in more than this "
                                          "share of the rows read gives a warning (default: only when empty in all "
                                          "of at least 10 rows)")
    missing_column: Literal["fail", "warn"] = Field("fail", description="a mapped column missing from a file of "
                                                    "the read (a renamed header)")
    zero_rows: Literal["fail", "warn", "ignore"] = Field("warn", description="the stream holds no record after the "
                                                         "sync")


class StreamConfig(_Strict):
    """One stream of a source: where its records come from and how they map to an entity."""

    entity: str | None = Field(None, description="canonical entity; empty = land in raw only")
    primary_key: str | list[str] | None = Field(None, description="a column, a list, or dotted paths (API records)")
    cursor_field: str | None = Field(None, description="sql: incremental, rows with a cursor >= the saved one")
    table: str | None = Field(None, description="sql: the table to read (schema-qualified, case kept)")
    query: str | None = Field(None, description="sql: a SELECT to read instead of a table")
    path: str | None = Field(None, description="file: a file or a glob (** too), relative to the config file")
    format: Literal["csv", "xlsx", "jsonl"] | None = Field(None, description="file: default by the extension")
    encoding: str | None = Field(None, description="file, CSV/JSONL: any Python codec; default UTF-8 (BOM or not)")
    sheet: str | list[str] | None = Field(None, description="file, XLSX: a sheet, a list of sheets or * (every "
                                                                 "sheet, one header); default the first")
    header_row: int | None = Field(None, ge=1, description="file, CSV/XLSX: the row holding the header; the title "
                                                           "rows above it are skipped (default 1)")
    fill_down: list[str] = Field(default_factory=list, description="file, XLSX: columns whose empty cells take the "
                                                                    "value above (merged cells)")
    excel_dates: list[str] = Field(default_factory=list, description="file, XLSX: columns whose numbers are Excel "
                                                                      "serial dates (45292 → 2024-01-01)")
    order: Literal["name", "mtime"] | None = Field(
        None, description="file: the order of a glob's files, a later file's records superseding an earlier one's: "
                          "by name (default) or by modification time")
    lookback: str | float | None = Field(
        None, description="sql with cursor_field: re-read this far before the saved cursor value, for rows that "
                          "arrive late with an older value (90s, 30m, 2h, 1d or seconds; numbers for a numeric cursor)")
    full_refresh_every: str | float | None = Field(
        None, description="read an incremental stream whole again once its last whole read is this old (7d, 12h "
                          "or seconds): catches rows the cursor missed")
    future_tolerance: str | float | None = Field(
        None, description="sql with cursor_field: cursor values later than now + this (default 1d) are read but "
                          "not saved as the cursor, and reported")
    customer_stream: str | None = Field(None, description="stream holding the customers that customer_key refers to")
    mapping: dict[str, MappingValue] = Field(default_factory=dict, description="entity field: a column, a list "
                                             "(the first non-empty) or {path, format, default} with transforms")
    detect_deletes: bool | None = Field(
        None, description="a record missing from a read that sees the whole source is deleted (a table without "
                          "cursor_field, every file of the path read anew, an API stream without incremental "
                          "sync); default true, false keeps records that disappear")
    soft_delete: SoftDeleteConfig | None = Field(None, description="a column that marks deleted records")
    max_delete_share: float = Field(0.5, ge=0, le=1, description="a run deletes at most this share of the stream "
                                                                   "(more needs --allow-mass-delete)")
    health: HealthConfig = Field(default_factory=HealthConfig)

    @field_validator("lookback", "future_tolerance", "full_refresh_every")
    @classmethod
    def _duration(cls, v: str | float | None) -> str | float | None:
        if isinstance(v, str) and not re.fullmatch(r"\s*\d+(\.\d+)?\s*[smhd]?\s*", v):
            raise ValueError(f"{v!r}: expected a number of seconds or e.g. 90s, 30m, 2h, 1d")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError(f"unknown encoding {v!r} (a Python codec: utf-8, gbk, gb18030, big5, …)") from None
        return v

    @field_validator("entity")
    @classmethod
    def _known_entity(cls, v: str | None) -> str | None:
        if v is not None and (v not in ENTITIES or ENTITIES[v].derived):
            mappable = [n for n, e in ENTITIES.items() if not e.derived]
            raise ValueError(f"unknown entity {v!r}; expected one of {', '.join(mappable)}")
        return v

    @model_validator(mode="after")
    def _mapping_matches_entity(self) -> StreamConfig:
        if self.entity is None:
            if self.mapping:
                raise ValueError("a mapping needs an `entity`")
            return self
        entity = ENTITIES[self.entity]
        unknown = [k for k in self.mapping if k not in entity.field_names]
        if unknown:
            raise ValueError(
                f"mapping: unknown field(s) {', '.join(map(repr, unknown))} for entity {self.entity}; "
                f"expected some of: {', '.join(entity.field_names)}"
            )
        for k, v in self.mapping.items():
            if isinstance(v, dict):
                bad = set(v) - {"path", "format", "default", "strip", "replace", "regex", "split"}
                if bad or ("path" not in v and "default" not in v):
                    raise ValueError(
                        f"mapping.{k}: expected a column name, a list of column names, or "
                        "{path: COLUMN, format: STRPTIME_FORMAT, default: VALUE, strip: CHARS, replace: {OLD: NEW}, "
                        "regex: PATTERN, split: {by: SEP, index: N}}"
                    )
                problem = check_transforms(v)
                if problem:
                    raise ValueError(f"mapping.{k}: {problem}")
        missing = [f.name for f in entity.fields if f.required and f.name not in self.mapping]
        if missing:
            raise ValueError(f"mapping: entity {self.entity} needs field(s) {', '.join(missing)}")
        return self

    def primary_key_paths(self) -> list[list[str]]:
        """The primary key as Airbyte's list of field paths (`a.b` → `["a", "b"]`)."""
        if not self.primary_key:
            return []
        keys = [self.primary_key] if isinstance(self.primary_key, str) else self.primary_key
        return [k.split(".") for k in keys]


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """`; did you mean 'CustID'?` for a name that differs from a known one in case only or by a typo, else ''."""
    same_case = [k for k in known if k.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


_CRON_FIELD = r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*|[A-Za-z]{3}(-[A-Za-z]{3})?"
_CRON_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


class ScheduleConfig(_Strict):
    """When the Dagster code location runs this source (its sync and everything downstream)."""

    cron: str = Field(description="five cron fields, e.g. '0 */2 * * *' (every two hours)")
    timezone: str = Field("Asia/Shanghai", description="IANA time zone of the cron times")

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        fields = v.split()
        if len(fields) != 5 or not all(re.fullmatch(_CRON_FIELD, f) for f in fields):
            raise ValueError(f"{v!r}: expected five cron fields: minute hour day-of-month month day-of-week")
        for f, (name, low, high) in zip(fields, _CRON_RANGES, strict=True):
            bad = [int(n) for n in re.findall(r"(?<![/\d])\d+", f) if not low <= int(n) <= high]
            if bad:
                raise ValueError(f"{v!r}: {name} {bad[0]} is outside {low}–{high}")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (e.g. Asia/Shanghai, UTC)") from None
        return v


class SourceConfig(_Strict):
    """One source system: its connector, the connector's settings and the streams read from it."""

    connector: str = Field(description="the connector kind (`hub connectors list`)")
    enabled: bool = Field(True, description="false: the source is not read")
    config: dict[str, Any] = Field(default_factory=dict, description="the connector's own settings "
                                   "(`hub connectors spec KIND`); a file source's are its streams' defaults")
    streams: dict[str, StreamConfig] = Field(default_factory=dict, description="the streams to read, by name")
    schedule: ScheduleConfig | None = Field(None, description="Dagster: run this source on its own schedule too")

    @field_validator("connector")
    @classmethod
    def _known_connector(cls, v: str) -> str:
        if v not in CONNECTOR_KINDS:
            raise ValueError(f"unknown connector {v!r}{did_you_mean(v, CONNECTOR_KINDS)} "
                             f"(known: {', '.join(CONNECTOR_KINDS)})")
        return v

    @field_validator("streams")
    @classmethod
    def _stream_names(cls, v: dict[str, StreamConfig]) -> dict[str, StreamConfig]:
        for name in v:
            if not IDENTIFIER.match(name):
                raise ValueError(f"stream name {name!r} must be a letter or _ then letters, digits or _")
        return v

    @model_validator(mode="after")
    def _connector_rules(self) -> SourceConfig:
        if self.connector == "sql":
            if "url" not in self.config:
                raise ValueError("config.url: a sql source needs a SQLAlchemy URL")
            for name, s in self.streams.items():
                if bool(s.table) == bool(s.query):
                    raise ValueError(f"streams.{name}: a sql stream needs exactly one of `table` or `query`")
        if self.connector == "file":  # the source's settings are its streams' defaults: checked as theirs are
            shared = {k: v for k, v in self.config.items() if k in StreamConfig.model_fields and k != "path"}
            try:
                StreamConfig.model_validate(shared)
            except ValidationError as e:
                err = e.errors()[0]
                where = ".".join(str(x) for x in err["loc"])
                raise ValueError(f"config.{where}: {err['msg'].removeprefix('Value error, ')}") from None
        if self.connector == "file" and "path" not in self.config:
            for name, s in self.streams.items():
                if not s.path:
                    raise ValueError(f"streams.{name}: a file stream needs `path` (here or in the source config)")
        for name, s in self.streams.items():
            if s.entity in {"sales_order", "payment", "receivable", "opportunity", "contact", "lead"} and (
                s.customer_stream and s.customer_stream not in self.streams
            ):
                raise ValueError(f"streams.{name}.customer_stream: no stream {s.customer_stream!r} in this source")
        return self


class Thresholds(_Strict):
    match: float = Field(0.8, ge=0, le=1, description="probability at or above which pairs merge")
    review: float = Field(0.3, ge=0, le=1, description="probability at or above which pairs go to review")

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.match:
            raise ValueError(f"review ({self.review}) must not exceed match ({self.match})")
        return self


class BlockingRuleConfig(_Strict):
    name: str
    columns: list[str]
    max_block: int = Field(300, ge=2)


class ComparisonConfig(_Strict):
    name: str
    kind: ComparisonKind
    column: str
    thresholds: list[float] = Field(default_factory=list)
    metric: StringMetric = "jaro_winkler"
    extra: list[str] = Field(default_factory=list)
    context: str | None = None
    tf: bool = False
    gate: str | None = Field(None, description="compare only pairs where one side at least has this column")
    common: int = Field(0, ge=0, description="a value held by records of this many distinct owners is missing")
    owner: str | None = Field(None, description="the column whose distinct values count as owners")
    alias: str | None = Field(None, description="another name of a record (its former name), compared like column")


class FeedbackConfig(_Strict):
    """Steward decisions as training labels: a rebuild learns per-pattern corrections from them (mdm/feedback.py)."""

    enabled: bool = True
    min_labels: int = Field(50, ge=1, description="labelled pairs needed before they change the model")
    strength: float = Field(5.0, gt=0, description="pseudo-labels the model's own probability counts for")


class CustomerMdmConfig(_Strict):
    thresholds: Thresholds = Field(default_factory=Thresholds)
    source_priority: list[str] = Field(default_factory=list,
                                       description="most trusted source first (sources of this file)")
    survivorship: dict[str, str | list[str]] = Field(default_factory=dict)
    blocking: list[BlockingRuleConfig] = Field(default_factory=list, description="replaces the default rules")
    comparisons: list[ComparisonConfig] = Field(default_factory=list, description="replaces the default spec")
    u_pairs: int = Field(300_000, ge=1000, description="random pairs sampled for the starting u (EM refits it)")
    workers: int | None = Field(None, ge=1, description="threads that compare and score pairs (default: the "
                                "machine's cores, at most 4)")
    train_sample: int = Field(
        2_000_000, ge=2, description="a full run over more records trains the model on a sample of this many "
        "(spread over every source) and links every record with it in steps of `pairs_per_step`")
    pairs_per_step: int = Field(5_000_000, ge=1, description="candidate pairs scored at a time beyond "
                                "`train_sample`: memory follows the step")
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig,
                                     description="steward decisions refit the model on a rebuild")

    @field_validator("survivorship")
    @classmethod
    def _known_rules(cls, v: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for attr, rules in v.items():
            for r in [rules] if isinstance(rules, str) else rules:
                if r not in SURVIVORSHIP_RULES:
                    raise ValueError(f"survivorship.{attr}: unknown rule {r!r}; expected one of "
                                     f"{', '.join(SURVIVORSHIP_RULES)}")
        return v


class MdmConfig(_Strict):
    customer: CustomerMdmConfig = Field(default_factory=CustomerMdmConfig)


# --- steward console and match API ---------------------------------------------------------------------

ROLES = ("viewer", "steward", "admin")
USER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")


class ConsoleUser(_Strict):
    """A console user: `viewer` reads, `steward` also decides, merges and unmerges, `admin` also manages users."""

    name: str
    role: Literal["viewer", "steward", "admin"] = "viewer"
    password_hash: str = Field(description="argon2 hash (`hub users add` writes it); never a plain password")

    @field_validator("name")
    @classmethod
    def _user_name(cls, v: str) -> str:
        if not USER_NAME.match(v):
            raise ValueError(f"user name {v!r}: letters, digits and _ . @ - (at most 64)")
        return v

    @field_validator("password_hash")
    @classmethod
    def _hashed(cls, v: str) -> str:
        if not v.startswith("$argon2"):
            raise ValueError("password_hash must be an argon2 hash (create users with `hub users add`)")
        return v


class ConsoleConfig(_Strict):
    """`hub ui`: the steward console and the match API."""

    users: list[ConsoleUser] = Field(default_factory=list)
    session_ttl_minutes: int = Field(480, ge=1, le=7 * 24 * 60, description="a session expires this long after login")
    secret_key: str | None = Field(None, min_length=16, description="signs session cookies; use ${VAR}")
    api_tokens: list[str] = Field(default_factory=list, description="bearer tokens of the match API; use ${VAR} "
                                  "(an empty one, e.g. an unset `${HUB_API_TOKEN:-}`, is none)")
    secure_cookies: bool = Field(False, description="mark cookies Secure (serve the console over HTTPS)")

    @field_validator("users")
    @classmethod
    def _unique_users(cls, v: list[ConsoleUser]) -> list[ConsoleUser]:
        names = [u.name for u in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"user(s) listed twice: {', '.join(dup)}")
        return v

    @field_validator("api_tokens")
    @classmethod
    def _long_tokens(cls, v: list[str]) -> list[str]:
        v = [t for t in v if t]  # (an unset ${VAR:-}: no token, so the API stays closed)
        if any(len(t) < 16 for t in v):
            raise ValueError("every API token needs at least 16 characters")
        return v

    def user(self, name: str) -> ConsoleUser | None:
        return next((u for u in self.users if u.name == name), None)


class ReferenceFileConfig(_Strict):
    """A small CSV or XLSX file the marts read (sales targets, channel costs), staged like a stream."""

    path: str
    format: Literal["csv", "xlsx"] | None = Field(None, description="default: from the file's extension")
    encoding: str = "utf-8"
    sheet: str | None = None
    columns: dict[str, str] = Field(default_factory=dict,
                                    description="canonical field → the file's column header (default: same name)")


# marts.<key> → the canonical entity its file fills; staged as streams of the reserved source REFERENCE_SOURCE.
REFERENCE_FILES: dict[str, str] = {"targets": "target", "channel_costs": "channel_cost", "fx_rates": "fx_rate",
                                   "holidays": "holiday"}
REFERENCE_SOURCE = "marts_config"
STATUS_CLASSES = ("booked", "draft", "cancelled")


class OrderStatusConfig(_Strict):
    """How one source's order statuses count: the statuses of each class, as the source writes them."""

    booked: list[str] = Field(default_factory=list, description="confirmed orders (审核, audited)")
    draft: list[str] = Field(default_factory=list, description="created or in review, not yet confirmed")
    cancelled: list[str] = Field(default_factory=list, description="cancelled or voided")

    @model_validator(mode="after")
    def _each_status_once(self) -> OrderStatusConfig:
        seen: dict[str, str] = {}
        for cls in STATUS_CLASSES:
            for status in getattr(self, cls):
                key = status.strip().upper()
                if key in seen:
                    raise ValueError(f"status {status!r} is both {seen[key]} and {cls}")
                seen[key] = cls
        return self


class CalendarConfig(_Strict):
    fiscal_year_start: int = Field(1, ge=1, le=12, description="month the fiscal year starts; it is named by "
                                                                 "the calendar year it ends in")
    country: str | None = Field("CN", description="public holidays and make-up working days of this country "
                                                   "(ISO code, from the `holidays` package); empty: weekends only")

    @field_validator("country")
    @classmethod
    def _known_country(cls, v: str | None) -> str | None:
        if not v:
            return None
        import holidays

        if v.upper() not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays known for country {v!r}; expected an ISO code like CN")
        return v.upper()


class CheckConfig(_Strict):
    """Overrides of one data check: how bad a failure is and how much is tolerated."""

    severity: Literal["error", "warn"] | None = Field(None, description="error fails `hub run` (exit 4); warn "
                                                                         "is reported only")
    max_failing: int | None = Field(None, ge=0, description="failing rows tolerated")
    max_failing_pct: float | None = Field(None, ge=0, le=100, description="failing rows tolerated, in % of rows")


class MartsConfig(_Strict):
    targets: ReferenceFileConfig | None = Field(None, description="sales targets: rep_key or team, month, amount")
    channel_costs: ReferenceFileConfig | None = Field(None, description="cost per lead source: channel, month, amount")
    fx_rates: ReferenceFileConfig | None = Field(None, description="month, currency, rate: one unit of the "
                                                                   "currency in the reporting currency")
    holidays: ReferenceFileConfig | None = Field(None, description="day, name, kind (holiday or workday): "
                                                                   "replaces the holidays of calendar.country")
    currency: str = Field("CNY", description="the reporting currency: converted amounts are in it, and amounts "
                                             "without a currency are taken to be in it")
    revenue: list[Literal["booked", "draft", "cancelled"]] = Field(
        default_factory=lambda: ["booked"],  # type: ignore[arg-type]  # mypy reads ["booked"] as list[str]
        description="the order status classes that count as revenue")
    order_status: dict[str, OrderStatusConfig] = Field(
        default_factory=dict, description="per source: its order statuses by class; a source not listed here has "
                                          "only booked orders, a status not listed for a listed source is unknown")
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    checks: dict[str, CheckConfig] = Field(default_factory=dict, description="per check name: severity, thresholds")
    freshness_hours: float = Field(26, description="a mart not rebuilt for this long fails its freshness "
                                   "(Dagster: at least a minute, 1/60 hour)")

    @field_validator("freshness_hours")
    @classmethod
    def _a_minute_or_more(cls, v: float) -> float:
        if v < 1 / 60:
            raise ValueError(f"{v:g} is less than a minute, the shortest freshness window Dagster evaluates; expected "
                             "at least 0.0167 (hours: 1/60)")
        return v

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", v.strip()):
            raise ValueError(f"expected an ISO currency code like CNY, got {v!r}")
        return v.strip().upper()

    @model_validator(mode="after")
    def _columns_are_fields(self) -> MartsConfig:
        for key, entity in REFERENCE_FILES.items():
            ref = getattr(self, key)
            if ref is None:
                continue
            fields = ENTITIES[entity].field_names
            unknown = [k for k in ref.columns if k not in fields]
            if unknown:
                raise ValueError(f"{key}.columns: unknown field(s) {', '.join(map(repr, unknown))}; "
                                 f"expected some of: {', '.join(fields)}")
        if not self.revenue:
            raise ValueError("revenue: name at least one status class (booked, draft, cancelled)")
        return self


class PredictConfig(_Strict):
    """The prediction marts (win probability, lead scores, pipeline forecast): when models are retrained and the
    minimum data a model needs (Salesforce Einstein's by default; below it the historical rates score)."""

    enabled: bool = Field(True, description="build the prediction marts after the SQL marts in `hub run`")
    retrain_days: float = Field(7, ge=0, description="a model older than this is retrained on the next run whose "
                                                     "inputs changed (0: on every such run)")
    min_won: int = Field(200, ge=1, description="won opportunities closed in 24 months a win model needs")
    min_lost: int = Field(200, ge=1, description="lost opportunities closed in 24 months a win model needs")
    min_leads: int = Field(1000, ge=1, description="leads created in 24 months a lead model needs")
    min_converted: int = Field(120, ge=1, description="of them converted")


class HubConfig(_Strict):
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    timezone: str = Field("Asia/Shanghai", description="the zone of the warehouse's wall-clock times (IANA name)")
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    mdm: MdmConfig = Field(default_factory=MdmConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    marts: MartsConfig = Field(default_factory=MartsConfig)
    predict: PredictConfig = Field(default_factory=PredictConfig)

    _path: Path | None = PrivateAttr(None)
    _secret_values: set[str] = PrivateAttr(default_factory=set)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; expected an IANA name like Asia/Shanghai") from None
        return v

    @field_validator("sources")
    @classmethod
    def _source_names(cls, v: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        for name in v:
            if not IDENTIFIER.match(name):
                raise ValueError(f"source name {name!r} must be a letter or _ then letters, digits or _")
            if name == REFERENCE_SOURCE:
                raise ValueError(f"source name {name!r} is reserved for the files of the `marts` section")
        return v

    @model_validator(mode="after")
    def _status_sources_exist(self) -> HubConfig:
        unknown = [n for n in self.marts.order_status if n not in self.sources]
        if unknown:
            raise ValueError(f"marts.order_status: no source {', '.join(map(repr, unknown))}; "
                             f"the sources are: {', '.join(self.sources) or '(none)'}")
        return self

    @model_validator(mode="after")
    def _priority_sources_exist(self) -> HubConfig:
        """A misspelt source in `source_priority` would silently drop that source to the back of survivorship."""
        unknown = [n for n in self.mdm.customer.source_priority if n not in self.sources]
        if unknown:
            hint = did_you_mean(unknown[0], list(self.sources))
            raise ValueError(f"mdm.customer.source_priority: no source {', '.join(map(repr, unknown))}{hint}; "
                             f"the sources are: {', '.join(self.sources) or '(none)'}")
        return self

    @property
    def path(self) -> Path | None:
        """The file this configuration came from."""
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._path.parent if self._path else Path.cwd()

    @property
    def secret_values(self) -> set[str]:
        """Values read from the environment or secret files: masked wherever text is shown."""
        return self._secret_values

    def source(self, name: str) -> SourceConfig:
        if name not in self.sources:
            raise KeyError(f"no source {name!r} in {self._path}; sources: {', '.join(self.sources)}")
        return self.sources[name]

    def redacted(self) -> dict[str, Any]:
        """The configuration as plain data with secrets masked, for `hub config show`."""
        return _redact(self.model_dump(mode="json", exclude_none=True), self._secret_values)


def _redact(obj: Any, secrets: set[str], key: str = "") -> Any:
    if isinstance(obj, dict):
        return {k: _redact(v, secrets, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact(v, secrets, key) for v in obj]
    if isinstance(obj, str):
        if any(h in key.lower() for h in SECRET_KEY_HINTS) and obj:
            return "****"
        return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1****@", mask(obj, secrets))
    return obj
