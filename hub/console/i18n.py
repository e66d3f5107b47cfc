"""The dashboards in English and Chinese (a language switch), and numbers as Chinese readers write them.

`text(key, lang)` names pages, charts, columns, filters and notes; `number(value, kind, ...)` formats a value of a
column kind (`pipelines.dashboards.table.KINDS`): thousands separators, the reporting currency's sign (¥ for CNY)
and, when asked, 万 (10⁴) and 亿 (10⁸) for large amounts. `charts.js` formats the charts' axes and tooltips the
same way.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

LANGS = ("en", "zh")
CURRENCY_SIGNS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "HKD": "HK$"}

TEXT: dict[str, tuple[str, str]] = {
    # navigation and pages
    "nav.cockpit": ("Sales cockpit", "销售驾驶舱"),
    "nav.health": ("MDM health", "主数据健康"),
    "nav.queue": ("Review queue", "审核队列"),
    "nav.customers": ("Customers", "客户"),
    "nav.audit": ("Audit", "审计"),
    "nav.api": ("Match API", "匹配接口"),
    "nav.users": ("Users", "用户"),
    "logout": ("Log out", "退出"),
    "page.cockpit": ("Sales cockpit", "销售驾驶舱"),
    "page.funnel": ("Funnel and channels", "漏斗与渠道"),
    "page.pipeline": ("Pipeline", "商机管道"),
    "page.customers": ("Top customers", "重点客户"),
    "page.health": ("MDM health", "主数据健康"),
    "tab.cockpit": ("Overview", "概览"),
    "tab.funnel": ("Funnel & channels", "漏斗与渠道"),
    "tab.pipeline": ("Pipeline", "商机管道"),
    "tab.customers": ("Top customers", "重点客户"),
    # filters
    "f.from": ("From", "起始月份"),
    "f.to": ("To", "截止月份"),
    "f.team": ("Team", "团队"),
    "f.region": ("Region", "区域"),
    "f.rep": ("Sales rep", "销售"),
    "f.source": ("Source system", "来源系统"),
    "f.channel": ("Channel", "渠道"),
    "f.sort": ("Rank by", "排序"),
    "f.units": ("万 / 亿", "万 / 亿"),
    "f.all": ("All", "全部"),
    "f.apply": ("Apply", "应用"),
    "f.reset": ("Reset", "重置"),
    "f.last12": ("Last 12 months", "近12个月"),
    "f.fytd": ("This fiscal year", "本财年"),
    "f.lastfy": ("Last fiscal year", "上一财年"),
    "f.all_runs": ("All runs", "全部运行"),
    "f.period": ("Period", "期间"),
    "f.applies": ("Filters used", "适用筛选"),
    # chart frame
    "v.chart": ("Chart", "图表"),
    "v.table": ("Table", "表格"),
    "v.csv": ("CSV", "CSV"),
    "v.xlsx": ("Excel", "Excel"),
    "v.empty": ("No data for these filters.", "当前筛选条件下没有数据。"),
    "v.server_ms": ("computed in {ms} ms", "计算用时 {ms} 毫秒"),
    "v.open_customer": ("Click a bar or a row to open the golden record.", "点击柱形或行查看黄金记录。"),
    "v.rows_of": ("the first {n} of {total}", "前 {n} 条，共 {total} 条"),
    # charts
    "c.kpis": ("The period at a glance", "期间概览"),
    "c.revenue_vs_target": ("Revenue vs target per month", "月度收入与目标"),
    "c.revenue_trend": ("Revenue trend and year over year", "收入趋势与同比"),
    "c.leaderboard": ("Attainment leaderboard", "目标达成排行榜"),
    "c.funnel": ("Lead-to-cash funnel", "线索到回款漏斗"),
    "c.stage_days": ("Days per stage", "各阶段天数"),
    "c.channel_roi": ("Channel ROI", "渠道投资回报"),
    "c.pipeline_trend": ("Open pipeline and deals won", "在途商机与赢单"),
    "c.pipeline_by_stage": ("Open opportunities by stage", "各阶段在途商机"),
    "c.forecast": ("Forecast", "销售预测"),
    "c.top_customers": ("Top customers", "重点客户"),
    "c.golden_trend": ("Golden customers over time", "黄金客户数变化"),
    "c.records_per_golden": ("Records per golden customer", "每个黄金客户的源记录数"),
    "c.duplicates_resolved": ("Duplicates resolved per run", "每次运行解决的重复"),
    "c.review_trend": ("Review queue over time", "审核队列变化"),
    "c.steward_throughput": ("Steward throughput per week", "每周数据管家处理量"),
    "c.completeness_now": ("Completeness per source and field", "各来源各字段完整率"),
    "c.validity_now": ("Validity per source and field", "各来源各字段有效率"),
    "c.completeness_trend": ("Tax code and phone completeness over time", "税号与电话完整率变化"),
    "c.validity_trend": ("Tax code and phone validity over time", "税号与电话有效率变化"),
    "c.quarantine_now": ("Quarantined records per source", "各来源隔离记录"),
    "c.quarantine_trend": ("Quarantined records over time", "隔离记录变化"),
    # columns
    "col.month": ("Month", "月份"),
    "col.orders": ("Orders", "订单数"),
    "col.revenue": ("Revenue", "收入"),
    "col.target": ("Target", "目标"),
    "col.attainment_pct": ("Attainment %", "达成率 %"),
    "col.revenue_prior_year": ("Revenue a year before", "去年同期收入"),
    "col.yoy_pct": ("Year over year %", "同比 %"),
    "col.payments": ("Payments collected", "回款"),
    "col.won": ("Deals won", "赢单数"),
    "col.won_amount": ("Amount won", "赢单金额"),
    "col.win_rate_pct": ("Win rate %", "赢单率 %"),
    "col.open_pipeline": ("Open pipeline", "在途商机金额"),
    "col.rep_id": ("Rep ID", "销售ID"),
    "col.rep_name": ("Sales rep", "销售"),
    "col.team": ("Team", "团队"),
    "col.stage": ("Stage", "阶段"),
    "col.leads": ("Leads", "线索数"),
    "col.of_previous_pct": ("Of the stage before %", "上一阶段转化率 %"),
    "col.of_leads_pct": ("Of all leads %", "线索转化率 %"),
    "col.days": ("Days (median)", "天数（中位数）"),
    "col.channel": ("Channel", "渠道"),
    "col.opportunities": ("Opportunities", "商机数"),
    "col.won_revenue": ("Revenue won", "赢单收入"),
    "col.cost": ("Cost", "成本"),
    "col.cost_per_lead": ("Cost per lead", "单条线索成本"),
    "col.roi_pct": ("ROI %", "投资回报率 %"),
    "col.amount": ("Amount", "金额"),
    "col.golden_id": ("Golden ID", "黄金ID"),
    "col.name": ("Name", "名称"),
    "col.city": ("City", "城市"),
    "col.systems": ("Systems", "所在系统"),
    "col.lifetime_revenue": ("Lifetime revenue", "累计收入"),
    "col.revenue_12m": ("Revenue, last 12 months", "近12个月收入"),
    "col.outstanding_receivables": ("Outstanding receivables", "应收余额"),
    "col.run_at": ("Run", "运行时间"),
    "col.golden_customers": ("Golden customers", "黄金客户数"),
    "col.source_records": ("Source records", "源记录数"),
    "col.records_per_golden": ("Records per golden customer", "每客户记录数"),
    "col.multi_system_pct": ("In 2+ systems %", "多系统客户占比 %"),
    "col.duplicates_resolved": ("Duplicates resolved", "解决的重复"),
    "col.ids_merged": ("Golden IDs merged", "合并的黄金ID"),
    "col.duplicate_records": ("Duplicate records (all)", "重复记录（累计）"),
    "col.review_open": ("Open review items", "待审核条目"),
    "col.decisions_active": ("Decisions in force", "有效决策"),
    "col.week": ("Week", "周"),
    "col.steward": ("Steward", "数据管家"),
    "col.decisions": ("Decisions", "决策数"),
    "col.records": ("Records", "记录数"),
    "col.share_pct": ("Share %", "占比 %"),
    "col.source_name": ("Source", "来源"),
    "col.stream": ("Stream", "数据流"),
    "col.field": ("Field", "字段"),
    "col.completeness_pct": ("Completeness %", "完整率 %"),
    "col.validity_pct": ("Validity %", "有效率 %"),
    "col.entity": ("Entity", "实体"),
    "col.quarantined": ("Quarantined", "隔离记录"),
    "col.open_opportunities": ("Open opportunities", "在途商机数"),
    "col.pipeline_amount": ("Pipeline amount", "商机金额"),
    "col.expected": ("Expected revenue", "预测收入"),
    "col.low": ("Low (10th percentile)", "下限（10%分位）"),
    "col.high": ("High (90th percentile)", "上限（90%分位）"),
    "col.stage_weighted": ("Stage-weighted pipeline", "阶段加权管道"),
    # funnel stages and stage transitions
    "stage.leads": ("Leads", "线索"),
    "stage.opportunities": ("Opportunities", "商机"),
    "stage.won": ("Won", "赢单"),
    "stage.ordered": ("Ordered", "下单"),
    "stage.paid": ("Paid", "回款"),
    "stage.lead_to_opportunity": ("Lead → opportunity", "线索 → 商机"),
    "stage.opportunity_to_won": ("Opportunity → won", "商机 → 赢单"),
    "stage.won_to_order": ("Won → order", "赢单 → 下单"),
    "stage.order_to_paid": ("Order → paid", "下单 → 回款"),
    # notes
    "n.no_target_per_source": ("Targets are not per source system: with a source filter they are left out.",
                               "目标不分来源系统：按来源筛选时不显示目标。"),
    "n.top_rows": ("The best {n} reps of {total}; the downloads hold the same rows.",
                   "显示 {total} 位销售中的前 {n} 位；下载内容与之相同。"),
    "n.not_by_rep_or_source": ("Leads and channels are not split by rep, team or source system: those filters "
                               "do not apply here.", "线索和渠道不按销售、团队或来源系统拆分：这些筛选不适用。"),
    "n.stage_days_weighted": ("The medians of lead_to_cash per month and channel, averaged over the period "
                              "weighted by the leads reaching each stage.",
                              "取 lead_to_cash 每月每渠道的中位数，按到达该阶段的线索数加权平均。"),
    "n.open_now": ("Open today, whatever the period.", "当前在途，与期间无关。"),
    "n.customers_all_time": ("From customer 360: lifetime and the last 12 months up to the last order; the "
                             "period, team and rep filters do not apply.",
                             "来自客户360：累计及截至最后订单的近12个月；期间、团队和销售筛选不适用。"),
    "n.now": ("As the warehouse is now.", "数据仓库当前状态。"),
    "n.forecast_missing": ("The forecast with its interval appears here once the predictive marts exist.",
                           "预测集市建成后，此处显示预测值及其区间。"),
    "n.forecast_ahead": ("From the pipeline open today, for the months ahead whatever the period: expected revenue "
                         "won, with an 80% interval (10th to 90th percentile of 1,000 simulations) and the "
                         "stage-weighted pipeline CRMs show.",
                         "基于当前在途商机预测未来各月（与期间无关）：预测赢单收入、80%区间（1,000次模拟的10%至90%"
                         "分位）及CRM常用的阶段加权管道。"),
    "n.forecast_one_group": ("The forecast is per team or per region, not both: this is the team's.",
                             "预测按团队或按区域，不能同时按两者：此处为团队的预测。"),
    "n.forecast_not_by_source": ("The forecast is not per source system: the source filter does not apply.",
                                 "预测不分来源系统：来源筛选不适用。"),
    "n.runs": ("One point per `hub run` that changed something (mdm.run_metrics).",
               "每次有变化的 hub run 记录一个点（mdm.run_metrics）。"),
    "n.week_utc": ("Weeks start on Monday (UTC); undone decisions count too.",
                   "每周从周一开始（UTC）；已撤销的决策也计入。"),
    # the console's other pages: login, queue, review item, customer, audit (and the header)
    "ui.search_customers": ("Customer: name, pinyin, tax code, phone, G…", "客户：名称、拼音、税号、电话、G…"),
    "ui.search_label": ("Search customers", "搜索客户"),
    "ui.signed_in": ("signed in", "已登录"),
    "ui.shortcuts": ("Keyboard shortcuts", "键盘快捷键"),
    "ui.press_help": ("press {shortcut} for keyboard shortcuts", "按 {shortcut} 查看键盘快捷键"),
    "ui.close": ("Close", "关闭"),
    "ui.login": ("Log in", "登录"),
    "ui.login_intro": ("Data stewardship console: review candidate duplicates, merge and unmerge golden customers.",
                       "数据管家控制台：审核疑似重复，合并与拆分黄金客户。"),
    "ui.user_name": ("User name", "用户名"),
    "ui.password": ("Password", "密码"),
    "ui.queue": ("Review queue", "审核队列"),
    "ui.questions": ("questions", "个问题"),
    "ui.pairs": ("pairs", "对"),
    "ui.search": ("Search", "搜索"),
    "ui.queue_search": ("name, pinyin, initials, contact, address, record or G…",
                        "名称、拼音、首字母、联系人、地址、记录或 G…"),
    "ui.status": ("Status", "状态"),
    "ui.why": ("Why in review", "审核原因"),
    "ui.any_reason": ("any reason", "任何原因"),
    "ui.assigned_to": ("Assigned to", "分配给"),
    "ui.anyone": ("anyone", "任何人"),
    "ui.me": ("me", "我"),
    "ui.nobody": ("nobody", "无人"),
    "ui.sort": ("Sort", "排序"),
    "ui.more_filters": ("More filters", "更多筛选"),
    "ui.source": ("Source", "来源"),
    "ui.all": ("all", "全部"),
    "ui.band": ("Score band", "分数区间"),
    "ui.decided_by": ("Decided by", "决策人"),
    "ui.from": ("From", "从"),
    "ui.to": ("To", "到"),
    "ui.dates_note": ("Dates are days in {zone}: when an item was decided, otherwise when the run queued it.",
                      "日期按 {zone} 时区：已决策的条目按决策日，否则按入队日。"),
    "ui.filter": ("Filter", "筛选"),
    "ui.clear": ("clear", "清除"),
    "ui.this_page": ("this page", "本页"),
    "ui.reason_optional": ("reason (optional)", "原因（可选）"),
    "ui.same": ("Same", "相同"),
    "ui.different": ("Different", "不同"),
    "ui.claim": ("Claim", "认领"),
    "ui.assign": ("Assign", "分配"),
    "ui.release": ("Release", "释放"),
    "ui.priority": ("priority", "优先级"),
    "ui.score": ("score", "分数"),
    "ui.record": ("record", "记录"),
    "ui.candidate": ("candidate", "候选"),
    "ui.why_short": ("why in review", "审核原因"),
    "ui.revenue": ("revenue", "收入"),
    "ui.who": ("who", "负责人"),
    "ui.possible_customers": ("possible customers:", "个可能的客户："),
    "ui.previous": ("← previous", "← 上一页"),
    "ui.next": ("next →", "下一页 →"),
    "ui.page_of": ("page {n} of {total}", "第 {n} 页，共 {total} 页"),
    "ui.queue_keys": ("Keys: {j}/{k} move, {x} selects, {enter} opens the selected entry. A short record that matches "
                      "several customers is one entry: open it to see all of them side by side.",
                      "按键：{j}/{k} 移动，{x} 选择，{enter} 打开所选条目。"
                      "匹配多个客户的简短记录是一个条目：打开后并排查看所有候选。"),
    "ui.nothing": ("Nothing to review here.", "这里没有需要审核的内容。"),
    "ui.review_item": ("Review item", "审核条目"),
    "ui.pair": ("Pair", "记录对"),
    "ui.of": ("of", "/"),
    "ui.back_queue": ("queue", "队列"),
    "ui.prev_item": ("← previous", "← 上一条"),
    "ui.next_item": ("next", "下一条"),
    "ui.match_probability": ("match probability", "匹配概率"),
    "ui.weight": ("weight", "权重"),
    "ui.bits": ("bits", "比特"),
    "ui.kept_apart": ("What keeps them apart", "为何分开"),
    "ui.same_company": ("Same company", "同一公司"),
    "ui.read_only": ("Read-only: your role ({role}) may not decide.", "只读：您的角色（{role}）不能决策。"),
    "ui.as_standardized": ("as standardized", "标准化后"),
    "ui.why_explanation": ("Why: the explanation", "原因：逐项解释"),
    "ui.comparison": ("comparison", "比较项"),
    "ui.left": ("left", "左"),
    "ui.right": ("right", "右"),
    "ui.level": ("level", "级别"),
    "ui.weight_bits": ("weight (bits)", "权重（比特）"),
    "ui.total_probability": ("total → probability", "合计 → 概率"),
    "ui.who_works": ("Who works on it", "处理人"),
    "ui.comments": ("Comments", "评论"),
    "ui.comment_placeholder": ("a note for the other stewards", "给其他数据管家的备注"),
    "ui.add_comment": ("Add comment", "添加评论"),
    "ui.decisions_pair": ("Decisions on this pair", "此记录对的决策"),
    "ui.when": ("when", "时间"),
    "ui.verdict": ("verdict", "结论"),
    "ui.reason": ("reason", "原因"),
    "ui.origin": ("from", "来自"),
    "ui.in_force": ("in force", "有效"),
    "ui.valid_tax_code": ("valid tax code", "税号有效"),
    "ui.branch": ("branch", "分支机构"),
    "ui.golden_record": ("Golden record", "黄金记录"),
    "ui.attribute": ("attribute", "属性"),
    "ui.value": ("value", "值"),
    "ui.supplied_by": ("supplied by", "来源记录"),
    "ui.chosen_by_rule": ("chosen by the rule", "选取规则"),
    "ui.as_typed": ("as typed", "原始录入"),
    "ui.hierarchy": ("Hierarchy", "层级"),
    "ui.merge": ("Merge", "合并"),
    "ui.former_names": ("Former names", "曾用名"),
    "ui.source_records": ("Source records", "源记录"),
    "ui.joined_by": ("joined by", "归并方式"),
    "ui.unmerge": ("Unmerge", "拆分"),
    "ui.decisions_in_force": ("Steward decisions in force", "有效的数据管家决策"),
    "ui.history": ("History", "历史"),
    "ui.what": ("what", "内容"),
    "ui.undo": ("Undo", "撤销"),
    "ui.no_history": ("No merges, splits or steward actions yet.", "尚无合并、拆分或数据管家操作。"),
    "ui.audit": ("Audit log", "审计日志"),
    "ui.actions": ("actions", "项操作"),
    "ui.action": ("Action", "操作"),
    "ui.actor": ("Actor", "操作人"),
    "ui.golden_id": ("Golden ID", "黄金ID"),
    "ui.times_in": ("Times in {zone}.", "时间按 {zone} 时区。"),
    "ui.what_changed": ("what changed", "变更内容"),
    "ui.moved": ("moved", "条记录移动"),
    "ui.no_record_moved": ("no record moved", "没有记录移动"),
    "ui.stored": ("before / after as stored", "存储的前后状态"),
    "ui.undone_by": ("undone by", "撤销人"),
    "ui.newer": ("← newer", "← 较新"),
    "ui.older": ("older →", "较旧 →"),
    "sort.lifetime_revenue": ("Lifetime revenue", "累计收入"),
    "sort.revenue_12m": ("Revenue, last 12 months", "近12个月收入"),
    "sort.outstanding_receivables": ("Outstanding receivables", "应收余额"),
    "sort.open_pipeline": ("Open pipeline", "在途商机"),
}


def text(key: str, lang: str, **values: Any) -> str:
    """The text of `key` in `lang` (English when the key has no entry in it), with `{name}`s filled in."""
    en, zh = TEXT.get(key, (key.split(".", 1)[-1].replace("_", " "), ""))
    out = zh if lang == "zh" and zh else en
    return out.format(**values) if values else out


def column_label(name: str, lang: str) -> str:
    return text(f"col.{name}", lang)


def pick_lang(cookie: str | None, accept_language: str | None) -> str:
    """The language a reader asked for (the switch's cookie), else the browser's first choice of ours."""
    if cookie in LANGS:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def currency_sign(code: str) -> str:
    return CURRENCY_SIGNS.get(code.upper(), code.upper() + " ")


def _grouped(value: Decimal, places: int) -> str:
    q = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return f"{q:,.{places}f}"


def number(value: Any, kind: str, sign: str = "¥", units: bool = False) -> str:
    """A value as the dashboards show it: `¥1,234,567.89`, `1,234`, `91.25%`, `12.5`, a month `2025-03`; with
    `units`, money from 10⁴ in 万 and from 10⁸ in 亿 (`¥123.46万`, `¥1.23亿`). Empty values are empty."""
    if value is None or value == "":
        return ""
    if kind == "month":
        return f"{value:%Y-%m}" if isinstance(value, dt.date) else str(value)[:7]
    if kind == "date":
        return f"{value:%Y-%m-%d}" if isinstance(value, dt.date) else str(value)[:10]
    if kind == "time":
        return f"{value:%Y-%m-%d %H:%M}" if isinstance(value, dt.datetime) else str(value)[:16]
    if kind == "text":
        return str(value)
    d = Decimal(str(value))
    if kind == "int":
        return _grouped(d, 0)
    if kind == "pct":
        return _grouped(d, 2) + "%"
    if kind in ("days", "ratio"):
        return _grouped(d, 1 if kind == "days" else 2)
    # money
    neg, d = d < 0, abs(d)
    if units and d >= Decimal(10) ** 8:
        body = _grouped(d / Decimal(10) ** 8, 2) + "亿"
    elif units and d >= Decimal(10) ** 4:
        body = _grouped(d / Decimal(10) ** 4, 2) + "万"
    else:
        body = _grouped(d, 2)
    return ("-" if neg else "") + sign + body
