"""The canonical model: the entities a stream's `mapping` can target, and their typed fields.

Staging tables (`staging.<entity>`) have exactly these columns, after the lineage columns
`source_name, stream, source_key`. This module imports nothing of ours so that every layer,
the config validator included, can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["text", "timestamp", "date", "decimal", "rate", "integer"]  # decimal: money, rate: 8 decimals


@dataclass(frozen=True)
class Field:
    """One canonical field: its name, type, whether a record without it is rejected, and meaning."""

    name: str
    type: FieldType = "text"
    required: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Entity:
    """A canonical entity: the staging table it fills and its fields."""

    name: str
    fields: tuple[Field, ...]
    doc: str = ""
    derived: bool = False  # filled by the hub itself (from the config or from raw history), never by a mapping

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


_CURRENCY = ("ISO code (CNY, USD, …); else the currency the amount's text names ($, ¥, 元), else the "
             "reporting currency")
_UPDATED = Field("updated_at", "timestamp", doc="when the source last changed the record")

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "customer",
            (
                Field("name", required=True, doc="company name as the source writes it"),
                Field("short_name", doc="short name (简称)"),
                Field("former_name", doc="former registered name (曾用名) the source keeps; matched like the name"),
                Field("uscc", doc="统一社会信用代码 or legacy organization code"),
                Field("phone"),
                Field("mobile"),
                Field("email"),
                Field("address"),
                Field("contact_name"),
                Field("owner", doc="owning sales rep: key or name in the source"),
                Field("customer_number", doc="the source's business number (FNumber, 客户编号)"),
                Field("industry"),
                Field("channel", doc="acquisition channel / lead source"),
                Field("created_at", "timestamp"),
                _UPDATED,
            ),
            "A company that buys from us, as one source system knows it.",
        ),
        Entity(
            "contact",
            (
                Field("name", required=True, doc="person name"),
                Field("customer_key", doc="source key of the contact's customer in the same source"),
                Field("customer_name", doc="company name written on the contact (WeCom corp_name)"),
                Field("phone"),
                Field("mobile"),
                Field("email"),
                Field("position"),
                Field("owner", doc="rep key of the employee who follows the contact"),
                Field("created_at", "timestamp"),
                _UPDATED,
            ),
            "A person at a customer.",
        ),
        Entity(
            "sales_rep",
            (
                Field("rep_key", required=True, doc="the rep's key in the source"),
                Field("name", required=True),
                Field("team", doc="team or department"),
                Field("region"),
                Field("email"),
                Field("mobile"),
                Field("userid", doc="directory user id (WeCom/DingTalk)"),
                _UPDATED,
            ),
            "A salesperson from an ERP salesman table, a CRM owner list or a directory.",
        ),
        Entity(
            "sales_order",
            (
                Field("order_number", required=True),
                Field("customer_key", required=True, doc="source key of the ordering customer"),
                Field("order_date", "date", required=True),
                Field("rep_key"),
                Field("amount", "decimal", required=True, doc="order total incl. tax"),
                Field("currency", doc=_CURRENCY),
                Field("status"),
                Field("product", doc="what was sold: the product or material of the order (its main line)"),
                _UPDATED,
            ),
            "A sales order.",
        ),
        Entity(
            "lead",
            (
                Field("company_name"),
                Field("contact_name"),
                Field("phone"),
                Field("channel", doc="lead source: 展会, 官网, 转介绍, ..."),
                Field("status"),
                Field("owner", doc="rep key"),
                Field("customer_key", doc="source key of the customer it converted to"),
                Field("opportunity_key", doc="source key of the opportunity it converted to"),
                Field("created_at", "timestamp", required=True),
                Field("converted_at", "timestamp"),
                _UPDATED,
            ),
            "A sales lead.",
        ),
        Entity(
            "opportunity",
            (
                Field("name"),
                Field("customer_key"),
                Field("lead_key"),
                Field("amount", "decimal"),
                Field("currency", doc=_CURRENCY),
                Field("stage"),
                Field("status", doc="open, won or lost"),
                Field("channel"),
                Field("owner", doc="rep key"),
                Field("created_at", "timestamp", required=True),
                Field("closed_at", "timestamp", doc="when it was won or lost; while open, the expected close date"),
                Field("stage_changed_at", "timestamp", doc="when it entered its current stage"),
                Field("probability", "decimal", doc="the CRM's win chance in percent (0-100), usually its stage's"),
                Field("lost_reason", doc="why it was lost, where the CRM records it"),
                _UPDATED,
            ),
            "A sales opportunity.",
        ),
        Entity(
            "opportunity_stage",
            (
                Field("opportunity_key", required=True, doc="source key of the opportunity, in the same source"),
                Field("stage", required=True, doc="the stage entered, as the source writes it"),
                Field("entered_at", "timestamp", required=True, doc="when the opportunity entered the stage"),
                Field("probability", "decimal", doc="the CRM's win probability in percent at that stage"),
                Field("amount", "decimal", doc="the opportunity's amount then"),
                _UPDATED,
            ),
            "A stage an opportunity entered, from a CRM's stage history (a stage-change log, Salesforce's "
            "OpportunityHistory).",
        ),
        Entity(
            "payment",
            (
                Field("payment_number", required=True),
                Field("customer_key", required=True),
                Field("order_number"),
                Field("receivable_number", doc="the receivable it settles (Kingdee's FSourceBillNo)"),
                Field("payment_date", "date", required=True),
                Field("amount", "decimal", required=True),
                Field("currency", doc=_CURRENCY),
                Field("rep_key"),
                _UPDATED,
            ),
            "Cash received from a customer (回款).",
        ),
        Entity(
            "receivable",
            (
                Field("receivable_number", required=True),
                Field("customer_key", required=True),
                Field("order_number"),
                Field("bill_date", "date", required=True),
                Field("due_date", "date"),
                Field("amount", "decimal", required=True),
                Field("currency", doc=_CURRENCY),
                _UPDATED,
            ),
            "An amount invoiced to a customer and due (应收).",
        ),
        Entity(
            "target",
            (
                Field("rep_key", doc="rep key or name; empty for a team target"),
                Field("team"),
                Field("month", "date", required=True, doc="first day of the month"),
                Field("amount", "decimal", required=True),
                Field("currency", doc=_CURRENCY),
            ),
            "A sales target per rep or team and month.",
        ),
        Entity(
            "fx_rate",
            (
                Field("month", "date", required=True, doc="first day of the month the rate applies to"),
                Field("currency", required=True, doc="ISO code of the foreign currency"),
                Field("rate", "rate", required=True, doc="one unit of the currency in the reporting currency"),
            ),
            "A monthly exchange rate to the reporting currency, for the marts' converted amounts.",
        ),
        Entity(
            "holiday",
            (
                Field("day", "date", required=True),
                Field("name", doc="the holiday's name; for a workday, why it is one (调休)"),
                Field("kind", required=True, doc="`holiday` (a day off) or `workday` (a weekend day worked)"),
            ),
            "A public holiday, or a weekend day that is a working day (China's make-up days, 调休).",
        ),
        Entity(
            "sales_rep_history",
            (
                Field("rep_key", required=True),
                Field("name", required=True),
                Field("team"),
                Field("region"),
                Field("email"),
                Field("mobile"),
                Field("userid"),
                Field("valid_from", "timestamp", doc="when the version began; empty: from the first record on"),
                Field("valid_to", "timestamp", required=True, doc="when the next version began"),
            ),
            "An earlier version of a rep-list record (the current one is in staging.sales_rep), from raw's versions.",
            derived=True,
        ),
        Entity(
            "customer_owner_history",
            (
                Field("owner", doc="the rep key or name that owned the customer record then"),
                Field("valid_from", "timestamp", doc="when that owner began; empty: from the first record on"),
                Field("valid_to", "timestamp", required=True, doc="when the next owner began"),
            ),
            "An earlier owner of a customer record (the current one is in staging.customer), from raw's versions.",
            derived=True,
        ),
        Entity(
            "order_status",
            (
                Field("source", required=True, doc="the source whose orders write the status"),
                Field("status", required=True, doc="the status as the source writes it"),
                Field("status_class", required=True, doc="booked, draft or cancelled"),
            ),
            "How a source's order statuses count (the config's marts.order_status).",
            derived=True,
        ),
        Entity(
            "mart_setting",
            (
                Field("name", required=True, doc="currency, fiscal_year_start or revenue_class"),
                Field("value", required=True),
            ),
            "The settings of the config's marts section that the mart SQL reads.",
            derived=True,
        ),
        Entity(
            "channel_cost",
            (
                Field("channel", required=True, doc="lead source, written as the leads write it"),
                Field("month", "date", doc="first day of the month; empty for a cost not split by month"),
                Field("amount", "decimal", required=True, doc="money spent on the channel"),
                Field("currency", doc=_CURRENCY),
            ),
            "Money spent on a lead source (marketing channel), for its ROI.",
        ),
    )
}

LINEAGE_COLUMNS = ("source_name", "stream", "source_key")
